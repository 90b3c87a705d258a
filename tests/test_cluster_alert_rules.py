"""The alert rules in deploy/prometheus/alerts.yml name only metrics the processes export (a typo
would make an alert silently never fire), and docs/operations.md explains every alert."""

import re
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # PyYAML, via uvicorn[standard]
from prometheus_client import REGISTRY as API_REGISTRY
from prometheus_client import CollectorRegistry

import producer_api.metrics  # noqa: F401  (registers the API's metrics in the default registry)
from consumers.clickhouse_sink.metrics import REGISTRY as SINK_REGISTRY
from consumers.conversions.metrics import REGISTRY as UPLOADER_REGISTRY

REPO = Path(__file__).resolve().parents[1]
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def rules() -> list[dict[str, str]]:
    groups = yaml.safe_load((REPO / "deploy/prometheus/alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_metric_an_alert_reads_is_exported() -> None:
    known = exported(API_REGISTRY) | exported(SINK_REGISTRY) | exported(UPLOADER_REGISTRY)
    known.add("up")  # Prometheus's own
    for rule in rules():
        used = set(re.findall(r"\b(?:footfall_[a-z_]+|process_[a-z_]+)\b", rule["expr"]))
        assert used <= known, (rule["alert"], used - known)


def test_operations_doc_explains_every_alert() -> None:
    doc = (REPO / "docs/operations.md").read_text()
    missing = [rule["alert"] for rule in rules() if rule["alert"] not in doc]
    assert not missing, missing
