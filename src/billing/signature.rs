//! Stripe webhook signatures (`Stripe-Signature: t=…,v1=…[,v1=…]`), after stripe-go's `webhook/client.go`.
//!
//! The signed payload is `"{t}.{raw body}"`, HMAC-SHA256 with the endpoint secret, hex-encoded. A header
//! may carry several `v1` values (Stripe sends one per active secret while a secret is being rolled), and
//! several secrets may be configured; any match of any pair verifies. Timestamps more than
//! [`TOLERANCE_SECS`] away from now are refused (replay protection). Comparisons are constant-time.
//! The HMAC is computed here, in the wasm (RustCrypto's `hmac` + `sha2`): a few microseconds for a webhook,
//! where WebCrypto cost an import and a sign, each a promise, per secret and request (docs/adr/0021).

pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header")]
    Malformed,
    #[error("no v1 signature in header")]
    NoSignatures,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    /// Decoded `v1` signatures (32 bytes each).
    pub v1: Vec<Vec<u8>>,
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Parses the header. Unknown schemes (`v0`, future ones) are ignored, as Stripe documents.
pub fn parse_header(header: Option<&str>) -> Result<SignatureHeader, SignatureError> {
    let h = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for part in h.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match k {
            "t" => timestamp = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => {
                if let Some(sig) = hex_decode(v).filter(|s| s.len() == 32) {
                    v1.push(sig);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::NoSignatures);
    }
    Ok(SignatureHeader { timestamp, v1 })
}

/// HMAC-SHA256 of `payload` with `secret`.
pub fn mac(secret: &[u8], payload: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    // HMAC takes a key of any length.
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    m.update(payload);
    m.finalize().into_bytes().to_vec()
}

/// Verifies a `Stripe-Signature` header against the raw body with any of `secrets`, at `now_secs`.
pub fn verify<S: AsRef<[u8]>>(header: Option<&str>, raw: &[u8], secrets: &[S], now_secs: i64) -> Result<(), SignatureError> {
    let parsed = parse_header(header)?;
    check_tolerance(parsed.timestamp, now_secs)?;
    let payload = signed_payload(parsed.timestamp, raw);
    let expected: Vec<Vec<u8>> = secrets.iter().map(|s| mac(s.as_ref(), &payload)).collect();
    if any_matches(&expected, &parsed) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The bytes that are signed: `"{t}.{body}"`.
pub fn signed_payload(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut p = format!("{timestamp}.").into_bytes();
    p.extend_from_slice(body);
    p
}

pub fn check_tolerance(timestamp: i64, now_secs: i64) -> Result<(), SignatureError> {
    if (now_secs - timestamp).abs() > TOLERANCE_SECS {
        Err(SignatureError::Stale)
    } else {
        Ok(())
    }
}

/// Constant-time equality for equal-length byte strings (length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether any computed MAC (one per configured secret) equals any signature in the header. Every pair is
/// compared, so timing does not reveal which matched.
pub fn any_matches(expected: &[Vec<u8>], header: &SignatureHeader) -> bool {
    let mut ok = false;
    for e in expected {
        for s in &header.v1 {
            ok |= constant_time_eq(e, s);
        }
    }
    ok
}

#[cfg(test)]
pub mod test_signer {
    //! Signs payloads the way Stripe does, for tests.
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    pub fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(&super::signed_payload(timestamp, body));
        m.finalize().into_bytes().to_vec()
    }

    pub fn header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
        let mut h = format!("t={timestamp}");
        for s in secrets {
            let hex: String = mac(s, timestamp, body).iter().map(|b| format!("{b:02x}")).collect();
            h.push_str(&format!(",v1={hex}"));
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::test_signer::{header, mac};
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.created"}"#;

    fn verify(h: &str, secrets: &[&str], now: i64) -> Result<(), SignatureError> {
        super::verify(Some(h), BODY, secrets, now)
    }

    #[test]
    fn mac_is_hmac_sha256() {
        // RFC 4231, test case 2.
        let hex: String = super::mac(b"Jefe", b"what do ya want for nothing?").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_eq!(super::mac(b"whsec_a", b"1000.{}"), mac("whsec_a", 1000, b"{}"));
    }

    #[test]
    fn no_secret_verifies_nothing() {
        assert_eq!(verify(&header(&["whsec_a"], 1000, BODY), &[], 1000), Err(SignatureError::Mismatch));
        assert_eq!(super::verify(None, BODY, &["whsec_a"], 1000), Err(SignatureError::Missing));
    }

    #[test]
    fn a_correct_signature_verifies() {
        assert_eq!(verify(&header(&["whsec_a"], 1000, BODY), &["whsec_a"], 1000), Ok(()));
    }

    #[test]
    fn any_of_several_signatures_and_secrets_verifies_during_rotation() {
        let h = header(&["whsec_old", "whsec_new"], 1000, BODY);
        assert_eq!(verify(&h, &["whsec_new"], 1000), Ok(()));
        assert_eq!(verify(&h, &["whsec_old"], 1000), Ok(()));
        assert_eq!(verify(&header(&["whsec_new"], 1000, BODY), &["whsec_old", "whsec_new"], 1000), Ok(()));
    }

    #[test]
    fn wrong_secret_altered_body_and_stale_timestamps_fail() {
        assert_eq!(verify(&header(&["whsec_x"], 1000, BODY), &["whsec_a"], 1000), Err(SignatureError::Mismatch));
        assert_eq!(verify(&header(&["whsec_a"], 1000, b"{}"), &["whsec_a"], 1000), Err(SignatureError::Mismatch));
        assert_eq!(verify(&header(&["whsec_a"], 1000, BODY), &["whsec_a"], 1301), Err(SignatureError::Stale));
        assert_eq!(verify(&header(&["whsec_a"], 1000, BODY), &["whsec_a"], 699), Err(SignatureError::Stale));
        assert_eq!(verify(&header(&["whsec_a"], 1000, BODY), &["whsec_a"], 1300), Ok(()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert_eq!(parse_header(None), Err(SignatureError::Missing));
        assert_eq!(parse_header(Some("garbage")), Err(SignatureError::Malformed));
        assert_eq!(parse_header(Some("v1=abcd")), Err(SignatureError::Malformed));
        assert_eq!(parse_header(Some("t=1,v0=abcd")), Err(SignatureError::NoSignatures));
        assert_eq!(parse_header(Some("t=1,v1=zz")), Err(SignatureError::NoSignatures));
        assert_eq!(parse_header(Some("t=abc,v1=00")), Err(SignatureError::Malformed));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
