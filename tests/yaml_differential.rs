//! Our YAML loader against PyYAML, the loader Home Assistant uses, on the official
//! yaml-test-suite and on generated HA-shaped variants (`tests/data/yaml-differential/`,
//! made and checked by `scripts/yaml-differential.py`).
//!
//! A case where PyYAML loads and we refuse is a false error from `check`, the worst thing
//! a validator can do; a different value misleads every check after it. Every disagreement
//! must be listed, with its reason, in `known-differences.txt`, and a listed case that now
//! agrees must be taken off the list, so the list stays the truth.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use gitops_bridge::validate::source::FileId;
use gitops_bridge::validate::yaml::{Kind, Node, parse};
use serde_json::{Value, json};

/// The JSON form `scripts/yaml-differential.py` gives PyYAML's result.
fn canon(n: &Node) -> Value {
    match &n.kind {
        Kind::Null => Value::Null,
        Kind::Bool(b) => json!({ "bool": b }),
        Kind::Int(i) => json!({ "int": i.to_string() }),
        Kind::Float(f) if f.is_nan() => json!({ "float": "nan" }),
        Kind::Float(f) if f.is_infinite() => {
            json!({ "float": if *f > 0.0 { "inf" } else { "-inf" } })
        }
        Kind::Float(f) => json!({ "float": f }),
        Kind::Date(_) => json!({ "date": true }),
        Kind::Str(s, _) => Value::String(s.clone()),
        Kind::Seq(items) => Value::Array(items.iter().map(canon).collect()),
        Kind::Map(m) => {
            json!({ "map": m.iter().map(|(k, v)| json!([canon(k), canon(v)])).collect::<Vec<_>>() })
        }
        Kind::Tagged(t, a) => json!({ "tag": t.as_str(), "arg": a }),
        Kind::Placeholder(_) | Kind::Unknown => json!({ "unknown": true }),
    }
}

/// Our loader's result in the shape of the expectations.
fn ours(text: &str) -> Value {
    let p = parse(text, FileId(0));
    if p.failed {
        let i = p.issues.iter().find(|i| i.fatal).expect("a fatal issue");
        json!({ "ok": false, "error": format!("{}:{} {} {}", i.line, i.col, i.code, i.message) })
    } else {
        json!({ "ok": true, "value": p.root.as_ref().map(canon) })
    }
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/yaml-differential")
}

/// How our result differs from PyYAML's, if it does.
fn disagreement(expect: &Value, got: &Value) -> Option<&'static str> {
    match (expect["ok"].as_bool(), got["ok"].as_bool()) {
        (Some(true), Some(false)) => Some("refused"),
        (Some(false), Some(true)) => Some("accepted"),
        (Some(true), Some(true)) if expect["value"] != got["value"] => Some("value"),
        _ => None,
    }
}

/// `known-differences.txt`: `<set>/<case> <refused|accepted|value>: <reason>` per line.
fn known() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(data().join("known-differences.txt")).expect("list");
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, reason) = line.split_once(':').expect("`<case> <kind>: <reason>`");
        let (case, kind) = head.rsplit_once(' ').expect("`<case> <kind>`");
        assert!(
            ["refused", "accepted", "value"].contains(&kind),
            "unknown kind in `{line}`"
        );
        assert!(!reason.trim().is_empty(), "no reason given in `{line}`");
        assert!(
            out.insert(case.to_string(), kind.to_string()).is_none(),
            "{case} is listed twice"
        );
    }
    out
}

/// An entry names one case, or with a trailing `*` every case that starts with it.
fn matches_entry(entry: &str, name: &str) -> bool {
    match entry.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => entry == name,
    }
}

/// The kind the list gives a case, if it lists it.
fn listed<'a>(known: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    known
        .iter()
        .find(|(entry, _)| matches_entry(entry, name))
        .map(|(_, kind)| kind.as_str())
}

#[test]
fn loader_agrees_with_pyyaml_or_the_difference_is_listed() {
    let known = known();
    let mut found = BTreeMap::new();
    let mut report = String::new();
    let mut cases = 0;
    for (set, file) in [("suite", "suite.jsonl"), ("variants", "variants.jsonl")] {
        let text = std::fs::read_to_string(data().join(file)).expect("case file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let case: Value = serde_json::from_str(line).expect("a JSON case");
            cases += 1;
            let name = format!("{set}/{}", case["name"].as_str().expect("name"));
            let input = case["text"].as_str().expect("text");
            let got = ours(input);
            let Some(kind) = disagreement(&case["expect"], &got) else {
                continue;
            };
            found.insert(name.clone(), kind.to_string());
            if listed(&known, &name) != Some(kind) {
                let _ = writeln!(
                    report,
                    "{name} {kind}: not listed in known-differences.txt\n  input: {input:?}\n  PyYAML: {}\n  ours:   {got}",
                    case["expect"]
                );
            }
        }
    }
    for (entry, kind) in &known {
        let still = found
            .iter()
            .any(|(name, k)| k == kind && matches_entry(entry, name));
        if !still {
            let _ = writeln!(
                report,
                "{entry} {kind}: listed, but no case disagrees that way any more; take it off the list"
            );
        }
    }
    assert!(cases > 3000, "only {cases} cases: is the data there?");
    assert!(report.is_empty(), "{report}");
}

#[test]
fn the_reported_false_errors_load() {
    // The two seen on real configurations: a continuation line indented less than the text
    // above it, and a comment right after a closing quote.
    let cases = [
        (
            "a:\n  b:\n    value_template: \"{{ states('sensor.x')\n  | float > 3 }}\"\n",
            json!({"map": [["a", {"map": [["b", {"map": [["value_template", "{{ states('sensor.x') | float > 3 }}"]]}]]}]]}),
        ),
        (
            "color: '#434954'# the theme's grey\n",
            json!({"map": [["color", "#434954"]]}),
        ),
    ];
    for (text, value) in cases {
        assert_eq!(ours(text), json!({ "ok": true, "value": value }), "{text}");
    }
}

/// Used by `scripts/yaml-differential.py compare DIR...` on real configurations: writes our
/// result for every file in `DIALECT_FILES` to `DIALECT_OUT`.
#[test]
#[ignore = "run by scripts/yaml-differential.py compare"]
fn dump_files_for_compare() {
    let list = std::env::var("DIALECT_FILES").expect("DIALECT_FILES");
    let out = std::env::var("DIALECT_OUT").expect("DIALECT_OUT");
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).expect("DIALECT_OUT"));
    for path in std::fs::read_to_string(list).expect("list").lines() {
        let Ok(bytes) = std::fs::read(Path::new(path)) else {
            continue;
        };
        let mut rec = match String::from_utf8(bytes) {
            Err(_) => json!({ "ok": false, "error": "not utf-8" }),
            Ok(text) => ours(&text),
        };
        rec["file"] = json!(path);
        writeln!(w, "{rec}").expect("write");
    }
}
