"""Local runner and CLI: a single-node Kafka broker, the producer API and the ClickHouse sink."""
