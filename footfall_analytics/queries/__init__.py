"""Reports over footfall.events: each takes a clickhouse-connect client and typed parameters."""
