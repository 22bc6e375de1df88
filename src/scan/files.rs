//! The files a scan reads: each repository text file once, shared by every rule.

use std::path::Path;
use std::process::Command;

/// One text file of the repository, read once and shared by every rule.
pub struct TextFile {
    /// Path relative to the scan root, `/`-separated.
    pub rel: String,
    pub text: String,
}

impl TextFile {
    /// The file's lines, 1-based line numbers.
    pub fn lines(&self) -> impl Iterator<Item = (u32, &str)> {
        self.text
            .lines()
            .enumerate()
            .map(|(i, l)| (u32::try_from(i + 1).unwrap_or(u32::MAX), l))
    }
}

/// Files larger than this are data, not configuration (the corpus export prunes at 1 MiB too).
const MAX_FILE: u64 = 1024 * 1024;

/// Every UTF-8 text file of `root` that would be published, and whether `root` is in a git
/// work tree (so git-only rules skip spawning git where it has nothing to say). In a work
/// tree: what git tracks or would add (`git ls-files --cached --others --exclude-standard`,
/// so `.gitignore` is honoured); elsewhere (HA's `/config` is rarely a repository), every
/// file outside `.git`, build/vendor folders and HA's own state folders.
pub fn listing(root: &Path) -> (Vec<TextFile>, bool) {
    match git_visible(root) {
        Some(paths) => (from_git(root, paths), true),
        None => (walked(root), false),
    }
}

/// Paths relative to `root` that git tracks or would add; `None` outside a work tree or
/// without the `git` CLI.
fn git_visible(root: &Path) -> Option<Vec<String>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            ".",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let mut paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    paths.sort();
    paths.dedup();
    Some(paths)
}

fn from_git(root: &Path, paths: Vec<String>) -> Vec<TextFile> {
    paths
        .into_iter()
        .filter_map(|rel| {
            // Symlinks and submodules are git entries but not files of this repository.
            let path = root.join(&rel);
            let meta = std::fs::symlink_metadata(&path).ok()?;
            if !meta.is_file() || meta.len() > MAX_FILE {
                return None;
            }
            read_text(&path).map(|text| TextFile { rel, text })
        })
        .collect()
}

/// UTF-8 text without NUL bytes, or `None`.
fn read_text(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

fn walked(root: &Path) -> Vec<TextFile> {
    let mut out = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = dirs.pop() {
        if depth > 32 {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            let sub = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if ft.is_dir() {
                // HA's own state lives beside the configuration (`.storage/` holds every
                // integration's credentials by design); it is not configuration and no leak.
                if !matches!(
                    name.as_str(),
                    ".git"
                        | "node_modules"
                        | "target"
                        | "__pycache__"
                        | ".storage"
                        | ".cloud"
                        | "deps"
                        | "tts"
                        | "backups"
                ) {
                    dirs.push((e.path(), sub, depth + 1));
                }
                continue;
            }
            if !ft.is_file() || e.metadata().map(|m| m.len() > MAX_FILE).unwrap_or(true) {
                continue;
            }
            if let Some(text) = read_text(&e.path()) {
                out.push(TextFile { rel: sub, text });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn a_repository_is_read_as_git_sees_it_and_a_folder_whole() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("configuration.yaml"), "homeassistant:\n").unwrap();
        std::fs::write(d.join(".gitignore"), "local.yaml\nbuild/\n").unwrap();
        std::fs::write(d.join("local.yaml"), "ignored: yes\n").unwrap();
        std::fs::create_dir(d.join("build")).unwrap();
        std::fs::write(d.join("build/out.yaml"), "ignored: yes\n").unwrap();
        std::fs::create_dir(d.join("packages")).unwrap();
        std::fs::write(d.join("packages/new.yaml"), "untracked: yes\n").unwrap();
        let names = |files: Vec<TextFile>| files.into_iter().map(|f| f.rel).collect::<Vec<_>>();

        // Not a repository: everything.
        assert_eq!(
            names(listing(d).0),
            [
                ".gitignore",
                "build/out.yaml",
                "configuration.yaml",
                "local.yaml",
                "packages/new.yaml"
            ]
        );
        git(d, &["init", "-q"]);
        git(d, &["add", "configuration.yaml", ".gitignore"]);
        // A repository: tracked and untracked-but-not-ignored files; ignored ones are not
        // published, so nothing in them leaks.
        assert_eq!(
            names(listing(d).0),
            [".gitignore", "configuration.yaml", "packages/new.yaml"]
        );
        // A subfolder of a repository: paths stay relative to the scan root.
        assert_eq!(names(listing(&d.join("packages")).0), ["new.yaml"]);
    }
}
