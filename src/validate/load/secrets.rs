//! `!secret` lookup with HA's rules, plus the modes CI needs.
//!
//! HA (`annotatedyaml/loader.py: Secrets.get`) looks for `secrets.yaml` in the directory of
//! the file that uses the secret, then in each parent, and stops above the configuration
//! root; the first file that has the name wins. Public repositories never commit
//! `secrets.yaml`, so a check in CI either gets a stand-in file (`--secrets FILE`, read as
//! if it were `<root>/secrets.yaml`) or runs with placeholders.
//!
//! Secret values never leave this module: the store only answers "is the name defined",
//! and the configuration tree gets a placeholder carrying the name.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// How `!secret` is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SecretsMode {
    /// HA's lookup. Where no `secrets.yaml` exists on the lookup path the name cannot be
    /// checked and is reported once as information; where one exists, a missing name is an
    /// error (HA would refuse the configuration).
    #[default]
    Auto,
    /// This file stands in for `<root>/secrets.yaml`; missing names are errors.
    File(PathBuf),
    /// Never fail on secrets: names found in no secrets file are reported once as
    /// information.
    Placeholder,
}

/// The outcome of one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Defined (in this secrets file).
    Found(PathBuf),
    /// A secrets file was on the lookup path and none had the name: HA fails.
    Missing { searched: Vec<PathBuf> },
    /// No secrets file on the lookup path (or placeholder mode): cannot tell.
    Unresolved,
}

/// The keys of one secrets file (never the values).
#[derive(Debug, Clone, Default)]
pub struct SecretKeys {
    pub keys: HashSet<String>,
}

/// Answers lookups; the loader feeds it the key sets of the secrets files it loaded.
#[derive(Debug)]
pub struct SecretStore {
    root: PathBuf,
    mode: SecretsMode,
    /// Key sets per secrets file path; `None` = no such file.
    files: HashMap<PathBuf, Option<SecretKeys>>,
}

impl SecretStore {
    pub fn new(root: &Path, mode: SecretsMode) -> Self {
        SecretStore {
            root: root.to_path_buf(),
            mode,
            files: HashMap::new(),
        }
    }

    pub fn mode(&self) -> &SecretsMode {
        &self.mode
    }

    /// The secrets files to consult for a file, nearest first: `(path HA would read, path we
    /// read)`. They differ for `<root>/secrets.yaml` under `--secrets FILE`.
    pub fn candidates(&self, requester: &Path) -> Vec<(PathBuf, PathBuf)> {
        let mut out = Vec::new();
        let mut dir = requester.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if !d.starts_with(&self.root) {
                break;
            }
            let ha_path = d.join("secrets.yaml");
            let read = match &self.mode {
                SecretsMode::File(f) if d == self.root => f.clone(),
                _ => ha_path.clone(),
            };
            out.push((ha_path, read));
            if d == self.root {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        out
    }

    /// Has this secrets file been registered (loaded or found absent)?
    pub fn knows(&self, read_path: &Path) -> bool {
        self.files.contains_key(read_path)
    }

    /// Records the keys of a secrets file (`None` when it does not exist or is unusable).
    pub fn register(&mut self, read_path: &Path, keys: Option<SecretKeys>) {
        self.files.insert(read_path.to_path_buf(), keys);
    }

    /// Looks a name up for a requesting file; every candidate must be registered first.
    pub fn lookup(&self, requester: &Path, name: &str) -> Lookup {
        let mut searched = Vec::new();
        for (_, read) in self.candidates(requester) {
            if let Some(Some(keys)) = self.files.get(&read) {
                if keys.keys.contains(name) {
                    return Lookup::Found(read);
                }
                searched.push(read);
            }
        }
        match (&self.mode, searched.is_empty()) {
            (SecretsMode::Placeholder, _) | (SecretsMode::Auto, true) => Lookup::Unresolved,
            (SecretsMode::File(f), true) => Lookup::Missing {
                searched: vec![f.clone()],
            },
            _ => Lookup::Missing { searched },
        }
    }
}

/// Files that look like stand-ins for `secrets.yaml` (`secrets.fake.yaml`,
/// `travis_secrets.yaml`, `secrets.yaml.sample`…) in the root: suggested in hints.
pub fn stand_in_candidates(root: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != "secrets.yaml" && n.to_lowercase().contains("secret"))
        .filter(|n| {
            let l = n.to_lowercase();
            l.ends_with(".yaml")
                || l.ends_with(".yml")
                || l.ends_with(".sample")
                || l.ends_with(".example")
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Option<SecretKeys> {
        Some(SecretKeys {
            keys: k.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn nearest_file_first_and_stop_at_root() {
        let root = Path::new("/cfg");
        let mut s = SecretStore::new(root, SecretsMode::Auto);
        let c = s.candidates(Path::new("/cfg/packages/x/a.yaml"));
        let ha: Vec<_> = c.iter().map(|(h, _)| h.clone()).collect();
        assert_eq!(
            ha,
            vec![
                PathBuf::from("/cfg/packages/x/secrets.yaml"),
                PathBuf::from("/cfg/packages/secrets.yaml"),
                PathBuf::from("/cfg/secrets.yaml")
            ]
        );
        s.register(Path::new("/cfg/packages/x/secrets.yaml"), None);
        s.register(Path::new("/cfg/packages/secrets.yaml"), keys(&["a"]));
        s.register(Path::new("/cfg/secrets.yaml"), keys(&["a", "b"]));
        assert_eq!(
            s.lookup(Path::new("/cfg/packages/x/a.yaml"), "a"),
            Lookup::Found(PathBuf::from("/cfg/packages/secrets.yaml"))
        );
        assert!(matches!(
            s.lookup(Path::new("/cfg/packages/x/a.yaml"), "b"),
            Lookup::Found(_)
        ));
        assert!(matches!(
            s.lookup(Path::new("/cfg/packages/x/a.yaml"), "c"),
            Lookup::Missing { .. }
        ));
        // a file outside the root has no secrets at all
        assert!(s.candidates(Path::new("/elsewhere/a.yaml")).is_empty());
    }

    #[test]
    fn modes() {
        let root = Path::new("/cfg");
        let s = SecretStore::new(root, SecretsMode::Auto);
        assert_eq!(s.lookup(Path::new("/cfg/a.yaml"), "x"), Lookup::Unresolved);
        let mut s = SecretStore::new(root, SecretsMode::File(PathBuf::from("/tmp/fake.yaml")));
        assert_eq!(
            s.candidates(Path::new("/cfg/a.yaml"))[0].1,
            PathBuf::from("/tmp/fake.yaml")
        );
        s.register(Path::new("/tmp/fake.yaml"), keys(&["x"]));
        assert!(matches!(
            s.lookup(Path::new("/cfg/a.yaml"), "x"),
            Lookup::Found(_)
        ));
        assert!(matches!(
            s.lookup(Path::new("/cfg/a.yaml"), "y"),
            Lookup::Missing { .. }
        ));
        let mut s = SecretStore::new(root, SecretsMode::Placeholder);
        s.register(Path::new("/cfg/secrets.yaml"), keys(&["x"]));
        assert_eq!(s.lookup(Path::new("/cfg/a.yaml"), "y"), Lookup::Unresolved);
    }
}
