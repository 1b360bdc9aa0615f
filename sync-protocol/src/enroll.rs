//! Enrollment: one-time codes and the proofs that bind them to a TLS session.
//!
//! An operator reads a code like `7QK2-M9XD-4TFA-HC3E` off the hub and types it at the edge.
//! The edge cannot check the hub's certificate yet (it has no CA), so neither side ever sends
//! the code itself: each proves it knows the code with an HMAC over a value exported from
//! *this* TLS session. A machine in the middle holds two different sessions, so it can neither
//! replay the edge's proof to the hub nor forge the hub's proof to the edge.
//!
//! Codes are 80 random bits in Crockford base32; the first four characters are a lookup id.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Crockford base32: no I, L, O or U, so a code read aloud or typed is hard to get wrong.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code (80 bits).
pub const CODE_CHARS: usize = 16;
/// Characters of the public lookup id at the start of a code.
pub const CODE_ID_CHARS: usize = 4;
/// Label for the TLS keying-material exporter (RFC 5705).
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-kibanda-enroll-v1";

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentCode(String);

impl std::fmt::Debug for EnrollmentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EnrollmentCode({}-…)", self.code_id())
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodeError {
    #[error("an enrollment code has {CODE_CHARS} characters (dashes optional); got {0}")]
    WrongLength(usize),
    #[error("character {0:?} is not used in enrollment codes")]
    BadCharacter(char),
}

impl EnrollmentCode {
    /// Makes a code from 10 random bytes (the caller owns the randomness).
    pub fn from_random(bytes: [u8; 10]) -> EnrollmentCode {
        let mut bits: u128 = 0;
        for byte in bytes {
            bits = (bits << 8) | u128::from(byte);
        }
        let code = (0..CODE_CHARS)
            .rev()
            .map(|index| ALPHABET[((bits >> (index * 5)) & 0x1f) as usize] as char)
            .collect();
        EnrollmentCode(code)
    }

    /// Parses what an operator typed: case and dashes/spaces do not matter; `O`→`0` and
    /// `I`/`L`→`1` as Crockford base32 allows.
    pub fn parse(text: &str) -> Result<EnrollmentCode, CodeError> {
        let mut code = String::with_capacity(CODE_CHARS);
        for character in text.chars() {
            if character == '-' || character.is_whitespace() {
                continue;
            }
            let upper = match character.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            if !upper.is_ascii() || !ALPHABET.contains(&(upper as u8)) {
                return Err(CodeError::BadCharacter(character));
            }
            code.push(upper);
            if code.len() > CODE_CHARS {
                break;
            }
        }
        if code.len() != CODE_CHARS {
            return Err(CodeError::WrongLength(code.len()));
        }
        Ok(EnrollmentCode(code))
    }

    pub fn code_id(&self) -> &str {
        &self.0[..CODE_ID_CHARS]
    }

    /// The canonical form, grouped for reading: `XXXX-XXXX-XXXX-XXXX`.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The secret form stored by the hub (it needs the code itself to check proofs).
    pub fn as_secret(&self) -> &str {
        &self.0
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        <HmacSha256 as KeyInit>::new_from_slice(self.0.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// The edge's proof: it knows the code, in this TLS session, for this key and node.
    pub fn client_proof(&self, exporter: &[u8], node_id: &[u8; 16], public_key: &[u8]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(b"kibanda-enroll-v1 client");
        mac.update(exporter);
        mac.update(node_id);
        mac.update(public_key);
        mac.finalize().into_bytes().into()
    }

    /// The hub's proof: it knows the code, in this TLS session, and issued these certificates.
    pub fn hub_proof(
        &self,
        exporter: &[u8],
        ca_cert_der: &[u8],
        device_cert_der: &[u8],
    ) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(b"kibanda-enroll-v1 hub");
        mac.update(exporter);
        mac.update(&Sha256::digest(ca_cert_der));
        mac.update(&Sha256::digest(device_cert_der));
        mac.finalize().into_bytes().into()
    }
}

/// Compares two proofs in constant time.
pub fn proofs_equal(left: &[u8; 32], right: &[u8; 32]) -> bool {
    left.iter()
        .zip(right.iter())
        .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_survives_being_typed_sloppily() {
        let code = EnrollmentCode::from_random([0xA5; 10]);
        let typed = code.display().to_lowercase().replace('-', " ");
        assert_eq!(EnrollmentCode::parse(&typed), Ok(code.clone()));
        assert_eq!(code.display().len(), 19);
    }

    #[test]
    fn malformed_codes_are_refused() {
        assert_eq!(EnrollmentCode::parse("ABC"), Err(CodeError::WrongLength(3)));
        assert_eq!(
            EnrollmentCode::parse("ABCD-EFGH-JKMN-PQRU"),
            Err(CodeError::BadCharacter('U'))
        );
    }

    #[test]
    fn proofs_depend_on_the_session_and_the_code() {
        let code = EnrollmentCode::from_random([1; 10]);
        let other = EnrollmentCode::from_random([2; 10]);
        let proof = code.client_proof(b"session-a", &[0; 16], b"key");
        assert!(proofs_equal(
            &proof,
            &code.client_proof(b"session-a", &[0; 16], b"key")
        ));
        assert!(!proofs_equal(
            &proof,
            &code.client_proof(b"session-b", &[0; 16], b"key")
        ));
        assert!(!proofs_equal(
            &proof,
            &other.client_proof(b"session-a", &[0; 16], b"key")
        ));
    }
}
