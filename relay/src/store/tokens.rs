//! Enrollment tokens: stored by hash, named by a public id (a prefix of
//! the hash, `triage_shared::token_id`), spent atomically, revocable.

use super::rows::{int, opt_text, opt_timestamp, parsed, text, timestamp};
use super::{Store, StoreError};
use sqlx::any::AnyRow;
use std::fmt;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::protocol::TokenSummary;
use triage_shared::time::Timestamp;
use triage_shared::token_id::TokenId;

const TOKEN_COLUMNS: &str =
    "id, uses_left, expires_at, created_at, created_by, revoked_at, revoked_by";

fn summary(row: &AnyRow) -> Result<TokenSummary, StoreError> {
    let uses_left = int(row, "uses_left")?;
    Ok(TokenSummary {
        id: parsed(row, "id")?,
        created_at: timestamp(row, "created_at")?,
        expires_at: timestamp(row, "expires_at")?,
        uses_left: u32::try_from(uses_left)
            .map_err(|_| StoreError::Corrupt(format!("column uses_left: {uses_left}")))?,
        created_by: text(row, "created_by")?,
        revoked_at: opt_timestamp(row, "revoked_at")?,
        revoked_by: opt_text(row, "revoked_by")?,
    })
}

/// Why a token could not be used. Each case has its own message so an
/// operator can tell a typo from a token that has simply run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Expired { at: Timestamp },
    UsedUp,
    Revoked { at: Timestamp },
}

impl TokenRefusal {
    /// Decides why a token was refused from its stored row (uses left,
    /// expiry, revocation), or from its absence. A revocation is named
    /// first: it is the admin's decision, whatever else holds.
    pub fn classify(
        stored: Option<(i64, Timestamp, Option<Timestamp>)>,
        now: Timestamp,
    ) -> TokenRefusal {
        match stored {
            None => TokenRefusal::Unknown,
            Some((_, _, Some(at))) => TokenRefusal::Revoked { at },
            Some((_, expires_at, None)) if expires_at <= now => {
                TokenRefusal::Expired { at: expires_at }
            }
            Some(_) => TokenRefusal::UsedUp,
        }
    }
}

impl fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenRefusal::Unknown => f.write_str(
                "this enrollment token is unknown to this relay; check that it was copied whole, \
                 or ask an admin for a new one (`triage-relay token`)",
            ),
            TokenRefusal::Expired { at } => write!(
                f,
                "this enrollment token expired at {at}; ask an admin for a new one (`triage-relay token`)"
            ),
            TokenRefusal::UsedUp => f.write_str(
                "this enrollment token has been used up; ask an admin for a new one (`triage-relay token --uses N`)",
            ),
            TokenRefusal::Revoked { at } => write!(
                f,
                "this enrollment token was revoked at {at}; ask an admin for a new one (`triage tokens create`)"
            ),
        }
    }
}

impl From<TokenRefusal> for StoreError {
    fn from(r: TokenRefusal) -> Self {
        StoreError::Refused(RemoteError::new(ErrorKind::InvalidToken, r.to_string()))
    }
}

impl Store {
    /// Records a new token by the hash of its secret.
    pub async fn create_token(
        &self,
        hash: &str,
        uses: u32,
        expires_at: Timestamp,
        created_by: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO enrollment_tokens (hash, id, uses_left, expires_at, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash)
        .bind(TokenId::of_hash(hash).to_string())
        .bind(i64::from(uses))
        .bind(expires_at.millis())
        .bind(now.millis())
        .bind(created_by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Spends one use of a token, inside `tx`. The conditional update is the
    /// whole check, so concurrent enrollments can never overspend a token.
    pub(super) async fn spend_token(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        hash: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let spent = sqlx::query(
            "UPDATE enrollment_tokens SET uses_left = uses_left - 1 \
             WHERE hash = $1 AND uses_left > 0 AND expires_at > $2 AND revoked_at IS NULL",
        )
        .bind(hash)
        .bind(now.millis())
        .execute(&mut **tx)
        .await?;
        if spent.rows_affected() == 1 {
            return Ok(());
        }
        let row = sqlx::query(
            "SELECT uses_left, expires_at, revoked_at FROM enrollment_tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut **tx)
        .await?;
        let stored = match row {
            Some(r) => Some((
                int(&r, "uses_left")?,
                timestamp(&r, "expires_at")?,
                opt_timestamp(&r, "revoked_at")?,
            )),
            None => None,
        };
        Err(TokenRefusal::classify(stored, now).into())
    }

    /// Uses left on a token, for tests and the admin CLI.
    pub async fn token_uses_left(&self, hash: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT uses_left FROM enrollment_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| int(&r, "uses_left")).transpose()
    }

    /// Every token, newest first, at most `limit`.
    pub async fn list_tokens(&self, limit: usize) -> Result<Vec<TokenSummary>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM enrollment_tokens ORDER BY created_at DESC, id LIMIT $1"
        ))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(summary).collect()
    }

    /// Revokes the one token whose id starts with `prefix` (already checked
    /// by `token_id::parse_token_prefix`: hex only, so it is safe in LIKE).
    /// Refused when no token or several match, or it was revoked before.
    pub async fn revoke_token(
        &self,
        prefix: &str,
        by: &str,
        now: Timestamp,
    ) -> Result<TokenSummary, StoreError> {
        let matching = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM enrollment_tokens WHERE id LIKE $1 ORDER BY id LIMIT 2"
        ))
        .bind(format!("{prefix}%"))
        .fetch_all(&self.pool)
        .await?;
        let token = match matching.as_slice() {
            [] => {
                return Err(StoreError::refused(
                    ErrorKind::NotFound,
                    format!("no enrollment token has an id starting with `{prefix}`; `triage tokens list` shows them"),
                ))
            }
            [one] => summary(one)?,
            _ => {
                return Err(StoreError::refused(
                    ErrorKind::InvalidInput,
                    format!("several tokens have ids starting with `{prefix}`; give more of the id"),
                ))
            }
        };
        let updated = sqlx::query(
            "UPDATE enrollment_tokens SET revoked_at = $2, revoked_by = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(token.id.as_str())
        .bind(now.millis())
        .bind(by)
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::refused(
                ErrorKind::Conflict,
                format!("token {} was already revoked", token.id),
            ));
        }
        Ok(TokenSummary {
            revoked_at: Some(now),
            revoked_by: Some(by.to_string()),
            ..token
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_apart() {
        let now = Timestamp(1_000);
        assert_eq!(TokenRefusal::classify(None, now), TokenRefusal::Unknown);
        assert_eq!(
            TokenRefusal::classify(Some((3, Timestamp(1_000), None)), now),
            TokenRefusal::Expired {
                at: Timestamp(1_000)
            }
        );
        assert_eq!(
            TokenRefusal::classify(Some((0, Timestamp(2_000), None)), now),
            TokenRefusal::UsedUp
        );
        assert_eq!(
            TokenRefusal::classify(Some((0, Timestamp(1), Some(Timestamp(5)))), now),
            TokenRefusal::Revoked { at: Timestamp(5) },
            "a revocation is named before expiry or use"
        );
        let messages: Vec<String> = [
            TokenRefusal::Unknown,
            TokenRefusal::Expired { at: now },
            TokenRefusal::UsedUp,
            TokenRefusal::Revoked { at: now },
        ]
        .iter()
        .map(|r| r.to_string())
        .collect();
        assert!(messages[0].contains("unknown"));
        assert!(messages[1].contains("expired"));
        assert!(messages[2].contains("used up"));
        assert!(messages[3].contains("revoked"));
    }
}
