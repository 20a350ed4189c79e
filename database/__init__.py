"""The cloud's TimescaleDB schema: ordered plain-SQL migrations and the runner that applies them.

It is its own package because ingest, alerts and the care-team API all read and write this one
schema; none of them owns it.
"""
