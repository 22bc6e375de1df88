//! A repository's git objects, as GitHub's Git Data API sees them: blobs, flat trees,
//! commits and branch refs. Blob ids are real git ids (SHA-1 of `blob <len>\0<bytes>`), so a
//! client can compare what it would write with what a tree lists without fetching content;
//! tree and commit ids are SHA-1s of a canonical form (unique, not git's byte layout).

use std::collections::{BTreeMap, HashMap};

use sha1::{Digest, Sha1};

/// Git's id of a blob with these bytes, as `git hash-object` prints it.
pub fn blob_sha(content: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
}

/// Every object of one repository, and its branches.
#[derive(Debug, Clone, Default)]
pub struct GitStore {
    pub blobs: HashMap<String, Vec<u8>>,
    /// Tree id → every file under it (path → blob id); sub-trees are implied by paths.
    pub trees: HashMap<String, BTreeMap<String, String>>,
    pub commits: HashMap<String, Commit>,
    /// Branch name → commit id.
    pub refs: BTreeMap<String, String>,
}

impl GitStore {
    pub fn put_blob(&mut self, content: &[u8]) -> String {
        let sha = blob_sha(content);
        self.blobs
            .entry(sha.clone())
            .or_insert_with(|| content.to_vec());
        sha
    }

    pub fn put_tree(&mut self, files: BTreeMap<String, String>) -> String {
        let mut h = Sha1::new();
        h.update(b"tree\0");
        for (path, sha) in &files {
            h.update(path.as_bytes());
            h.update(b"\0");
            h.update(sha.as_bytes());
            h.update(b"\n");
        }
        let sha = hex::encode(h.finalize());
        self.trees.entry(sha.clone()).or_insert(files);
        sha
    }

    pub fn put_commit(&mut self, commit: Commit) -> String {
        let mut h = Sha1::new();
        h.update(b"commit\0");
        h.update(commit.tree.as_bytes());
        for p in &commit.parents {
            h.update(p.as_bytes());
        }
        h.update(commit.message.as_bytes());
        // Two identical commits made at different times are different objects in git.
        h.update(self.commits.len().to_le_bytes());
        let sha = hex::encode(h.finalize());
        self.commits.insert(sha.clone(), commit);
        sha
    }

    /// Commits `files` (path → content; `None` deletes) on `branch`, on top of its head
    /// (or as the first commit). What a push from a laptop does. Returns the commit id.
    pub fn commit_files(
        &mut self,
        branch: &str,
        files: &[(&str, Option<&str>)],
        message: &str,
    ) -> String {
        let parent = self.refs.get(branch).cloned();
        let mut tree = parent
            .as_ref()
            .and_then(|c| self.commits.get(c))
            .and_then(|c| self.trees.get(&c.tree))
            .cloned()
            .unwrap_or_default();
        for (path, content) in files {
            match content {
                Some(c) => {
                    let sha = self.put_blob(c.as_bytes());
                    tree.insert((*path).to_string(), sha);
                }
                None => {
                    tree.remove(*path);
                }
            }
        }
        let tree = self.put_tree(tree);
        let sha = self.put_commit(Commit {
            tree,
            parents: parent.into_iter().collect(),
            message: message.to_string(),
        });
        self.refs.insert(branch.to_string(), sha.clone());
        sha
    }

    /// A commit id, or a branch name resolved to its head.
    pub fn resolve(&self, rev: &str) -> Option<String> {
        if self.commits.contains_key(rev) {
            return Some(rev.to_string());
        }
        self.refs.get(rev).cloned()
    }

    /// The files of a commit, a branch or a tree id.
    pub fn files_at(&self, rev: &str) -> Option<&BTreeMap<String, String>> {
        if let Some(t) = self.trees.get(rev) {
            return Some(t);
        }
        let commit = self.commits.get(&self.resolve(rev)?)?;
        self.trees.get(&commit.tree)
    }

    /// A file's bytes at a commit or branch head.
    pub fn file(&self, rev: &str, path: &str) -> Option<&[u8]> {
        let sha = self.files_at(rev)?.get(path)?;
        self.blobs.get(sha).map(Vec::as_slice)
    }

    /// Is `ancestor` reachable from `commit` through parents?
    pub fn is_ancestor(&self, ancestor: &str, commit: &str) -> bool {
        let mut todo = vec![commit.to_string()];
        let mut seen = std::collections::HashSet::new();
        while let Some(c) = todo.pop() {
            if c == ancestor {
                return true;
            }
            if seen.insert(c.clone())
                && let Some(obj) = self.commits.get(&c)
            {
                todo.extend(obj.parents.iter().cloned());
            }
        }
        false
    }

    /// Commits reachable from `head`, newest first (first-parent order).
    pub fn log(&self, head: &str) -> Vec<(String, &Commit)> {
        let mut out = Vec::new();
        let mut next = self.resolve(head);
        while let Some(sha) = next {
            let Some(c) = self.commits.get(&sha) else {
                break;
            };
            next = c.parents.first().cloned();
            out.push((sha, c));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(blob_sha(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn commits_build_on_the_branch_head() {
        let mut g = GitStore::default();
        let first = g.commit_files("main", &[("a.txt", Some("1")), ("b.txt", Some("2"))], "one");
        let second = g.commit_files("main", &[("a.txt", None)], "two");
        assert!(g.is_ancestor(&first, &second));
        assert_eq!(g.file("main", "a.txt"), None);
        assert_eq!(g.file(&first, "a.txt"), Some(&b"1"[..]));
        assert_eq!(g.log("main").len(), 2);
    }
}
