-- Ingest: parked readings, hub status and events, idempotent dead letters, read-path indexes.
-- Every table here is written by `ingest` workers with INSERT ... ON CONFLICT, so a redelivered
-- MQTT message (QoS 1 is at-least-once) changes nothing the second time.

-- Readings of a device no assignment covers yet: kept whole (the reading as the contract encodes
-- it), stored for the right patient once an assignment covering `measured_at` appears.
CREATE TABLE parked_readings (
    reading_id    uuid NOT NULL,
    measured_at   timestamptz NOT NULL,
    device_id     text NOT NULL,
    hub_id        text NOT NULL,
    kind          text NOT NULL,
    user_index    smallint,
    reading       jsonb NOT NULL,          -- the contract's JSON of the reading, schema 1.x
    parked_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reading_id, measured_at)
);
CREATE INDEX parked_readings_device_idx ON parked_readings (device_id, measured_at);

-- Device -> patient at a time: the exclusion constraint's GiST index answers it, but a plain
-- btree on device_id keeps the per-reading probe cheap for the common single-assignment device.
CREATE INDEX device_assignments_device_idx ON device_assignments (device_id, lower(valid));

-- Latest reading per (patient, kind) and a patient's readings over time are served by 0001's
-- readings_patient_kind_time_idx (patient_id, kind, measured_at DESC). Across kinds:
CREATE INDEX readings_patient_time_idx ON readings (patient_id, measured_at DESC);

-- Dead letters are idempotent too: `digest` is sha256(topic, 0x00, payload), so a redelivered
-- bad message (or the same bad reading of it) is recorded once. `category` is a stable code
-- for counting (invalid, unsupported_schema, impossible, database_refused); `reason` is for people.
ALTER TABLE dead_letters ADD COLUMN digest bytea;
ALTER TABLE dead_letters ADD COLUMN category text;
CREATE UNIQUE INDEX dead_letters_digest_idx ON dead_letters (digest, (coalesce(reading_index, -1)));

-- Latest status per hub. Older statuses (by the hub's sent_at) never overwrite newer ones, so
-- an out-of-order redelivery of a stale status is ignored.
CREATE TABLE hub_status (
    hub_id              text PRIMARY KEY REFERENCES hubs,
    online              boolean NOT NULL,
    sent_at             timestamptz NOT NULL,
    software_version    text NOT NULL,
    uptime_s            bigint,
    outbox_depth        bigint,
    oldest_unsent_age_s bigint,
    devices             jsonb NOT NULL DEFAULT '[]',
    received_at         timestamptz NOT NULL DEFAULT now()
);

-- Hub and device events; event_id (from the hub) makes a redelivery a no-op.
CREATE TABLE hub_events (
    at          timestamptz NOT NULL,
    event_id    uuid NOT NULL,
    hub_id      text NOT NULL,
    type        text NOT NULL,
    device_id   text,
    message     text NOT NULL,
    raw_hex     text,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, at)
);
SELECT create_hypertable('hub_events', 'at', chunk_time_interval => interval '30 days');
CREATE INDEX hub_events_hub_time_idx ON hub_events (hub_id, at DESC);
