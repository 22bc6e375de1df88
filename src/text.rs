//! Small text helpers shared by every part that puts outside text in front of users
//! (MQTT states, command rejections, logs), and the slug HA's object ids are made of.

/// Lowercase `[a-z0-9_]`, runs of anything else become one `_`, no `_` at either end: the
/// shape Home Assistant requires of an entity's object id.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        "unnamed".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The mark a cut text ends with.
const ELLIPSIS: char = '…';

/// Cuts `text` so the result is at most `max` bytes, at a character boundary, ending with
/// `…` when anything was cut. Outside text (run titles, command payloads) is often
/// multi-byte: a cut inside a character would panic, so the cut point is found by walking
/// back to a boundary, never by arithmetic on byte offsets.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let ellipsis = ELLIPSIS.len_utf8();
    if max < ellipsis {
        return text[..floor_char_boundary(text, max)].to_string();
    }
    let end = floor_char_boundary(text, max - ellipsis);
    let mut cut = String::with_capacity(end + ellipsis);
    cut.push_str(&text[..end]);
    cut.push(ELLIPSIS);
    cut
}

/// The largest character boundary of `text` at or below `index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut end = index.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every cut of texts made of 1-, 2-, 3- and 4-byte characters, mixed with ASCII at
    /// every offset, stays within the limit, keeps a prefix of the text, and never panics.
    #[test]
    fn every_cut_of_multibyte_text_is_within_the_limit_and_a_prefix() {
        for ch in ['a', 'é', '€', '😀'] {
            for lead in 0..4 {
                let text = format!("{}{}", "x".repeat(lead), ch.to_string().repeat(40));
                for max in 0..=text.len() + 1 {
                    let cut = truncate(&text, max);
                    assert!(
                        cut.len() <= max || cut == text,
                        "{ch:?} lead {lead} max {max}"
                    );
                    let kept = cut.strip_suffix(ELLIPSIS).unwrap_or(&cut);
                    assert!(
                        text.starts_with(kept),
                        "{ch:?} lead {lead} max {max}: {cut:?}"
                    );
                    if text.len() > max && max >= 3 {
                        assert!(cut.ends_with(ELLIPSIS), "{ch:?} lead {lead} max {max}");
                    }
                }
            }
        }
    }

    #[test]
    fn short_text_is_unchanged() {
        assert_eq!(truncate("short", 255), "short");
        assert_eq!(truncate("", 0), "");
    }

    /// The payload the issue reported: twenty `€` cut to 40 bytes.
    #[test]
    fn twenty_euro_signs_cut_to_forty_bytes() {
        let cut = truncate(&"€".repeat(20), 40);
        assert_eq!(cut, format!("{}…", "€".repeat(12)));
    }
}
