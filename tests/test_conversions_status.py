"""The dashboard's conversions panel reads the uploader's real metrics endpoint."""

from footfall.broker import find_free_ports
from footfall_analytics.server.conversions import conversions_status


def test_status_summarizes_the_uploaders_own_metrics() -> None:
    from consumers.conversions import metrics
    from consumers.conversions.http_server import serve

    metrics.SEEN.labels("google").inc(5)
    metrics.UPLOADED.labels("google").inc(3)
    metrics.DEAD_LETTERED.labels("google", "google_INVALID_CURRENCY_CODE").inc(2)
    metrics.BREAKER.labels("google").set(2)
    port = find_free_ports(1)[0]
    server = serve("127.0.0.1", port, lambda: True)
    try:
        status = conversions_status(f"http://127.0.0.1:{port}")
    finally:
        server.shutdown()
    assert status["configured"] is True
    [google] = [p for p in status["platforms"] if p["platform"] == "google"]
    assert (google["seen"], google["uploaded"], google["dead_lettered"]) == (5, 3, 2)
    assert google["dead_letter_reasons"] == {"google_INVALID_CURRENCY_CODE": 2}
    assert google["breaker"] == "open"


def test_status_without_an_uploader_is_not_configured() -> None:
    port = find_free_ports(1)[0]
    assert conversions_status(f"http://127.0.0.1:{port}") == {
        "configured": False, "status": "not configured", "platforms": []
    }  # fmt: skip


def test_status_shows_the_ledgers_totals_which_survive_restarts() -> None:
    """The uploader exports what its ledger counted (metrics.LedgerTotals); the panel must show
    those totals, not only the process counters that start again at 0 after a restart."""
    from prometheus_client import CollectorRegistry, generate_latest

    from consumers.conversions.metrics import LedgerTotals
    from footfall_analytics.server.conversions import summarize

    registry = CollectorRegistry()
    counts = {("meta", "uploaded"): 16, ("meta", "dead_lettered"): 2, ("meta", "duplicate"): 1}
    registry.register(LedgerTotals(["meta"], lambda: counts))
    [meta] = summarize(generate_latest(registry).decode())
    assert meta["platform"] == "meta"
    assert meta["totals"] == {"uploaded": 16, "duplicate": 1, "dead_lettered": 2}
    assert meta["uploaded"] == 0  # no process counter in this exposition
