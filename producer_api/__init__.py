"""Footfall's producer API: Segment-compatible HTTP in, Avro events acknowledged by Kafka out."""
