//! Billing configuration and Stripe API conventions (pure).
//!
//! - `STRIPE_PRICE_PLANS`: `price_id:PLAN` pairs, e.g. `price_123:PRO,price_456:ENTERPRISE`.
//! - `CREDIT_PACKS`: `name:price_id:credits` triples, e.g. `small:price_789:100`.
//! - Stripe POSTs are form-encoded with bracketed keys (`line_items[0][price]`).
//! - Retries: 429, 5xx and network errors are retried with backoff; other 4xx never are.

use serde::Serialize;
use serde_json::Value;

/// Plans from lowest to highest (the `rank` column of `plans` in SQL orders them the same way).
pub const PLANS: &[&str] = &["FREE", "PRO", "ENTERPRISE"];

fn plan_rank(plan: &str) -> usize {
    PLANS.iter().position(|p| *p == plan).unwrap_or(0)
}

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
            (it.next().is_none() && !name.is_empty() && !price.is_empty()).then(|| CreditPack {
                name: name.into(),
                price_id: price.into(),
                credits,
            })
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

/// What a paid invoice gives the account, read from the invoice's own line items (docs/adr/0012).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceGrant {
    /// The plan whose monthly credits the invoice grants (once per invoice); `None` grants nothing.
    pub plan: Option<String>,
    /// The period of its plan line (unix seconds), which opens a usage period.
    pub period: Option<(i64, i64)>,
}

/// Why an invoice could not be read: a subscription line whose price is not configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("price {0} of a subscription line is not in STRIPE_PRICE_PLANS")]
pub struct UnknownPrice(pub String);

/// A line item's price id: `pricing.price_details.price` (API 2025-03-31 and later), else the older
/// `price.id` / `plan.id`.
fn line_price(line: &Value) -> Option<&str> {
    line["pricing"]["price_details"]["price"]
        .as_str()
        .or_else(|| line["price"]["id"].as_str())
        .or_else(|| line["price"].as_str())
        .or_else(|| line["plan"]["id"].as_str())
}

fn line_is_proration(line: &Value) -> bool {
    let parent = &line["parent"];
    parent["subscription_item_details"]["proration"]
        .as_bool()
        .or_else(|| parent["invoice_item_details"]["proration"].as_bool())
        .or_else(|| line["proration"].as_bool())
        .unwrap_or(false)
}

fn line_is_subscription(line: &Value) -> bool {
    line["parent"]["type"] == "subscription_item_details" || line["type"] == "subscription"
}

/// Policy: the best plan among the invoice's non-proration lines whose price maps to a plan; credits
/// only when money was paid (`amount_paid` > 0), the period whenever such a line exists. Credit-pack
/// prices grant nothing here (the checkout grants them) and one-off lines of other prices are ignored;
/// a subscription line with an unknown price is a configuration error.
pub fn invoice_grant(invoice: &Value, prices: &PriceMap, packs: &[CreditPack]) -> Result<InvoiceGrant, UnknownPrice> {
    let mut best: Option<(&str, Option<(i64, i64)>)> = None;
    for line in invoice["lines"]["data"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(price) = line_price(line) else { continue };
        if line_is_proration(line) || packs.iter().any(|p| p.price_id == price) {
            continue;
        }
        match prices.plan_for_price(price) {
            Some(plan) if best.is_none_or(|(b, _)| plan_rank(plan) > plan_rank(b)) => {
                let period = match (line["period"]["start"].as_i64(), line["period"]["end"].as_i64()) {
                    (Some(s), Some(e)) if e > s => Some((s, e)),
                    _ => None,
                };
                best = Some((plan, period));
            }
            Some(_) => {}
            None if line_is_subscription(line) => return Err(UnknownPrice(price.to_string())),
            None => {}
        }
    }
    let paid = invoice["amount_paid"].as_i64().unwrap_or(0) > 0;
    Ok(InvoiceGrant { plan: best.filter(|_| paid).map(|(p, _)| p.to_string()), period: best.and_then(|(_, period)| period) })
}

/// Backoff for a Stripe event the consumer could not apply: the message's age (so the delay roughly
/// doubles with each redelivery), at least `base`, at most `max` seconds.
pub fn webhook_retry_delay_secs(age_secs: f64, base: u32, max: u32) -> u32 {
    let age = if age_secs.is_finite() { age_secs.max(0.0) } else { 0.0 };
    (age.ceil() as u32).clamp(base, max.max(base))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prices() -> PriceMap {
        PriceMap::parse("price_pro:PRO,price_ent:ENTERPRISE").unwrap()
    }

    fn packs() -> Vec<CreditPack> {
        parse_credit_packs("small:price_small:100").unwrap()
    }

    fn line(price: &str, proration: bool, subscription: bool) -> Value {
        let parent = if subscription {
            json!({ "type": "subscription_item_details", "subscription_item_details": { "proration": proration, "subscription": "sub_1" } })
        } else {
            json!({ "type": "invoice_item_details", "invoice_item_details": { "proration": proration, "invoice_item": "ii_1" } })
        };
        json!({ "object": "line_item", "amount": 1000, "parent": parent, "period": { "start": 100, "end": 200 },
                "pricing": { "type": "price_details", "price_details": { "price": price, "product": "prod_1" } } })
    }

    fn invoice(amount_paid: i64, lines: Vec<Value>) -> Value {
        json!({ "id": "in_1", "object": "invoice", "amount_paid": amount_paid, "lines": { "object": "list", "data": lines } })
    }

    #[test]
    fn an_invoice_grants_the_plan_of_its_own_lines() {
        let cases: Vec<(&str, Value, Result<InvoiceGrant, UnknownPrice>)> = vec![
            (
                "a PRO renewal",
                invoice(2900, vec![line("price_pro", false, true)]),
                Ok(InvoiceGrant { plan: Some("PRO".into()), period: Some((100, 200)) }),
            ),
            (
                "an ENTERPRISE renewal",
                invoice(9900, vec![line("price_ent", false, true)]),
                Ok(InvoiceGrant { plan: Some("ENTERPRISE".into()), period: Some((100, 200)) }),
            ),
            (
                "the best of two plan lines",
                invoice(12800, vec![line("price_pro", false, true), line("price_ent", false, true)]),
                Ok(InvoiceGrant { plan: Some("ENTERPRISE".into()), period: Some((100, 200)) }),
            ),
            (
                "prorations only: no grant, no period",
                invoice(1500, vec![line("price_ent", true, true), line("price_pro", true, true)]),
                Ok(InvoiceGrant { plan: None, period: None }),
            ),
            (
                "a proration beside a plan line",
                invoice(4400, vec![line("price_ent", true, true), line("price_pro", false, true)]),
                Ok(InvoiceGrant { plan: Some("PRO".into()), period: Some((100, 200)) }),
            ),
            (
                "zero amount (trial): the period opens, nothing is granted",
                invoice(0, vec![line("price_pro", false, true)]),
                Ok(InvoiceGrant { plan: None, period: Some((100, 200)) }),
            ),
            (
                "a credit pack invoice grants nothing here",
                invoice(1000, vec![line("price_small", false, false)]),
                Ok(InvoiceGrant { plan: None, period: None }),
            ),
            (
                "a one-off line of another price is ignored",
                invoice(1000, vec![line("price_other", false, false)]),
                Ok(InvoiceGrant { plan: None, period: None }),
            ),
            (
                "a subscription line with an unknown price is an error",
                invoice(1000, vec![line("price_gold", false, true)]),
                Err(UnknownPrice("price_gold".into())),
            ),
            ("no lines", invoice(1000, vec![]), Ok(InvoiceGrant { plan: None, period: None })),
            (
                "the older line shape (price.id, proration)",
                invoice(
                    2900,
                    vec![json!({ "type": "subscription", "proration": false,
                "price": { "id": "price_pro" }, "period": { "start": 5, "end": 9 } })],
                ),
                Ok(InvoiceGrant { plan: Some("PRO".into()), period: Some((5, 9)) }),
            ),
        ];
        for (case, inv, want) in cases {
            assert_eq!(invoice_grant(&inv, &prices(), &packs()), want, "{case}");
        }
    }

    #[test]
    fn webhook_retries_back_off_with_the_message_age() {
        assert_eq!(webhook_retry_delay_secs(0.0, 30, 600), 30);
        assert_eq!(webhook_retry_delay_secs(45.2, 30, 600), 46);
        assert_eq!(webhook_retry_delay_secs(10_000.0, 30, 600), 600);
        assert_eq!(webhook_retry_delay_secs(f64::NAN, 30, 600), 30);
        assert_eq!(webhook_retry_delay_secs(-5.0, 1, 1), 1);
        assert_eq!(webhook_retry_delay_secs(5.0, 10, 2), 10, "max below base means base");
    }

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
