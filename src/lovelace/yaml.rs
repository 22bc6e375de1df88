//! YAML for Home Assistant to read: block style, with every string that YAML 1.1 (PyYAML,
//! which HA loads dashboards with) would read as something else quoted. `serde_yaml_ng`
//! emits YAML 1.2 and writes `state: on` bare, which HA reads as `true`.

use std::fmt::Write;

use serde_json::Value;

/// `value` as a YAML document.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    block(&mut out, value, 0);
    out
}

fn block(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            // `type` first, as HA's own editor writes cards; the rest in key order.
            let typed = map.get_key_value("type").into_iter();
            for (key, value) in typed.chain(map.iter().filter(|(k, _)| *k != "type")) {
                pad(out, indent);
                out.push_str(&scalar_string(key));
                out.push(':');
                after_key(out, value, indent);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                pad(out, indent);
                out.push('-');
                match item {
                    // A mapping starts on the dash's line: `- type: tile`.
                    Value::Object(map) if !map.is_empty() => {
                        let mut first = String::new();
                        block(&mut first, item, indent + 2);
                        out.push(' ');
                        out.push_str(first.trim_start());
                    }
                    _ => after_key(out, item, indent),
                }
            }
        }
        other => {
            pad(out, indent);
            inline(out, other, indent);
            out.push('\n');
        }
    }
}

/// What follows `key:` or `-`: a nested block on the next lines, or a scalar on this one.
fn after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            block(out, value, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            block(out, value, indent + 2);
        }
        other => {
            out.push(' ');
            inline(out, other, indent);
            out.push('\n');
        }
    }
}

fn inline(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::String(s) if s.contains('\n') && literal_safe(s) => {
            // Markdown and templates read best as a literal block.
            out.push_str(if s.ends_with('\n') { "|" } else { "|-" });
            for line in s.trim_end_matches('\n').split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(line);
                }
            }
        }
        Value::String(s) => out.push_str(&scalar_string(s)),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        // Numbers, booleans and null print the same in JSON and YAML.
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A string bare when YAML 1.1 and 1.2 both read it back as this same string, else
/// double-quoted (a JSON string is a valid YAML double-quoted scalar).
fn scalar_string(s: &str) -> String {
    if plain_safe(s) {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

/// Conservative: letters, digits and a few inner punctuation marks, starting with a letter,
/// not a YAML 1.1 boolean or null word, and not number-like.
fn plain_safe(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nil",
    ];
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' '))
        && !s.ends_with(' ')
        && !s.contains(" -")
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// A literal block keeps every character but cannot carry trailing spaces on a line,
/// leading blank lines, tabs or carriage returns faithfully: those strings are quoted.
fn literal_safe(s: &str) -> bool {
    !s.starts_with([' ', '\n'])
        && !s.contains(['\t', '\r'])
        && s.split('\n').all(|line| !line.ends_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_booleans_and_numbers_stay_strings() {
        let text = to_string(&json!({"state": "on", "b": "No", "c": "1.0", "d": "~", "e": ""}));
        assert_eq!(
            text,
            "b: \"No\"\nc: \"1.0\"\nd: \"~\"\ne: \"\"\nstate: \"on\"\n"
        );
    }

    #[test]
    fn sequences_of_mappings_start_on_the_dash_line() {
        let text =
            to_string(&json!({"cards": [{"type": "tile", "entity": "sensor.a_b"}], "empty": []}));
        assert_eq!(
            text,
            "cards:\n  - type: tile\n    entity: sensor.a_b\nempty: []\n"
        );
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let text = to_string(&json!({"content": "line one\n\n**two**"}));
        assert_eq!(text, "content: |-\n  line one\n\n  **two**\n");
    }
}
