//! Reading a generated Lovelace dashboard the way a test checks it.

use std::collections::BTreeSet;

use serde_json::Value;

/// Every entity id the dashboard refers to: `entity`, `entities`, action targets, and
/// `states['…']` inside markdown templates.
pub fn referenced(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("entity" | "entity_id", Value::String(e)) => {
                        out.insert(e.clone());
                    }
                    // Plain ids; `{entity: …}` rows are found by the recursion.
                    ("entities", Value::Array(list)) => {
                        out.extend(list.iter().filter_map(|e| e.as_str().map(str::to_string)));
                    }
                    ("content", Value::String(text)) => {
                        for part in text.split("states['").skip(1) {
                            out.insert(part.split('\'').next().unwrap().to_string());
                        }
                    }
                    _ => {}
                }
                referenced(v, out);
            }
        }
        Value::Array(list) => list.iter().for_each(|v| referenced(v, out)),
        _ => {}
    }
}
