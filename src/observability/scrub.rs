//! Redaction of secrets and personal data in text that leaves the Worker: every log line and every error
//! report passes through [`scrub`]. What it removes, wherever it appears in the text:
//! - JSON Web Tokens (three base64url segments, the first one `eyJ…`): access tokens, Supabase keys;
//! - the token after `Bearer` (the scheme as clients send it);
//! - Stripe secrets (`sk_live_…`, `sk_test_…`, `rk_live_…`, `rk_test_…`, `whsec_…`);
//! - e-mail addresses.
//!
//! It is a scanner over runs of token characters, not a set of regular expressions: text without any
//! of the trigger substrings (the common case) is returned borrowed after a few `contains` checks.

use std::borrow::Cow;

pub const REDACTED: &str = "[redacted]";

const SECRET_PREFIXES: [&str; 5] = ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"];

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@' | '%')
}

fn is_jwt(run: &str) -> bool {
    run.starts_with("eyJ")
        && run.split('.').count() == 3
        && run.split('.').take(2).all(|s| s.len() >= 4)
        && run.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn is_email(run: &str) -> bool {
    let Some((local, domain)) = run.split_once('@') else { return false };
    // A domain ends in a top-level label of letters (`example.com`, not `edge-saas@0.1.0`).
    let tld_ok = domain.rsplit('.').next().is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic()));
    !local.is_empty() && domain.contains('.') && domain.split('.').all(|l| !l.is_empty()) && !domain.contains('@') && tld_ok
}

fn is_sensitive(run: &str) -> bool {
    is_jwt(run) || SECRET_PREFIXES.iter().any(|p| run.starts_with(p) && run.len() > p.len()) || is_email(run)
}

/// `text` with every secret or address replaced by [`REDACTED`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let triggers = text.contains('@') || text.contains("eyJ") || text.contains("earer") || SECRET_PREFIXES.iter().any(|p| text.contains(p));
    if !triggers {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut after_bearer = false;
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(is_token_char).unwrap_or(rest.len());
        let (gap, tail) = rest.split_at(start);
        out.push_str(gap);
        if tail.is_empty() {
            break;
        }
        let end = tail.find(|c: char| !is_token_char(c)).unwrap_or(tail.len());
        let (run, next) = tail.split_at(end);
        // A sentence's full stop is not part of an address.
        let core = run.trim_end_matches('.');
        let trailing = &run[core.len()..];
        // Only a single space (or `: `) may separate `Bearer` from its token.
        let bearer_token = after_bearer && !core.is_empty() && gap.trim().is_empty() && gap.len() <= 2;
        if bearer_token || is_sensitive(core) {
            out.push_str(REDACTED);
            out.push_str(trailing);
            changed = true;
        } else {
            out.push_str(run);
        }
        after_bearer = core == "Bearer";
        rest = next;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl";

    #[test]
    fn secrets_and_addresses_are_redacted_wherever_they_appear() {
        let cases = [
            (format!("token {JWT} expired"), "token [redacted] expired".to_string()),
            (format!("{{\"authorization\":\"Bearer {JWT}\"}}"), "{\"authorization\":\"Bearer [redacted]\"}".to_string()),
            ("Authorization: Bearer opaque-token_123".into(), "Authorization: Bearer [redacted]".into()),
            ("key sk_live_51HxYz and sk_test_abc, whsec_Q9x".into(), "key [redacted] and [redacted], [redacted]".into()),
            ("user jane.doe+saas@example.co.uk signed up.".into(), "user [redacted] signed up.".into()),
            ("mail a@b.io.".into(), "mail [redacted].".into()),
            ("{\"email\":\"x@y.dev\",\"n\":1}".into(), "{\"email\":\"[redacted]\",\"n\":1}".into()),
        ];
        for (input, want) in cases {
            assert_eq!(scrub(&input), want, "{input}");
        }
    }

    #[test]
    fn ordinary_text_is_untouched_and_borrowed() {
        for s in [
            "{\"level\":\"info\",\"msg\":\"request\",\"request_id\":\"3f0c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6\",\"status\":200}",
            "cus_NffrFeUfNV2Hib sub_1MowQVLkdIwHu7ix price_dev_pro 10.0.0.1 v1.2.3",
            "bearer of bad news, a @ sign, user@localhost, sk_ alone, eyJ.short, release edge-saas@0.1.0",
        ] {
            let out = scrub(s);
            assert_eq!(out, s);
        }
        assert!(matches!(scrub("plain text with nothing in it"), Cow::Borrowed(_)));
    }
}
