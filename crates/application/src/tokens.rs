//! Session tokens: `base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`, unpadded.
//!
//! The payload is 33 bytes: a version byte, the property id (8 bytes, big-endian), the session
//! id (16 bytes) and the issue time in microseconds since the epoch (8 bytes, big-endian). The
//! token is opaque to clients; the session's state lives in the database.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bellhop_domain::{property::PropertyId, session::SessionId};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 8 + 16 + 8;
const SIGNATURE_LEN: usize = 32;
/// Longest token worth decoding: 44 + 1 + 43 characters.
const MAX_TOKEN_LEN: usize = 88;

/// What a token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    pub property_id: PropertyId,
    pub session_id: SessionId,
    pub issued_at: DateTime<Utc>,
}

/// Why a token was refused; all of these are `SessionTokenInvalid` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not verify")]
    BadSignature,
}

/// Signs with the current secret; verifies with the current or the previous one (rotation).
#[derive(Clone)]
pub struct TokenCodec {
    current: SecretString,
    previous: Option<SecretString>,
}

impl std::fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCodec")
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenCodec {
    pub fn new(current: SecretString, previous: Option<SecretString>) -> Self {
        Self { current, previous }
    }

    fn mac(secret: &SecretString) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail; an empty MAC would only
        // produce tokens that never verify.
        <HmacSha256 as Mac>::new_from_slice(secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()))
    }

    pub fn sign(&self, claims: &TokenClaims) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = VERSION;
        payload[1..9].copy_from_slice(&claims.property_id.to_be_bytes());
        payload[9..25].copy_from_slice(claims.session_id.as_bytes());
        payload[25..33].copy_from_slice(&claims.issued_at.timestamp_micros().to_be_bytes());
        let mut mac = Self::mac(&self.current);
        mac.update(&payload);
        let signature = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// Checks the signature (in constant time) against the current, then the previous secret,
    /// and decodes the claims. Never panics, whatever the input.
    pub fn verify(&self, token: &str) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload_b64, signature_b64) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| TokenError::Malformed)?;
        if payload.len() != PAYLOAD_LEN || signature.len() != SIGNATURE_LEN || payload[0] != VERSION
        {
            return Err(TokenError::Malformed);
        }
        let verifies = |secret: &SecretString| {
            let mut mac = Self::mac(secret);
            mac.update(&payload);
            mac.verify_slice(&signature).is_ok()
        };
        if !(verifies(&self.current) || self.previous.as_ref().is_some_and(verifies)) {
            return Err(TokenError::BadSignature);
        }
        let property_id = i64::from_be_bytes(
            payload[1..9]
                .try_into()
                .map_err(|_| TokenError::Malformed)?,
        );
        let session_id = Uuid::from_slice(&payload[9..25]).map_err(|_| TokenError::Malformed)?;
        let micros = i64::from_be_bytes(
            payload[25..33]
                .try_into()
                .map_err(|_| TokenError::Malformed)?,
        );
        let issued_at = DateTime::from_timestamp_micros(micros).ok_or(TokenError::Malformed)?;
        Ok(TokenClaims {
            property_id,
            session_id,
            issued_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn codec(secret: &str) -> TokenCodec {
        TokenCodec::new(SecretString::from(secret.to_owned()), None)
    }

    fn claims() -> TokenClaims {
        TokenClaims {
            property_id: 42,
            session_id: Uuid::new_v4(),
            issued_at: DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap(),
        }
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims() {
        let codec = codec("secret");
        let claims = claims();
        assert_eq!(codec.verify(&codec.sign(&claims)), Ok(claims));
    }

    #[test]
    fn the_signature_part_is_43_characters_without_padding() {
        let token = codec("secret").sign(&claims());
        let (payload, signature) = token.split_once('.').unwrap();
        assert_eq!(signature.len(), 43);
        assert!(!token.contains('='));
        assert_eq!(payload.len(), 44);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let token = codec("other").sign(&claims());
        assert_eq!(
            codec("secret").verify(&token),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_token_signed_with_the_previous_secret_is_accepted() {
        let old = codec("old-secret");
        let rotated = TokenCodec::new(
            SecretString::from("new-secret"),
            Some(SecretString::from("old-secret")),
        );
        let claims = claims();
        assert_eq!(rotated.verify(&old.sign(&claims)), Ok(claims));
        // New tokens are signed with the new secret only.
        assert_eq!(
            old.verify(&rotated.sign(&claims)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let codec = codec("secret");
        let token = codec.sign(&claims());
        let (payload, signature) = token.split_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        bytes[1] ^= 1;
        let forged = format!("{}.{signature}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(codec.verify(&forged), Err(TokenError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed() {
        let codec = codec("secret");
        for token in [
            "",
            ".",
            "abc",
            "a.b",
            "....",
            "UYpmOOJP3IgKAAAAAAAAAAAAAAA.lLhwFRjMIUqLc1bYWMqD6lELA7Rcxo-DgZG5qSbUy4U",
        ] {
            assert_eq!(codec.verify(token), Err(TokenError::Malformed), "{token}");
        }
    }

    proptest! {
        #[test]
        fn verifying_any_string_never_panics(token in ".*") {
            let _ = codec("secret").verify(&token);
        }

        #[test]
        fn verifying_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let token = String::from_utf8_lossy(&bytes);
            let _ = codec("secret").verify(&token);
        }

        #[test]
        fn token_shaped_strings_never_panic(payload in "[A-Za-z0-9_-]{0,60}", signature in "[A-Za-z0-9_-]{0,60}") {
            let _ = codec("secret").verify(&format!("{payload}.{signature}"));
        }

        #[test]
        fn every_signed_token_round_trips(property_id in any::<i64>(), micros in 0i64..4_000_000_000_000_000) {
            let codec = codec("secret");
            let claims = TokenClaims {
                property_id,
                session_id: Uuid::new_v4(),
                issued_at: DateTime::from_timestamp_micros(micros).unwrap(),
            };
            prop_assert_eq!(codec.verify(&codec.sign(&claims)), Ok(claims));
        }
    }
}
