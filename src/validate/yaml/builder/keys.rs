//! Which keys Python counts as the same: HA's mappings become dicts, where `1`, `1.0` and
//! `true` collide and a string never equals a number. Duplicate detection and merge-key
//! overriding both need that identity, and large mappings need it without a quadratic scan.

use std::collections::HashMap;

use crate::validate::yaml::node::{Kind, Node};

/// A key's identity, cheap for the common case (a string key).
pub(super) enum KeyId<'a> {
    Str(&'a str),
    Other(String),
}

impl<'a> KeyId<'a> {
    pub(super) fn of(k: &'a Node) -> Option<KeyId<'a>> {
        match &k.kind {
            Kind::Str(s, _) => Some(KeyId::Str(s)),
            _ => key_identity(k).map(KeyId::Other),
        }
    }

    fn matches(&self, k: &Node) -> bool {
        match (self, &k.kind) {
            (KeyId::Str(a), Kind::Str(b, _)) => a == b,
            (KeyId::Str(_), _) => false,
            (KeyId::Other(id), _) => {
                !matches!(k.kind, Kind::Str(..)) && key_identity(k).as_deref() == Some(id.as_str())
            }
        }
    }
}

/// Finds a mapping's earlier key: a linear scan for the small mappings HA configurations
/// are made of, a hash index once a mapping grows (no allocation per key either way for
/// string keys below the threshold).
#[derive(Default)]
pub(super) struct KeyIndex {
    map: Option<HashMap<String, usize>>,
}

impl KeyIndex {
    const LINEAR: usize = 24;

    pub(super) fn find(&self, id: &KeyId<'_>, own: &[(Node, Node)]) -> Option<usize> {
        match &self.map {
            Some(m) => m.get(&id.hash_key()).copied(),
            None => own.iter().position(|(k, _)| id.matches(k)),
        }
    }

    /// Records that `own[at]` has key `id` (`own` holds the entries before it).
    pub(super) fn insert(&mut self, id: KeyId<'_>, at: usize, own: &[(Node, Node)]) {
        if let Some(m) = &mut self.map {
            m.insert(id.hash_key(), at);
        } else if at + 1 >= Self::LINEAR {
            let mut m: HashMap<String, usize> = own
                .iter()
                .enumerate()
                .filter_map(|(i, (k, _))| KeyId::of(k).map(|kid| (kid.hash_key(), i)))
                .collect();
            m.insert(id.hash_key(), at);
            self.map = Some(m);
        }
    }
}

impl KeyId<'_> {
    fn hash_key(&self) -> String {
        match self {
            KeyId::Str(s) => format!("s{s}"),
            KeyId::Other(o) => o.clone(),
        }
    }
}

/// Python dict-key identity: `1`, `1.0` and `true` are the same key; strings differ from
/// numbers. `None` for unhashable keys (mappings, lists).
pub(super) fn key_identity(k: &Node) -> Option<String> {
    Some(match &k.kind {
        Kind::Str(s, _) => format!("s{s}"),
        Kind::Null => "z".into(),
        Kind::Bool(b) => format!("n{}", *b as i64),
        Kind::Int(i) => format!("n{i}"),
        Kind::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => format!("n{}", *f as i64),
        Kind::Float(f) => format!("f{}", f.to_bits()),
        Kind::Date(d) => format!("d{d}"),
        Kind::Tagged(t, a) => format!("t{}{a}", t.as_str()),
        Kind::Placeholder(p) => format!("p{p:?}"),
        Kind::Seq(_) | Kind::Map(_) | Kind::Unknown => return None,
    })
}

#[cfg(test)]
mod tests {
    use crate::validate::source::FileId;
    use crate::validate::yaml::{Kind, parse};

    #[test]
    fn duplicate_keys_in_large_mappings() {
        let mut src: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
        src.push_str("k7: again\n1: one\ntrue: also one\n");
        let p = parse(&src, FileId(0));
        let lines: Vec<u32> = p.issues.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![101, 103], "{:?}", p.issues);
        assert!(
            matches!(&p.root.unwrap().get("k7").unwrap().kind, Kind::Str(s, _) if s == "again")
        );
    }
}
