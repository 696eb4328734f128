-- Org-signed rosters of script authors and approvers replace the
-- approver-only policies: one row per version, the newest is pushed to agents.
-- Old policies are not rosters and no agent of this version accepts them.
DROP TABLE org_policies;

CREATE TABLE org_rosters (
    version     BIGINT PRIMARY KEY,
    roster_json TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Org key rotations signed by the key they rotate from, in the order published.
CREATE TABLE org_rotations (
    seq           BIGINT PRIMARY KEY,
    new_key       TEXT NOT NULL UNIQUE,
    rotation_json TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
