//! Hashing and comparing API secrets (interface tokens, staff keys).

use bellhop_domain::reference::SecretHash;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The stored form of a secret: its SHA-256 digest. API secrets are long random strings, so a
/// fast digest is enough; the database never sees the secret itself.
pub fn hash_secret(secret: &str) -> SecretHash {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `secret` hashes to one of `known`, comparing every candidate in constant time.
pub fn matches_any(secret: &str, known: &[SecretHash]) -> bool {
    let candidate = hash_secret(secret);
    known
        .iter()
        .fold(subtle::Choice::from(0), |found, hash| {
            found | hash.ct_eq(&candidate)
        })
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_its_own_hash_only() {
        let known = vec![hash_secret("demo-interface-token"), hash_secret("other")];
        assert!(matches_any("demo-interface-token", &known));
        assert!(!matches_any("demo-interface-token ", &known));
        assert!(!matches_any("", &known));
        assert!(!matches_any("demo-interface-token", &[]));
    }
}
