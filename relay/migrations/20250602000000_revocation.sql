-- Revocation: technicians and agents are marked removed (never deleted, so
-- the audit log and ticket history keep meaning), and enrollment tokens get
-- a public id and may be revoked. Same portable conventions: BIGINT unix
-- milliseconds, NULL while the thing is live.
ALTER TABLE technicians ADD COLUMN removed_at BIGINT;
ALTER TABLE agents ADD COLUMN removed_at BIGINT;

-- A token's id is the first 16 hex digits of its stored hash (see
-- `triage_shared::token_id`), so existing tokens get theirs from their row.
ALTER TABLE enrollment_tokens ADD COLUMN id TEXT;
ALTER TABLE enrollment_tokens ADD COLUMN revoked_at BIGINT;
ALTER TABLE enrollment_tokens ADD COLUMN revoked_by TEXT;
UPDATE enrollment_tokens SET id = substr(hash, 1, 16);
CREATE UNIQUE INDEX enrollment_tokens_by_id ON enrollment_tokens (id);
