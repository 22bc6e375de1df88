//! Maps byte offsets inside a YAML string value back to `line:column` in its file.
//!
//! A template's text is the *value* of a YAML scalar: quotes, escapes, indentation and
//! line folding are gone. Block literals (`|`) map line for line; every other style is
//! aligned character by character against the source, skipping what YAML removed
//! (indentation, folded line breaks, escape backslashes, doubled single quotes).
//!
//! [`Locator`] is resumable: offsets asked in increasing order cost one pass over the
//! scalar in total, which matters for long templates with many entity references.

use std::iter::Peekable;
use std::str::Chars;

use crate::validate::source::SourceFile;
use crate::validate::yaml::Style;

/// Position (1-based line, 1-based column in characters) of `byte_offset` of `value`, a
/// scalar written in `style` starting at `line:col` of `file`.
pub fn locate(
    file: &SourceFile,
    line: u32,
    col: u32,
    style: Style,
    value: &str,
    byte_offset: usize,
) -> (u32, u32) {
    Locator::new(file, line, col, style, value).at(byte_offset)
}

/// Positions of several offsets of one scalar (any order), in the order given.
pub fn locate_many(
    file: &SourceFile,
    line: u32,
    col: u32,
    style: Style,
    value: &str,
    offsets: &[usize],
) -> Vec<(u32, u32)> {
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|&i| offsets[i]);
    let mut out = vec![(line, col); offsets.len()];
    let mut loc = Locator::new(file, line, col, style, value);
    for i in order {
        out[i] = loc.at(offsets[i]);
    }
    out
}

/// Alignment state between a scalar's value and its source text.
pub struct Locator<'a> {
    style: Style,
    value: &'a str,
    /// Value bytes consumed so far.
    done: usize,
    src: Peekable<Chars<'a>>,
    line: u32,
    col: u32,
    /// Column of the scalar's first character: a literal block's indentation.
    base_col: u32,
    /// Set once alignment is lost: later offsets report the last good position.
    lost: bool,
    budget: usize,
}

impl<'a> Locator<'a> {
    pub fn new(file: &'a SourceFile, line: u32, col: u32, style: Style, value: &'a str) -> Self {
        let src = file.text_from(line, col);
        let mut l = Locator {
            style,
            value,
            done: 0,
            src: src.chars().peekable(),
            line,
            col,
            base_col: col,
            lost: false,
            budget: src.len().min(value.len() * 8 + 4096),
        };
        if matches!(style, Style::SingleQuoted | Style::DoubleQuoted)
            && let Some(q) = l.src.next()
        {
            l.step(q);
        }
        l
    }

    fn step(&mut self, c: char) {
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
    }

    fn next_src(&mut self) -> Option<char> {
        let c = self.src.next()?;
        self.step(c);
        Some(c)
    }

    /// Position of `byte_offset`; offsets must not decrease between calls.
    pub fn at(&mut self, byte_offset: usize) -> (u32, u32) {
        let target = byte_offset.min(self.value.len());
        if self.style == Style::Literal {
            // Literal blocks keep line breaks and indentation: count, no alignment.
            let chunk = self.value.get(self.done..target).unwrap_or("");
            for c in chunk.chars() {
                if c == '\n' {
                    self.line += 1;
                    self.col = self.base_col;
                } else {
                    self.col += 1;
                }
            }
            self.done = target.max(self.done);
            return (self.line, self.col);
        }
        while !self.lost && self.done < target {
            let Some(vc) = self.value[self.done..].chars().next() else {
                break;
            };
            if self.budget == 0 {
                self.lost = true;
                break;
            }
            self.budget -= 1;
            let Some(&sc) = self.src.peek() else {
                self.lost = true;
                break;
            };
            if sc == vc && !(self.style == Style::DoubleQuoted && sc == '\\') {
                self.next_src();
                self.done += vc.len_utf8();
                continue;
            }
            if self.style == Style::DoubleQuoted && sc == '\\' {
                // An escape (`\n`, `\"`, `\x41`, `\u263A`…) stands for one value character.
                self.next_src();
                let Some(e) = self.next_src() else {
                    self.lost = true;
                    break;
                };
                let hex = match e {
                    'x' => 2,
                    'u' => 4,
                    'U' => 8,
                    // an escaped line break joins lines: no value character
                    '\n' => continue,
                    _ => 0,
                };
                for _ in 0..hex {
                    self.next_src();
                }
                self.done += vc.len_utf8();
                continue;
            }
            if self.style == Style::SingleQuoted && sc == '\'' {
                self.next_src();
                continue;
            }
            if sc.is_whitespace() {
                // indentation, or a line break folded into a space
                self.next_src();
                if vc == ' ' || vc == '\n' {
                    while self.src.peek().is_some_and(|c| c.is_whitespace()) {
                        self.next_src();
                    }
                    while self.value[self.done..].starts_with([' ', '\n']) && self.done < target {
                        self.done += 1;
                    }
                }
                continue;
            }
            if vc == ' ' || vc == '\n' {
                // a value space the source writes differently (folded line break)
                self.done += 1;
                continue;
            }
            // Lost alignment: report where we are rather than something wrong further on.
            self.lost = true;
        }
        (self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::source::Sources;
    use std::path::Path;

    fn at(text: &str, line: u32, col: u32, style: Style, value: &str, needle: &str) -> (u32, u32) {
        let mut s = Sources::new(Path::new("/"));
        let id = s.add(Path::new("/f.yaml"), text.to_string());
        locate(
            s.get(id),
            line,
            col,
            style,
            value,
            value.find(needle).unwrap(),
        )
    }

    #[test]
    fn styles() {
        // plain, one line
        assert_eq!(
            at(
                "k: {{ statest('a') }}\n",
                1,
                4,
                Style::Plain,
                "{{ statest('a') }}",
                "statest"
            ),
            (1, 7)
        );
        // double quoted with escapes before the needle
        assert_eq!(
            at(
                "k: \"a\\\"b {{ bad }}\"\n",
                1,
                4,
                Style::DoubleQuoted,
                "a\"b {{ bad }}",
                "bad"
            ),
            (1, 13)
        );
        // single quoted with a doubled quote
        assert_eq!(
            at(
                "k: 'it''s {{ bad }}'\n",
                1,
                4,
                Style::SingleQuoted,
                "it's {{ bad }}",
                "bad"
            ),
            (1, 14)
        );
        // literal block
        assert_eq!(
            at(
                "k: |\n  one\n  {{ bad }}\n",
                2,
                3,
                Style::Literal,
                "one\n{{ bad }}\n",
                "bad"
            ),
            (3, 6)
        );
        // folded block: line breaks become spaces
        assert_eq!(
            at(
                "k: >\n  {% if x %}\n    {{ bad }}\n  {% endif %}\n",
                2,
                3,
                Style::Folded,
                "{% if x %}\n  {{ bad }}\n{% endif %}\n",
                "bad"
            ),
            (3, 8)
        );
        // plain multi-line
        assert_eq!(
            at(
                "k: {{ a }}\n  {{ bad }}\n",
                1,
                4,
                Style::Plain,
                "{{ a }} {{ bad }}",
                "bad"
            ),
            (2, 6)
        );
        // double quoted spanning lines
        assert_eq!(
            at(
                "k: \"{{ a }}\n  {{ bad }}\"\n",
                1,
                4,
                Style::DoubleQuoted,
                "{{ a }} {{ bad }}",
                "bad"
            ),
            (2, 6)
        );
    }

    #[test]
    fn many_offsets_in_any_order_match_single_lookups() {
        let text = "k: >\n  {{ states('a.b') }}\n  x {{ states('c.d') }}\n  {{ bad }}\n";
        let value = "{{ states('a.b') }} x {{ states('c.d') }} {{ bad }}\n";
        let mut s = Sources::new(Path::new("/"));
        let id = s.add(Path::new("/f.yaml"), text.to_string());
        let offs = [
            value.find("bad").unwrap(),
            value.find("'a.b'").unwrap(),
            value.find("'c.d'").unwrap(),
        ];
        let many = locate_many(s.get(id), 2, 3, Style::Folded, value, &offs);
        let single: Vec<(u32, u32)> = offs
            .iter()
            .map(|&o| locate(s.get(id), 2, 3, Style::Folded, value, o))
            .collect();
        assert_eq!(many, single);
        assert_eq!(many, vec![(4, 6), (2, 13), (3, 15)]);
    }
}
