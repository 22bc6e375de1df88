//! The way in: one file's text to a [`Parsed`] tree and its findings.
//!
//! What happens before and around the event stream lives here, because PyYAML does it
//! outside its parser too: the universal-newline reading HA opens files with, the reader's
//! refusal of control characters, and turning a parser error or a too-deep file into a
//! fatal finding instead of a tree.

use std::borrow::Cow;

use saphyr_parser::Parser;

use super::builder::{Builder, MAX_DEPTH};
use super::node::Node;
use crate::validate::codes::Code;
use crate::validate::source::FileId;

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
    let mut b = Builder::new(file, text);
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The tree of `src`, which must load; shared by the unit tests of the whole folder.
    pub(in crate::validate::yaml) fn root(src: &str) -> Node {
        let p = parse(src, FileId(0));
        assert!(!p.failed, "{:?}", p.issues);
        p.root.expect("a document")
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
}
