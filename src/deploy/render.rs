//! Rendering a template with its variables: minijinja under `[[ ]]`, `[% %]` and `[# #]`,
//! which never collide with GitHub's `${{ }}` expressions, with strict undefined variables,
//! so a typo fails the render instead of writing an empty string into a workflow.
//!
//! A rendered YAML file must parse; a workflow must have `on` and `jobs`. Nothing that
//! fails here is ever written.

use std::collections::BTreeMap;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{Map, Value, json};

use super::library::{Library, Template};

/// One rendered file, ready to commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// In the target repository.
    pub path: String,
    pub content: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RenderError {
    #[error("template `{template}` has no variable `{name}`; it has: {known}")]
    UnknownVariable {
        template: String,
        name: String,
        known: String,
    },
    #[error("template `{template}`: variable `{name}` must be a {expected}, not {given}")]
    WrongType {
        template: String,
        name: String,
        expected: &'static str,
        given: String,
    },
    #[error("template `{template}`, {source_file}: {message}")]
    Template {
        template: String,
        source_file: String,
        message: String,
    },
    #[error("template `{template}` renders {path} to invalid YAML: {message}")]
    InvalidYaml {
        template: String,
        path: String,
        message: String,
    },
}

/// The values a template renders with: its defaults, overridden by `given`. Unknown names
/// and values of the wrong type are errors that name the template's variables.
pub fn resolve_variables(
    t: &Template,
    given: &Map<String, Value>,
) -> Result<BTreeMap<String, Value>, RenderError> {
    let mut values: BTreeMap<String, Value> = t
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), v.default.clone()))
        .collect();
    for (name, value) in given {
        let Some(var) = t.variables.get(name) else {
            return Err(RenderError::UnknownVariable {
                template: t.id.clone(),
                name: name.clone(),
                known: if t.variables.is_empty() {
                    "none".into()
                } else {
                    t.variables.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            });
        };
        if !var.kind.admits(value) {
            return Err(RenderError::WrongType {
                template: t.id.clone(),
                name: name.clone(),
                expected: var.kind.name(),
                given: value.to_string(),
            });
        }
        values.insert(name.clone(), value.clone());
    }
    Ok(values)
}

fn environment(lib: &Library) -> Environment<'static> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .block_delimiters("[%", "%]")
        .variable_delimiters("[[", "]]")
        .comment_delimiters("[#", "#]")
        // A block tag on a line of its own leaves no blank line or indentation behind,
        // which YAML needs.
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("static delimiters are valid");
    env.set_syntax(syntax);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // minijinja would JSON-escape every value in a `.yml` file; workflows quote where needed.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let files = lib.file_map().clone();
    env.set_loader(move |name| Ok(files.get(name).cloned()));
    env
}

/// Renders every file of `t` with `given` over its defaults.
pub fn render(
    lib: &Library,
    t: &Template,
    given: &Map<String, Value>,
) -> Result<Vec<Rendered>, RenderError> {
    let values = resolve_variables(t, given)?;
    let mut context: Map<String, Value> = values.into_iter().collect();
    context.insert(
        "template".into(),
        json!({"id": t.id, "version": t.version.to_string()}),
    );
    let env = environment(lib);
    let mut out = Vec::new();
    for f in &t.files {
        let fail = |e: minijinja::Error| RenderError::Template {
            template: t.id.clone(),
            source_file: f.source.clone(),
            message: describe(&e),
        };
        let tmpl = env.get_template(&f.source).map_err(fail)?;
        let content = tmpl
            .render(minijinja::value::Serde(&context))
            .map_err(fail)?;
        check_output(t, &f.path, &content)?;
        out.push(Rendered {
            path: f.path.clone(),
            content,
        });
    }
    Ok(out)
}

/// minijinja's message with the line it points at.
fn describe(e: &minijinja::Error) -> String {
    let mut s = match e.line() {
        Some(line) => format!("line {line}: {}", e.kind()),
        None => e.kind().to_string(),
    };
    if let Some(detail) = e.detail() {
        s.push_str(": ");
        s.push_str(detail);
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(&format!(" ({inner})"));
        source = inner.source();
    }
    s
}

fn check_output(t: &Template, path: &str, content: &str) -> Result<(), RenderError> {
    if !(path.ends_with(".yml") || path.ends_with(".yaml")) {
        return Ok(());
    }
    let invalid = |message: String| RenderError::InvalidYaml {
        template: t.id.clone(),
        path: path.to_string(),
        message,
    };
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(content).map_err(|e| invalid(e.to_string()))?;
    if path.starts_with(".github/workflows/") {
        let Some(map) = doc.as_mapping() else {
            return Err(invalid("a workflow must be a mapping".into()));
        };
        for key in ["on", "jobs"] {
            // YAML 1.1 readers turn a bare `on` into `true`; GitHub's reader does not.
            let present = map.contains_key(key)
                || (key == "on" && map.contains_key(serde_yaml_ng::Value::Bool(true)));
            if !present {
                return Err(invalid(format!("a workflow needs `{key}`")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_template_renders_with_its_defaults() {
        let lib = Library::bundled();
        for t in &lib.templates {
            let files = render(&lib, t, &Map::new()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(files.len(), t.files.len());
            for f in &files {
                assert!(!f.content.contains("[["), "{}: unrendered `[[`", f.path);
                assert!(!f.content.contains("[%"), "{}: unrendered `[%`", f.path);
                assert!(f.content.ends_with('\n'), "{}: no final newline", f.path);
            }
        }
    }

    #[test]
    fn variables_are_typed_and_known() {
        let lib = Library::bundled();
        let t = lib.get("security-scan").unwrap();
        let mut given = Map::new();
        given.insert("zizmor".into(), json!("yes"));
        let e = render(&lib, t, &given).unwrap_err().to_string();
        assert!(e.contains("`zizmor` must be a boolean"), "{e}");
        let mut given = Map::new();
        given.insert("zizmore".into(), json!(true));
        let e = render(&lib, t, &given).unwrap_err().to_string();
        assert!(
            e.contains("no variable `zizmore`") && e.contains("zizmor"),
            "{e}"
        );
        let mut given = Map::new();
        given.insert("zizmor".into(), json!(true));
        let with = render(&lib, t, &given).unwrap();
        assert!(with[0].content.contains("zizmor --format sarif"));
        let without = render(&lib, t, &Map::new()).unwrap();
        assert!(!without[0].content.contains("zizmor --format sarif"));
    }

    #[test]
    fn github_expressions_pass_through_untouched() {
        let lib = Library::bundled();
        let t = lib.get("yaml-validation").unwrap();
        let files = render(&lib, t, &Map::new()).unwrap();
        assert!(
            files[0]
                .content
                .contains("${{ github.workflow }}-${{ github.ref }}")
        );
        assert!(
            files[0].content.contains(r#"branches: ["main"]"#),
            "{}",
            files[0].content
        );
    }
}
