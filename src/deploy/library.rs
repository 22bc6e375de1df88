//! The template library: `templates/templates.yaml` and the files it names, bundled into
//! the binary (so the add-on needs no checkout) or loaded from a folder the user keeps.
//!
//! Loading checks everything that can be checked without rendering: ids, semantic
//! versions, a changelog line for the current version, variables whose defaults fit their
//! types, files that exist, target paths that stay inside the repository and belong to
//! one template only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::lock::LOCK_PATH;

/// The manifest, relative to the library's root.
pub const MANIFEST: &str = "templates.yaml";

/// The library shipped with this build (`templates/` of this repository).
const BUNDLED: &[(&str, &str)] = &[
    (MANIFEST, include_str!("../../templates/templates.yaml")),
    (
        "workflows/yaml-validation.yml",
        include_str!("../../templates/workflows/yaml-validation.yml"),
    ),
    (
        "workflows/home-assistant-validation.yml",
        include_str!("../../templates/workflows/home-assistant-validation.yml"),
    ),
    (
        "workflows/security-scan.yml",
        include_str!("../../templates/workflows/security-scan.yml"),
    ),
    (
        "workflows/deployment-pipeline.yml",
        include_str!("../../templates/workflows/deployment-pipeline.yml"),
    ),
    (
        "files/yamllint.yaml",
        include_str!("../../templates/files/yamllint.yaml"),
    ),
    (
        "files/yamllint-requirements.txt",
        include_str!("../../templates/files/yamllint-requirements.txt"),
    ),
    (
        "partials/install-gitops-bridge.yml",
        include_str!("../../templates/partials/install-gitops-bridge.yml"),
    ),
];

/// Why a library cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("template library {origin}: {message}")]
pub struct LibraryError {
    origin: String,
    message: String,
}

/// A variable's type, as the manifest declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VarType {
    String,
    Integer,
    Boolean,
    /// A list of strings.
    List,
}

impl VarType {
    /// Whether `value` is of this type.
    pub fn admits(self, value: &serde_json::Value) -> bool {
        match self {
            VarType::String => value.is_string(),
            VarType::Integer => value.is_i64() || value.is_u64(),
            VarType::Boolean => value.is_boolean(),
            VarType::List => value
                .as_array()
                .is_some_and(|items| items.iter().all(serde_json::Value::is_string)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Integer => "integer",
            VarType::Boolean => "boolean",
            VarType::List => "list of strings",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    #[serde(rename = "type")]
    pub kind: VarType,
    pub default: serde_json::Value,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeNote {
    pub version: semver::Version,
    pub note: String,
}

/// One file a template writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateFile {
    /// Under the library's root.
    pub source: String,
    /// In the target repository.
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub id: String,
    pub version: semver::Version,
    pub description: String,
    /// Newest first; the first entry is `version`'s.
    pub changelog: Vec<ChangeNote>,
    #[serde(default)]
    pub variables: BTreeMap<String, Variable>,
    pub files: Vec<TemplateFile>,
}

impl Template {
    /// The changelog lines after `installed` up to this version, newest first: what an
    /// update brings.
    pub fn changes_since(&self, installed: Option<&semver::Version>) -> Vec<&ChangeNote> {
        self.changelog
            .iter()
            .filter(|c| installed.is_none_or(|v| c.version > *v))
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    version: u32,
    templates: Vec<Template>,
}

/// A loaded, checked library.
#[derive(Debug, Clone)]
pub struct Library {
    pub templates: Vec<Template>,
    /// Every file by its path under the root (the manifest included).
    files: BTreeMap<String, String>,
    /// Where it came from, for messages (`bundled` or a folder).
    pub origin: String,
    /// `sha256:` of every file, recorded in the lock: which library a deploy came from.
    pub digest: String,
}

impl Library {
    /// The library shipped with this build.
    pub fn bundled() -> Library {
        let files = BUNDLED
            .iter()
            .map(|(p, s)| ((*p).to_string(), (*s).to_string()))
            .collect();
        Library::from_files(files, "bundled".into())
            .expect("the bundled library is checked by the test suite")
    }

    /// A library folder: `templates.yaml` and every file it names.
    pub fn load(root: &Path) -> Result<Library, LibraryError> {
        let origin = root.display().to_string();
        let fail = |message: String| LibraryError {
            origin: origin.clone(),
            message,
        };
        let mut files = BTreeMap::new();
        let mut todo = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, rel)) = todo.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| fail(format!("cannot read {}: {e}", dir.display())))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let sub = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let path = entry.path();
                if path.is_dir() {
                    todo.push((path, sub));
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    files.insert(sub, text);
                }
            }
        }
        if !files.contains_key(MANIFEST) {
            return Err(fail(format!("no {MANIFEST} in it")));
        }
        Library::from_files(files, origin)
    }

    fn from_files(
        files: BTreeMap<String, String>,
        origin: String,
    ) -> Result<Library, LibraryError> {
        let fail = |message: String| LibraryError {
            origin: origin.clone(),
            message,
        };
        let manifest: Manifest = serde_yaml_ng::from_str(&files[MANIFEST])
            .map_err(|e| fail(format!("{MANIFEST}: {e}")))?;
        if manifest.version != 1 {
            return Err(fail(format!(
                "{MANIFEST}: version {} is not known to this gitops-bridge (1 is)",
                manifest.version
            )));
        }
        let mut ids = BTreeSet::new();
        let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
        for t in &manifest.templates {
            let at = |m: String| fail(format!("template `{}`: {m}", t.id));
            if t.id.is_empty()
                || !t
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(at("ids are lowercase letters, digits and `-`".into()));
            }
            if !ids.insert(t.id.as_str()) {
                return Err(at("defined twice".into()));
            }
            if t.changelog.first().map(|c| &c.version) != Some(&t.version) {
                return Err(at(format!(
                    "the changelog's first line must be version {}",
                    t.version
                )));
            }
            if t.changelog.windows(2).any(|w| w[0].version <= w[1].version) {
                return Err(at("the changelog must go from newest to oldest".into()));
            }
            for (name, v) in &t.variables {
                if name == "template" {
                    return Err(at(
                        "`template` is reserved for the template's id and version".into(),
                    ));
                }
                if !v.kind.admits(&v.default) {
                    return Err(at(format!(
                        "variable `{name}`: the default {} is not a {}",
                        v.default,
                        v.kind.name()
                    )));
                }
            }
            if t.files.is_empty() {
                return Err(at("writes no files".into()));
            }
            for f in &t.files {
                if !files.contains_key(&f.source) {
                    return Err(at(format!("file {} is not in the library", f.source)));
                }
                safe_path(&f.path).map_err(|m| at(format!("path {}: {m}", f.path)))?;
                if let Some(other) = owners.insert(&f.path, &t.id) {
                    return Err(at(format!("{} is also written by `{other}`", f.path)));
                }
            }
        }
        let mut h = Sha256::new();
        for (path, text) in &files {
            h.update(path.as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
            h.update([0]);
        }
        let digest = format!("sha256:{}", hex::encode(h.finalize()));
        Ok(Library {
            templates: manifest.templates,
            files,
            origin,
            digest,
        })
    }

    pub fn get(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id)
    }

    /// A file's text by its path under the root (templates and what they include).
    pub fn file(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Every file by its path under the root, for the renderer's loader.
    pub fn file_map(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// The ids, comma-separated, for error messages.
    pub fn ids(&self) -> String {
        self.templates
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A target path must stay inside the repository and off what git and we own.
fn safe_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() || path.starts_with('/') || path.contains('\\') {
        return Err("must be a relative path with `/`");
    }
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err("must not contain empty, `.` or `..` segments");
    }
    if path == ".git" || path.starts_with(".git/") {
        return Err("must not be inside .git");
    }
    if path == LOCK_PATH {
        return Err("is the lock file gitops-bridge keeps");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_library_loads_and_holds_every_file_of_templates() {
        let lib = Library::bundled();
        let ids: Vec<&str> = lib.templates.iter().map(|t| t.id.as_str()).collect();
        for id in [
            "yaml-validation",
            "home-assistant-validation",
            "security-scan",
            "deployment-pipeline",
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        // Every file under templates/ is bundled, so the folder and the binary agree.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let on_disk = Library::load(&root).unwrap();
        assert_eq!(
            on_disk.files.keys().collect::<Vec<_>>(),
            lib.files.keys().collect::<Vec<_>>()
        );
        assert_eq!(on_disk.digest, lib.digest);
    }

    fn library_with(manifest: &str) -> Result<Library, LibraryError> {
        let mut files = BTreeMap::new();
        files.insert(MANIFEST.to_string(), manifest.to_string());
        files.insert("a.yml".to_string(), "x: 1\n".to_string());
        Library::from_files(files, "test".into())
    }

    #[test]
    fn manifest_mistakes_are_named() {
        let base = |extra: &str, path: &str| {
            format!(
                "version: 1\ntemplates:\n  - id: a\n    version: 1.0.0\n    description: d\n    changelog: [{{version: 1.0.0, note: n}}]\n    files: [{{source: a.yml, path: {path}}}]\n{extra}"
            )
        };
        assert!(library_with(&base("", "x.yml")).is_ok());
        let e = library_with(&base("", "../x.yml")).unwrap_err().to_string();
        assert!(e.contains("`..`"), "{e}");
        let e = library_with(&base("", ".github/gitops-bridge.lock"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lock file"), "{e}");
        let e = library_with(&base(
            "    variables:\n      n: {type: integer, default: x, description: d}\n",
            "x.yml",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("variable `n`") && e.contains("integer"), "{e}");
        let e = library_with(
            &base("", "x.yml").replace("version: 1.0.0\n    desc", "version: 1.1.0\n    desc"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("changelog"), "{e}");
    }
}
