-- Care-team API: login sessions and API tokens (hashes only), login attempts for rate limiting, patient
-- contact details, and the append-only audit log of every read or change of patient data.

-- One row per console session or API token. Only an HMAC-SHA256 of the token (keyed with the API's session
-- secret) is stored, so a copy of this table cannot be replayed. Console sessions end after
-- `idle timeout` without a request (checked against last_seen_at) or at expires_at; API tokens at expires_at.
CREATE TABLE api_sessions (
    session_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE,
    user_id      uuid NOT NULL REFERENCES users,
    kind         text NOT NULL CHECK (kind IN ('console', 'api')),
    label        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    revoked_why  text,
    ip           inet,
    user_agent   text
);
CREATE INDEX api_sessions_user_idx ON api_sessions (user_id) WHERE revoked_at IS NULL;

-- Every login attempt, kept for rate limiting (per account and per IP, counted in the database so that
-- several API workers share one budget) and for the security review.
CREATE TABLE login_attempts (
    attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    email      text NOT NULL,             -- lower-cased as typed; may name no user
    ip         inet,
    succeeded  boolean NOT NULL
);
CREATE INDEX login_attempts_email_idx ON login_attempts (email, at DESC);
CREATE INDEX login_attempts_ip_idx ON login_attempts (ip, at DESC);

-- How the care team reaches the patient (shown beside an alert).
CREATE TABLE patient_contacts (
    patient_id        uuid PRIMARY KEY REFERENCES patients,
    phone             text CHECK (length(phone) <= 40),
    email             text CHECK (length(email) <= 200),
    preferred_contact text CHECK (preferred_contact IN ('phone', 'sms', 'email', 'portal')),
    caregiver         text CHECK (length(caregiver) <= 200),
    updated_by        uuid REFERENCES users,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Who read or changed which patient's data, when, and from where (HIPAA 164.312(b) audit controls).
-- Append-only: refuse_change() (0003) refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id     uuid REFERENCES users,
    practice_id uuid REFERENCES practices,
    action      text NOT NULL CHECK (action IN ('read', 'create', 'update', 'export', 'login', 'logout')),
    resource    text NOT NULL,            -- the route template, e.g. GET /api/v1/patients/{patient_id}
    patient_id  uuid,                     -- NULL for practice-wide reads (lists, billing reports)
    detail      jsonb NOT NULL DEFAULT '{}',
    outcome     text NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok', 'failed')),
    ip          inet,
    user_agent  text
);
CREATE INDEX audit_log_patient_idx ON audit_log (patient_id, at DESC);
CREATE INDEX audit_log_practice_idx ON audit_log (practice_id, at DESC);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- The patient list sorts by name within a practice and pages by key.
CREATE INDEX patients_practice_name_idx ON patients (practice_id, family_name, given_name, patient_id);
