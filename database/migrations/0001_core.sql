-- Core schema: practices, patients, hubs, devices, assignments, readings, dead letters.
-- Apache-edition TimescaleDB only: hypertables and time_bucket; no continuous aggregates,
-- compression or policies (see DESIGN.md).

CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE practices (
    practice_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone    text NOT NULL DEFAULT 'America/New_York',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE patients (
    patient_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    practice_id uuid NOT NULL REFERENCES practices,
    mrn         text NOT NULL,            -- the practice's medical record number
    given_name  text NOT NULL,
    family_name text NOT NULL,
    birth_date  date,
    timezone    text NOT NULL,            -- data days are counted in the patient's local time
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (practice_id, mrn)
);
CREATE INDEX patients_practice_idx ON patients (practice_id);

-- A hub knows devices, not people; the cloud maps hub -> practice for tenancy.
CREATE TABLE hubs (
    hub_id      text PRIMARY KEY CHECK (hub_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
    practice_id uuid REFERENCES practices,
    label       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    device_id   text PRIMARY KEY,          -- serial number from Device Information, else BLE address
    model       text NOT NULL,
    profile     text NOT NULL,
    serial      text,
    address     text,
    firmware    text,
    hub_id      text REFERENCES hubs,
    first_seen  timestamptz NOT NULL DEFAULT now()
);

-- Which patient a device measured at a given time. No two assignments of one device overlap,
-- so device -> patient at `measured_at` has at most one answer.
CREATE TABLE device_assignments (
    assignment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id     text NOT NULL REFERENCES devices,
    patient_id    uuid NOT NULL REFERENCES patients,
    user_index    smallint,                -- for multi-user devices: which user slot is this patient
    valid         tstzrange NOT NULL CHECK (NOT isempty(valid)),
    created_at    timestamptz NOT NULL DEFAULT now(),
    EXCLUDE USING gist (device_id WITH =, coalesce(user_index, -1) WITH =, valid WITH &&)
);
CREATE INDEX device_assignments_patient_idx ON device_assignments (patient_id);

CREATE TABLE readings (
    measured_at        timestamptz NOT NULL,
    reading_id         uuid NOT NULL,       -- deterministic (broker contract): a re-read record has the same id
    patient_id         uuid NOT NULL,
    device_id          text NOT NULL,
    hub_id             text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('blood_pressure', 'glucose', 'weight')),
    source             text NOT NULL CHECK (source IN ('ble', 'manual')),
    systolic_mmhg      double precision,
    diastolic_mmhg     double precision,
    mean_arterial_mmhg double precision,
    pulse_bpm          double precision,
    glucose_mg_dl      double precision,
    weight_kg          double precision,
    bmi                double precision,
    height_m           double precision,
    device_unit        text NOT NULL,
    specimen           text,
    sample_location    text,
    meal               text,
    user_index         smallint,
    sequence           bigint,
    status             text[] NOT NULL DEFAULT '{}',
    quality_flags      text[] NOT NULL DEFAULT '{}',
    device_time        timestamp,           -- the device clock as sent, no time zone
    time_source        text NOT NULL,
    clock_offset_s     double precision,
    received_at        timestamptz NOT NULL, -- hub clock
    ingested_at        timestamptz NOT NULL DEFAULT now(),
    -- The time column is part of every unique key of a hypertable. The hub fixes measured_at
    -- once per reading_id in its outbox, so a redelivery carries the same pair.
    UNIQUE (reading_id, measured_at)
);
SELECT create_hypertable('readings', 'measured_at', chunk_time_interval => interval '7 days');
CREATE INDEX readings_patient_kind_time_idx ON readings (patient_id, kind, measured_at DESC);
CREATE INDEX readings_device_time_idx ON readings (device_id, measured_at DESC);

-- Anything that failed validation, kept with its raw bytes and the reason: never silently lost.
CREATE TABLE dead_letters (
    dead_letter_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL DEFAULT now(),
    topic          text NOT NULL,
    hub_id         text,
    payload        bytea NOT NULL,
    reason         text NOT NULL,
    reading_index  integer                 -- which reading of a batch, when only one was bad
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at DESC);
