//! Timestamps in the contract are RFC 3339 in UTC with `Z` (docs/adr/0015). Postgres prints
//! `timestamptz` with the session's offset (`+00:00` on Supabase); [`utc`] rewrites any offset to `Z`,
//! keeping the fractional seconds it was given.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Seconds since the Unix epoch as `2026-12-01T10:00:00Z`.
pub fn rfc3339_from_unix_secs(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2026-12-01T10:00:00.5+02:00` → `2026-12-01T08:00:00.5Z`. A string that is not such a timestamp
/// comes back unchanged.
pub fn utc(s: &str) -> String {
    convert(s).unwrap_or_else(|| s.to_string())
}

fn convert(s: &str) -> Option<String> {
    if s.len() < 20 || !s.is_ascii() {
        return None;
    }
    let (date, rest) = (&s[..10], &s[11..]);
    if !matches!(s.as_bytes()[10], b'T' | b' ') || date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(&date[..4])?, num(&date[5..7])?, num(&date[8..10])?);
    let (h, mi, sec) = (num(rest.get(..2)?)?, num(rest.get(3..5)?)?, num(rest.get(6..8)?)?);
    if rest.as_bytes()[2] != b':' || rest.as_bytes()[5] != b':' {
        return None;
    }
    let tail = &rest[8..];
    let frac_len = tail.strip_prefix('.').map_or(0, |f| 1 + f.bytes().take_while(u8::is_ascii_digit).count());
    let (frac, zone) = tail.split_at(frac_len);
    let offset_min = match zone {
        "Z" | "z" => 0,
        z if (z.len() == 6 && z.as_bytes()[3] == b':') || z.len() == 3 => {
            let sign = match z.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (num(&z[1..3])? * 60 + if z.len() == 6 { num(&z[4..6])? } else { 0 })
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let minutes = days_from_civil(y, mo, d) * 1440 + h * 60 + mi - offset_min;
    let (day, minute) = (minutes.div_euclid(1440), minutes.rem_euclid(1440));
    let (y, mo, d) = civil_from_days(day);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{sec:02}{frac}Z", minute / 60, minute % 60))
}

/// Rewrites every timestamp string in `v` (objects and arrays, recursively) to UTC with `Z`.
pub fn normalize(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(t) = convert(s) {
                *s = t;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        Value::Object(o) => o.values_mut().for_each(normalize),
        _ => {}
    }
}

/// `#[serde(deserialize_with = "...")]` for a timestamp field.
pub fn de_utc<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(utc(&String::deserialize(d)?))
}

/// The same for an optional timestamp field (use with `#[serde(default)]`).
pub fn de_utc_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| utc(&s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_print_as_utc() {
        assert_eq!(rfc3339_from_unix_secs(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix_secs(1_796_126_461), "2026-12-01T12:01:01Z");
    }
    use serde_json::json;

    #[test]
    fn offsets_become_z() {
        assert_eq!(utc("2026-12-01T00:01:55.320123+00:00"), "2026-12-01T00:01:55.320123Z");
        assert_eq!(utc("2026-12-01T00:00:00+00:00"), "2026-12-01T00:00:00Z");
        assert_eq!(utc("2026-12-01T01:30:00+02:00"), "2026-11-30T23:30:00Z");
        assert_eq!(utc("2026-12-31T23:30:00.5-01:00"), "2027-01-01T00:30:00.5Z");
        assert_eq!(utc("2024-03-01T00:10:00+05"), "2024-02-29T19:10:00Z");
        assert_eq!(utc("2026-12-01 00:00:00+00"), "2026-12-01T00:00:00Z");
        assert_eq!(utc("2026-12-01T00:00:00.000Z"), "2026-12-01T00:00:00.000Z");
    }

    #[test]
    fn other_strings_are_left_alone() {
        for s in ["", "PENDING", "2026-12-01", "2026-13-01T00:00:00Z", "2026-12-01T00:00:00", "2026-12-01T00:00:00+0a:00", "ünïcode 2026"]
        {
            assert_eq!(utc(s), s);
        }
    }

    #[test]
    fn normalize_walks_objects_and_arrays() {
        let mut v = json!({ "a": "2026-12-01T00:00:00+00:00", "b": [{ "c": "2026-12-01T00:00:00+00:00" }], "d": 5, "e": "x" });
        normalize(&mut v);
        assert_eq!(v, json!({ "a": "2026-12-01T00:00:00Z", "b": [{ "c": "2026-12-01T00:00:00Z" }], "d": 5, "e": "x" }));
    }
}
