"""Reading one setting from the environment, for every process's settings loader.

Each process reads its settings once, at start, through starlette's `Config` (built on an
explicit environ), so a value that does not parse stops the start with a message naming the
variable. Here, unset and empty both mean the default: a compose file's `FOO=` is "not set".
Server side only (starlette); the SDK never imports it.
"""

from collections.abc import Callable
from typing import TypeVar

from starlette.config import Config

T = TypeVar("T")


def setting(config: Config, name: str, cast: Callable[[str], T], default: T) -> T:
    """`name` cast by `cast` (ValueError naming the variable); unset or empty: `default`."""
    return config(name, cast=cast) if config(name, default="") else default
