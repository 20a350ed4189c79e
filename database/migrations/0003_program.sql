-- CCM/RPM program records: care teams, users, chronic conditions, consent, care plans, RPM episodes
-- and the time log that billing is computed from (billing-2026.md, "Rules that software must enforce").
-- Records a practice must defend in an audit are append-only: a trigger refuses UPDATE, DELETE and
-- TRUNCATE, and a correction is a new row that references the row it corrects.

-- One function for every append-only table. SQLSTATE 23001 (restrict_violation) lets callers tell
-- this refusal from other errors without reading the message.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'record a correction as a new row that references the old one';
END;
$$;

CREATE TABLE care_teams (
    care_team_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    practice_id  uuid NOT NULL REFERENCES practices,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (practice_id, name)
);

-- care_manager = clinical staff; clinician = physician or other qualified health professional (QHP).
-- password_hash holds an argon2 PHC string once the API sets one; NULL means the user cannot log in.
CREATE TABLE users (
    user_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    practice_id   uuid NOT NULL REFERENCES practices,
    email         text NOT NULL CHECK (position('@' IN email) > 1),
    full_name     text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    role          text NOT NULL CHECK (role IN ('care_manager', 'clinician', 'biller', 'admin')),
    npi           text CHECK (npi ~ '^[0-9]{10}$'),
    password_hash text,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_idx ON users (lower(email));
CREATE INDEX users_practice_idx ON users (practice_id);

CREATE TABLE care_team_members (
    care_team_id uuid NOT NULL REFERENCES care_teams,
    user_id      uuid NOT NULL REFERENCES users,
    added_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (care_team_id, user_id)
);

-- Which care team looks after a patient and who bills for them, from a date on. Only one
-- practitioner may be paid for CCM per calendar month: billing takes the assignment in force on the
-- month's last day. Append-only: a change is a new row with a later effective_from.
CREATE TABLE patient_assignments (
    assignment_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id              uuid NOT NULL REFERENCES patients,
    care_team_id            uuid REFERENCES care_teams,
    billing_practitioner_id uuid REFERENCES users,
    effective_from          date NOT NULL,
    recorded_by             uuid REFERENCES users,
    recorded_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patient_assignments_patient_idx ON patient_assignments (patient_id, effective_from DESC);

-- ICD-10-CM codes. CCM eligibility = two or more conditions expected to last >= 12 months.
-- expected_12_months NULL = not assessed yet (counts for nothing until a clinician says).
CREATE TABLE chronic_conditions (
    condition_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id         uuid NOT NULL REFERENCES patients,
    icd10              text NOT NULL CHECK (icd10 ~ '^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$'),
    description        text,
    onset              date,
    expected_12_months boolean,
    resolved_on        date,
    source             text NOT NULL CHECK (source IN ('csv', 'fhir', 'manual')),
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (patient_id, icd10)
);

-- Consent per program, documented before any billable time (billing-2026.md). Append-only;
-- a withdrawal is its own row below, so the original record is never touched.
CREATE TABLE consents (
    consent_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id      uuid NOT NULL REFERENCES patients,
    program         text NOT NULL CHECK (program IN ('ccm', 'rpm')),
    method          text NOT NULL CHECK (method IN ('verbal', 'written')),
    consented_on    date NOT NULL,
    obtained_at     timestamptz,           -- the moment, when known; otherwise the whole day counts
    obtained_by     uuid REFERENCES users,
    obtained_by_name text,                 -- who, when not (yet) a user of the system
    consent_text    text,
    document_ref    text,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (consent_text IS NOT NULL OR document_ref IS NOT NULL),
    CHECK (obtained_by IS NOT NULL OR obtained_by_name IS NOT NULL)
);
CREATE INDEX consents_patient_idx ON consents (patient_id, program, consented_on);

CREATE TABLE consent_withdrawals (
    consent_id   bigint PRIMARY KEY REFERENCES consents,
    withdrawn_on date NOT NULL,
    recorded_by  uuid REFERENCES users,
    reason       text,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW consent_status AS
SELECT c.*, w.withdrawn_on
FROM consents c LEFT JOIN consent_withdrawals w USING (consent_id);

-- Care plans: every version kept. Thresholds override alert-rules.md defaults for this patient.
CREATE TABLE care_plan_versions (
    patient_id       uuid NOT NULL REFERENCES patients,
    version          integer NOT NULL CHECK (version >= 1),
    problems         jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(problems) = 'array'),
    goals            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(goals) = 'array'),
    medications      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(medications) = 'array'),
    alert_thresholds jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(alert_thresholds) = 'object'),
    note             text,
    author_id        uuid REFERENCES users,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_id, version)
);

-- CCM requires that the patient gets a copy of the care plan.
CREATE TABLE care_plan_shares (
    share_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id uuid NOT NULL,
    version    integer NOT NULL,
    shared_on  date NOT NULL,
    method     text NOT NULL CHECK (method IN ('paper', 'portal', 'email', 'mail')),
    shared_by  uuid REFERENCES users,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (patient_id, version) REFERENCES care_plan_versions
);

-- RPM episodes of care: device periods (99454/99445) run in 30-day steps from started_on;
-- 99453 is billed once per episode. Episodes of one patient never overlap.
CREATE TABLE rpm_episodes (
    episode_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id        uuid NOT NULL REFERENCES patients,
    started_on        date NOT NULL,
    ended_on          date CHECK (ended_on IS NULL OR ended_on >= started_on),
    setup_done_at     timestamptz,
    education_done_at timestamptz,
    setup_by          uuid REFERENCES users,
    created_at        timestamptz NOT NULL DEFAULT now(),
    EXCLUDE USING gist (patient_id WITH =, daterange(started_on, ended_on, '[]') WITH &&)
);

CREATE TABLE rpm_episode_devices (
    episode_id bigint NOT NULL REFERENCES rpm_episodes,
    device_id  text NOT NULL REFERENCES devices,
    added_on   date NOT NULL,
    PRIMARY KEY (episode_id, device_id)
);

-- The CCM/RPM time log. role is the billing role at the time: clinical_staff (care_manager) or
-- physician (clinician). interactive = real-time audio/video with the patient or caregiver (99457,
-- 99470); complex = moderate/high medical decision making documented (99487). alert_id links the
-- alert that was reviewed (no foreign key until the alerts tables exist). minutes = 0 is allowed
-- only on a correction, where it voids the corrected entry.
CREATE TABLE time_entries (
    entry_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id        uuid NOT NULL REFERENCES patients,
    user_id           uuid NOT NULL REFERENCES users,
    role              text NOT NULL CHECK (role IN ('clinical_staff', 'physician')),
    program           text NOT NULL CHECK (program IN ('ccm', 'rpm')),
    started_at        timestamptz NOT NULL,
    minutes           integer NOT NULL CHECK (minutes BETWEEN 0 AND 720),
    activity          text NOT NULL CHECK (activity IN (
                          'alert_review', 'call', 'medication_review', 'care_coordination', 'care_plan',
                          'other')),
    alert_id          bigint,
    note              text,
    interactive       boolean NOT NULL DEFAULT false,
    complex           boolean NOT NULL DEFAULT false,
    corrects_entry_id bigint UNIQUE REFERENCES time_entries,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (minutes > 0 OR corrects_entry_id IS NOT NULL),
    CHECK (corrects_entry_id IS NULL OR corrects_entry_id <> entry_id)
);
CREATE INDEX time_entries_patient_time_idx ON time_entries (patient_id, started_at);
CREATE INDEX time_entries_user_time_idx ON time_entries (user_id, started_at);

-- A correction belongs to the same patient as the entry it corrects.
CREATE FUNCTION time_entry_correction_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.corrects_entry_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM time_entries WHERE entry_id = NEW.corrects_entry_id AND patient_id = NEW.patient_id
    ) THEN
        RAISE EXCEPTION 'time entry % corrects entry % of another patient (or none)',
            NEW.entry_id, NEW.corrects_entry_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER time_entries_correction BEFORE INSERT ON time_entries
    FOR EACH ROW EXECUTE FUNCTION time_entry_correction_check();

-- Entries in force: those no later correction replaces.
CREATE VIEW time_entries_current AS
SELECT t.* FROM time_entries t
WHERE NOT EXISTS (SELECT 1 FROM time_entries c WHERE c.corrects_entry_id = t.entry_id);

CREATE TRIGGER time_entries_append_only BEFORE UPDATE OR DELETE ON time_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER time_entries_no_truncate BEFORE TRUNCATE ON time_entries
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER consents_append_only BEFORE UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER consents_no_truncate BEFORE TRUNCATE ON consents
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER consent_withdrawals_append_only BEFORE UPDATE OR DELETE ON consent_withdrawals
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER care_plan_versions_append_only BEFORE UPDATE OR DELETE ON care_plan_versions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER care_plan_shares_append_only BEFORE UPDATE OR DELETE ON care_plan_shares
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER patient_assignments_append_only BEFORE UPDATE OR DELETE ON patient_assignments
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
