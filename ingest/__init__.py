"""Ingest: hub messages from MQTT into TimescaleDB, each reading's effect exactly once.

Workers (`rpm ingest run`) join one MQTT 5 shared subscription (`$share/<group>/rpm/v1/hubs/+/{readings,
status,events}`) with a fixed client id (`ingest-<worker id>`), `clean_start=False` and a week-long session
expiry, and acknowledge by hand (paho `manual_ack`). A worker collects messages into a batch bounded by
message count, reading count and delay (`batcher`), decodes each with the wire contract and plausibility rules
(`decode`), writes the batch in one transaction (`store`) and only then acknowledges its messages, in arrival
order. QoS 1 may deliver a message twice and a crash redelivers everything unacknowledged; every write is
idempotent (`ON CONFLICT DO NOTHING` on the reading's deterministic id, the event id, a digest of a dead
letter; status only moves forward in `sent_at`), so the second delivery changes nothing.

Modules: `config` (settings and why), `messages` (values passed between steps), `decode` (payload to readings
and dead letters; never raises), `rows` (staging rows), `store` (the SQL; the caller owns the transaction),
`parked` (readings of unassigned devices), `notify` (the commit notification), `mqtt` (the paho boundary),
`db` (the psycopg boundary and error translation), `metrics` (Prometheus), `worker` (the loop), `cli`.

Handing committed work to the alert engine: both a PostgreSQL `NOTIFY readings_committed` and an optional
in-process hook. The NOTIFY is sent inside the batch's own transaction, so it is delivered if and only if the
readings committed (never for a rolled-back batch, never lost for a committed one while a listener is
connected) and it reaches an alert engine in another process or on another machine; PostgreSQL drops it for
a listener that is disconnected, so the alert engine also runs its own catch-up query on (re)connect and its
ticker. The hook (`Worker(on_commit=...)`) is called after the commit and acknowledgement, in the worker's
thread, for code embedded in the same process (tests, a single-process deployment); an exception in it is
logged and counted, never fatal, because the data is already stored. Payloads: see `ingest.notify`.
"""
