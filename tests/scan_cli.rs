//! `gitops-bridge scan` from the command line: exit codes, `--fail-on`, the baseline and
//! inline ignores, `--history` outside a repository.

mod scan_common;

use std::path::Path;
use std::process::{Command, Output};

use scan_common::{Secrets, write};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gitops-bridge"))
        .args(["scan", "--no-osv"])
        .args(args)
        .arg(dir)
        .output()
        .expect("binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn exit_codes_follow_fail_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "configuration.yaml",
        "http:\n  cors_allowed_origins:\n    - \"*\"\n",
    );
    // a warning only: clean at --fail-on error, failing at --fail-on warning
    assert_eq!(run(dir.path(), &[]).status.code(), Some(0));
    assert_eq!(
        run(dir.path(), &["--fail-on", "warning"]).status.code(),
        Some(1)
    );
    write(
        dir.path(),
        "configuration.yaml",
        "homeassistant:\n  allowlist_external_dirs: [/]\n",
    );
    assert_eq!(run(dir.path(), &[]).status.code(), Some(1));
    let missing = dir.path().join("nope");
    assert_eq!(run(&missing, &[]).status.code(), Some(2));
}

#[test]
fn history_outside_a_repository_cannot_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "configuration.yaml", "{}\n");
    let o = run(dir.path(), &["--history"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("git history"));
}

#[test]
fn baseline_accepts_known_findings_and_reports_new_ones() {
    let s = Secrets::new();
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "configuration.yaml",
        &s.fill("rest_command:\n  a:\n    headers:\n      authorization: \"token {ghp}\"\n"),
    );
    let baseline = dir.path().join("baseline.txt");
    let o = run(
        dir.path(),
        &["--write-baseline", baseline.to_str().expect("utf-8 path")],
    );
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(&baseline).expect("baseline written");
    assert!(text.contains("secret-github-token"), "{text}");
    assert!(
        !text.contains(&s.get("ghp")[4..]),
        "baseline holds no secret"
    );
    let b = baseline.to_str().expect("utf-8 path");
    let o = run(dir.path(), &["--baseline", b]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // a new secret is still reported; moving the old one to another line changes nothing
    write(dir.path(), "configuration.yaml", &s.fill("rest_command:\n  b:\n    url: x\n  a:\n    headers:\n      authorization: \"token {ghp}\"\n      x-other: \"token {history}\"\n"));
    let o = run(dir.path(), &["--baseline", b]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o).matches("secret-github-token").count(),
        1,
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("configuration.yaml:7:"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn inline_ignore_comment_silences_only_its_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "configuration.yaml",
        "homeassistant:\n  allowlist_external_dirs:\n    - /  # gitops-bridge: ignore[ha-allowlist-root]\nhttp:\n  # gitops-bridge: ignore[http-cors-wildcard]\n  cors_allowed_origins: [\"*\"]\n  ip_ban_enabled: false  # gitops-bridge: ignore[http-cors-wildcard]\n",
    );
    let o = run(dir.path(), &["--min-severity", "info"]);
    let out = stdout(&o);
    assert!(!out.contains("ha-allowlist-root"), "{out}");
    assert!(!out.contains("http-cors-wildcard"), "{out}");
    assert!(
        out.contains("http-ip-ban-disabled"),
        "another code is not silenced: {out}"
    );
}

#[test]
fn sarif_links_scan_codes_to_scan_docs() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "configuration.yaml",
        "homeassistant:\n  allowlist_external_dirs: [/]\n",
    );
    let o = run(dir.path(), &["--format", "sarif"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("SARIF is JSON");
    let result = &v["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "ha-allowlist-root");
    let idx = result["ruleIndex"].as_u64().expect("rule index") as usize;
    let rule = &v["runs"][0]["tool"]["driver"]["rules"][idx];
    assert_eq!(rule["id"], "ha-allowlist-root");
    assert!(
        rule["helpUri"]
            .as_str()
            .is_some_and(|u| u.ends_with("docs/scan.md#ha-allowlist-root"))
    );
}

/// `check --security`: the check's findings and the scan's in one report, one exit code.
#[test]
fn check_with_security_reports_both_in_one_pass() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "configuration.yaml",
        "http:\n  cors_allowed_origins:\n    - \"*\"\nautomation:\n  - trigger:\n      - trigger: state\n        entity_id: sun.sun\n    action:\n      - action: light.turn_on\n        target:\n          entity_id: light.porch\n        data:\n          brightness: \"{{ states('sensor.x') | int( }}\"\n",
    );
    let o = Command::new(env!("CARGO_BIN_EXE_gitops-bridge"))
        .args(["check", "--security", "--format", "json"])
        .arg(dir.path())
        .output()
        .expect("binary runs");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON report");
    let codes: Vec<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"http-cors-wildcard"), "{codes:?}");
    assert!(codes.iter().any(|c| c.starts_with("template")), "{codes:?}");
    // The broken template is an error of the check: exit 1 for the whole pass.
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let errors = doc["summary"]["errors"].as_u64().unwrap() as usize;
    let warnings = doc["summary"]["warnings"].as_u64().unwrap() as usize;
    let info = doc["summary"]["info"].as_u64().unwrap() as usize;
    assert_eq!(errors + warnings + info, codes.len());
}
