"""Where the runner keeps things: the repository, project-local data and the Kafka jars."""

from pathlib import Path

from eventschema import paths


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


data_dir = paths.data_dir  # one definition, in the contract


def kafka_lib_dir() -> Path:
    return repo_root() / ".kafka" / "lib"


def kafka_deploy_dir() -> Path:
    """The broker's pom.xml and log4j2 configs."""
    return repo_root() / "deploy" / "kafka"
