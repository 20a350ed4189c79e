"""Ingest workers: MQTT reading batches validated and written to TimescaleDB exactly once."""
