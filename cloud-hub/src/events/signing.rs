//! Webhook signatures: HMAC-SHA256 over `"<timestamp>.<body>"`, sent as
//! `Kibanda-Signature: t=<unix seconds>,v1=<hex>`. Receivers recompute it with their endpoint
//! secret and reject old timestamps, which stops replays of captured deliveries.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "kibanda-signature";
/// How old a signed timestamp a receiver should accept.
pub const TOLERANCE_SECS: i64 = 300;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` signed at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Checks a header value against `body` (what a receiver does); constant-time comparison.
pub fn verify(secret: &str, header: &str, body: &[u8], now_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return false;
    };
    if (now_secs - timestamp).abs() > TOLERANCE_SECS {
        return false;
    }
    mac(secret, timestamp, body)
        .verify_slice(&signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let header = sign("whsec", 1_700_000_000, b"{\"a\":1}");
        assert!(verify("whsec", &header, b"{\"a\":1}", 1_700_000_010));
        assert!(!verify("whsec", &header, b"{\"a\":2}", 1_700_000_010));
        assert!(!verify("other", &header, b"{\"a\":1}", 1_700_000_010));
        assert!(!verify(
            "whsec",
            &header,
            b"{\"a\":1}",
            1_700_000_000 + TOLERANCE_SECS + 1
        ));
        assert!(!verify("whsec", "t=x,v1=zz", b"{}", 0));
    }
}
