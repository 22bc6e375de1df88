//! `custom_components/*/manifest.json`: what HA's loader refuses and what hassfest/HACS
//! require.
//!
//! HA (`homeassistant/loader.py: Integration.resolve_from_root`) skips a custom integration
//! whose manifest is not JSON, lacks `domain`/`name`, or has no valid `version`
//! (AwesomeVersion with the CalVer, SemVer, SimpleVer, BuildVer or PEP 440 strategy). A
//! `domain` that differs from the directory name registers the integration under the wrong
//! name. hassfest and HACS also require `documentation` and `codeowners`.

use std::path::Path;

use crate::validate::codes::Code;
use crate::validate::diagnostic::{Diagnostic, Diagnostics};
use crate::validate::source::relative_to;

/// Checks every manifest under `<root>/custom_components/`.
pub fn check(root: &Path, diags: &mut Diagnostics) -> usize {
    let dir = root.join("custom_components");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut dirs: Vec<_> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut n = 0;
    for d in dirs {
        let name = d
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        let path = d.join("manifest.json");
        let rel = relative_to(root, &path);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(_) => {
                let mut diag = Diagnostic::new(
                    Code::ComponentManifestInvalid,
                    relative_to(root, &d),
                    0,
                    0,
                    format!(
                        "custom integration `{name}` has no readable manifest.json: Home Assistant does not load it"
                    ),
                );
                if git_ignored(&path) {
                    diag.message.push_str(
                        " (manifest.json is git-ignored, so it is not in the repository)",
                    );
                    diag = diag.with_hint(
                        "commit the integration (remove it from .gitignore), or check a working copy that has it",
                    );
                }
                diags.push(diag);
                continue;
            }
        };
        n += 1;
        check_manifest(&name, &rel, &text, diags);
    }
    n
}

/// Whether git ignores `path` (it need not exist), asking the real `git` so every rule
/// (nested `.gitignore`, negations, `info/exclude`) counts. False outside a repository or
/// without git.
fn git_ignored(path: &Path) -> bool {
    let Some(dir) = path.parent().filter(|d| d.is_dir()) else {
        return false;
    };
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["check-ignore", "--quiet", "--"])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Checks one manifest's text.
pub fn check_manifest(dir_name: &str, rel: &str, text: &str, diags: &mut Diagnostics) {
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    Code::ComponentManifestInvalid,
                    rel,
                    e.line() as u32,
                    e.column() as u32,
                    format!("manifest.json is not valid JSON: {e}"),
                )
                .with_hint(
                    "Home Assistant logs \"Error parsing manifest.json\" and skips the integration",
                ),
            );
            return;
        }
    };
    let Some(obj) = v.as_object() else {
        diags.push(Diagnostic::new(
            Code::ComponentManifestInvalid,
            rel,
            1,
            1,
            "manifest.json must be a JSON object",
        ));
        return;
    };
    let line_of = |key: &str| -> (u32, u32) {
        let needle = format!("\"{key}\"");
        text.lines()
            .enumerate()
            .find_map(|(i, l)| {
                l.find(&needle)
                    .map(|c| (i as u32 + 1, l[..c].chars().count() as u32 + 1))
            })
            .unwrap_or((1, 1))
    };
    for key in ["domain", "name"] {
        if obj
            .get(key)
            .and_then(|x| x.as_str())
            .is_none_or(str::is_empty)
        {
            diags.push(
                Diagnostic::new(
                    Code::ComponentManifestInvalid,
                    rel,
                    1,
                    1,
                    format!("manifest.json has no `{key}`"),
                )
                .with_hint("Home Assistant cannot load the integration without it"),
            );
        }
    }
    if let Some(domain) = obj.get("domain").and_then(|x| x.as_str())
        && !domain.is_empty()
        && domain != dir_name
    {
        let (l, c) = line_of("domain");
        diags.push(
            Diagnostic::new(
                Code::ComponentManifestInvalid,
                rel,
                l,
                c,
                format!(
                    "`domain` is \"{domain}\" but the directory is custom_components/{dir_name}"
                ),
            )
            .with_hint("Home Assistant finds integrations by directory name; the two must match"),
        );
    }
    match obj.get("version") {
        None => diags.push(
            Diagnostic::new(Code::ComponentManifestInvalid, rel, 1, 1, "manifest.json has no `version`: Home Assistant blocks custom integrations without one")
                .with_hint("add \"version\": \"1.0.0\" (required since 2021.6)"),
        ),
        Some(ver) => {
            let s = ver.as_str().unwrap_or("");
            if !valid_version(s) {
                let (l, c) = line_of("version");
                diags.push(
                    Diagnostic::new(Code::ComponentManifestInvalid, rel, l, c, format!("`version` {ver} is not a valid version: Home Assistant blocks the integration"))
                        .with_hint("use a version like \"1.2.3\" or \"2024.1.0\""),
                );
            }
        }
    }
    let missing: Vec<&str> = ["documentation", "codeowners"]
        .into_iter()
        .filter(|k| !obj.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::ComponentManifestIncomplete,
                rel,
                1,
                1,
                format!(
                    "manifest.json misses {}",
                    missing
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            )
            .with_hint("hassfest and HACS require them"),
        );
    }
}

/// A version AwesomeVersion accepts with HA's strategies (a conservative subset: anything
/// rejected here is rejected there).
fn valid_version(s: &str) -> bool {
    let s = s.strip_prefix('v').unwrap_or(s);
    let (core, build) = s.split_once('+').unwrap_or((s, ""));
    if s.contains('+') && build.is_empty() {
        return false;
    }
    let (core, pre) = core.split_once('-').unwrap_or((core, ""));
    if core.contains('-') || (s.contains('-') && pre.is_empty()) {
        return false;
    }
    // numeric dotted part, then an optional PEP 440 suffix (a1, b2, rc3, .dev4, .post5)
    let digits_end = core
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(core.len());
    let (num, suffix) = core.split_at(digits_end);
    let num = num.trim_end_matches('.');
    if num.is_empty()
        || num.split('.').any(|p| p.is_empty())
        || !num.starts_with(|c: char| c.is_ascii_digit())
    {
        return false;
    }
    let suffix_ok = suffix.is_empty()
        || ["a", "b", "rc", "dev", "post", ".dev", ".post"]
            .iter()
            .any(|p| {
                suffix.strip_prefix(p).is_some_and(|rest| {
                    !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit())
                })
            });
    let ident = |x: &str| {
        x.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    suffix_ok && ident(pre) && ident(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in [
            "1",
            "1.3",
            "v0.0.77",
            "0.7.4b18",
            "2024.1.0",
            "1.0.0-beta.1",
            "2.0.0rc1",
            "1.2.3.4.5",
            "1.0.dev1",
            "1.0+local",
        ] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["", "abc", "main", "1.0a", "latest", "1..2", "1.0-"] {
            assert!(!valid_version(bad), "{bad}");
        }
    }

    #[test]
    fn manifests() {
        let mut d = Diagnostics::default();
        check_manifest(
            "x",
            "m.json",
            r#"{"domain":"x","name":"X","version":"1.0.0","documentation":"u","codeowners":[]}"#,
            &mut d,
        );
        assert!(d.is_empty());
        check_manifest(
            "x",
            "m.json",
            "{\n  \"domain\": \"y\",\n  \"name\": \"X\"\n}",
            &mut d,
        );
        let v = d.into_sorted();
        let codes: Vec<(Code, u32)> = v.iter().map(|d| (d.code, d.line)).collect();
        assert!(
            codes.contains(&(Code::ComponentManifestInvalid, 2)),
            "{codes:?}"
        );
        assert!(v.iter().any(|d| d.message.contains("no `version`")));
        assert!(
            v.iter()
                .any(|d| d.code == Code::ComponentManifestIncomplete)
        );
    }
}
