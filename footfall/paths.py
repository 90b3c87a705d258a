"""Where the runner keeps things: the repository, project-local data and the Kafka jars."""

import os
from pathlib import Path


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """FOOTFALL_DATA_DIR, or <repo>/.footfall; always absolute (the broker needs absolute paths)."""
    override = os.environ.get("FOOTFALL_DATA_DIR")
    return Path(override).resolve() if override else repo_root() / ".footfall"


def kafka_lib_dir() -> Path:
    return repo_root() / ".kafka" / "lib"


def kafka_deploy_dir() -> Path:
    """The broker's pom.xml and log4j2 configs."""
    return repo_root() / "deploy" / "kafka"
