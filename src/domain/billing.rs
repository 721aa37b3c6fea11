//! Billing configuration and Stripe API conventions (pure).
//!
//! - `STRIPE_PRICE_PLANS`: `price_id:PLAN` pairs, e.g. `price_123:PRO,price_456:ENTERPRISE`.
//! - `CREDIT_PACKS`: `name:price_id:credits` triples, e.g. `small:price_789:100`.
//! - Stripe POSTs are form-encoded with bracketed keys (`line_items[0][price]`).
//! - Retries: 429, 5xx and network errors are retried with backoff; other 4xx never are.

use serde::Serialize;

pub const PLANS: &[&str] = &["FREE", "PRO", "ENTERPRISE"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceMap(Vec<(String, String)>);

impl PriceMap {
    pub fn parse(s: &str) -> Option<PriceMap> {
        let mut v = Vec::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (price, plan) = pair.split_once(':')?;
            if price.is_empty() || !PLANS.contains(&plan) || plan == "FREE" {
                return None;
            }
            v.push((price.to_string(), plan.to_string()));
        }
        Some(PriceMap(v))
    }
    pub fn plan_for_price(&self, price: &str) -> Option<&str> {
        self.0.iter().find(|(p, _)| p == price).map(|(_, plan)| plan.as_str())
    }
    pub fn price_for_plan(&self, plan: &str) -> Option<&str> {
        self.0.iter().find(|(_, p)| p == plan).map(|(price, _)| price.as_str())
    }
    pub fn entries(&self) -> &[(String, String)] {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditPack {
    pub name: String,
    pub price_id: String,
    pub credits: u32,
}

pub fn parse_credit_packs(s: &str) -> Option<Vec<CreditPack>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|t| {
            let mut it = t.split(':');
            let (name, price, credits) = (it.next()?, it.next()?, it.next()?);
            let credits: u32 = credits.parse().ok().filter(|c| *c > 0)?;
            (it.next().is_none() && !name.is_empty() && !price.is_empty())
                .then(|| CreditPack { name: name.into(), price_id: price.into(), credits })
        })
        .collect()
}

/// Form-encodes pairs for Stripe (keys carry their own brackets).
pub fn form_encode(pairs: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Whether a Stripe answer (or a network failure, `None`) is worth retrying.
pub fn is_retryable(status: Option<u16>) -> bool {
    match status {
        None => true,
        Some(s) => s == 429 || s >= 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_map_parses_and_rejects() {
        let m = PriceMap::parse("price_a:PRO, price_b:ENTERPRISE").unwrap();
        assert_eq!(m.plan_for_price("price_b"), Some("ENTERPRISE"));
        assert_eq!(m.price_for_plan("PRO"), Some("price_a"));
        assert_eq!(m.plan_for_price("price_x"), None);
        assert!(PriceMap::parse("price_a:GOLD").is_none());
        assert!(PriceMap::parse("price_a:FREE").is_none(), "FREE has no price");
        assert!(PriceMap::parse("nocolon").is_none());
        assert_eq!(PriceMap::parse("").unwrap().entries().len(), 0);
    }

    #[test]
    fn credit_packs_parse_and_reject() {
        let p = parse_credit_packs("small:price_s:100,large:price_l:1000").unwrap();
        assert_eq!(p[1], CreditPack { name: "large".into(), price_id: "price_l".into(), credits: 1000 });
        assert!(parse_credit_packs("small:price_s:0").is_none());
        assert!(parse_credit_packs("small:price_s").is_none());
        assert!(parse_credit_packs("small:price_s:1:x").is_none());
    }

    #[test]
    fn form_encoding_keeps_brackets_and_escapes_values() {
        let s = form_encode(&[("line_items[0][price]".into(), "price_a".into()), ("success_url".into(), "https://a.b/x?y=1&z".into())]);
        assert_eq!(s, "line_items%5B0%5D%5Bprice%5D=price_a&success_url=https%3A%2F%2Fa.b%2Fx%3Fy%3D1%26z");
    }

    #[test]
    fn only_429_5xx_and_network_errors_retry() {
        assert!(is_retryable(None) && is_retryable(Some(429)) && is_retryable(Some(500)) && is_retryable(Some(503)));
        for s in [400, 401, 402, 404, 409] {
            assert!(!is_retryable(Some(s)), "{s}");
        }
    }
}
