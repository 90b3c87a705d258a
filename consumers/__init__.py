"""Kafka consumers (workers). They import `eventschema` only."""
