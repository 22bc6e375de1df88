//! `.github/gitops-bridge.lock`: what we deployed to a repository, kept in the repository
//! itself so drift and rollback are computable from GitHub alone (no local state to lose).
//!
//! Each file is recorded by its git blob id: a tree listing then tells "unchanged since our
//! deploy" from "edited by hand" without fetching any content. `previous_commit` is the
//! commit our last deploy was made on top of, the state a rollback returns to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// Where the lock lives in a target repository.
pub const LOCK_PATH: &str = ".github/gitops-bridge.lock";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    /// The lock's own format.
    pub version: u32,
    /// The library's digest at the last deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// The commit the last deploy was made on (its parent): what `rollback` restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_commit: Option<String>,
    pub templates: BTreeMap<String, LockedTemplate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedTemplate {
    pub version: semver::Version,
    /// Path → git blob id of the content we wrote.
    pub files: BTreeMap<String, String>,
}

impl Lock {
    pub fn parse(text: &str) -> Result<Lock, String> {
        let lock: Lock = serde_json::from_str(text).map_err(|e| {
            format!("{LOCK_PATH} is not a gitops-bridge lock ({e}); fix or delete it")
        })?;
        if lock.version != 1 {
            return Err(format!(
                "{LOCK_PATH} has version {}, which this gitops-bridge does not know (1)",
                lock.version
            ));
        }
        Ok(lock)
    }

    /// The file as committed: pretty JSON with a final newline, keys in a stable order, so
    /// an unchanged deploy writes the same bytes.
    pub fn render(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The template that owns `path`, and the blob id we wrote there.
    pub fn owner_of(&self, path: &str) -> Option<(&str, &str)> {
        self.templates
            .iter()
            .find_map(|(id, t)| t.files.get(path).map(|sha| (id.as_str(), sha.as_str())))
    }
}

/// Git's id of a blob with these bytes (`git hash-object`).
pub fn blob_sha(content: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn a_lock_survives_its_own_rendering_and_refuses_strangers() {
        let mut lock = Lock {
            version: 1,
            ..Lock::default()
        };
        lock.templates.insert(
            "a".into(),
            LockedTemplate {
                version: semver::Version::new(1, 2, 0),
                files: [("x.yml".to_string(), blob_sha(b"x"))].into(),
            },
        );
        assert_eq!(Lock::parse(&lock.render()).unwrap(), lock);
        assert!(
            Lock::parse("name: x")
                .unwrap_err()
                .contains("not a gitops-bridge lock")
        );
        assert!(
            Lock::parse(r#"{"version": 9, "templates": {}}"#)
                .unwrap_err()
                .contains("version 9")
        );
    }
}
