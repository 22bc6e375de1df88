//! Query-string handling: percent-decoding, `per_page`/`page`, GitHub `Link` headers
//! and the search-style `created` filter. Everything returns `Err(message)` on bad input
//! instead of panicking; the HTTP layer turns that into a 422.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Decoded `key=value` pairs in order (`+` is a space, as in form encoding).
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decode (lossy on invalid UTF-8, keeps malformed `%` sequences verbatim).
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-decode a path segment (`+` stays `+`).
pub fn decode_path(s: &str) -> String {
    decode(&s.replace('+', "%2B"))
}

pub fn get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `per_page` (default 30, clamped to 100 like GitHub) and `page` (default 1).
pub fn pagination(q: &[(String, String)]) -> Result<(usize, usize), String> {
    let per_page = match get(q, "per_page") {
        None | Some("") => 30,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| "per_page".to_string())?
            .clamp(1, 100),
    };
    let page = match get(q, "page") {
        None | Some("") => 1,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| "page".to_string())?
            .max(1),
    };
    Ok((per_page, page))
}

/// Slice one page out of `items` and build GitHub's `Link` header (absolute URLs on
/// `base_url`, other query parameters kept as sent, order prev, next, last, first).
/// No header when everything fits on one page, like GitHub.
pub fn paginate<T: Clone>(
    items: &[T],
    per_page: usize,
    page: usize,
    base_url: &str,
    path: &str,
    raw_query: &str,
) -> (Vec<T>, Option<String>) {
    let start = per_page.saturating_mul(page - 1).min(items.len());
    let end = start.saturating_add(per_page).min(items.len());
    let slice = items[start..end].to_vec();
    let last = items.len().div_ceil(per_page).max(1);
    if last == 1 && page == 1 {
        return (slice, None);
    }
    let link = |p: usize, rel: &str| {
        format!(
            "<{}>; rel=\"{rel}\"",
            page_url(base_url, path, raw_query, p)
        )
    };
    let mut parts = Vec::new();
    if page > 1 {
        parts.push(link((page - 1).min(last), "prev"));
    }
    if page < last {
        parts.push(link(page + 1, "next"));
        parts.push(link(last, "last"));
    }
    if page > 1 {
        parts.push(link(1, "first"));
    }
    (slice, Some(parts.join(", ")))
}

fn page_url(base_url: &str, path: &str, raw_query: &str, page: usize) -> String {
    let mut params: Vec<String> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let new = format!("page={page}");
    match params
        .iter_mut()
        .find(|p| p.split('=').next() == Some("page"))
    {
        Some(p) => *p = new,
        None => params.push(new),
    }
    format!("{base_url}{path}?{}", params.join("&"))
}

/// A `created` filter: optional lower and upper bound, each (instant, inclusive).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeRange {
    pub lower: Option<(DateTime<Utc>, bool)>,
    pub upper: Option<(DateTime<Utc>, bool)>,
}

impl TimeRange {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let lo = self
            .lower
            .is_none_or(|(b, inc)| if inc { t >= b } else { t > b });
        let hi = self
            .upper
            .is_none_or(|(b, inc)| if inc { t <= b } else { t < b });
        lo && hi
    }
}

/// One side of a `created` value: a whole day (`YYYY-MM-DD`, a span) or an instant.
enum When {
    Day(DateTime<Utc>, DateTime<Utc>),
    At(DateTime<Utc>),
}

fn parse_when(s: &str) -> Option<When> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let start = d.and_hms_opt(0, 0, 0)?.and_utc();
        let end = d.succ_opt()?.and_hms_opt(0, 0, 0)?.and_utc();
        return Some(When::Day(start, end));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(When::At(t.with_timezone(&Utc)));
    }
    // An unencoded `+02:00` offset arrives as a space after form decoding.
    if s.contains(' ')
        && let Ok(t) = DateTime::parse_from_rfc3339(&s.replace(' ', "+"))
    {
        return Some(When::At(t.with_timezone(&Utc)));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Some(When::At(t.and_utc()));
    }
    None
}

/// Parse GitHub search date syntax: `>=D`, `>D`, `<=D`, `<D`, `D`, `A..B`, `A..*`, `*..B`.
pub fn parse_created(s: &str) -> Result<TimeRange, String> {
    let s = s.trim();
    let err = || format!("invalid created value: {s}");
    let mut r = TimeRange::default();
    let lower_from = |w: When, strict: bool| match w {
        When::Day(start, end) => {
            if strict {
                (end, true)
            } else {
                (start, true)
            }
        }
        When::At(t) => (t, !strict),
    };
    let upper_from = |w: When, strict: bool| match w {
        When::Day(start, end) => {
            if strict {
                (start, false)
            } else {
                (end, false)
            }
        }
        When::At(t) => (t, !strict),
    };
    if let Some(rest) = s.strip_prefix(">=") {
        r.lower = Some(lower_from(parse_when(rest).ok_or_else(err)?, false));
    } else if let Some(rest) = s.strip_prefix('>') {
        r.lower = Some(lower_from(parse_when(rest).ok_or_else(err)?, true));
    } else if let Some(rest) = s.strip_prefix("<=") {
        r.upper = Some(upper_from(parse_when(rest).ok_or_else(err)?, false));
    } else if let Some(rest) = s.strip_prefix('<') {
        r.upper = Some(upper_from(parse_when(rest).ok_or_else(err)?, true));
    } else if let Some((a, b)) = s.split_once("..") {
        if a.trim() != "*" {
            r.lower = Some(lower_from(parse_when(a).ok_or_else(err)?, false));
        }
        if b.trim() != "*" {
            r.upper = Some(upper_from(parse_when(b).ok_or_else(err)?, false));
        }
    } else {
        match parse_when(s).ok_or_else(err)? {
            When::Day(start, end) => {
                r.lower = Some((start, true));
                r.upper = Some((end, false));
            }
            When::At(t) => {
                r.lower = Some((t, true));
                r.upper = Some((t, true));
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn created_filters() {
        let r = parse_created(">=2025-01-02").unwrap();
        assert!(r.contains(t("2025-01-02T00:00:00Z")));
        assert!(!r.contains(t("2025-01-01T23:59:59Z")));
        let r = parse_created(">2025-01-02").unwrap();
        assert!(!r.contains(t("2025-01-02T12:00:00Z")));
        assert!(r.contains(t("2025-01-03T00:00:00Z")));
        let r = parse_created("<=2025-01-02").unwrap();
        assert!(r.contains(t("2025-01-02T23:59:59Z")));
        assert!(!r.contains(t("2025-01-03T00:00:00Z")));
        let r = parse_created("2025-01-01..2025-01-02").unwrap();
        assert!(r.contains(t("2025-01-02T10:00:00Z")));
        assert!(!r.contains(t("2024-12-31T10:00:00Z")));
        let r = parse_created(">=2025-01-02T10:00:00+02:00").unwrap();
        assert!(r.contains(t("2025-01-02T08:00:00Z")));
        assert!(!r.contains(t("2025-01-02T07:59:59Z")));
        let r = parse_created(">=2025-01-02T10:00:00 02:00").unwrap();
        assert!(r.contains(t("2025-01-02T08:00:00Z")));
        assert!(parse_created(">=yesterday").is_err());
        assert!(parse_created("").is_err());
    }

    #[test]
    fn decoding_never_panics() {
        for s in ["%", "%4", "%zz", "a%2", "%E2%9C%93", "+%3E%3D"] {
            let _ = decode(s);
        }
        assert_eq!(decode("%3E%3D2025"), ">=2025");
        assert_eq!(decode("a+b"), "a b");
        assert_eq!(decode("%E2%9C%93"), "✓");
    }

    #[test]
    fn link_header() {
        let items: Vec<u32> = (0..5).collect();
        let (page, link) = paginate(&items, 2, 2, "http://h", "/x", "per_page=2&page=2&type=all");
        assert_eq!(page, vec![2, 3]);
        assert_eq!(
            link.unwrap(),
            "<http://h/x?per_page=2&page=1&type=all>; rel=\"prev\", <http://h/x?per_page=2&page=3&type=all>; rel=\"next\", <http://h/x?per_page=2&page=3&type=all>; rel=\"last\", <http://h/x?per_page=2&page=1&type=all>; rel=\"first\""
        );
        let (_, link) = paginate(&items, 10, 1, "http://h", "/x", "");
        assert!(link.is_none());
    }
}
