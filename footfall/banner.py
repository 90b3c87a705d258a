"""What `footfall up` prints once everything runs: where each part listens, how to read."""

from footfall.config import RunConfig
from footfall.credentials import LocalCredentials


def banner_lines(cfg: RunConfig, kafka_log: str, creds: LocalCredentials) -> list[str]:
    kafka = f"{cfg.brokers} brokers, " if cfg.brokers > 1 else ""
    return [
        "",
        "Footfall is running.",
        f"  Event API     {cfg.api_url}   (POST /v1/batch ...; metrics {cfg.api_url}/metrics)",
        f"  Sink          {cfg.sink_url}   (POST /query; metrics {cfg.sink_url}/metrics)",
        f"  Analytics     {cfg.analytics_url}   (dashboard; JSON reports under /api/)",
        f"  Kafka         {cfg.bootstrap}   ({kafka}topics prefix {cfg.topic_prefix!r})",
        *(
            [f"  Demo shop     {cfg.demo_url}   (click around, then query its events)"]
            if cfg.demo_enabled
            else []
        ),
        f"  Logs          {cfg.log_dir}   (Kafka: {kafka_log})",
        f"  Data          {cfg.data_dir}",
        '  Query         scripts/query "SELECT count() FROM footfall.events FINAL"',
        "  Status        python -m footfall status",
        "  Stop          Ctrl-C here, or `python -m footfall down` (or scripts/run again)",
        *access_lines(creds),
        "",
    ]


def access_lines(creds: LocalCredentials) -> list[str]:
    """How to read: the key and the first password only when just made (this terminal is
    the one place they are shown; the children's logs never see them)."""
    key_file = creds.secrets_dir / "read_key"
    key = creds.operator_key if creds.new_operator_key else f"in {key_file}"
    lines = ["", f"  Read key      {key}   (send it as `Authorization: Bearer <key>`)"]
    if creds.new_operator_key:
        lines.append(f"                saved in {key_file}; `footfall query` uses it")
    if creds.admin_password is not None:
        lines.append(f"  Log in        user admin, password {creds.admin_password}   (shown once)")
    add = "python -m footfall user add NAME"
    lines.append(f"  Users         {add}   (dashboard logins)")
    return lines
