//! Secrets at rest: realm private keys and the HMAC pepper are sealed with AES-256-GCM
//! (aws-lc-rs) under a master key that never enters the database.
//!
//! A sealed value is `sealed:v1:<master key id>:<base64(nonce ‖ ciphertext ‖ tag)>`.
//! The associated data names what the value is (a realm, kid and algorithm, or a
//! setting), so a sealed row copied onto another row, or an algorithm changed in the
//! database, fails to open instead of yielding a key for the wrong use. The master key
//! id (a hash prefix of the key) lets a wrong master key be reported as such, rather
//! than as corrupt data.
//!
//! Values without the prefix are in the clear: databases written before sealing, and
//! PostgreSQL run without a master key (README, "Master key"). They are read as they
//! are, and sealed once a master key is configured.
//!
//! Architecture Invariant: with a master key configured, no private key or pepper is
//! written to the database unsealed.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::secret::{random_bytes, sha256};

const PREFIX: &str = "sealed:v1:";

/// The 256-bit key everything sealed at rest is sealed under.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    id: String,
}

impl MasterKey {
    pub fn generate() -> Self {
        Self::from_bytes(random_bytes::<32>())
    }

    fn from_bytes(key: [u8; 32]) -> Self {
        // A hash of a random 256-bit key reveals nothing usable about it.
        let digest = sha256(&[b"portcullis master key id\0".as_slice(), &key].concat());
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self { key, id }
    }

    /// The key as written to a key file or `PORTCULLIS_MASTER_KEY`: base64 of 32 bytes,
    /// surrounding whitespace ignored.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "expected the base64 encoding of 32 random bytes (e.g. `openssl rand -base64 32`)";
        let bytes = STANDARD.decode(text.trim()).map_err(|_| format!("the master key is not base64: {expected}"))?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("the master key is {} bytes long: {expected}", b.len()))?;
        Ok(Self::from_bytes(key))
    }

    pub fn encode(&self) -> String {
        STANDARD.encode(self.key)
    }

    /// Names the key in messages and in sealed values, without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn aead(&self) -> LessSafeKey {
        // 32 bytes is exactly AES-256's key length, so this cannot fail.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key).expect("a 32-byte AES-256 key"))
    }

    fn seal(&self, aad: &str, plaintext: &[u8]) -> String {
        // Random 96-bit nonces: a database holds a few keys per realm, far below the
        // 2^32 messages after which random nonces under one key become a concern.
        let nonce = random_bytes::<NONCE_LEN>();
        let mut in_out = plaintext.to_vec();
        self.aead()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut in_out)
            .expect("AES-GCM sealing of a small buffer");
        let mut out = format!("{PREFIX}{}:", self.id);
        STANDARD.encode_string([&nonce[..], &in_out].concat(), &mut out);
        out
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl PartialEq for MasterKey {
    fn eq(&self, other: &Self) -> bool {
        crate::secret::constant_time_eq(&self.key, &other.key)
    }
}

impl Eq for MasterKey {}

/// What a sealed value is, bound into its seal as associated data.
pub enum Sealed<'a> {
    SigningKey { realm: &'a str, kid: &'a str, alg: &'a str },
    Setting(&'a str),
}

impl Sealed<'_> {
    fn aad(&self) -> String {
        match self {
            Self::SigningKey { realm, kid, alg } => format!("portcullis signing key\0{realm}\0{kid}\0{alg}"),
            Self::Setting(name) => format!("portcullis setting\0{name}"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::SigningKey { realm, kid, .. } => format!("signing key {kid} of realm {realm}"),
            Self::Setting(name) => format!("the {name} setting"),
        }
    }
}

/// Whether a stored value is sealed, and under which master key.
pub fn sealed_under(stored: &[u8]) -> Option<&str> {
    let rest = stored.strip_prefix(PREFIX.as_bytes())?;
    let end = rest.iter().position(|&b| b == b':')?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// How values are written to and read from the database: sealed under a master key,
/// or (without one) in the clear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AtRest {
    key: Option<MasterKey>,
}

impl AtRest {
    pub fn new(key: Option<MasterKey>) -> Self {
        Self { key }
    }

    pub fn key(&self) -> Option<&MasterKey> {
        self.key.as_ref()
    }

    /// The value to store for `plaintext`: sealed when there is a master key.
    pub fn seal(&self, what: &Sealed<'_>, plaintext: &[u8]) -> Vec<u8> {
        match &self.key {
            Some(key) => key.seal(&what.aad(), plaintext).into_bytes(),
            None => plaintext.to_vec(),
        }
    }

    /// The plaintext of a stored value; a value in the clear is returned as it is.
    pub fn open(&self, what: &Sealed<'_>, stored: &[u8]) -> Result<Vec<u8>, String> {
        let Some(id) = sealed_under(stored) else { return Ok(stored.to_vec()) };
        let Some(key) = &self.key else {
            return Err(format!(
                "{} is sealed under master key {id}, but no master key is configured (set \
                 PORTCULLIS_MASTER_KEY_FILE or PORTCULLIS_MASTER_KEY)",
                what.describe()
            ));
        };
        if id != key.id {
            return Err(format!(
                "{} is sealed under master key {id}, but the configured master key is {}: wrong master key",
                what.describe(),
                key.id
            ));
        }
        let body = &stored[PREFIX.len() + id.len() + 1..];
        let damaged =
            || format!("{} does not open under master key {id}: the stored value was altered", what.describe());
        let mut bytes = STANDARD.decode(body).map_err(|_| damaged())?;
        if bytes.len() < NONCE_LEN {
            return Err(damaged());
        }
        let mut in_out = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| damaged())?;
        let plain = key.aead().open_in_place(nonce, Aad::from(what.aad()), &mut in_out).map_err(|_| damaged())?;
        Ok(plain.to_vec())
    }

    /// Whether `stored` must be rewritten to be sealed under this key (it is in the
    /// clear, or sealed under another key). Always false without a master key.
    pub fn needs_sealing(&self, stored: &[u8]) -> bool {
        self.key.as_ref().is_some_and(|key| sealed_under(stored) != Some(key.id.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n";

    fn key_of(realm: &str) -> Sealed<'_> {
        Sealed::SigningKey { realm, kid: "k1", alg: "ES256" }
    }

    #[test]
    fn sealed_values_open_only_under_their_key_and_purpose() {
        let at_rest = AtRest::new(Some(MasterKey::generate()));
        let stored = at_rest.seal(&key_of("acme"), PEM);
        assert!(!stored.windows(11).any(|w| w == b"PRIVATE KEY"));
        assert_eq!(at_rest.open(&key_of("acme"), &stored).unwrap(), PEM);
        let moved = at_rest.open(&key_of("beta"), &stored).unwrap_err();
        assert!(moved.contains("altered"), "{moved}");
        let other = AtRest::new(Some(MasterKey::generate())).open(&key_of("acme"), &stored).unwrap_err();
        assert!(other.contains("wrong master key"), "{other}");
        let none = AtRest::default().open(&key_of("acme"), &stored).unwrap_err();
        assert!(none.contains("no master key is configured"), "{none}");
    }

    #[test]
    fn clear_values_are_read_as_they_are_and_need_sealing_only_with_a_key() {
        assert_eq!(AtRest::default().open(&Sealed::Setting("pepper"), b"p").unwrap(), b"p");
        assert!(!AtRest::default().needs_sealing(b"p"));
        let at_rest = AtRest::new(Some(MasterKey::generate()));
        assert!(at_rest.needs_sealing(b"p"));
        assert!(!at_rest.needs_sealing(&at_rest.seal(&Sealed::Setting("pepper"), b"p")));
    }

    #[test]
    fn master_keys_parse_from_their_encoding_and_refuse_anything_else() {
        let key = MasterKey::generate();
        assert_eq!(MasterKey::parse(&format!(" {}\n", key.encode())).unwrap(), key);
        assert!(MasterKey::parse("not base64!").unwrap_err().contains("base64"));
        assert!(MasterKey::parse("c2hvcnQ=").unwrap_err().contains("5 bytes"));
        assert!(!format!("{key:?}").contains(&key.encode()));
    }
}
