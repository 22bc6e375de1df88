//! The tree every check walks: one [`Node`] type for the whole validator, so `loader`,
//! `checks` and `scan` share one vocabulary of values and never see parser events.
//!
//! [`Kind`] mirrors what PyYAML's `SafeLoader` would hand HA (a Python `bool`, `int`,
//! `date`…) plus the states only a static checker needs: a tag not yet resolved, a value
//! we deliberately do not hold, content we could not load.

use std::borrow::Cow;

use crate::validate::source::Pos;

/// A YAML node with the place it starts at.
#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

/// How a string scalar was written; template positions are mapped back through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// HA's custom tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HaTag {
    Include,
    IncludeDirList,
    IncludeDirNamed,
    IncludeDirMergeList,
    IncludeDirMergeNamed,
    Secret,
    EnvVar,
    Input,
}

impl HaTag {
    pub(super) fn from_suffix(s: &str) -> Option<HaTag> {
        Some(match s {
            "include" => HaTag::Include,
            "include_dir_list" => HaTag::IncludeDirList,
            "include_dir_named" => HaTag::IncludeDirNamed,
            "include_dir_merge_list" => HaTag::IncludeDirMergeList,
            "include_dir_merge_named" => HaTag::IncludeDirMergeNamed,
            "secret" => HaTag::Secret,
            "env_var" => HaTag::EnvVar,
            "input" => HaTag::Input,
            _ => return None,
        })
    }

    /// The tag as written (`!include_dir_named`).
    pub fn as_str(self) -> &'static str {
        match self {
            HaTag::Include => "!include",
            HaTag::IncludeDirList => "!include_dir_list",
            HaTag::IncludeDirNamed => "!include_dir_named",
            HaTag::IncludeDirMergeList => "!include_dir_merge_list",
            HaTag::IncludeDirMergeNamed => "!include_dir_merge_named",
            HaTag::Secret => "!secret",
            HaTag::EnvVar => "!env_var",
            HaTag::Input => "!input",
        }
    }
}

/// What a value stands for when its real content is not available to us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `!secret name`; the value is never read into the tree, so it can never be printed.
    Secret(String),
    /// `!env_var NAME`.
    EnvVar(String),
    /// `!input name` (blueprints).
    Input(String),
}

/// The value of a node, typed the way PyYAML's SafeLoader types it.
#[derive(Debug, Clone)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A YAML 1.1 timestamp (`2024-01-01`), kept as written.
    Date(String),
    Str(String, Style),
    Seq(Vec<Node>),
    /// Entries in HA's order (merged keys first, then the mapping's own); duplicates removed.
    Map(Vec<(Node, Node)>),
    /// An HA tag not yet resolved (loader output only).
    Tagged(HaTag, String),
    /// A resolved tag whose value we deliberately do not hold.
    Placeholder(Placeholder),
    /// Content that could not be loaded (missing include, syntax error): unknown, not empty.
    Unknown,
}

impl Node {
    pub fn new(pos: Pos, kind: Kind) -> Self {
        Node { pos, kind }
    }

    /// The string value, for string scalars.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s, _) => Some(s),
            _ => None,
        }
    }

    /// Mapping entries, for mappings.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Sequence items, for sequences.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Value of a string key in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The key as a string when it is a string, or its text for booleans/numbers.
    pub fn key_text(&self) -> Option<Cow<'_, str>> {
        match &self.kind {
            Kind::Str(s, _) => Some(Cow::Borrowed(s)),
            Kind::Bool(b) => Some(Cow::Owned(if *b { "True".into() } else { "False".into() })),
            Kind::Int(i) => Some(Cow::Owned(i.to_string())),
            Kind::Null => Some(Cow::Borrowed("None")),
            _ => None,
        }
    }

    /// Python truthiness, as HA's `cv.remove_falsy` sees it. Unknown content counts as true.
    pub fn is_truthy(&self) -> bool {
        match &self.kind {
            Kind::Null => false,
            Kind::Bool(b) => *b,
            Kind::Int(i) => *i != 0,
            Kind::Float(f) => *f != 0.0,
            Kind::Str(s, _) => !s.is_empty(),
            Kind::Seq(s) => !s.is_empty(),
            Kind::Map(m) => !m.is_empty(),
            _ => true,
        }
    }

    /// The Python type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "boolean",
            Kind::Int(_) => "integer",
            Kind::Float(_) => "float",
            Kind::Date(_) => "date",
            Kind::Str(..) => "string",
            Kind::Seq(_) => "list",
            Kind::Map(_) => "mapping",
            Kind::Tagged(..) => "tag",
            Kind::Placeholder(_) => "placeholder",
            Kind::Unknown => "unknown",
        }
    }

    /// Does the subtree contain content we could not load?
    pub fn has_unknown(&self) -> bool {
        match &self.kind {
            Kind::Unknown => true,
            Kind::Seq(s) => s.iter().any(Node::has_unknown),
            Kind::Map(m) => m.iter().any(|(_, v)| v.has_unknown()),
            _ => false,
        }
    }
}
