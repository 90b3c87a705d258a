"""The Grafana pipeline dashboard's conversions panel graphs the ledger totals the uploader
exports (names checked against the uploader's own exposition), and its counters only through
increase(), which survives restarts."""

import json
import re

from prometheus_client import CollectorRegistry, generate_latest

from consumers.conversions.config import REPO_ROOT
from consumers.conversions.metrics import LedgerTotals

BOARD = json.loads((REPO_ROOT / "deploy/grafana/dashboards/footfall-pipeline.json").read_text())


def exprs(title: str) -> list[str]:
    [panel] = [p for p in BOARD["panels"] if p["title"] == title]
    return [t["expr"] for t in panel["targets"]]


def test_the_conversions_panel_shows_the_ledger_totals_the_uploader_exports() -> None:
    registry = CollectorRegistry()
    registry.register(LedgerTotals(["meta", "google"], lambda: {("google", "uploaded"): 7}))
    exposition = generate_latest(registry).decode()
    assert 'footfall_conversions_ledger_orders{outcome="uploaded",platform="google"} 7.0' in (
        exposition
    )
    assert 'footfall_conversions_ledger_orders{outcome="dead_lettered",platform="meta"} 0.0' in (
        exposition
    )
    [expr] = exprs("Conversions (ledger totals)")
    names = set(re.findall(r"footfall_conversions_\w+", expr))
    assert names == {"footfall_conversions_ledger_orders"}
    assert all(f"\n{name}{{" in exposition for name in names)


def test_counters_are_graphed_with_increase_only() -> None:
    for expr in exprs("Conversions uploaded per hour"):
        for counter in re.findall(r"footfall_conversions_\w+_total", expr):
            assert f"increase({counter}[" in expr, expr
