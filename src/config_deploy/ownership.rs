//! What a deployment may touch in Home Assistant's configuration folder: the files of the
//! commit, minus what HA, the user or other tools own there. A path this says no to is
//! never written, replaced or deleted, whatever the repository holds.

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// What is never git's in an HA configuration folder: HA's own state (`.storage/`, the
/// recorder's database, logs, the version marker), secrets, Nabu Casa's keys, installed
/// packages, backups and caches.
pub const NEVER_TOUCHED: &[&str] = &[
    ".storage/",
    ".cloud/",
    "secrets.yaml",
    "*.db",
    "*.db-shm",
    "*.db-wal",
    "home-assistant.log*",
    "*.log",
    ".HA_VERSION",
    ".ha_run.lock",
    ".uuid",
    "deps/",
    "tts/",
    "backups/",
    ".git/",
    "*.gitops-bridge-new",
];

/// The rules for one deployment.
pub struct Ownership {
    never: Gitignore,
    /// The commit's own `.gitignore` (files it force-added there are left alone too).
    ignored: Option<Gitignore>,
}

impl Ownership {
    /// The built-in list plus the user's `exclude` patterns. Errors name the bad pattern.
    pub fn built(exclude: &[String]) -> Result<Ownership, String> {
        let mut b = GitignoreBuilder::new("");
        for p in NEVER_TOUCHED
            .iter()
            .copied()
            .chain(exclude.iter().map(String::as_str))
        {
            b.add_line(None, p)
                .map_err(|e| format!("`{p}` is not a gitignore pattern: {e}"))?;
        }
        let never = b.build().map_err(|e| e.to_string())?;
        Ok(Ownership {
            never,
            ignored: None,
        })
    }

    /// Adds the repository's `.gitignore` (of the folder deployed).
    pub fn with_gitignore(mut self, text: &str) -> Ownership {
        let mut b = GitignoreBuilder::new("");
        for line in text.lines() {
            // A line git would not understand is one git ignores too.
            let _ = b.add_line(None, line);
        }
        self.ignored = b.build().ok();
        self
    }

    /// Whether the deployment may write or delete `path` (relative, `/`-separated).
    pub fn owns(&self, path: &str) -> bool {
        let matched = |g: &Gitignore| g.matched_path_or_any_parents(path, false).is_ignore();
        !matched(&self.never) && !self.ignored.as_ref().is_some_and(matched)
    }
}

/// Why a path from a commit cannot be a file under the configuration folder, if so: only
/// plain relative components, never `.git`, never a component that names a parent.
pub fn unsafe_path(path: &str) -> Option<&'static str> {
    if path.is_empty() || path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return Some("is not a relative path");
    }
    for c in path.split('/') {
        if c.is_empty() || c == "." || c == ".." {
            return Some("leaves the configuration folder");
        }
        if c.eq_ignore_ascii_case(".git") {
            return Some("is inside a .git folder");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_own_state_and_secrets_are_never_touched() {
        let o = Ownership::built(&["www/private/".into()]).unwrap();
        for p in [
            ".storage/core.config_entries",
            "secrets.yaml",
            "home-assistant_v2.db",
            "home-assistant_v2.db-wal",
            "home-assistant.log.1",
            ".cloud/x",
            "www/private/a.png",
        ] {
            assert!(!o.owns(p), "{p} must not be touched");
        }
        for p in [
            "configuration.yaml",
            "automations.yaml",
            "packages/a.yaml",
            "www/a.png",
        ] {
            assert!(o.owns(p), "{p} is the repository's");
        }
    }

    #[test]
    fn the_repositorys_gitignore_is_honoured() {
        let o = Ownership::built(&[])
            .unwrap()
            .with_gitignore("custom_components/\n*.bak\n!keep.bak\n");
        assert!(!o.owns("custom_components/hacs/manifest.json"));
        assert!(!o.owns("old.bak"));
        assert!(o.owns("keep.bak"));
        assert!(o.owns("scripts.yaml"));
    }

    #[test]
    fn paths_that_leave_the_folder_are_refused() {
        assert!(unsafe_path("../etc/passwd").is_some());
        assert!(unsafe_path("a/../../b").is_some());
        assert!(unsafe_path("/etc/passwd").is_some());
        assert!(unsafe_path("a/.GIT/config").is_some());
        assert!(unsafe_path("a//b").is_some());
        assert!(unsafe_path("packages/a.yaml").is_none());
    }

    #[test]
    fn a_bad_exclude_pattern_is_named() {
        let e = Ownership::built(&["a/{b,c".into()]).err().unwrap();
        assert!(e.contains("a/{b,c"), "{e}");
    }
}
