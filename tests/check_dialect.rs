//! Differential check of the YAML dialect against PyYAML (HA's loader), run by
//! `scripts/yaml-dialect-diff.py` over real configurations. Ignored by default: it needs a
//! file list from the script (`DIALECT_FILES`) and writes `DIALECT_OUT`.

use std::io::Write;
use std::path::Path;

use gitops_bridge::validate::source::FileId;
use gitops_bridge::validate::yaml::{Kind, Node, parse};
use serde_json::{Value, json};

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

#[test]
#[ignore = "run by scripts/yaml-dialect-diff.py"]
fn dump_for_pyyaml_diff() {
    let list = std::env::var("DIALECT_FILES").expect("DIALECT_FILES");
    let out = std::env::var("DIALECT_OUT").expect("DIALECT_OUT");
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    for path in std::fs::read_to_string(list).unwrap().lines() {
        let Ok(bytes) = std::fs::read(Path::new(path)) else {
            continue;
        };
        let rec = match String::from_utf8(bytes) {
            Err(_) => json!({ "file": path, "ok": false, "error": "not utf-8" }),
            Ok(text) => {
                let p = parse(&text, FileId(0));
                if p.failed {
                    let i = p.issues.iter().find(|i| i.fatal).unwrap();
                    json!({ "file": path, "ok": false, "error": format!("{}:{} {} {}", i.line, i.col, i.code, i.message) })
                } else {
                    json!({ "file": path, "ok": true, "value": p.root.as_ref().map(canon) })
                }
            }
        };
        writeln!(w, "{rec}").unwrap();
    }
}
