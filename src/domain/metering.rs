//! Stripe Billing Meters, as pure functions: the meter event a usage event becomes, how an error from
//! `POST /v1/billing/meter_events` is read, and the quantity in a meter event summary list.
//! Contract: <https://docs.stripe.com/api/billing/meter-event/create>,
//! <https://docs.stripe.com/api/billing/meter-event-summary/list>.

use serde_json::Value;

/// The form of one meter event. `identifier` is the usage event's id, so Stripe deduplicates a resend.
pub fn meter_event_form(
    event_name: &str,
    usage_event_id: &str,
    customer: &str,
    quantity: i64,
    occurred_at_unix: i64,
) -> Vec<(String, String)> {
    vec![
        ("event_name".into(), event_name.into()),
        ("identifier".into(), usage_event_id.into()),
        ("payload[stripe_customer_id]".into(), customer.into()),
        ("payload[value]".into(), quantity.to_string()),
        ("timestamp".into(), occurred_at_unix.to_string()),
    ]
}

/// The Idempotency-Key of a usage event's meter event: the same on every run, so a replay within
/// Stripe's idempotency window gets the first answer back.
pub fn idempotency_key(usage_event_id: &str) -> String {
    format!("meter-event-{usage_event_id}")
}

/// Whether a 4xx from `meter_events` says this identifier was already accepted (Stripe enforces
/// identifier uniqueness over at least 24 h): the event is in Stripe, so it counts as reported.
pub fn is_duplicate_identifier(status: u16, code: Option<&str>, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (400..500).contains(&status)
        && (code.is_some_and(|c| c.contains("duplicate"))
            || (m.contains("identifier") && (m.contains("already") || m.contains("duplicate"))))
}

/// The total of a meter event summary list (`{data: [{aggregated_value}, ...]}`): `None` when Stripe
/// has no summary at all for the customer and window.
pub fn summary_total(list: &Value) -> Option<i64> {
    let data = list["data"].as_array()?;
    if data.is_empty() {
        return None;
    }
    Some(data.iter().filter_map(|s| s["aggregated_value"].as_f64()).sum::<f64>().round() as i64)
}

/// A minute-aligned Unix time at or before `t` (Stripe's summaries take minute boundaries).
pub fn floor_minute(t: i64) -> i64 {
    t - t.rem_euclid(60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_form_carries_identifier_customer_value_and_timestamp() {
        let f = meter_event_form("jobs", "u-1", "cus_1", 3, 1_700_000_000);
        let get = |k: &str| f.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("identifier"), Some("u-1"));
        assert_eq!(get("payload[stripe_customer_id]"), Some("cus_1"));
        assert_eq!(get("payload[value]"), Some("3"));
        assert_eq!(get("timestamp"), Some("1700000000"));
        assert_eq!(get("event_name"), Some("jobs"));
        assert_eq!(idempotency_key("u-1"), "meter-event-u-1");
    }

    #[test]
    fn duplicates_are_recognised_and_other_errors_are_not() {
        assert!(is_duplicate_identifier(400, None, "An event with identifier u-1 already exists"));
        assert!(is_duplicate_identifier(400, Some("meter_event_duplicate_identifier"), ""));
        assert!(!is_duplicate_identifier(400, Some("resource_missing"), "No such customer: cus_x"));
        assert!(!is_duplicate_identifier(500, None, "identifier already exists"));
    }

    #[test]
    fn summaries_sum_and_an_empty_list_is_missing() {
        assert_eq!(summary_total(&json!({"data": [{"aggregated_value": 4.0}, {"aggregated_value": 2}]})), Some(6));
        assert_eq!(summary_total(&json!({"data": [{"aggregated_value": 0}]})), Some(0));
        assert_eq!(summary_total(&json!({"data": []})), None);
        assert_eq!(summary_total(&json!({})), None);
        assert_eq!(floor_minute(125), 120);
    }
}
