//! YAML 1.1 implicit resolution, as PyYAML's `resolver.py` and `constructor.py` do it.
//!
//! The parser underneath speaks YAML 1.2, where `on` is a string and `0755` is decimal;
//! HA reads the same text with PyYAML, so the type of every plain scalar (and of `!!int`,
//! `!!float`, `!!bool` values) is decided here, regex by regex, to match what HA will see.

use crate::validate::yaml::node::Kind;

/// What a plain scalar resolves to, including the two implicit tags PyYAML resolves but
/// cannot construct as values (`<<` outside a key, `=`) and impossible dates.
pub(super) enum Resolved {
    Kind(Kind),
    Merge,
    ValueTag,
    BadDate(String),
}

/// Types a plain scalar as PyYAML's implicit resolvers do; `None` means "string".
pub(super) fn resolve_plain(s: &str) -> Option<Resolved> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Resolved::Kind(Kind::Null)),
        "<<" => return Some(Resolved::Merge),
        "=" => return Some(Resolved::ValueTag),
        _ => {}
    }
    if let Some(b) = bool_value(s) {
        return Some(Resolved::Kind(Kind::Bool(b)));
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    if is_yaml11_float(s) {
        return construct_float(s).map(|f| Resolved::Kind(Kind::Float(f)));
    }
    if is_yaml11_int(s) {
        return Some(Resolved::Kind(match construct_int(s) {
            Some(i) => Kind::Int(i),
            // Python ints are unbounded; anything this large only matters as "a number".
            None => Kind::Float(s.replace('_', "").parse::<f64>().unwrap_or(f64::MAX)),
        }));
    }
    if let Some(res) = timestamp(s) {
        return Some(match res {
            Ok(()) => Resolved::Kind(Kind::Date(s.to_string())),
            Err(msg) => Resolved::BadDate(msg),
        });
    }
    None
}

pub(super) fn bool_value(s: &str) -> Option<bool> {
    match s {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn strip_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

fn all(s: &str, f: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.bytes().all(f)
}

/// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ |
/// [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`
fn is_yaml11_int(s: &str) -> bool {
    let (_, u) = strip_sign(s);
    if let Some(r) = u.strip_prefix("0b") {
        return all(r, |c| matches!(c, b'0' | b'1' | b'_'));
    }
    if let Some(r) = u.strip_prefix("0x") {
        return all(r, |c| c.is_ascii_hexdigit() || c == b'_');
    }
    if u == "0" {
        return true;
    }
    if let Some(r) = u.strip_prefix('0') {
        return all(r, |c| matches!(c, b'0'..=b'7' | b'_'));
    }
    let mut parts = u.split(':');
    let head = parts.next().unwrap_or("");
    if !(head
        .as_bytes()
        .first()
        .is_some_and(|c| (b'1'..=b'9').contains(c))
        && all(head, |c| c.is_ascii_digit() || c == b'_'))
    {
        return false;
    }
    parts.all(sexagesimal_part)
}

/// `[0-5]?[0-9]`
fn sexagesimal_part(p: &str) -> bool {
    match p.as_bytes() {
        [d] => d.is_ascii_digit(),
        [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
        _ => false,
    }
}

/// `[-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9_]+([eE][-+][0-9]+)? |
/// [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)`
fn is_yaml11_float(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (_, u) = strip_sign(s);
    if matches!(u, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let exp_ok = |e: &str| -> bool {
        // [eE][-+][0-9]+ (the sign is mandatory in YAML 1.1)
        let b = e.as_bytes();
        b.len() >= 3
            && matches!(b[0], b'e' | b'E')
            && matches!(b[1], b'-' | b'+')
            && b[2..].iter().all(u8::is_ascii_digit)
    };
    let split_exp = |t: &str| -> (String, Option<String>) {
        match t.find(['e', 'E']) {
            Some(i) => (t[..i].to_string(), Some(t[i..].to_string())),
            None => (t.to_string(), None),
        }
    };
    // `.5` form (no sign allowed by the regex)
    if let Some(frac) = s.strip_prefix('.') {
        let (mant, exp) = split_exp(frac);
        return all(&mant, |c| c.is_ascii_digit() || c == b'_')
            && exp.as_deref().is_none_or(exp_ok);
    }
    let Some(dot) = u.find('.') else { return false };
    let (int_part, rest) = (&u[..dot], &u[dot + 1..]);
    if int_part.contains(':') {
        let mut parts = int_part.split(':');
        let head = parts.next().unwrap_or("");
        return head.as_bytes().first().is_some_and(u8::is_ascii_digit)
            && all(head, |c| c.is_ascii_digit() || c == b'_')
            && parts.all(sexagesimal_part)
            && rest.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    }
    if !(int_part.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && all(int_part, |c| c.is_ascii_digit() || c == b'_'))
    {
        return false;
    }
    let (mant, exp) = split_exp(rest);
    mant.bytes().all(|c| c.is_ascii_digit() || c == b'_') && exp.as_deref().is_none_or(exp_ok)
}

/// PyYAML `construct_yaml_int`; `None` when out of i64 range or malformed.
pub(super) fn construct_int(s: &str) -> Option<i64> {
    let v = s.replace('_', "");
    let (neg, u) = strip_sign(&v);
    let mag: i128 = if u == "0" {
        0
    } else if let Some(r) = u.strip_prefix("0b") {
        i128::from_str_radix(r, 2).ok()?
    } else if let Some(r) = u.strip_prefix("0x") {
        i128::from_str_radix(r, 16).ok()?
    } else if u.starts_with('0') {
        i128::from_str_radix(u, 8).ok()?
    } else if u.contains(':') {
        let mut total: i128 = 0;
        for part in u.split(':') {
            total = total
                .checked_mul(60)?
                .checked_add(part.parse::<i128>().ok()?)?;
        }
        total
    } else {
        u.parse::<i128>().ok()?
    };
    let val = if neg { -mag } else { mag };
    i64::try_from(val).ok()
}

/// PyYAML `construct_yaml_float`.
pub(super) fn construct_float(s: &str) -> Option<f64> {
    let v = s.replace('_', "").to_lowercase();
    let (neg, u) = strip_sign(&v);
    let sign = if neg { -1.0 } else { 1.0 };
    if u == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if u == ".nan" {
        return Some(f64::NAN);
    }
    if u.contains(':') {
        let mut total = 0.0;
        for part in u.split(':') {
            total = total * 60.0 + part.parse::<f64>().ok()?;
        }
        return Some(sign * total);
    }
    let u = if u.starts_with('.') {
        format!("0{u}")
    } else {
        u.to_string()
    };
    let u = if u.ends_with('.') { format!("{u}0") } else { u };
    u.parse::<f64>().ok().map(|f| sign * f)
}

/// YAML 1.1 timestamp; `Some(Err)` when it has the shape but is not a real date (Python
/// raises ValueError and HA fails to load the file).
fn timestamp(s: &str) -> Option<Result<(), String>> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 8 || !digits(0..4) || b[4] != b'-' {
        return None;
    }
    // year-month-day with 1 or 2 digit month and day
    let mut i = 5;
    let m_start = i;
    while i < b.len() && b[i].is_ascii_digit() && i - m_start < 2 {
        i += 1;
    }
    let m_len = i - m_start;
    if m_len == 0 || i >= b.len() || b[i] != b'-' {
        return None;
    }
    i += 1;
    let d_start = i;
    while i < b.len() && b[i].is_ascii_digit() && i - d_start < 2 {
        i += 1;
    }
    let d_len = i - d_start;
    if d_len == 0 {
        return None;
    }
    let date_only = i == b.len();
    if date_only && (m_len != 2 || d_len != 2) {
        return None;
    }
    if !date_only && !is_time_tail(&s[i..]) {
        return None;
    }
    let year: u32 = s[0..4].parse().ok()?;
    let month: u32 = s[m_start..m_start + m_len].parse().ok()?;
    let day: u32 = s[d_start..d_start + d_len].parse().ok()?;
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let max = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if year == 0 || day == 0 || day > max {
        return Some(Err(format!(
            "'{s}' looks like a date but is not a valid one (month or day out of range)"
        )));
    }
    Some(Ok(()))
}

/// `([Tt]|[ \t]+)HH?:MM:SS(\.f*)?([ \t]*(Z|[-+]HH?(:MM)?))?`
fn is_time_tail(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    if b.first().is_some_and(|c| *c == b'T' || *c == b't') {
        i = 1;
    } else {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i == 0 {
            return false;
        }
    }
    let num = |i: &mut usize, min: usize, max: usize| -> bool {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - s < max {
            *i += 1;
        }
        *i - s >= min
    };
    if !num(&mut i, 1, 2) || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if !num(&mut i, 2, 2) || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if !num(&mut i, 2, 2) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if i == b.len() {
        return true;
    }
    if b[i] == b'Z' {
        return i + 1 == b.len();
    }
    if b[i] == b'-' || b[i] == b'+' {
        i += 1;
        if !num(&mut i, 1, 2) {
            return false;
        }
        if b.get(i) == Some(&b':') {
            i += 1;
            if !num(&mut i, 2, 2) {
                return false;
            }
        }
        return i == b.len();
    }
    false
}

#[cfg(test)]
mod tests {
    use crate::validate::codes::Code;
    use crate::validate::source::FileId;
    use crate::validate::yaml::parse::tests::root;
    use crate::validate::yaml::{Kind, parse};

    fn scalar(src: &str) -> Kind {
        root(&format!("k: {src}\n")).get("k").unwrap().kind.clone()
    }

    #[test]
    fn yaml11_booleans_and_nulls() {
        for t in ["on", "On", "ON", "yes", "Yes", "true", "True"] {
            assert!(matches!(scalar(t), Kind::Bool(true)), "{t}");
        }
        for f in ["off", "no", "NO", "false"] {
            assert!(matches!(scalar(f), Kind::Bool(false)), "{f}");
        }
        assert!(matches!(scalar("y"), Kind::Str(..)));
        assert!(matches!(scalar("'on'"), Kind::Str(..)));
        assert!(matches!(scalar("~"), Kind::Null));
        assert!(matches!(scalar(""), Kind::Null));
    }

    #[test]
    fn yaml11_numbers() {
        let int = |s: &str| match scalar(s) {
            Kind::Int(i) => i,
            k => panic!("{s} -> {k:?}"),
        };
        assert_eq!(int("0755"), 493);
        assert_eq!(int("10:30"), 630);
        assert_eq!(int("1:00:00"), 3600);
        assert_eq!(int("0x1F"), 31);
        assert_eq!(int("0b101"), 5);
        assert_eq!(int("1_000"), 1000);
        assert_eq!(int("-12"), -12);
        assert_eq!(int("0"), 0);
        assert!(matches!(scalar("1e3"), Kind::Str(..)));
        assert!(matches!(scalar("1.0e3"), Kind::Str(..)));
        assert!(matches!(scalar("08"), Kind::Str(..)));
        assert!(matches!(scalar("09:00"), Kind::Str(..)));
        assert!(matches!(scalar("1.5e+3"), Kind::Float(f) if f == 1500.0));
        assert!(matches!(scalar("1."), Kind::Float(f) if f == 1.0));
        assert!(matches!(scalar(".5"), Kind::Float(f) if f == 0.5));
        assert!(matches!(scalar("1:30.5"), Kind::Float(f) if f == 90.5));
        assert!(matches!(scalar("-.inf"), Kind::Float(f) if f == f64::NEG_INFINITY));
        assert!(matches!(scalar("2024-01-01"), Kind::Date(_)));
        assert!(matches!(scalar("2024-1-1"), Kind::Str(..)));
        assert!(matches!(
            scalar("2001-12-14t21:59:43.10-05:00"),
            Kind::Date(_)
        ));
        assert!(matches!(scalar("12:30:00"), Kind::Int(45000)));
        assert!(matches!(scalar("1.2.3"), Kind::Str(..)));
    }

    #[test]
    fn impossible_date_is_fatal() {
        let p = parse("d: 2024-02-30\n", FileId(0));
        assert!(p.failed);
        assert_eq!(p.issues[0].code, Code::YamlSyntax);
    }
}
