//! Ed25519 identities. Agents, technicians and the relay each hold one key
//! pair; TLS certificates are made from it on the fly, so the key, not the
//! certificate, is the identity.

use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::{Signer, SigningKey, Verifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

const KEY_FILE_PREFIX: &str = "triage-ed25519-secret:";
const PUBLIC_PREFIX: &str = "ed25519:";
/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32 key bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("key file is not a Triage key (expected a line starting with `{KEY_FILE_PREFIX}`)")]
    BadKeyFile,
    #[error("`{0}` is not an Ed25519 public key (expected `ed25519:` and 64 hex digits)")]
    BadPublicKey(String),
    #[error("certificate does not carry an Ed25519 key: {0}")]
    NotEd25519(String),
    #[error("could not make a certificate: {0}")]
    Certificate(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        match ed25519_dalek::VerifyingKey::from_bytes(&self.0) {
            Ok(key) => key
                .verify(message, &ed25519_dalek::Signature::from_bytes(&signature.0))
                .is_ok(),
            Err(_) => false,
        }
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for PublicKey {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, IdentityError> {
        let t = s.trim();
        let hex_part = t
            .strip_prefix(PUBLIC_PREFIX)
            .ok_or_else(|| IdentityError::BadPublicKey(t.chars().take(80).collect()))?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut key)
            .map_err(|_| IdentityError::BadPublicKey(t.chars().take(80).collect()))?;
        Ok(PublicKey(key))
    }
}

impl From<PublicKey> for String {
    fn from(k: PublicKey) -> String {
        k.to_string()
    }
}

impl TryFrom<String> for PublicKey {
    type Error = IdentityError;
    fn try_from(s: String) -> Result<Self, IdentityError> {
        s.parse()
    }
}

/// An Ed25519 signature, written as hex wherever it is shown or stored.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..8]))
    }
}

impl From<Signature> for String {
    fn from(s: Signature) -> String {
        hex::encode(s.0)
    }
}

impl TryFrom<String> for Signature {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut sig = [0u8; 64];
        hex::decode_to_slice(s.trim(), &mut sig)
            .map_err(|_| "signature must be 128 hex digits".to_string())?;
        Ok(Signature(sig))
    }
}

/// SHA-256 of a certificate's DER bytes, used to pin the relay.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CertFingerprint(pub [u8; 32]);

impl CertFingerprint {
    pub fn of(cert_der: &[u8]) -> Self {
        CertFingerprint(Sha256::digest(cert_der).into())
    }
}

impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{self}")
    }
}

impl FromStr for CertFingerprint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().trim_start_matches("sha256:");
        let mut fp = [0u8; 32];
        hex::decode_to_slice(s, &mut fp)
            .map_err(|_| "relay fingerprint must be 64 hex digits (SHA-256)".to_string())?;
        Ok(CertFingerprint(fp))
    }
}

/// A private key with the operations Triage needs from it.
pub struct KeyPair {
    signing: SigningKey,
}

impl KeyPair {
    pub fn generate() -> Self {
        KeyPair {
            signing: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        KeyPair {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Parses the text stored in a key file.
    pub fn from_file_text(text: &str) -> Result<Self, IdentityError> {
        let hex_part = text
            .trim()
            .strip_prefix(KEY_FILE_PREFIX)
            .ok_or(IdentityError::BadKeyFile)?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(hex_part.trim(), &mut seed).map_err(|_| IdentityError::BadKeyFile)?;
        Ok(Self::from_seed(seed))
    }

    /// The text to store in a key file (keep it readable by its owner only).
    pub fn to_file_text(&self) -> String {
        format!(
            "{KEY_FILE_PREFIX}{}\n",
            hex::encode(self.signing.to_bytes())
        )
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.signing.sign(message).to_bytes())
    }

    /// A self-signed certificate for this key, and the key in the form rustls wants.
    pub fn certificate(
        &self,
        common_name: &str,
    ) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), IdentityError> {
        let cert_err = |e: &dyn fmt::Display| IdentityError::Certificate(e.to_string());
        let pkcs8 = self.signing.to_pkcs8_der().map_err(|e| cert_err(&e))?;
        let pkcs8 = PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
        let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
            .map_err(|e| cert_err(&e))?;
        let mut params = rcgen::CertificateParams::new(vec![crate::tls::SERVER_NAME.to_string()])
            .map_err(|e| cert_err(&e))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let cert = params.self_signed(&key).map_err(|e| cert_err(&e))?;
        Ok((cert.der().clone(), PrivateKeyDer::Pkcs8(pkcs8)))
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({})", self.public_key())
    }
}

/// The Ed25519 public key inside a certificate, or an error for any other kind.
pub fn public_key_of_cert(cert: &CertificateDer<'_>) -> Result<PublicKey, IdentityError> {
    let ee = webpki::EndEntityCert::try_from(cert)
        .map_err(|e| IdentityError::NotEd25519(format!("{e:?}")))?;
    let spki = ee.subject_public_key_info();
    let bytes = spki.as_ref();
    match bytes.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
        Some(key) if key.len() == 32 => {
            let mut out = [0u8; 32];
            out.copy_from_slice(key);
            Ok(PublicKey(out))
        }
        _ => Err(IdentityError::NotEd25519("another key algorithm".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trips_and_garbage_is_refused() {
        let k = KeyPair::generate();
        let back = KeyPair::from_file_text(&k.to_file_text()).unwrap();
        assert_eq!(back.public_key(), k.public_key());
        assert!(KeyPair::from_file_text("hello").is_err());
        assert!(KeyPair::from_file_text("triage-ed25519-secret:zz").is_err());
    }

    #[test]
    fn certificate_carries_the_key() {
        let k = KeyPair::generate();
        let (cert, _) = k.certificate("agent").unwrap();
        assert_eq!(public_key_of_cert(&cert).unwrap(), k.public_key());
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let k = KeyPair::generate();
        let sig = k.sign(b"hello");
        assert!(k.public_key().verify(b"hello", &sig));
        assert!(!k.public_key().verify(b"hellO", &sig));
        assert!(!KeyPair::generate().public_key().verify(b"hello", &sig));
    }

    #[test]
    fn public_key_text_round_trips() {
        let pk = KeyPair::generate().public_key();
        assert_eq!(pk.to_string().parse::<PublicKey>().unwrap(), pk);
        assert!("ed25519:1234".parse::<PublicKey>().is_err());
        assert!("rsa:00".parse::<PublicKey>().is_err());
    }
}
