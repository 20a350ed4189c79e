-- Alerts: rules request, the lifecycle decides (DESIGN.md, flow step 5; domain/alert-rules.md).
-- One alert per (practice, patient, rule) is active at a time; new evidence attaches to it. Every change
-- of an alert is an append-only event. Review time goes to time_entries through the program time log.

-- Per-practice overrides of the default rules: {"<rule>": {"<parameter>": value, "enabled": bool}}.
-- Validated by alerts.settings before it is written; a care plan's alert_thresholds use the same shape.
CREATE TABLE alert_rule_overrides (
    practice_id uuid PRIMARY KEY REFERENCES practices,
    overrides   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(overrides) = 'object'),
    updated_by  uuid REFERENCES users,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- patient_id NULL = an alert about the practice's alerting itself (engine_error). priority_rank orders
-- queues: 0 critical, 1 high, 2 low. snoozed_until is set only in state snoozed.
CREATE TABLE alerts (
    alert_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    practice_id      uuid NOT NULL REFERENCES practices,
    patient_id       uuid REFERENCES patients,
    rule             text NOT NULL,
    category         text NOT NULL CHECK (category IN ('clinical', 'adherence', 'technical', 'data_quality',
                                                       'engine')),
    priority         text NOT NULL CHECK (priority IN ('critical', 'high', 'low')),
    priority_rank    smallint GENERATED ALWAYS AS (
                         CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 ELSE 2 END) STORED,
    state            text NOT NULL CHECK (state IN ('open', 'claimed', 'acknowledged', 'snoozed', 'resolved',
                                                    'auto_resolved')),
    opened_at        timestamptz NOT NULL,
    first_seen       timestamptz NOT NULL,    -- measured_at (or check time) of the first evidence
    last_seen        timestamptz NOT NULL,
    evidence_count   integer NOT NULL DEFAULT 0,
    worst_value      double precision,        -- shown value (mmHg, mg/dL, kg...) of the worst evidence
    worst_severity   double precision,        -- the rule's severity of it (higher is worse)
    worst_key        text,                    -- evidence key (reading id) of the worst value
    explanation      jsonb NOT NULL,          -- rule, parameters, window, summary: why it fired
    claimed_by       uuid REFERENCES users,
    claimed_at       timestamptz,
    assigned_to      uuid REFERENCES users,   -- set by escalation or reassignment
    escalation_level smallint NOT NULL DEFAULT 0,
    escalated_at     timestamptz,
    acknowledged_by  uuid REFERENCES users,
    acknowledged_at  timestamptz,
    snoozed_until    timestamptz,
    closed_by        uuid REFERENCES users,
    closed_at        timestamptz,
    updated_at       timestamptz NOT NULL,
    CHECK ((state = 'snoozed') = (snoozed_until IS NOT NULL)),
    CHECK ((state IN ('resolved', 'auto_resolved')) = (closed_at IS NOT NULL))
);
-- The de-duplication guarantee: one active alert per (practice, patient, rule).
CREATE UNIQUE INDEX alerts_one_active_idx ON alerts (practice_id, patient_id, rule) NULLS NOT DISTINCT
    WHERE state IN ('open', 'claimed', 'acknowledged', 'snoozed');
CREATE INDEX alerts_queue_idx ON alerts (practice_id, priority_rank, opened_at)
    WHERE state IN ('open', 'claimed', 'acknowledged', 'snoozed');
CREATE INDEX alerts_patient_idx ON alerts (patient_id, rule, opened_at DESC);
CREATE INDEX alerts_escalation_idx ON alerts (opened_at) WHERE priority = 'critical' AND state IN ('open', 'claimed');
CREATE INDEX alerts_snoozed_idx ON alerts (snoozed_until) WHERE state = 'snoozed';

-- What made an alert fire: readings (key = reading id) or facts of a check (key names the fact, e.g.
-- "no_data:2026-01-05"). A piece of evidence belongs to one alert of its (patient, rule) ever, so a
-- re-evaluation of the same window never re-opens an alert a person resolved.
CREATE TABLE alert_evidence (
    alert_id     bigint NOT NULL REFERENCES alerts,
    practice_id  uuid NOT NULL,
    patient_id   uuid,
    rule         text NOT NULL,
    evidence_key text NOT NULL,
    observed_at  timestamptz NOT NULL,
    value        double precision,
    details      jsonb NOT NULL DEFAULT '{}',
    added_at     timestamptz NOT NULL,
    PRIMARY KEY (alert_id, evidence_key)
);
CREATE UNIQUE INDEX alert_evidence_once_idx ON alert_evidence (practice_id, patient_id, rule, evidence_key)
    NULLS NOT DISTINCT;

-- Every change of an alert: who (NULL = the engine), when, from which state to which, and why.
CREATE TABLE alert_events (
    event_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   bigint NOT NULL REFERENCES alerts,
    at         timestamptz NOT NULL,
    actor_id   uuid REFERENCES users,
    action     text NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    note       text,
    details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_events_alert_idx ON alert_events (alert_id, event_id);
CREATE TRIGGER alert_events_append_only BEFORE UPDATE OR DELETE ON alert_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER alert_events_no_truncate BEFORE TRUNCATE ON alert_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- A review session: a care manager opened or claimed an alert; it ends (once) at acknowledge or resolve,
-- and its time becomes one time entry. One unfinished session per (alert, user).
CREATE TABLE alert_reviews (
    review_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id      bigint NOT NULL REFERENCES alerts,
    user_id       uuid NOT NULL REFERENCES users,
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    time_entry_id bigint UNIQUE REFERENCES time_entries
);
CREATE UNIQUE INDEX alert_reviews_open_idx ON alert_reviews (alert_id, user_id) WHERE ended_at IS NULL;

-- Who is the clinician on call (second escalation step); without a shift the care team's clinician.
CREATE TABLE on_call_shifts (
    shift_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    practice_id uuid NOT NULL REFERENCES practices,
    user_id     uuid NOT NULL REFERENCES users,
    during      tstzrange NOT NULL CHECK (NOT isempty(during))
);
CREATE INDEX on_call_shifts_idx ON on_call_shifts USING gist (practice_id, during);

-- Up to which ingested_at the engine has evaluated readings: after a restart it catches up on batches
-- whose notification nobody heard.
CREATE TABLE alert_engine_state (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    evaluated_through  timestamptz NOT NULL
);

ALTER TABLE time_entries ADD CONSTRAINT time_entries_alert_fk FOREIGN KEY (alert_id) REFERENCES alerts;
