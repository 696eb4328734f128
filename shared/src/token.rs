//! How a relay is named to its peers. A [`RelayLocator`] is an address plus
//! the relay certificate's fingerprint; an [`EnrollmentToken`] adds a secret.
//!
//! Text forms:
//! - `triage://HOST:PORT?fp=HEX64`
//! - `triage://HOST:PORT?fp=HEX64&token=HEX64[&org=HEX64[&roster=N]]`
//!
//! `org` is the organisation's public key. The agent pins it at enrollment;
//! it is put in the token by whoever minted it, from a key they pinned
//! themselves, never from the relay's store, so a relay cannot choose whose
//! scripts an agent trusts. `roster` is the lowest roster version the agent
//! may accept, so a new endpoint cannot be handed an old roster.

use crate::identity::{CertFingerprint, PublicKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

const SCHEME: &str = "triage://";
const MAX_ADDR_LEN: usize = 255;
const SECRET_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed relay token: {0}; expected triage://HOST:PORT?fp=<64 hex digits>[&token=<64 hex digits>]")]
pub struct TokenParseError(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLocator {
    /// `host:port`, resolved when connecting.
    pub addr: String,
    pub fingerprint: CertFingerprint,
}

/// The secret part of an enrollment token. The relay keeps only its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(pub [u8; SECRET_LEN]);

impl TokenSecret {
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut s = [0u8; SECRET_LEN];
        rand::rngs::OsRng.fill_bytes(&mut s);
        TokenSecret(s)
    }

    /// The stored form: hex SHA-256, so a copy of the relay's database does
    /// not give away tokens that are still usable.
    pub fn hash_hex(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self, TokenParseError> {
        let mut b = [0u8; SECRET_LEN];
        hex::decode_to_slice(s, &mut b)
            .map_err(|_| TokenParseError("token secret is not 64 hex digits".into()))?;
        Ok(TokenSecret(b))
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    pub relay: RelayLocator,
    pub secret: TokenSecret,
    /// The organisation key whose rosters name script authors and approvers.
    pub org_key: Option<PublicKey>,
    /// The lowest roster version the agent may install (0: any).
    pub min_roster: u64,
}

impl fmt::Display for RelayLocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}?fp={}", self.addr, self.fingerprint)
    }
}

impl fmt::Display for EnrollmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}&token={}", self.relay, self.secret.to_hex())?;
        if let Some(org) = &self.org_key {
            write!(f, "&org={}", hex::encode(org.0))?;
            if self.min_roster > 0 {
                write!(f, "&roster={}", self.min_roster)?;
            }
        }
        Ok(())
    }
}

type Parsed = (RelayLocator, Option<TokenSecret>, Option<PublicKey>, u64);

fn parse(text: &str) -> Result<Parsed, TokenParseError> {
    let text = text.trim();
    let rest = text
        .strip_prefix(SCHEME)
        .ok_or_else(|| TokenParseError("missing triage:// prefix".into()))?;
    let (addr, query) = rest
        .split_once('?')
        .ok_or_else(|| TokenParseError("missing ?fp=".into()))?;
    if addr.is_empty() || addr.len() > MAX_ADDR_LEN || !addr.contains(':') {
        return Err(TokenParseError("relay address must be HOST:PORT".into()));
    }
    if !addr
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
    {
        return Err(TokenParseError(
            "relay address has characters a host name cannot have".into(),
        ));
    }
    let (mut fp, mut secret, mut org, mut roster) = (None, None, None, None);
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("fp", v)) if fp.is_none() => {
                fp = Some(v.parse::<CertFingerprint>().map_err(TokenParseError)?)
            }
            Some(("token", v)) if secret.is_none() => secret = Some(TokenSecret::from_hex(v)?),
            Some(("org", v)) if org.is_none() => {
                let mut key = [0u8; 32];
                hex::decode_to_slice(v, &mut key)
                    .map_err(|_| TokenParseError("org key is not 64 hex digits".into()))?;
                org = Some(PublicKey(key));
            }
            Some(("roster", v)) if roster.is_none() => {
                roster = Some(v.parse::<u64>().map_err(|_| {
                    TokenParseError("roster= must be a roster version number".into())
                })?)
            }
            _ => {
                return Err(TokenParseError(format!(
                    "unexpected `{}`",
                    pair.chars().take(40).collect::<String>()
                )))
            }
        }
    }
    let fingerprint = fp.ok_or_else(|| TokenParseError("missing fp=".into()))?;
    Ok((
        RelayLocator {
            addr: addr.to_string(),
            fingerprint,
        },
        secret,
        org,
        roster.unwrap_or(0),
    ))
}

impl FromStr for RelayLocator {
    type Err = TokenParseError;
    /// Accepts an enrollment token too and ignores its secret, so a
    /// technician can log in with whatever the admin handed over.
    fn from_str(s: &str) -> Result<Self, TokenParseError> {
        parse(s).map(|(relay, ..)| relay)
    }
}

impl FromStr for EnrollmentToken {
    type Err = TokenParseError;
    fn from_str(s: &str) -> Result<Self, TokenParseError> {
        let (relay, secret, org_key, min_roster) = parse(s)?;
        let secret = secret.ok_or_else(|| TokenParseError("missing token=".into()))?;
        Ok(EnrollmentToken {
            relay,
            secret,
            org_key,
            min_roster,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> EnrollmentToken {
        EnrollmentToken {
            relay: RelayLocator {
                addr: "relay.example.com:4433".into(),
                fingerprint: CertFingerprint([7; 32]),
            },
            secret: TokenSecret::generate(),
            org_key: None,
            min_roster: 0,
        }
    }

    #[test]
    fn token_round_trips() {
        let mut t = token();
        assert_eq!(t.to_string().parse::<EnrollmentToken>().unwrap(), t);
        assert_eq!(t.to_string().parse::<RelayLocator>().unwrap(), t.relay);
        t.org_key = Some(PublicKey([5; 32]));
        assert_eq!(t.to_string().parse::<EnrollmentToken>().unwrap(), t);
        assert!(t
            .to_string()
            .replace("&org=05", "&org=zz")
            .parse::<EnrollmentToken>()
            .is_err());
        t.min_roster = 7;
        assert!(t.to_string().ends_with("&roster=7"));
        assert_eq!(t.to_string().parse::<EnrollmentToken>().unwrap(), t);
        assert!(t
            .to_string()
            .replace("&roster=7", "&roster=-1")
            .parse::<EnrollmentToken>()
            .is_err());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = token().to_string();
        for bad in [
            "",
            "http://x:1?fp=00",
            "triage://x:1",
            "triage://?fp=00",
            &good.replace("fp=", "fq="),
            &good[..good.len() - 1],
            &format!("{good}&token=00"),
            &good.replace("relay.example.com", "relay;rm -rf"),
        ] {
            assert!(bad.parse::<EnrollmentToken>().is_err(), "accepted {bad}");
        }
        let locator_only = token().relay.to_string();
        let err = locator_only.parse::<EnrollmentToken>().unwrap_err();
        assert!(err.to_string().contains("missing token="), "{err}");
    }

    #[test]
    fn stored_hash_is_not_the_secret() {
        let s = TokenSecret::generate();
        assert_ne!(s.hash_hex(), s.to_hex());
        assert_eq!(s.hash_hex().len(), 64);
    }
}
