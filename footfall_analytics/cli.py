"""Reports in the terminal, as tables.

    python -m footfall_analytics.cli funnel --steps "Product Viewed,Signed Up,Order Completed" \\
        --window 1d --from 2024-01-01 --to 2024-02-01 --filter utm_source:eq:facebook
    python -m footfall_analytics.cli funnel --steps '$any,Signed Up,Order Completed' \\
        --step-filter 1:utm_source:eq:facebook      # a filter on step 1 only (repeatable)
    python -m footfall_analytics.cli founding | attribution --model first --dimension section
    python -m footfall_analytics.cli retention --weeks 6 | top --kind pages | channels | over-time

It asks the analytics server (--server, default $FOOTFALL_ANALYTICS_URL, else
http://$FOOTFALL_ANALYTICS_HOST:$FOOTFALL_ANALYTICS_PORT as the server reads them, 127.0.0.1:8125)
or, with --dsn, a database directly (http(s):// ClickHouse, or chdb:///path
when no other process holds it), through a read-only session. Arguments mean what they mean in
the query API (footfall_analytics/server/args.py). In a funnel, --filter field:op:value applies
to every step's events and --step-filter N:field:op:value (step_filter=) only to step N
(1-based). --server, --dsn and --json go before or after the command. --period all or 7d
(the last n days) instead of --from/--to; with neither, the last 30 days (the title says which).
Exit 2 on a bad parameter.
"""

import argparse
import sys
from typing import Any

import httpx

from footfall_analytics.errors import BadParameter
from footfall_analytics.server.args import Args
from footfall_analytics.server.reports import REPORTS
from footfall_analytics.server.settings import CliSettings
from footfall_analytics.server.source import open_dsn

COMMANDS = {
    "funnel": "funnel",
    "founding": "founding",
    "attribution": "attribution",
    "retention": "retention",
    "top": "top",
    "channels": "sessions/channels",
    "over-time": "events-over-time",
}
# option -> query-string name, per command (the common ones are added to all).
OPTIONS: dict[str, list[tuple[str, str]]] = {
    "funnel": [("--steps", "steps"), ("--window", "window"), ("--breakdown", "breakdown")],
    "founding": [("--utm-source", "utm_source"), ("--window", "window")],
    "attribution": [
        ("--model", "model"),
        ("--dimension", "dimension"),
        ("--lookback", "lookback"),
        ("--conversion-events", "conversion_events"),
        ("--revenue-property", "revenue_property"),
    ],  # fmt: skip
    "retention": [("--weeks", "weeks"), ("--activity-event", "activity_event")],
    "top": [("--kind", "kind"), ("--limit", "limit")],
    "channels": [("--timeout", "timeout")],
    "over-time": [("--interval", "interval"), ("--event", "event")],
}
FILTERED = ("funnel", "attribution", "top", "over-time")  # the reports that take filter=


def _globals(suppress: bool) -> argparse.ArgumentParser:
    """--server, --dsn, --json: on the top parser and on every command's, so they work in any
    position (a command's copy leaves the namespace alone when not given: SUPPRESS)."""
    p = argparse.ArgumentParser(add_help=False)
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument("--server", help="analytics server URL (default http://127.0.0.1:8125)",
                   **default)  # fmt: skip
    p.add_argument("--dsn", help="query a database directly: http(s)://... or chdb:///path",
                   **default)  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the API's JSON instead", **default)
    return p


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m footfall_analytics.cli", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  parents=[_globals(False)])  # fmt: skip
    sub = top.add_subparsers(dest="command", required=True)
    for command, options in OPTIONS.items():
        p = sub.add_parser(command, parents=[_globals(True)])
        p.add_argument("--from", dest="from_", metavar="FROM", help="start (date or ISO time)")
        p.add_argument("--to", help="end, exclusive (default: end of today, UTC)")
        p.add_argument("--period", help="all (every stored day) or <n>d (the last n days)")
        if command in FILTERED:
            p.add_argument("--filter", action="append", default=[], help="field:op:value")
        for flag, _ in options:
            p.add_argument(flag)
        if command == "funnel":
            p.add_argument("--step-filter", action="append", default=[],
                           metavar="N:FIELD:OP:VALUE",
                           help="a filter on step N only (1-based), e.g. 1:utm_source:eq:facebook;"
                                " repeatable")  # fmt: skip
    return top


def parse(argv: list[str] | None) -> argparse.Namespace:
    top = parser()
    opts = top.parse_args(argv)
    if opts.server and opts.dsn:
        top.error("--server and --dsn exclude each other")
    return opts


def query_items(opts: argparse.Namespace) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    if opts.from_:
        items.append(("from", opts.from_))
    if opts.to:
        items.append(("to", opts.to))
    if opts.period:
        items.append(("period", opts.period))
    items += [("filter", f) for f in getattr(opts, "filter", [])]
    items += [("step_filter", f) for f in getattr(opts, "step_filter", [])]
    for flag, name in OPTIONS[opts.command]:
        value = getattr(opts, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            items.append((name, str(value)))
    return items


def fetch(
    opts: argparse.Namespace, items: list[tuple[str, str]], settings: CliSettings
) -> dict[str, Any]:
    path = COMMANDS[opts.command]
    if opts.dsn:
        source = open_dsn(opts.dsn, settings.database, settings.query_limits)
        try:
            return REPORTS[path](source.client, Args(items))
        finally:
            source.close()
    base = opts.server or settings.server_url
    params = httpx.QueryParams(tuple(items))
    key = settings.read_key  # the server asks every API call for a read key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{base.rstrip('/')}/api/{path}", params=params, headers=headers,
                         timeout=120)  # fmt: skip
    body: dict[str, Any] = response.json()
    if response.status_code == 400:
        raise BadParameter(str(body.get("parameter")), str(body.get("message")))
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code} {body.get('code')}: {body.get('message')}")
    return body


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(command: str, body: dict[str, Any]) -> str:
    period = body.get("period", {})
    kind = {"default": "  (default: the last 30 days)", "all": "  (all data)"}
    title = (f"{command}  [{period.get('from', '')} .. {period.get('to', '')})"
             + kind.get(period.get("kind", ""), ""))  # fmt: skip
    if command == "founding":
        return f"{title}\npersons (utm_source={body['utm_source']}): {body['persons']:,}"
    if command == "funnel":
        rows = [
            [g["breakdown"] or "-", s["step"], s["event"], s["persons"],
             f"{s['rate_from_start']:.1%}", f"{s['rate_from_previous']:.1%}",
             None if s["median_seconds_from_previous"] is None
             else f"{s['median_seconds_from_previous'] / 60:.1f} min"]
            for g in body["groups"] for s in g["steps"]
        ]  # fmt: skip
        heads = ["breakdown", "step", "event", "persons", "from start", "from prev", "median"]
        return f"{title}\n{table(heads, rows)}"
    rows_in: list[dict[str, Any]] = body.get("rows", [])
    if not rows_in:
        return f"{title}\n(no rows)"
    heads = list(rows_in[0])
    return f"{title}\n{table(heads, [[r[h] for h in heads] for r in rows_in])}"


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    settings = CliSettings.load()
    try:
        body = fetch(opts, query_items(opts), settings)
    except BadParameter as error:
        print(f"bad parameter {error.name}: {error.message}", file=sys.stderr)
        return 2
    except (httpx.HTTPError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if opts.json:
        import json

        print(json.dumps(body, indent=2))
    else:
        print(render(opts.command, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
