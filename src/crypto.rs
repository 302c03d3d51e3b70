//! Encryption at rest of specialists' free text (visit notes, advice, closing summaries):
//! AES-256-GCM with a random 96-bit nonce per value and the record's id as associated data, so
//! a ciphertext cannot be moved to another record. Keys carry an id; each value names the key
//! it was sealed with (`kid:base64(nonce‖ciphertext)`), so keys can rotate and
//! `kindbrug reencrypt` moves old values to the active key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use uuid::Uuid;

/// The keys the gateway knows and the one it seals with.
pub struct Keyring {
    keys: HashMap<String, Aes256Gcm>,
    active: String,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption keys: {0}")]
    Config(String),
    #[error("a value was sealed with key {0}, which is not configured")]
    UnknownKey(String),
    #[error("a stored value could not be opened (altered, or moved to another record)")]
    Open,
}

impl Keyring {
    /// Parses `kid:base64key,kid2:base64key2` (32-byte keys); `active` names the sealing key
    /// (default: the first).
    pub fn parse(spec: &SecretString, active: Option<&str>) -> Result<Self, CryptoError> {
        let mut keys = HashMap::new();
        let mut first = None;
        for part in spec
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (kid, key) = part
                .split_once(':')
                .ok_or_else(|| CryptoError::Config("each key is kid:base64".into()))?;
            if kid.is_empty()
                || !kid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(CryptoError::Config(
                    "a key id is letters, digits, - and _".into(),
                ));
            }
            let bytes = B64
                .decode(key)
                .map_err(|_| CryptoError::Config(format!("key {kid} is not base64")))?;
            if bytes.len() != 32 {
                return Err(CryptoError::Config(format!(
                    "key {kid} must be 32 bytes (AES-256)"
                )));
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| CryptoError::Config("bad key".into()))?;
            first.get_or_insert_with(|| kid.to_string());
            if keys.insert(kid.to_string(), cipher).is_some() {
                return Err(CryptoError::Config(format!("key id {kid} appears twice")));
            }
        }
        let active = match active {
            Some(a) => a.to_string(),
            None => first.ok_or_else(|| CryptoError::Config("no key given".into()))?,
        };
        if !keys.contains_key(&active) {
            return Err(CryptoError::Config(format!(
                "the active key {active} is not among the keys"
            )));
        }
        Ok(Self { keys, active })
    }

    /// A new random key in the `kid:base64` form.
    pub fn generate(kid: &str) -> String {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        format!("{kid}:{}", B64.encode(key))
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Seals `plain` for the record `record`.
    pub fn seal(&self, record: Uuid, plain: &str) -> String {
        let cipher = &self.keys[&self.active];
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: record.as_bytes(),
                },
            )
            .expect("AES-GCM sealing does not fail for in-memory input");
        let mut out = nonce.to_vec();
        out.extend(ct);
        format!("{}:{}", self.active, B64.encode(out))
    }

    /// Opens a value sealed for `record`.
    pub fn open(&self, record: Uuid, sealed: &str) -> Result<String, CryptoError> {
        let (kid, data) = sealed.split_once(':').ok_or(CryptoError::Open)?;
        let cipher = self
            .keys
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.to_string()))?;
        let bytes = B64.decode(data).map_err(|_| CryptoError::Open)?;
        if bytes.len() < 12 + 16 {
            return Err(CryptoError::Open);
        }
        let (nonce, ct) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::Open)?;
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: record.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Open)
    }

    /// Is this value sealed with a key other than the active one?
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed
            .split_once(':')
            .is_some_and(|(kid, _)| kid != self.active)
    }
}

/// 32 random bytes, URL-safe base64 (a session's CSRF token, a login's state).
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(spec: &str, active: Option<&str>) -> Keyring {
        Keyring::parse(&SecretString::from(spec.to_string()), active).unwrap()
    }

    #[test]
    fn seal_open_and_rotate() {
        let k1 = Keyring::generate("k1");
        let k2 = Keyring::generate("k2");
        let old = ring(&k1, None);
        let id = Uuid::now_v7();
        let sealed = old.seal(id, "Noor huilt bij het afscheid");
        assert!(!sealed.contains("Noor"));
        assert!(sealed.starts_with("k1:"));
        assert_eq!(
            old.open(id, &sealed).unwrap(),
            "Noor huilt bij het afscheid"
        );
        // bound to its record
        assert!(matches!(
            old.open(Uuid::now_v7(), &sealed),
            Err(CryptoError::Open)
        ));
        // a flipped byte is found
        let mut bytes = B64.decode(sealed.split_once(':').unwrap().1).unwrap();
        bytes[20] ^= 1;
        assert!(old.open(id, &format!("k1:{}", B64.encode(bytes))).is_err());
        // rotation: both keys known, the new one active
        let both = ring(&format!("{k1},{k2}"), Some("k2"));
        assert!(both.needs_reseal(&sealed));
        let resealed = both.seal(id, &both.open(id, &sealed).unwrap());
        assert!(resealed.starts_with("k2:") && !both.needs_reseal(&resealed));
        // without the old key an old value cannot be read
        assert!(matches!(
            ring(&k2, None).open(id, &sealed),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn bad_key_specs_are_refused() {
        for bad in [
            "",
            "k1",
            "k1:notbase64!",
            "k1:AAAA",
            "k 1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(
                Keyring::parse(&SecretString::from(bad.to_string()), None).is_err(),
                "{bad}"
            );
        }
        let k = Keyring::generate("a");
        assert!(Keyring::parse(&SecretString::from(k.clone()), Some("b")).is_err());
        assert!(Keyring::parse(&SecretString::from(format!("{k},{k}")), None).is_err());
    }
}
