//! The seeded suite of `gitops-bridge scan`: every scan code is planted at least once and
//! found at its file and line; the clean twin (each case in its safe or placeholder form)
//! has no finding at all; no output format ever contains a planted value.

mod scan_common;

use std::collections::BTreeSet;
use std::process::Command;

use gitops_bridge::scan::{ScanOptions, scan};
use gitops_bridge::validate::{Code, Report};
use scan_common::{Secrets, clean, markers, planted, planted_git};

fn dump(r: &Report) -> String {
    r.diagnostics
        .iter()
        .map(|d| format!("{}:{}: {} {}", d.file, d.line, d.code, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

fn has(r: &Report, code: &str, file: &str, line: u32) -> bool {
    r.diagnostics
        .iter()
        .any(|d| d.code.name() == code && d.file == file && d.line == line)
}

#[test]
fn every_planted_case_is_found_at_its_line() {
    let s = Secrets::new();
    let dir = tempfile::tempdir().expect("temp dir");
    planted(dir.path(), &s);
    let r = scan(&ScanOptions::new(dir.path())).expect("scan runs");
    let mut missing = Vec::new();
    for (file, line, code) in markers(dir.path()) {
        if !has(&r, &code, &file, line) {
            missing.push(format!("{code} at {file}:{line}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not found:\n{}\n\nreport:\n{}",
        missing.join("\n"),
        dump(&r)
    );
}

#[test]
fn git_cases_tracked_secrets_and_history() {
    let s = Secrets::new();
    let dir = tempfile::tempdir().expect("temp dir");
    planted_git(dir.path(), &s);
    let mut opts = ScanOptions::new(dir.path());
    opts.history = true;
    let r = scan(&opts).expect("scan runs");
    let mut missing = Vec::new();
    for (file, line, code) in markers(dir.path()) {
        if !has(&r, &code, &file, line) {
            missing.push(format!("{code} at {file}:{line}"));
        }
    }
    for (code, file, line) in [
        ("secret-file-tracked", "secrets.yaml", 0),
        ("secret-file-unignored", "sub/secrets.yaml", 0),
        ("secret-in-history", "old.yaml", 1),
    ] {
        if !has(&r, code, file, line) {
            missing.push(format!("{code} at {file}:{line}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not found:\n{}\n\nreport:\n{}",
        missing.join("\n"),
        dump(&r)
    );
    let history = r
        .with_code(Code::SecretInHistory)
        .next()
        .expect("history finding");
    assert!(
        history.message.contains("added in commit "),
        "{}",
        history.message
    );
    // Without --history the removed token is not reported.
    let r = scan(&ScanOptions::new(dir.path())).expect("scan runs");
    assert_eq!(
        r.with_code(Code::SecretInHistory).count(),
        0,
        "{}",
        dump(&r)
    );
}

#[test]
fn every_scan_code_is_planted() {
    let s = Secrets::new();
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    planted(a.path(), &s);
    planted_git(b.path(), &s);
    let mut planted: BTreeSet<String> = markers(a.path()).into_iter().map(|m| m.2).collect();
    planted.extend(markers(b.path()).into_iter().map(|m| m.2));
    planted.extend(
        [
            "secret-file-tracked",
            "secret-file-unignored",
            "secret-in-history",
        ]
        .map(String::from),
    );
    // planted against the stand-in OSV server in tests/scan_osv.rs
    planted.extend(["dependency-vulnerable", "dependency-unchecked"].map(String::from));
    let unplanted: Vec<_> = Code::SCAN
        .iter()
        .filter(|c| !planted.contains(c.name()))
        .map(|c| c.name())
        .collect();
    assert!(
        unplanted.is_empty(),
        "codes without a planted case: {unplanted:?}"
    );
}

#[test]
fn the_clean_twin_has_no_finding() {
    let dir = tempfile::tempdir().expect("temp dir");
    clean(dir.path());
    let mut opts = ScanOptions::new(dir.path());
    opts.history = true;
    let r = scan(&opts).expect("scan runs");
    assert!(r.diagnostics.is_empty(), "false positives:\n{}", dump(&r));
}

#[test]
fn no_output_format_contains_a_planted_value() {
    let s = Secrets::new();
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    planted(a.path(), &s);
    planted_git(b.path(), &s);
    // `b` is a git repository: its run includes the history.
    for (dir, history) in [(a.path(), false), (b.path(), true)] {
        for format in ["text", "json", "github", "sarif"] {
            let out = Command::new(env!("CARGO_BIN_EXE_gitops-bridge"))
                .args([
                    "scan",
                    "--offline",
                    "--min-severity",
                    "info",
                    "--format",
                    format,
                ])
                .args(history.then_some("--history"))
                .arg(dir)
                .output()
                .expect("binary runs");
            assert_eq!(out.status.code(), Some(1), "{format}: findings exit 1");
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                text.contains("secret-"),
                "{format}: report has secret findings"
            );
            for (name, value) in &s.values {
                // the part after a public prefix is what must never appear
                let tail = &value[value.len() / 3..];
                assert!(
                    !text.contains(tail),
                    "{format} output contains planted {name}"
                );
            }
        }
    }
}

#[test]
fn every_scan_code_is_documented_with_its_severity() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scan.md"))
        .expect("docs/scan.md");
    for c in Code::SCAN {
        assert!(
            doc.contains(&format!("\n### {}\n", c.name())),
            "docs/scan.md has no section `### {}`",
            c.name()
        );
        let row = format!("| [`{0}`](#{0}) | {1} |", c.name(), c.severity());
        assert!(
            doc.contains(&row),
            "docs/scan.md table row for {} missing or with another severity",
            c.name()
        );
    }
}
