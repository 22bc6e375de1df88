//! Turning saphyr-parser's events into [`Node`]s, the job PyYAML's composer and constructor
//! share: a stack of open collections, anchors recorded and replayed for aliases, one
//! document per file, a depth limit.
//!
//! The parts of that job where HA's YAML 1.1 differs from the YAML 1.2 parser are split off
//! beside it, each extending [`Builder`] (so its state stays private to this subtree):
//! `tags` types scalars and checks tags, `mapping` applies merge keys and duplicate-key
//! rules to each finished mapping, and `keys` is Python's dict-key identity they rely on.

mod keys;
mod mapping;
mod tags;

use std::collections::HashMap;

use saphyr_parser::{Event, ScalarStyle, Span, SpannedEventReceiver};

use super::node::{Kind, Node};
use super::parse::YamlIssue;
use crate::validate::codes::Code;
use crate::validate::source::{FileId, Pos};

/// Deeper nesting than this is refused instead of risking the stack.
pub(super) const MAX_DEPTH: usize = 512;

/// A collection still open on the stack, with what it has collected so far.
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

/// Receives saphyr-parser's events for one file and assembles the tree.
pub(super) struct Builder {
    file: FileId,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    pub(super) root: Option<Node>,
    docs: usize,
    pub(super) issues: Vec<YamlIssue>,
    pub(super) depth_exceeded: bool,
    /// Character count of the text when it does not end with a line break: a block scalar
    /// ending there has no final line break in PyYAML, while saphyr adds one.
    eof_without_newline: Option<usize>,
}

impl Builder {
    pub(super) fn new(file: FileId, text: &str) -> Self {
        Builder {
            file,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            docs: 0,
            issues: Vec::new(),
            depth_exceeded: false,
            eof_without_newline: (!text.ends_with('\n')).then(|| text.chars().count()),
        }
    }

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

#[cfg(test)]
mod tests {
    use crate::validate::yaml::parse::tests::root;

    #[test]
    fn positions() {
        let r = root("a:\n  b: \"x\"\n  c:\n    - 1\n");
        let b = r.get("a").unwrap().get("b").unwrap();
        assert_eq!((b.pos.line, b.pos.col), (2, 6));
        let c = r.get("a").unwrap().get("c").unwrap();
        assert_eq!((c.pos.line, c.pos.col), (4, 5));
    }
}
