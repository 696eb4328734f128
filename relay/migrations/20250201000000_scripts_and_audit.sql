-- Approved scripts, live diagnostics and the audit log. Same portable
-- conventions as the first schema: TEXT ids, BIGINT unix milliseconds,
-- BIGINT 0/1 flags, JSON kept as TEXT, binary kept as hex TEXT.

-- The organisation's PUBLIC key (at most one row). Its private half never
-- reaches the relay; `triage-relay org init` writes it to a file for the admin.
CREATE TABLE org_key (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Signed approver lists, one row per version; the newest is pushed to agents.
CREATE TABLE org_policies (
    version     BIGINT PRIMARY KEY,
    policy_json TEXT NOT NULL,
    issued_at   BIGINT NOT NULL
);

CREATE TABLE scripts (
    script_id     TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    manifest_json TEXT NOT NULL,
    signature     TEXT NOT NULL,
    content_hex   TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE INDEX scripts_by_ticket ON scripts (ticket_id, created_at);

-- The nonce is the key: one approval can be recorded (and spent) once.
CREATE TABLE script_approvals (
    nonce         TEXT PRIMARY KEY,
    script_id     TEXT NOT NULL REFERENCES scripts (script_id),
    approval_json TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    consumed      BIGINT NOT NULL
);

CREATE INDEX script_approvals_by_script ON script_approvals (script_id, created_at);

CREATE TABLE script_runs (
    run_id       TEXT PRIMARY KEY,
    script_id    TEXT NOT NULL REFERENCES scripts (script_id),
    ticket_id    TEXT NOT NULL REFERENCES tickets (id),
    requested_by TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    -- JSON `RunOutcome`, NULL when the script did not run to an outcome
    outcome_json TEXT,
    refusal      TEXT,
    -- at most MAX_SCRIPT_OUTPUT bytes, lossily UTF-8
    output       TEXT NOT NULL
);

CREATE INDEX script_runs_by_ticket ON script_runs (ticket_id, started_at);
CREATE INDEX script_runs_by_script ON script_runs (script_id, started_at);

-- Live diagnostics a technician attached to a ticket.
CREATE TABLE ticket_diagnostics (
    id          TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    taken_at    BIGINT NOT NULL,
    taken_by    TEXT NOT NULL,
    report_json TEXT NOT NULL
);

CREATE INDEX ticket_diagnostics_by_ticket ON ticket_diagnostics (ticket_id, taken_at);

-- Append-only, hash-chained. `seq` is the primary key, so two concurrent
-- appends after the same entry cannot both land: one fails and retries
-- after the other. No code path updates or deletes a row.
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    occurred_at BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);

CREATE INDEX audit_log_by_time ON audit_log (occurred_at);
