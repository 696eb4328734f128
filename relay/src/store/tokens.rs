//! Enrollment tokens: stored by hash, spent atomically.

use super::rows::{int, timestamp};
use super::{Store, StoreError};
use std::fmt;
use triage_shared::protocol::{ErrorKind, RemoteError};
use triage_shared::time::Timestamp;

/// Why a token could not be used. Each case has its own message so an
/// operator can tell a typo from a token that has simply run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Expired { at: Timestamp },
    UsedUp,
}

impl TokenRefusal {
    /// Decides why a token was refused from its stored row (uses left and
    /// expiry), or from its absence.
    pub fn classify(stored: Option<(i64, Timestamp)>, now: Timestamp) -> TokenRefusal {
        match stored {
            None => TokenRefusal::Unknown,
            Some((_, expires_at)) if expires_at <= now => TokenRefusal::Expired { at: expires_at },
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
            "INSERT INTO enrollment_tokens (hash, uses_left, expires_at, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
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
             WHERE hash = $1 AND uses_left > 0 AND expires_at > $2",
        )
        .bind(hash)
        .bind(now.millis())
        .execute(&mut **tx)
        .await?;
        if spent.rows_affected() == 1 {
            return Ok(());
        }
        let row =
            sqlx::query("SELECT uses_left, expires_at FROM enrollment_tokens WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&mut **tx)
                .await?;
        let stored = match row {
            Some(r) => Some((int(&r, "uses_left")?, timestamp(&r, "expires_at")?)),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_apart() {
        let now = Timestamp(1_000);
        assert_eq!(TokenRefusal::classify(None, now), TokenRefusal::Unknown);
        assert_eq!(
            TokenRefusal::classify(Some((3, Timestamp(1_000))), now),
            TokenRefusal::Expired {
                at: Timestamp(1_000)
            }
        );
        assert_eq!(
            TokenRefusal::classify(Some((0, Timestamp(2_000))), now),
            TokenRefusal::UsedUp
        );
        let messages: Vec<String> = [
            TokenRefusal::Unknown,
            TokenRefusal::Expired { at: now },
            TokenRefusal::UsedUp,
        ]
        .iter()
        .map(|r| r.to_string())
        .collect();
        assert!(messages[0].contains("unknown"));
        assert!(messages[1].contains("expired"));
        assert!(messages[2].contains("used up"));
    }
}
