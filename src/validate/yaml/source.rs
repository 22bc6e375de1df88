//! The files a run has read, and positions inside them.
//!
//! Every YAML node and every finding points into this table by [`FileId`], so nodes stay
//! small and a position can be turned back into `file:line:column` (and into the text of
//! the line, which template positions need) at the end.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A place in a file: 1-based line, 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

/// One file's text and where its lines start.
#[derive(Debug)]
pub struct SourceFile {
    /// Path relative to the configuration root, `/`-separated (may start with `../`).
    pub rel: String,
    /// Path as opened.
    pub path: PathBuf,
    pub text: String,
    /// Byte offset of the start of each line (line 1 at index 0).
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// The text of a 1-based line without its line break ("" when out of range).
    pub fn line_text(&self, line: u32) -> &str {
        let idx = (line as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(idx) else {
            return "";
        };
        let end = self
            .line_starts
            .get(idx + 1)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Text from a 1-based line and 1-based character column to the end of the file.
    pub fn text_from(&self, line: u32, col: u32) -> &str {
        let idx = (line as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(idx) else {
            return "";
        };
        let rest = &self.text[start..];
        let skip = (col as usize).saturating_sub(1);
        match rest.char_indices().nth(skip) {
            Some((off, _)) => &rest[off..],
            None => "",
        }
    }
}

/// All files read in one run.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
    by_path: HashMap<PathBuf, FileId>,
    root: PathBuf,
}

impl Sources {
    pub fn new(root: &Path) -> Self {
        Sources {
            files: Vec::new(),
            by_path: HashMap::new(),
            root: root.to_path_buf(),
        }
    }

    /// Registers a file (or returns the id it already has).
    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        if let Some(&id) = self.by_path.get(path) {
            return id;
        }
        let id = FileId(self.files.len() as u32);
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        if line_starts.len() > 1 && *line_starts.last().unwrap_or(&0) == text.len() {
            line_starts.pop();
        }
        self.files.push(SourceFile {
            rel: self.relative(path),
            path: path.to_path_buf(),
            text,
            line_starts,
        });
        self.by_path.insert(path.to_path_buf(), id);
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn lookup(&self, path: &Path) -> Option<FileId> {
        self.by_path.get(path).copied()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// Path relative to the root as shown in reports.
    pub fn relative(&self, path: &Path) -> String {
        relative_to(&self.root, path)
    }
}

/// `path` relative to `root`, `/`-separated; lexical (no symlink resolution).
pub fn relative_to(root: &Path, path: &Path) -> String {
    use std::path::Component;
    let norm = |p: &Path| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    if out.last().is_some_and(|l| l != "..") {
                        out.pop();
                    } else {
                        out.push("..".into());
                    }
                }
                Component::RootDir => out.push(String::new()),
                other => out.push(other.as_os_str().to_string_lossy().into_owned()),
            }
        }
        out
    };
    let r = norm(root);
    let p = norm(path);
    let common = r.iter().zip(p.iter()).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = Vec::new();
    for _ in common..r.len() {
        parts.push("..".into());
    }
    parts.extend(p[common..].iter().cloned());
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_to(Path::new("/a/b"), Path::new("/a/b/c/d.yaml")),
            "c/d.yaml"
        );
        assert_eq!(
            relative_to(Path::new("./cfg"), Path::new("cfg/x.yaml")),
            "x.yaml"
        );
        assert_eq!(
            relative_to(Path::new("/a/b"), Path::new("/a/c.yaml")),
            "../c.yaml"
        );
        assert_eq!(
            relative_to(Path::new("/a/b"), Path::new("/a/b/./x/../y.yaml")),
            "y.yaml"
        );
    }

    #[test]
    fn lines_and_columns() {
        let mut s = Sources::new(Path::new("/r"));
        let id = s.add(Path::new("/r/f.yaml"), "a: é1\nb: 2\n".into());
        let f = s.get(id);
        assert_eq!(f.line_count(), 2);
        assert_eq!(f.line_text(1), "a: é1");
        assert_eq!(f.text_from(1, 5), "1\nb: 2\n");
        assert_eq!(f.line_text(9), "");
    }
}
