//! Planning: what a deploy would change in one repository, file by file, from the branch's
//! tree and our lock alone. Makes no write.
//!
//! A file is `create` (absent), `unchanged` (already the rendered bytes), `update` (still
//! what we deployed, and the template moved on), `drifted` (edited by hand since our deploy,
//! or a file we never wrote — overwritten only with `--force`) or `delete` (its template
//! left the target, and nobody edited it since).
//!
//! Reading costs two requests when nothing changed (the recursive tree and the lock's blob);
//! the content of a changed file is fetched only to show its diff.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Serialize;

use super::library::Template;
use super::lock::{LOCK_PATH, Lock, LockedTemplate, blob_sha};
use super::render::Rendered;
use crate::github::api::git::TreeChange;
use crate::github::api::{self, Repo};
use crate::github::models::{ApiBlob, ApiTree};
use crate::github::{Fetched, GitHubClient, GitHubError};

/// A branch's files (path → blob id) and our lock there.
#[derive(Debug, Clone, Default)]
pub struct TargetState {
    /// The tree's id (the base of a new tree).
    pub tree: String,
    pub files: BTreeMap<String, String>,
    pub lock: Option<Lock>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Create,
    Update,
    Unchanged,
    Drifted,
    Delete,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Unchanged => "unchanged",
            Change::Drifted => "drifted",
            Change::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FilePlan {
    pub path: String,
    pub template: String,
    pub change: Change,
    /// What we would write; `None` removes the file (a template that left the target).
    #[serde(skip)]
    pub content: Option<String>,
    /// The blob there now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Unified diff from what is there to what we would write (filled by [`with_diffs`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One template's move in this repository.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateMove {
    pub id: String,
    /// From the lock; `None` when not deployed yet.
    pub installed: Option<String>,
    /// `None` when the template leaves the repository.
    pub target: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepoPlan {
    pub files: Vec<FilePlan>,
    pub templates: Vec<TemplateMove>,
    /// The lock a deploy would write.
    #[serde(skip)]
    pub lock: Lock,
    /// The lock's templates differ from what is there (a version bump with unchanged files
    /// still needs a commit).
    pub lock_changed: bool,
}

impl RepoPlan {
    pub fn drifted(&self) -> Vec<&FilePlan> {
        self.files
            .iter()
            .filter(|f| f.change == Change::Drifted)
            .collect()
    }

    /// Anything to commit.
    pub fn has_changes(&self) -> bool {
        self.lock_changed || self.files.iter().any(|f| f.change != Change::Unchanged)
    }

    /// The tree entries of the deploy commit: every change (drifted ones only when forced)
    /// and the new lock, whose `previous_commit` is `parent`.
    pub fn tree_changes(&self, parent: &str, library: &str) -> Vec<(String, TreeChange)> {
        let mut out: Vec<(String, TreeChange)> = self
            .files
            .iter()
            .filter(|f| f.change != Change::Unchanged)
            .map(|f| {
                let change = match &f.content {
                    Some(c) => TreeChange::Content(c.clone()),
                    None => TreeChange::Delete,
                };
                (f.path.clone(), change)
            })
            .collect();
        let mut lock = self.lock.clone();
        lock.previous_commit = Some(parent.to_string());
        lock.library = Some(library.to_string());
        if lock.templates.is_empty() {
            out.push((LOCK_PATH.to_string(), TreeChange::Delete));
        } else {
            out.push((LOCK_PATH.to_string(), TreeChange::Content(lock.render())));
        }
        out
    }

    /// `id@version` of each template this deploy installs, for the commit message.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .templates
            .iter()
            .map(|t| match (&t.installed, &t.target) {
                (Some(a), Some(b)) if a != b => format!("{} {a} → {b}", t.id),
                (_, Some(b)) => format!("{} {b}", t.id),
                (_, None) => format!("{} removed", t.id),
            })
            .collect();
        parts.join(", ")
    }
}

/// Compares what `desired` renders to with what the branch holds. With `only`, just that
/// template moves: the others keep their files and lock entries as they are.
pub fn plan(
    state: &TargetState,
    desired: &[(Template, Vec<Rendered>)],
    only: Option<&str>,
) -> RepoPlan {
    let empty = Lock {
        version: 1,
        ..Lock::default()
    };
    let current_lock = state.lock.as_ref().unwrap_or(&empty);
    let mut files = Vec::new();
    let mut new_lock = Lock {
        version: 1,
        library: current_lock.library.clone(),
        previous_commit: current_lock.previous_commit.clone(),
        templates: BTreeMap::new(),
    };
    let mut templates = Vec::new();
    if let Some(only) = only {
        for (id, locked) in &current_lock.templates {
            if id != only {
                new_lock.templates.insert(id.clone(), locked.clone());
            }
        }
    }
    for (t, rendered) in desired
        .iter()
        .filter(|(t, _)| only.is_none_or(|o| o == t.id))
    {
        let mut locked = LockedTemplate {
            version: t.version.clone(),
            files: BTreeMap::new(),
        };
        for r in rendered {
            let want = blob_sha(r.content.as_bytes());
            let current = state.files.get(&r.path).cloned();
            let ours = current_lock
                .owner_of(&r.path)
                .map(|(_, sha)| sha.to_string());
            let change = match &current {
                None => Change::Create,
                Some(c) if *c == want => Change::Unchanged,
                Some(c) if ours.as_deref() == Some(c.as_str()) => Change::Update,
                Some(_) => Change::Drifted,
            };
            files.push(FilePlan {
                path: r.path.clone(),
                template: t.id.clone(),
                change,
                content: Some(r.content.clone()),
                current,
                diff: None,
            });
            locked.files.insert(r.path.clone(), want);
        }
        templates.push(TemplateMove {
            id: t.id.clone(),
            installed: current_lock
                .templates
                .get(&t.id)
                .map(|l| l.version.to_string()),
            target: Some(t.version.to_string()),
        });
        new_lock.templates.insert(t.id.clone(), locked);
    }
    // Templates that left the target: remove what we wrote, unless someone edited it.
    for (id, locked) in &current_lock.templates {
        if new_lock.templates.contains_key(id) {
            continue;
        }
        templates.push(TemplateMove {
            id: id.clone(),
            installed: Some(locked.version.to_string()),
            target: None,
        });
        for (path, sha) in &locked.files {
            if files.iter().any(|f| &f.path == path) {
                continue; // another template writes it now
            }
            let Some(current) = state.files.get(path) else {
                continue;
            };
            files.push(FilePlan {
                path: path.clone(),
                template: id.clone(),
                change: if current == sha {
                    Change::Delete
                } else {
                    Change::Drifted
                },
                content: None,
                current: Some(current.clone()),
                diff: None,
            });
        }
    }
    let lock_changed = new_lock.templates != current_lock.templates;
    RepoPlan {
        files,
        templates,
        lock: new_lock,
        lock_changed,
    }
}

/// Reads a branch (or a commit) of a repository: its tree and our lock.
pub async fn read_target(
    gh: &GitHubClient,
    repo: Repo<'_>,
    rev: &str,
) -> Result<TargetState, GitHubError> {
    let url = gh.url(&api::git::tree(repo, rev));
    let tree: ApiTree = gh.get_json(&url).await?;
    target_from_tree(gh, repo, &url, tree).await
}

/// Reads a branch only when its tree changed since `etag` (a 304 costs no rate limit).
/// `Ok(None)`: unchanged.
pub async fn read_target_if_changed(
    gh: &GitHubClient,
    repo: Repo<'_>,
    rev: &str,
    etag: Option<&str>,
) -> Result<Option<(TargetState, Option<String>)>, GitHubError> {
    let url = gh.url(&api::git::tree(repo, rev));
    match gh.get::<ApiTree>(&url, etag).await? {
        Fetched::NotModified => Ok(None),
        Fetched::Modified { value, etag, .. } => {
            let state = target_from_tree(gh, repo, &url, value).await?;
            Ok(Some((state, etag)))
        }
    }
}

/// The files of a tree listing, and our lock among them (one blob read).
async fn target_from_tree(
    gh: &GitHubClient,
    repo: Repo<'_>,
    url: &str,
    tree: ApiTree,
) -> Result<TargetState, GitHubError> {
    if tree.truncated {
        return Err(GitHubError::Malformed {
            url: url.to_string(),
            message: "GitHub truncated the tree listing (over 100,000 files); this repository is too large to plan through the API".into(),
        });
    }
    let files: BTreeMap<String, String> = tree
        .tree
        .into_iter()
        .filter(|e| e.kind == "blob")
        .map(|e| (e.path, e.sha))
        .collect();
    let lock = match files.get(LOCK_PATH) {
        Some(sha) => {
            let text = read_blob(gh, repo, sha).await?;
            Some(
                Lock::parse(&text).map_err(|message| GitHubError::Malformed {
                    url: gh.url(&api::git::blob(repo, sha)),
                    message,
                })?,
            )
        }
        None => None,
    };
    Ok(TargetState {
        tree: tree.sha,
        files,
        lock,
    })
}

/// A blob's text.
pub async fn read_blob(
    gh: &GitHubClient,
    repo: Repo<'_>,
    sha: &str,
) -> Result<String, GitHubError> {
    let url = gh.url(&api::git::blob(repo, sha));
    let blob: ApiBlob = gh.get_json(&url).await?;
    let bytes = if blob.encoding == "base64" {
        let compact: String = blob.content.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| GitHubError::Malformed {
                url: url.clone(),
                message: format!("blob is not base64: {e}"),
            })?
    } else {
        blob.content.into_bytes()
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Fills the diff of every changed file that exists (one blob read each).
pub async fn with_diffs(
    gh: &GitHubClient,
    repo: Repo<'_>,
    plan: &mut RepoPlan,
) -> Result<(), GitHubError> {
    for f in &mut plan.files {
        if f.change == Change::Unchanged {
            continue;
        }
        let old = match &f.current {
            Some(sha) => read_blob(gh, repo, sha).await?,
            None => String::new(),
        };
        let new = f.content.clone().unwrap_or_default();
        f.diff = Some(unified_diff(
            &f.path,
            &old,
            &new,
            f.current.is_none(),
            f.content.is_none(),
        ));
    }
    Ok(())
}

fn unified_diff(path: &str, old: &str, new: &str, created: bool, deleted: bool) -> String {
    let a = if created {
        "/dev/null".to_string()
    } else {
        format!("a/{path}")
    };
    let b = if deleted {
        "/dev/null".to_string()
    } else {
        format!("b/{path}")
    };
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::library::Library;
    use crate::deploy::render::render;

    fn desired(id: &str) -> Vec<(Template, Vec<Rendered>)> {
        let lib = Library::bundled();
        let t = lib.get(id).unwrap().clone();
        let files = render(&lib, &t, &serde_json::Map::new()).unwrap();
        vec![(t, files)]
    }

    /// The state a deploy of `plan` leaves behind.
    fn after(state: &TargetState, plan: &RepoPlan) -> TargetState {
        let mut files = state.files.clone();
        for (path, change) in plan.tree_changes("parent", "lib") {
            match change {
                TreeChange::Content(c) => {
                    files.insert(path, blob_sha(c.as_bytes()));
                }
                TreeChange::Blob(sha) => {
                    files.insert(path, sha);
                }
                TreeChange::Delete => {
                    files.remove(&path);
                }
            }
        }
        let mut lock = plan.lock.clone();
        lock.previous_commit = Some("parent".into());
        TargetState {
            tree: "t2".into(),
            files,
            lock: Some(lock),
        }
    }

    #[test]
    fn create_then_unchanged_then_drift_then_delete() {
        let want = desired("security-scan");
        let empty = TargetState::default();
        let first = plan(&empty, &want, None);
        assert!(first.has_changes());
        assert!(first.files.iter().all(|f| f.change == Change::Create));

        let deployed = after(&empty, &first);
        let again = plan(&deployed, &want, None);
        assert!(!again.has_changes(), "{again:?}");

        let mut edited = deployed.clone();
        let path = ".github/workflows/security-scan.yml";
        edited
            .files
            .insert(path.into(), blob_sha(b"edited by hand"));
        let drift = plan(&edited, &want, None);
        assert_eq!(drift.drifted().len(), 1);
        assert_eq!(drift.drifted()[0].path, path);

        let gone = plan(&deployed, &[], None);
        assert!(gone.files.iter().all(|f| f.change == Change::Delete));
        assert!(gone.has_changes());
        let removed = after(&deployed, &gone);
        assert!(!removed.files.contains_key(path));
        assert!(!removed.files.contains_key(LOCK_PATH));
    }

    #[test]
    fn a_file_we_never_wrote_is_drift_not_an_update() {
        let want = desired("security-scan");
        let mut state = TargetState::default();
        state.files.insert(
            ".github/workflows/security-scan.yml".into(),
            blob_sha(b"someone else's workflow"),
        );
        assert_eq!(plan(&state, &want, None).drifted().len(), 1);
    }

    #[test]
    fn diffs_are_unified() {
        let d = unified_diff("x.yml", "a\nb\n", "a\nc\n", false, false);
        assert!(
            d.contains("--- a/x.yml") && d.contains("+++ b/x.yml"),
            "{d}"
        );
        assert!(d.contains("-b\n+c\n"), "{d}");
    }
}
