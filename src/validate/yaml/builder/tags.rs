//! Scalars and tags: where a value's type is decided.
//!
//! A plain scalar is typed by YAML 1.1's implicit resolution (`../resolve.rs`); an explicit
//! tag overrides it, and the tags PyYAML's SafeLoader cannot construct make HA refuse the
//! file. HA's own tags (`!include`, `!secret`…) are only recognised here and kept as
//! [`Kind::Tagged`] for the loader; a quoted `"!secret x"` is text, which we point out.

use std::borrow::Cow;

use saphyr_parser::{ScalarStyle, Tag};

use super::Builder;
use crate::validate::codes::Code;
use crate::validate::source::Pos;
use crate::validate::yaml::node::{HaTag, Kind, Node, Style};
use crate::validate::yaml::resolve::{
    Resolved, bool_value, construct_float, construct_int, resolve_plain,
};

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

impl Builder {
    pub(super) fn scalar(
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

    pub(super) fn collection_tag(&mut self, tag: Option<Cow<'_, Tag>>, pos: Pos, what: &str) {
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
}

#[cfg(test)]
mod tests {
    use crate::validate::codes::Code;
    use crate::validate::source::FileId;
    use crate::validate::yaml::parse::tests::root;
    use crate::validate::yaml::{HaTag, Kind, parse};

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
}
