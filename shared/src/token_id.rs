//! The public id of an enrollment token, separate from its secret: what
//! `tokens list` shows and `tokens revoke` takes.
//!
//! The id is the first [`TOKEN_ID_LEN`] hex digits of the SHA-256 of the
//! secret, i.e. a prefix of the hash the relay already stores (and already
//! writes to the audit log). So the relay needs nothing new to name its
//! existing tokens, the CLI can name a token it was just handed, and the id
//! reveals nothing about the secret.

use crate::token::TokenSecret;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Hex digits in a token id.
pub const TOKEN_ID_LEN: usize = 16;
/// Fewest hex digits `tokens revoke` accepts as a prefix of an id.
pub const MIN_TOKEN_ID_PREFIX: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenId(String);

impl TokenId {
    /// The id of the token with this secret.
    pub fn of(secret: &TokenSecret) -> TokenId {
        TokenId::of_hash(&secret.hash_hex())
    }

    /// The id of the token whose secret hashes (hex SHA-256) to `hash_hex`.
    pub fn of_hash(hash_hex: &str) -> TokenId {
        TokenId(hash_hex.chars().take(TOKEN_ID_LEN).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl FromStr for TokenId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        if s.len() == TOKEN_ID_LEN && is_hex(&s) {
            Ok(TokenId(s))
        } else {
            Err(format!(
                "`{s}` is not a token id (expected {TOKEN_ID_LEN} hex digits, as `tokens list` shows)"
            ))
        }
    }
}

impl TryFrom<String> for TokenId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<TokenId> for String {
    fn from(id: TokenId) -> String {
        id.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A token id or a prefix of one, as a person types it: lowercased, between
/// [`MIN_TOKEN_ID_PREFIX`] and [`TOKEN_ID_LEN`] hex digits.
pub fn parse_token_prefix(s: &str) -> Result<String, String> {
    let s = s.trim().to_ascii_lowercase();
    if !(MIN_TOKEN_ID_PREFIX..=TOKEN_ID_LEN).contains(&s.len()) || !is_hex(&s) {
        return Err(format!(
            "`{s}` is not a token id: give {MIN_TOKEN_ID_PREFIX} to {TOKEN_ID_LEN} hex digits of an id from `triage tokens list`"
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_id_is_the_start_of_the_stored_hash() {
        let secret = TokenSecret::generate();
        let id = TokenId::of(&secret);
        assert_eq!(id.as_str().len(), TOKEN_ID_LEN);
        assert!(secret.hash_hex().starts_with(id.as_str()));
        assert!(!secret.to_hex().starts_with(id.as_str()));
        assert_eq!(id.to_string().parse::<TokenId>().unwrap(), id);
    }

    #[test]
    fn token_ids_refuse_garbage_and_round_trip_as_strings() {
        assert!("0123456789abcdef".parse::<TokenId>().is_ok());
        assert!("0123456789ABCDEF".parse::<TokenId>().is_ok());
        assert!("0123456789abcde".parse::<TokenId>().is_err());
        assert!("0123456789abcdeg".parse::<TokenId>().is_err());
        let id: TokenId = "0123456789abcdef".parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"0123456789abcdef\"");
        assert!(serde_json::from_str::<TokenId>("\"nope\"").is_err());
    }

    #[test]
    fn prefixes_have_bounded_length_and_are_hex() {
        let min = "a".repeat(MIN_TOKEN_ID_PREFIX);
        assert_eq!(parse_token_prefix(&min).unwrap(), min);
        assert!(parse_token_prefix(&"a".repeat(MIN_TOKEN_ID_PREFIX - 1)).is_err());
        assert!(parse_token_prefix(&"a".repeat(TOKEN_ID_LEN)).is_ok());
        assert!(parse_token_prefix(&"a".repeat(TOKEN_ID_LEN + 1)).is_err());
        assert!(parse_token_prefix("abcdeZ").is_err());
        assert_eq!(parse_token_prefix(" ABCDEF ").unwrap(), "abcdef");
    }
}
