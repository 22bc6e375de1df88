//! Helpers for the `check_*` tests: small configuration directories written to a temp
//! dir, run through `validate::check`, and assertions on what a user would look at
//! (code, file, line).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use gitops_bridge::validate::{CheckOptions, Code, Diagnostic, Report, check};

/// A configuration directory on disk.
pub struct Cfg {
    pub dir: tempfile::TempDir,
}

impl Cfg {
    /// Writes `files` (path relative to the root, content) into a fresh directory.
    pub fn new(files: &[(&str, &str)]) -> Cfg {
        let cfg = Cfg {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for (p, c) in files {
            cfg.write(p, c);
        }
        cfg
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        self.write_bytes(rel, content.as_bytes());
    }

    pub fn write_bytes(&self, rel: &str, content: &[u8]) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, content).expect("write");
    }

    /// Runs the check with default options.
    pub fn check(&self) -> Report {
        self.check_with(|_| {})
    }

    /// Runs the check with adjusted options.
    pub fn check_with(&self, f: impl FnOnce(&mut CheckOptions)) -> Report {
        let mut opts = CheckOptions::new(self.root());
        f(&mut opts);
        check(&opts).expect("check runs")
    }
}

/// Findings with a code.
pub fn with_code(r: &Report, code: Code) -> Vec<&Diagnostic> {
    r.diagnostics.iter().filter(|d| d.code == code).collect()
}

/// All findings, one per line, for assertion messages.
pub fn dump(r: &Report) -> String {
    r.diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{} {} {} | {}",
                d.file,
                d.line,
                d.column,
                d.code,
                d.message,
                d.hint.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts a finding with `code` at `file:line` and returns it.
#[track_caller]
pub fn expect<'r>(r: &'r Report, code: Code, file: &str, line: u32) -> &'r Diagnostic {
    r.diagnostics
        .iter()
        .find(|d| d.code == code && d.file == file && d.line == line)
        .unwrap_or_else(|| panic!("expected {code} at {file}:{line}, got:\n{}", dump(r)))
}

/// Asserts a finding with `code` at `file:line:column`.
#[track_caller]
pub fn expect_at<'r>(
    r: &'r Report,
    code: Code,
    file: &str,
    line: u32,
    column: u32,
) -> &'r Diagnostic {
    r.diagnostics
        .iter()
        .find(|d| d.code == code && d.file == file && d.line == line && d.column == column)
        .unwrap_or_else(|| {
            panic!(
                "expected {code} at {file}:{line}:{column}, got:\n{}",
                dump(r)
            )
        })
}

/// Asserts no finding with `code`.
#[track_caller]
pub fn expect_none(r: &Report, code: Code) {
    let found = with_code(r, code);
    assert!(found.is_empty(), "expected no {code}, got:\n{}", dump(r));
}

/// Asserts no finding of warning or error severity.
#[track_caller]
pub fn expect_clean(r: &Report) {
    let bad: Vec<_> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity >= gitops_bridge::validate::Severity::Warning)
        .collect();
    assert!(
        bad.is_empty(),
        "expected no warnings or errors, got:\n{}",
        dump(r)
    );
}
