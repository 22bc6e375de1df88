//! `--history`: secrets in earlier commits, through the `git` CLI.
//!
//! A secret removed in a later commit is still in every clone. `git log -p` over all refs
//! lists each added line once, in the commit that added it; the token rules of
//! [`super::secrets`] run on those lines. A finding whose secret is still in the working
//! tree is already reported there and is not repeated.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use super::{Finding, ScanError, TextFile, secrets};
use crate::validate::Code;

/// Runs `git log` under `root` and reports secrets added by any commit.
pub fn scan(root: &Path, _files: &[TextFile], out: &mut Vec<Finding>) -> Result<(), ScanError> {
    let err = |reason: String| ScanError::History {
        path: root.to_path_buf(),
        reason,
    };
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "log",
            "--all",
            "-p",
            "-U0",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--relative",
            "--format=commit %H",
        ])
        .output()
        .map_err(|e| err(format!("cannot run git: {e}")))?;
    if !output.status.success() {
        return Err(err(String::from_utf8_lossy(&output.stderr)
            .trim()
            .to_string()));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // Secrets the working tree still has, by (code, file, fingerprint): reported already.
    let current: HashSet<String> = out.iter().map(|f| f.fingerprint.clone()).collect();
    let mut seen = HashSet::new();
    let (mut commit, mut file, mut line) = (String::new(), String::new(), 0u32);
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some(c) = l.strip_prefix("commit ") {
            commit = c.chars().take(12).collect();
        } else if let Some(f) = l.strip_prefix("+++ ") {
            file = f.strip_prefix("b/").unwrap_or(f).to_string();
        } else if let Some(h) = l.strip_prefix("@@ ") {
            // `@@ -a,b +c,d @@`: the new side starts at line c.
            line = h
                .split_whitespace()
                .find_map(|p| p.strip_prefix('+'))
                .and_then(|p| p.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if let Some(added) = l.strip_prefix('+') {
            if file == "/dev/null" {
                continue;
            }
            let next = lines.get(i + 1).and_then(|n| n.strip_prefix('+'));
            let mut found = Vec::new();
            secrets::scan_line(&file, line, added, next, &mut found);
            for f in found {
                // Same secret, same file: same fingerprint as in the working tree.
                if current.contains(&f.fingerprint) || !seen.insert(f.fingerprint.clone()) {
                    continue;
                }
                let what = f
                    .diag
                    .message
                    .rsplit_once(" [")
                    .map(|(m, _)| m)
                    .unwrap_or(&f.diag.message)
                    .to_string();
                out.push(Finding::new(
                    Code::SecretInHistory,
                    &file,
                    line,
                    f.diag.column,
                    format!("{what} added in commit {commit} ({}; no longer in the working tree)", f.diag.code),
                    "removing it in a later commit does not unpublish it: revoke or change it; rewriting history (git filter-repo) only helps before anyone cloned",
                    &format!("{}:{}", f.fingerprint, commit),
                ));
            }
            line += 1;
        }
    }
    Ok(())
}
