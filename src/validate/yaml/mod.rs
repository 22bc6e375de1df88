//! Home Assistant's YAML dialect: a node tree with positions, built from saphyr-parser events.
//!
//! HA loads YAML with PyYAML's `SafeLoader` plus its own constructors
//! (`annotatedyaml/loader.py`). That is YAML 1.1, so this module re-implements the parts
//! where YAML 1.1 and the YAML 1.2 parser underneath disagree:
//!
//! - implicit types of plain scalars (`on`/`off`/`yes`/`no` booleans, `0755` octal,
//!   `10:30` sexagesimal, `2024-01-01` dates, `1e3` staying a string);
//! - merge keys `<<` (and their refusal of `<<: !include`);
//! - duplicate keys: HA only logs a warning and the last value wins, we report both lines;
//! - unhashable keys, unknown tags, multiple documents and forbidden characters, which
//!   PyYAML refuses.
//!
//! HA's own tags (`!include`, `!secret`…) are kept as [`Kind::Tagged`] nodes here and
//! resolved by `loader.rs`.

pub mod position;
pub mod source;

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, SpannedEventReceiver, Tag};

use crate::validate::codes::Code;
use crate::validate::source::{FileId, Pos};

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
    fn from_suffix(s: &str) -> Option<HaTag> {
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

/// A finding of the YAML layer, positioned in the parsed file.
#[derive(Debug, Clone)]
pub struct YamlIssue {
    pub code: Code,
    pub line: u32,
    pub col: u32,
    pub message: String,
    pub hint: Option<String>,
    /// HA refuses the file (the whole configuration fails to load).
    pub fatal: bool,
}

/// The result of parsing one file.
#[derive(Debug)]
pub struct Parsed {
    /// `None` when the file is empty (HA's `load_yaml` returns None) or could not be parsed.
    pub root: Option<Node>,
    pub issues: Vec<YamlIssue>,
    /// A fatal error made the whole file unusable (no tree).
    pub failed: bool,
}

/// A verbatim tag names the same tag as its shorthand (`!<tag:yaml.org,2002:str>` is
/// `!!str`, `!<!secret>` is `!secret`); the parser leaves the whole name in the suffix.
fn verbatim_as_shorthand(tag: Cow<'_, Tag>) -> Cow<'_, Tag> {
    if !tag.handle.is_empty() || tag.suffix == "!" {
        return tag;
    }
    let split = |handle: &str| {
        tag.suffix.strip_prefix(handle).map(|rest| Tag {
            handle: handle.to_string(),
            suffix: rest.to_string(),
        })
    };
    match split("tag:yaml.org,2002:").or_else(|| split("!")) {
        Some(t) => Cow::Owned(t),
        None => tag,
    }
}

/// Parses YAML text the way HA's loader does (tags left unresolved).
pub fn parse(text: &str, file: FileId) -> Parsed {
    // HA opens the file as text with universal newlines, so PyYAML never sees a `\r`.
    let text: Cow<'_, str> = if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    };
    let text: &str = &text;
    let mut issues = Vec::new();
    if let Some((line, col, ch)) = first_forbidden_char(text) {
        issues.push(YamlIssue {
            code: Code::YamlEncoding,
            line,
            col,
            message: format!(
                "unacceptable character #x{:04x}: special characters are not allowed",
                ch as u32
            ),
            hint: Some("remove the control character; PyYAML refuses the whole file".into()),
            fatal: true,
        });
        return Parsed {
            root: None,
            issues,
            failed: true,
        };
    }
    let mut b = Builder {
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        docs: 0,
        issues: Vec::new(),
        depth_exceeded: false,
        eof_without_newline: (!text.ends_with('\n')).then(|| text.chars().count()),
    };
    let mut parser = Parser::new_from_str(text);
    let result = parser.load(&mut b, true);
    issues.append(&mut b.issues);
    if let Err(e) = result {
        let m = e.marker();
        issues.push(YamlIssue {
            code: Code::YamlSyntax,
            line: m.line() as u32,
            col: m.col() as u32 + 1,
            message: e.info().to_string(),
            hint: None,
            fatal: true,
        });
        return Parsed {
            root: None,
            issues,
            failed: true,
        };
    }
    if b.depth_exceeded {
        issues.push(YamlIssue {
            code: Code::YamlSyntax,
            line: 1,
            col: 1,
            message: format!("nesting deeper than {MAX_DEPTH} levels"),
            hint: None,
            fatal: true,
        });
        return Parsed {
            root: None,
            issues,
            failed: true,
        };
    }
    let failed = issues.iter().any(|i| i.fatal);
    Parsed {
        root: b.root,
        issues,
        failed,
    }
}

/// PyYAML's reader refuses everything outside this set (`yaml/reader.py: NON_PRINTABLE`).
fn first_forbidden_char(text: &str) -> Option<(u32, u32, char)> {
    let ok = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    let (mut line, mut col) = (1u32, 1u32);
    for c in text.chars() {
        if !ok(c) {
            return Some((line, col, c));
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    None
}

/// Deeper nesting than this is refused instead of risking the stack.
const MAX_DEPTH: usize = 512;

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Builder {
    file: FileId,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    docs: usize,
    issues: Vec<YamlIssue>,
    depth_exceeded: bool,
    /// Character count of the text when it does not end with a line break: a block scalar
    /// ending there has no final line break in PyYAML, while saphyr adds one.
    eof_without_newline: Option<usize>,
}

impl Builder {
    fn pos(&self, span: &Span) -> Pos {
        Pos {
            file: self.file,
            line: span.start.line() as u32,
            col: span.start.col() as u32 + 1,
        }
    }

    fn issue(&mut self, code: Code, pos: Pos, message: String, hint: Option<&str>, fatal: bool) {
        self.issues.push(YamlIssue {
            code,
            line: pos.line,
            col: pos.col,
            message,
            hint: hint.map(str::to_string),
            fatal,
        });
    }

    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.docs <= 1 {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn scalar(
        &mut self,
        value: Cow<'_, str>,
        style: ScalarStyle,
        tag: Option<Cow<'_, Tag>>,
        pos: Pos,
    ) -> Node {
        let style = match style {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal => Style::Literal,
            ScalarStyle::Folded => Style::Folded,
        };
        let tag = tag.map(verbatim_as_shorthand);
        // The non-specific tag `!` resolves like a plain scalar in PyYAML, even when the
        // value is quoted (`! "12"` is the integer 12), unlike YAML 1.2 where it forces a string.
        let non_specific = tag
            .as_ref()
            .is_some_and(|t| t.handle.is_empty() && t.suffix == "!");
        let tag = tag.filter(|_| !non_specific);
        let Some(tag) = tag else {
            // libyaml reads a bare `!` with no value as the empty string, not null.
            if non_specific && value.is_empty() {
                return Node::new(pos, Kind::Str(String::new(), style));
            }
            if style != Style::Plain && !non_specific {
                if matches!(style, Style::SingleQuoted | Style::DoubleQuoted) {
                    self.quoted_tag(&value, pos);
                }
                return Node::new(pos, Kind::Str(value.into_owned(), style));
            }
            return match resolve_plain(&value) {
                Some(Resolved::Merge) => Node::new(pos, Kind::Str(value.into_owned(), style)),
                Some(Resolved::ValueTag) => {
                    self.issue(
                        Code::YamlUnknownTag,
                        pos,
                        "could not determine a constructor for the tag 'tag:yaml.org,2002:value' (a bare `=`)".into(),
                        Some("quote the value: '='"),
                        true,
                    );
                    Node::new(pos, Kind::Unknown)
                }
                Some(Resolved::BadDate(msg)) => {
                    self.issue(
                        Code::YamlSyntax,
                        pos,
                        msg,
                        Some("quote the value to keep it a string"),
                        true,
                    );
                    Node::new(pos, Kind::Unknown)
                }
                Some(Resolved::Kind(k)) => Node::new(pos, k),
                None => Node::new(pos, Kind::Str(value.into_owned(), style)),
            };
        };
        if tag.handle == "tag:yaml.org,2002:" {
            return self.core_tagged_scalar(&tag.suffix, value, style, pos);
        }
        if tag.handle == "!"
            && let Some(t) = HaTag::from_suffix(&tag.suffix)
        {
            if value.is_empty() {
                self.issue(
                    Code::TagMissingArgument,
                    pos,
                    format!("{} needs an argument", t.as_str()),
                    None,
                    true,
                );
                return Node::new(pos, Kind::Unknown);
            }
            return Node::new(pos, Kind::Tagged(t, value.into_owned()));
        }
        let shown = format!("{}{}", tag.handle, tag.suffix);
        self.issue(
            Code::YamlUnknownTag,
            pos,
            format!("could not determine a constructor for the tag '{shown}'"),
            Some("Home Assistant knows !include, !include_dir_list, !include_dir_named, !include_dir_merge_list, !include_dir_merge_named, !secret, !env_var and !input"),
            true,
        );
        Node::new(pos, Kind::Unknown)
    }

    fn core_tagged_scalar(
        &mut self,
        suffix: &str,
        value: Cow<'_, str>,
        style: Style,
        pos: Pos,
    ) -> Node {
        let bad = |b: &mut Builder, what: &str| {
            b.issue(
                Code::YamlSyntax,
                pos,
                // The value is not quoted: this file may be a secrets file.
                format!("cannot construct !!{what} from this value"),
                None,
                true,
            );
            Node::new(pos, Kind::Unknown)
        };
        match suffix {
            "str" => Node::new(pos, Kind::Str(value.into_owned(), style)),
            "int" => match construct_int(&value) {
                Some(i) => Node::new(pos, Kind::Int(i)),
                None => bad(self, "int"),
            },
            "float" => match construct_float(&value) {
                Some(f) => Node::new(pos, Kind::Float(f)),
                None => bad(self, "float"),
            },
            "bool" => match bool_value(&value) {
                Some(b) => Node::new(pos, Kind::Bool(b)),
                None => bad(self, "bool"),
            },
            "null" => Node::new(pos, Kind::Null),
            "timestamp" => Node::new(pos, Kind::Date(value.into_owned())),
            // Bytes in Python; nothing in HA config consumes them, keep the text.
            "binary" => Node::new(pos, Kind::Str(value.into_owned(), style)),
            other => {
                self.issue(
                    Code::YamlUnknownTag,
                    pos,
                    format!(
                        "could not determine a constructor for the tag 'tag:yaml.org,2002:{other}'"
                    ),
                    None,
                    true,
                );
                Node::new(pos, Kind::Unknown)
            }
        }
    }

    /// `mac: "!secret tv_mac"` is the text `!secret tv_mac` to HA, not a secret: almost
    /// never what the author meant.
    fn quoted_tag(&mut self, value: &str, pos: Pos) {
        let Some(rest) = value.strip_prefix('!') else {
            return;
        };
        let (name, arg) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
        let Some(tag) = HaTag::from_suffix(name) else {
            return;
        };
        let arg = arg.trim();
        let fixed = if arg.is_empty() {
            tag.as_str().to_string()
        } else {
            format!("{} {arg}", tag.as_str())
        };
        self.issue(
            Code::YamlQuotedTag,
            pos,
            format!(
                "\"{value}\" is quoted, so Home Assistant uses this text as it is, not as a {} tag",
                tag.as_str()
            ),
            Some(&format!("remove the quotes: `{fixed}`")),
            false,
        );
    }

    fn collection_tag(&mut self, tag: Option<Cow<'_, Tag>>, pos: Pos, what: &str) {
        let Some(tag) = tag.map(verbatim_as_shorthand) else {
            return;
        };
        if tag.handle == "tag:yaml.org,2002:"
            && matches!(
                tag.suffix.as_str(),
                "map" | "seq" | "omap" | "set" | "pairs"
            )
        {
            return;
        }
        let shown = format!("{}{}", tag.handle, tag.suffix);
        let message = if tag.handle == "!" && HaTag::from_suffix(&tag.suffix).is_some() {
            format!("{shown} takes a scalar argument, not a {what}")
        } else {
            format!("could not determine a constructor for the tag '{shown}'")
        };
        self.issue(Code::YamlUnknownTag, pos, message, None, true);
    }

    /// Applies merge keys and duplicate-key rules to a finished mapping.
    fn finish_map(&mut self, pos: Pos, entries: Vec<(Node, Node)>) -> Node {
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

/// A key's identity, cheap for the common case (a string key).
enum KeyId<'a> {
    Str(&'a str),
    Other(String),
}

impl<'a> KeyId<'a> {
    fn of(k: &'a Node) -> Option<KeyId<'a>> {
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
struct KeyIndex {
    map: Option<HashMap<String, usize>>,
}

impl KeyIndex {
    const LINEAR: usize = 24;

    fn find(&self, id: &KeyId<'_>, own: &[(Node, Node)]) -> Option<usize> {
        match &self.map {
            Some(m) => m.get(&id.hash_key()).copied(),
            None => own.iter().position(|(k, _)| id.matches(k)),
        }
    }

    /// Records that `own[at]` has key `id` (`own` holds the entries before it).
    fn insert(&mut self, id: KeyId<'_>, at: usize, own: &[(Node, Node)]) {
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
fn key_identity(k: &Node) -> Option<String> {
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

impl<'i> SpannedEventReceiver<'i> for Builder {
    fn on_event(&mut self, ev: Event<'i>, span: Span) {
        if self.depth_exceeded {
            return;
        }
        let pos = self.pos(&span);
        match ev {
            Event::DocumentStart(_) => {
                self.docs += 1;
                if self.docs == 2 {
                    self.issue(
                        Code::YamlSyntax,
                        pos,
                        "expected a single document in the stream, but found another document"
                            .into(),
                        Some("Home Assistant files hold one document: remove the second `---`"),
                        true,
                    );
                }
            }
            Event::Scalar(mut value, style, anchor, tag) => {
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                    && self
                        .eof_without_newline
                        .is_some_and(|n| span.end.index() >= n)
                    && value.ends_with('\n')
                {
                    value.to_mut().pop();
                }
                let node = self.scalar(value, style, tag, pos);
                self.push_value(node, anchor);
            }
            Event::SequenceStart(anchor, tag) => {
                self.collection_tag(tag, pos, "sequence");
                if self.stack.len() >= MAX_DEPTH {
                    self.depth_exceeded = true;
                    return;
                }
                self.stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, tag) => {
                self.collection_tag(tag, pos, "mapping");
                if self.stack.len() >= MAX_DEPTH {
                    self.depth_exceeded = true;
                    return;
                }
                self.stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { pos, anchor, items }) = self.stack.pop() {
                    self.push_value(Node::new(pos, Kind::Seq(items)), anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    ..
                }) = self.stack.pop()
                {
                    let node = self.finish_map(pos, entries);
                    self.push_value(node, anchor);
                }
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| Node::new(pos, Kind::Unknown));
                self.push_value(node, 0);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

// --- YAML 1.1 implicit resolution (PyYAML resolver.py / constructor.py) --------------------

enum Resolved {
    Kind(Kind),
    Merge,
    ValueTag,
    BadDate(String),
}

/// Types a plain scalar as PyYAML's implicit resolvers do; `None` means "string".
fn resolve_plain(s: &str) -> Option<Resolved> {
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

fn bool_value(s: &str) -> Option<bool> {
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
fn construct_int(s: &str) -> Option<i64> {
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
fn construct_float(s: &str) -> Option<f64> {
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
    use super::*;

    fn root(src: &str) -> Node {
        let p = parse(src, FileId(0));
        assert!(!p.failed, "{:?}", p.issues);
        p.root.expect("a document")
    }

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

    #[test]
    fn tags() {
        let r = root("a: !include x.yaml\nb: !secret pw\nc: !!str 1\nd: ! 2\n");
        assert!(
            matches!(&r.get("a").unwrap().kind, Kind::Tagged(HaTag::Include, p) if p == "x.yaml")
        );
        assert!(matches!(&r.get("b").unwrap().kind, Kind::Tagged(HaTag::Secret, p) if p == "pw"));
        assert!(matches!(&r.get("c").unwrap().kind, Kind::Str(s, _) if s == "1"));
        // PyYAML resolves the non-specific tag like an untagged plain scalar.
        assert!(matches!(&r.get("d").unwrap().kind, Kind::Int(2)));
        let p = parse("a: !lambda x\n", FileId(0));
        assert_eq!(p.issues[0].code, Code::YamlUnknownTag);
        let p = parse("a: !include\n", FileId(0));
        assert_eq!(p.issues[0].code, Code::TagMissingArgument);
    }

    #[test]
    fn refusals() {
        let p = parse("k: {{ states('x') }}\n", FileId(0));
        assert!(p.failed);
        assert_eq!(p.issues[0].code, Code::YamlInvalidKey);
        let p = parse("a: 1\n---\nb: 2\n", FileId(0));
        assert_eq!(p.issues[0].code, Code::YamlSyntax);
        assert_eq!(p.issues[0].line, 2);
        let p = parse("a: \u{1}\n", FileId(0));
        assert_eq!(p.issues[0].code, Code::YamlEncoding);
        // The error points at the tab, as PyYAML's does.
        let p = parse("a:\n\tb: 1\n", FileId(0));
        assert_eq!(p.issues[0].code, Code::YamlSyntax);
        assert_eq!((p.issues[0].line, p.issues[0].col), (2, 1));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse(&deep, FileId(0)).failed);
        assert!(parse("", FileId(0)).root.is_none());
        assert!(parse("\u{feff}a: 1\n", FileId(0)).root.is_some());
    }

    #[test]
    fn positions() {
        let r = root("a:\n  b: \"x\"\n  c:\n    - 1\n");
        let b = r.get("a").unwrap().get("b").unwrap();
        assert_eq!((b.pos.line, b.pos.col), (2, 6));
        let c = r.get("a").unwrap().get("c").unwrap();
        assert_eq!((c.pos.line, c.pos.col), (4, 5));
    }
}
