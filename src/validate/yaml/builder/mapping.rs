//! What happens when a mapping closes, in PyYAML's order: merge keys (`<<`) are flattened
//! in, keys Python cannot hash make HA refuse the file, and a repeated key keeps its last
//! value the way a Python dict does, which HA only logs and we report with both lines.

use std::collections::HashMap;

use super::Builder;
use super::keys::{KeyId, KeyIndex, key_identity};
use crate::validate::codes::Code;
use crate::validate::source::Pos;
use crate::validate::yaml::node::{HaTag, Kind, Node, Style};

impl Builder {
    /// Applies merge keys and duplicate-key rules to a finished mapping.
    pub(super) fn finish_map(&mut self, pos: Pos, entries: Vec<(Node, Node)>) -> Node {
        let mut merged: Vec<(Node, Node)> = Vec::new();
        let mut own: Vec<(Node, Node)> = Vec::new();
        let mut own_index = KeyIndex::default();
        for (k, v) in entries {
            if matches!(&k.kind, Kind::Str(s, Style::Plain) if s == "<<") {
                self.merge_source(&k, &v, &mut merged);
                continue;
            }
            let Some(id) = KeyId::of(&k) else {
                if !matches!(k.kind, Kind::Unknown) {
                    let hint = if matches!(k.kind, Kind::Map(_)) {
                        Some("an unquoted `{{ … }}` is a YAML mapping: quote templates")
                    } else {
                        None
                    };
                    self.issue(
                        Code::YamlInvalidKey,
                        k.pos,
                        format!("invalid key: a {} cannot be a mapping key", k.type_name()),
                        hint,
                        true,
                    );
                }
                continue;
            };
            match own_index.find(&id, &own) {
                Some(i) => {
                    let first = own[i].0.pos.line;
                    let shown = k.key_text().map(|s| s.into_owned()).unwrap_or_default();
                    self.issue(
                        Code::YamlDuplicateKey,
                        k.pos,
                        format!("duplicate key \"{shown}\" (lines {first} and {}): Home Assistant keeps only this last value", k.pos.line),
                        Some("merge the two blocks into one key; the first one is ignored"),
                        false,
                    );
                    own[i].1 = v;
                }
                None => {
                    own_index.insert(id, own.len(), &own);
                    own.push((k, v));
                }
            }
        }
        if merged.is_empty() {
            return Node::new(pos, Kind::Map(own));
        }
        // PyYAML's order (`flatten_mapping`, then a dict): merged entries first, then the
        // mapping's own; a later entry replaces an earlier one's value in its place. So own
        // keys override merged ones, and of `<<: [*a, *b]` the first listed wins.
        let mut out: Vec<(Node, Node)> = Vec::with_capacity(merged.len() + own.len());
        let mut at: HashMap<String, usize> = HashMap::new();
        for (k, v) in merged.into_iter().chain(own) {
            match key_identity(&k) {
                Some(id) => match at.get(&id) {
                    Some(&i) => out[i] = (k, v),
                    None => {
                        at.insert(id, out.len());
                        out.push((k, v));
                    }
                },
                None => out.push((k, v)),
            }
        }
        Node::new(pos, Kind::Map(out))
    }

    fn merge_source(&mut self, key: &Node, value: &Node, merged: &mut Vec<(Node, Node)>) {
        match &value.kind {
            Kind::Map(m) => merged.extend(m.iter().cloned()),
            Kind::Seq(items) => {
                // PyYAML merges the listed mappings last to first (`submerge.reverse()`).
                for item in items.iter().rev() {
                    match &item.kind {
                        Kind::Map(m) => merged.extend(m.iter().cloned()),
                        _ => self.issue(
                            Code::YamlMergeInvalid,
                            item.pos,
                            format!(
                                "expected a mapping for merging, but found {}",
                                found_name(item)
                            ),
                            None,
                            true,
                        ),
                    }
                }
            }
            Kind::Unknown => {}
            _ => {
                let hint = matches!(value.kind, Kind::Tagged(HaTag::Include, _))
                    .then_some("HA's loader cannot merge an include: use `key: !include file.yaml` or a package");
                self.issue(
                    Code::YamlMergeInvalid,
                    key.pos,
                    format!(
                        "expected a mapping or list of mappings for merging, but found {}",
                        found_name(value)
                    ),
                    hint,
                    true,
                );
            }
        }
    }
}

fn found_name(n: &Node) -> String {
    match &n.kind {
        Kind::Tagged(t, _) => format!("scalar ({})", t.as_str()),
        Kind::Seq(_) => "sequence".into(),
        Kind::Map(_) => "mapping".into(),
        _ => "scalar".into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::codes::Code;
    use crate::validate::source::FileId;
    use crate::validate::yaml::parse::tests::root;
    use crate::validate::yaml::{Kind, parse};

    #[test]
    fn duplicate_keys_last_wins_with_both_lines() {
        let p = parse("a: 1\nb: 2\na: 3\n", FileId(0));
        assert!(!p.failed);
        let r = p.root.unwrap();
        assert!(matches!(r.get("a").unwrap().kind, Kind::Int(3)));
        assert_eq!(p.issues.len(), 1);
        assert_eq!(p.issues[0].code, Code::YamlDuplicateKey);
        assert_eq!(p.issues[0].line, 3);
        assert!(p.issues[0].message.contains("lines 1 and 3"));
        // `1` and `true` are the same Python key
        let p = parse("1: a\ntrue: b\n", FileId(0));
        assert_eq!(p.issues.len(), 1);
    }

    #[test]
    fn merge_keys() {
        let r = root("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n");
        let m = r.get("m").unwrap();
        assert!(matches!(m.get("x").unwrap().kind, Kind::Int(1)));
        assert!(matches!(m.get("y").unwrap().kind, Kind::Int(3)));
        let r = root("a: &a {x: 1}\nb: &b {x: 2, z: 1}\nm:\n  <<: [*a, *b]\n");
        assert!(matches!(
            r.get("m").unwrap().get("x").unwrap().kind,
            Kind::Int(1)
        ));
        let p = parse("m:\n  <<: !include x.yaml\n", FileId(0));
        assert!(p.failed);
        assert_eq!(p.issues[0].code, Code::YamlMergeInvalid);
        assert_eq!((p.issues[0].line, p.issues[0].col), (2, 3));
    }
}
