//! Maps a byte offset inside a YAML string value back to `line:column` in its file.
//!
//! A template's text is the *value* of a YAML scalar: quotes, escapes, indentation and
//! line folding are gone. Block literals (`|`) map line for line; every other style is
//! aligned character by character against the source, skipping what YAML removed
//! (indentation, folded line breaks, escape backslashes, doubled single quotes).

use super::source::SourceFile;
use super::yaml::Style;

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
    let byte_offset = byte_offset.min(value.len());
    let before = value.get(..byte_offset).unwrap_or(value);
    if style == Style::Literal {
        let l = before.matches('\n').count() as u32;
        let last = before.rsplit('\n').next().unwrap_or("");
        return (line + l, col + last.chars().count() as u32);
    }
    let src = file.text_from(line, col);
    let mut s = src.chars().peekable();
    let (mut cur_line, mut cur_col) = (line, col);
    let advance = |c: char, l: &mut u32, k: &mut u32| {
        if c == '\n' {
            *l += 1;
            *k = 1;
        } else {
            *k += 1;
        }
    };
    let quoted = matches!(style, Style::SingleQuoted | Style::DoubleQuoted);
    if quoted && let Some(q) = s.next() {
        advance(q, &mut cur_line, &mut cur_col);
    }
    let mut v = before.chars().peekable();
    // Bounded: every step consumes a source character.
    let mut budget = src.len().min(before.len() * 8 + 4096);
    while let Some(&vc) = v.peek() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        let Some(&sc) = s.peek() else { break };
        if sc == vc && !(style == Style::DoubleQuoted && sc == '\\') {
            s.next();
            v.next();
            advance(sc, &mut cur_line, &mut cur_col);
            continue;
        }
        if style == Style::DoubleQuoted && sc == '\\' {
            // An escape: `\n`, `\"`, `\x41`, `\u263A`… stands for one value character.
            s.next();
            advance(sc, &mut cur_line, &mut cur_col);
            let Some(e) = s.next() else { break };
            advance(e, &mut cur_line, &mut cur_col);
            let hex = match e {
                'x' => 2,
                'u' => 4,
                'U' => 8,
                '\n' => {
                    // escaped line break: joins lines, no value character
                    continue;
                }
                _ => 0,
            };
            for _ in 0..hex {
                if let Some(h) = s.next() {
                    advance(h, &mut cur_line, &mut cur_col);
                }
            }
            v.next();
            continue;
        }
        if style == Style::SingleQuoted && sc == '\'' {
            s.next();
            advance(sc, &mut cur_line, &mut cur_col);
            continue;
        }
        if sc.is_whitespace() {
            // indentation, or a line break folded into a space
            s.next();
            advance(sc, &mut cur_line, &mut cur_col);
            if vc == ' ' || vc == '\n' {
                while s.peek().is_some_and(|c| c.is_whitespace()) {
                    let c = s.next().unwrap_or(' ');
                    advance(c, &mut cur_line, &mut cur_col);
                }
                while v.peek().is_some_and(|c| *c == ' ' || *c == '\n') {
                    v.next();
                }
            }
            continue;
        }
        if vc == ' ' || vc == '\n' {
            // a value space the source writes differently (folded line break)
            v.next();
            continue;
        }
        // Lost alignment: report where we are rather than something wrong further on.
        break;
    }
    (cur_line, cur_col)
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
}
