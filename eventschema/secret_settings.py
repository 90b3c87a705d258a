"""A secret setting: NAME, or the contents of the file NAME_FILE (Docker/Kubernetes secrets)."""

from collections.abc import Mapping
from pathlib import Path


def secret_setting(env: Mapping[str, str], name: str, error: type[ValueError] = ValueError) -> str:
    """NAME or NAME_FILE's contents, not both; `error` names the variables, never the value."""
    value, path = env.get(name, ""), env.get(f"{name}_FILE", "")
    if value and path:
        raise error(f"set {name} or {name}_FILE, not both")
    if not path:
        return value
    try:
        return Path(path).read_text().rstrip("\r\n")
    except OSError as exc:
        raise error(f"{name}_FILE cannot be read: {exc.strerror}") from None
