//! The names HA's template environment knows: Jinja2 3.1's builtins plus HA's globals,
//! filters and tests (`ha_template_functions.tsv`, from
//! `homeassistant/helpers/template/extensions/*.py`), and "did you mean" suggestions.
//!
//! minijinja's own builtins are deliberately not used: HA renders with Jinja2, so a filter
//! minijinja has and Jinja2 lacks (`split`) is an error in HA.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

const HA_TABLE: &str = include_str!("ha_template_functions.tsv");

/// `jinja2/filters.py: FILTERS` (3.1.6).
const JINJA_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "capitalize",
    "center",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "float",
    "forceescape",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "random",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "urlize",
    "wordcount",
    "wordwrap",
    "xmlattr",
];

/// `jinja2/tests.py: TESTS` (3.1.6).
const JINJA_TESTS: &[&str] = &[
    "odd",
    "even",
    "divisibleby",
    "defined",
    "undefined",
    "filter",
    "test",
    "none",
    "boolean",
    "false",
    "true",
    "integer",
    "float",
    "lower",
    "upper",
    "string",
    "mapping",
    "number",
    "sequence",
    "iterable",
    "callable",
    "sameas",
    "escaped",
    "in",
    "==",
    "eq",
    "equalto",
    "!=",
    "ne",
    ">",
    "gt",
    "greaterthan",
    "ge",
    ">=",
    "<",
    "lt",
    "lessthan",
    "<=",
    "le",
];

/// `jinja2/defaults.py: DEFAULT_NAMESPACE`.
const JINJA_GLOBALS: &[&str] = &["range", "dict", "lipsum", "cycler", "joiner", "namespace"];

/// Names always present while a template renders that are not functions: Jinja2's
/// constants, the loop variable, and what HA puts into the render context.
pub const CONTEXT_VARIABLES: &[&str] = &[
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
    "caller",
    "varargs",
    "kwargs",
    "trigger",
    "this",
    "value",
    "value_json",
    "repeat",
    "wait",
    "context",
    "variables",
];

/// Names a context variable is plausibly misspelt from; short ones (`this`, `wait`,
/// `value`) are left out because user variables near them are common.
pub const TYPO_TARGETS: &[&str] = &["trigger", "repeat", "value_json"];

/// One HA name.
#[derive(Debug, Clone)]
pub struct HaName {
    pub global: bool,
    pub filter: bool,
    pub test: bool,
    /// Registered in limited environments (`limited_ok`).
    pub limited_ok: bool,
}

/// What a template can call, filter and test with.
#[derive(Debug)]
pub struct Names {
    pub ha: HashMap<&'static str, HaName>,
    pub filters: HashSet<&'static str>,
    pub tests: HashSet<&'static str>,
    pub globals: HashSet<&'static str>,
}

/// The table, built once.
pub fn names() -> &'static Names {
    static N: OnceLock<Names> = OnceLock::new();
    N.get_or_init(|| {
        let mut ha = HashMap::new();
        for line in HA_TABLE.lines().filter(|l| !l.starts_with('#')) {
            let mut cols = line.split('\t');
            let (Some(name), Some(kinds), Some(_arity), Some(limited)) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            if name == "name" {
                continue; // header
            }
            let has = |k: &str| kinds.split(',').any(|x| x == k);
            ha.insert(
                name,
                HaName {
                    global: has("g"),
                    filter: has("f"),
                    test: has("t"),
                    limited_ok: limited != "n",
                },
            );
        }
        let mut filters: HashSet<&'static str> = JINJA_FILTERS.iter().copied().collect();
        let mut tests: HashSet<&'static str> = JINJA_TESTS.iter().copied().collect();
        let mut globals: HashSet<&'static str> = JINJA_GLOBALS.iter().copied().collect();
        for (n, h) in &ha {
            if h.filter {
                filters.insert(n);
            }
            if h.test {
                tests.insert(n);
            }
            if h.global {
                globals.insert(n);
            }
        }
        Names {
            ha,
            filters,
            tests,
            globals,
        }
    })
}

/// Is `name` an HA name that limited templates do not have?
pub fn not_in_limited(name: &str) -> bool {
    names().ha.get(name).is_some_and(|h| !h.limited_ok)
}

/// Hints for mistakes common enough to deserve their own words.
pub fn special_hint(kind: &str, name: &str) -> Option<&'static str> {
    Some(match (kind, name) {
        ("filter", "strftime") => {
            "there is no `strftime` filter: call the method on a datetime, `(x | as_datetime).strftime('%H:%M')`, or use `x | timestamp_custom('%H:%M')` on a timestamp"
        }
        ("filter", "split") => {
            "Jinja2 has no `split` filter: call the string method, `x.split(',')`"
        }
        ("filter", "date") | ("filter", "datetime") => {
            "use `as_datetime` / `as_timestamp` / `timestamp_custom`"
        }
        ("filter", "len") => "the filter is `length` (or `count`)",
        ("filter", "str") => "the filter is `string`",
        ("function", "len") => "use the filter: `x | length`",
        ("function", "str") => "use the filter: `x | string`",
        ("function", "round") => "use the filter: `x | round(1)`",
        ("function", "abs") => "use the filter: `x | abs`",
        ("function", "sum") => "use the filter: `x | sum`",
        _ => return None,
    })
}

/// Restricted Damerau-Levenshtein (optimal string alignment) distance.
pub fn distance(a: &str, b: &str) -> usize {
    distance_within(a, b, usize::MAX).unwrap_or(usize::MAX)
}

/// The distance when it is at most `max`. Suggestions call this for thousands of pairs,
/// so it rejects early: by length, by the character-count lower bound, and once every
/// cell of a row exceeds `max`; rows live on the stack for names up to 63 bytes.
pub fn distance_within(a: &str, b: &str, max: usize) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    if max < usize::MAX && a.is_ascii() && b.is_ascii() {
        // Each edit changes the count of at most two characters by one.
        let mut counts = [0i32; 128];
        for &c in a {
            counts[c as usize] += 1;
        }
        for &c in b {
            counts[c as usize] -= 1;
        }
        let (plus, minus) =
            counts.iter().fold(
                (0i32, 0i32),
                |(p, m), &c| if c > 0 { (p + c, m) } else { (p, m - c) },
            );
        if plus.max(minus) as usize > max {
            return None;
        }
    }
    let m = b.len();
    const STACK: usize = 64;
    let (mut s0, mut s1, mut s2) = ([0usize; STACK], [0usize; STACK], [0usize; STACK]);
    let (mut h0, mut h1, mut h2);
    let (mut prev2, mut prev, mut cur): (&mut [usize], &mut [usize], &mut [usize]) = if m < STACK {
        (&mut s0[..=m], &mut s1[..=m], &mut s2[..=m])
    } else {
        h0 = vec![0; m + 1];
        h1 = vec![0; m + 1];
        h2 = vec![0; m + 1];
        (&mut h0[..], &mut h1[..], &mut h2[..])
    };
    for (j, v) in prev.iter_mut().enumerate() {
        *v = j;
    }
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    Some(prev[m]).filter(|d| *d <= max)
}

/// The closest candidate within a distance that suits the name's length.
pub fn suggest<'a, I: IntoIterator<Item = &'a str>>(name: &str, candidates: I) -> Option<&'a str> {
    let len = name.chars().count();
    let max = match len {
        0..=3 => 1,
        4..=6 => 1,
        7..=10 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let Some(d) = distance_within(name, c, max) else {
            continue;
        };
        if best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        let n = names();
        assert!(n.globals.contains("states") && n.globals.contains("namespace"));
        assert!(n.filters.contains("timestamp_custom") && n.filters.contains("selectattr"));
        assert!(n.tests.contains("is_state") && n.tests.contains("divisibleby"));
        assert!(!n.filters.contains("split") && !n.filters.contains("strftime"));
        assert!(!n.globals.contains("timestamp_custom"));
        assert!(not_in_limited("states") && !not_in_limited("float"));
    }

    #[test]
    fn suggestions() {
        let n = names();
        assert_eq!(
            suggest("statest", n.globals.iter().copied()),
            Some("states")
        );
        assert_eq!(
            suggest("is_stat", n.globals.iter().copied()),
            Some("is_state")
        );
        assert_eq!(
            suggest("timestamp_costum", n.filters.iter().copied()),
            Some("timestamp_custom")
        );
        assert_eq!(suggest("zzzzzz", n.filters.iter().copied()), None);
        assert_eq!(distance("trigegr", "trigger"), 1);
    }
}
