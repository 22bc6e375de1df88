//! `gitops-bridge check` as CI runs it: exit codes 0/1/2, `--fail-on`, the four output
//! formats, `--secrets`, `--states FILE`, and the settings file's ignore list.

mod check_common;

use assert_cmd::Command;
use check_common::Cfg;
use serde_json::Value;

fn cmd() -> Command {
    Command::cargo_bin("gitops-bridge").expect("binary")
}

const WARN_ONLY: &str =
    "automation:\n  - triggers: []\n    actions:\n      - action: light.trun_on\n";
const WITH_ERROR: &str = "automation:\n  - triggers: []\n    conditions: \"{{ statest('sensor.x') }}\"\n    actions: []\n";

#[test]
fn exit_codes() {
    let clean = Cfg::new(&[("configuration.yaml", "homeassistant:\n  name: Home\n")]);
    cmd().arg("check").arg(clean.root()).assert().code(0);

    let warn = Cfg::new(&[("configuration.yaml", WARN_ONLY)]);
    cmd().arg("check").arg(warn.root()).assert().code(0);
    cmd()
        .args(["check", "--fail-on", "warning"])
        .arg(warn.root())
        .assert()
        .code(1);

    let err = Cfg::new(&[("configuration.yaml", WITH_ERROR)]);
    cmd().arg("check").arg(err.root()).assert().code(1);

    let empty = tempfile::tempdir().unwrap();
    cmd().arg("check").arg(empty.path()).assert().code(2);
    cmd()
        .args(["check", "--format", "nope"])
        .arg(clean.root())
        .assert()
        .code(2);
    cmd()
        .args(["check", "--secrets", "/nonexistent/fake.yaml"])
        .arg(clean.root())
        .assert()
        .code(2);
}

#[test]
fn text_format_has_location_code_hint_and_summary() {
    let c = Cfg::new(&[("configuration.yaml", WITH_ERROR)]);
    let out = cmd()
        .args(["check", "."])
        .current_dir(c.root())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(
            "configuration.yaml:3:21: error[template-unknown-function]: unknown function `statest`"
        ),
        "{text}"
    );
    assert!(text.contains("    hint: did you mean `states`?"), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("1 error, 0 warnings"),
        "{text}"
    );
}

#[test]
fn json_format_matches_design() {
    let c = Cfg::new(&[("configuration.yaml", WITH_ERROR)]);
    let out = cmd()
        .args(["check", "--format", "json"])
        .arg(c.root())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["tool"], "gitops-bridge");
    assert!(v["root"].is_string());
    for k in [
        "errors",
        "warnings",
        "info",
        "files",
        "templates",
        "elapsed_ms",
    ] {
        assert!(v["summary"][k].is_u64(), "summary.{k}");
    }
    let d = &v["diagnostics"][0];
    assert_eq!(d["code"], "template-unknown-function");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "configuration.yaml");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(3), Some(21))
    );
    assert!(d["message"].as_str().unwrap().contains("statest"));
    assert_eq!(d["hint"], "did you mean `states`?");
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 7, "{keys:?}");
}

#[test]
fn github_annotations_use_repository_paths() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join("config")).unwrap();
    std::fs::write(repo.path().join("config/configuration.yaml"), WITH_ERROR).unwrap();
    let out = cmd()
        .args(["check", "config", "--format", "github"])
        .current_dir(repo.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("::error file=config/configuration.yaml,line=3,col=21,title=template-unknown-function::unknown function `statest`"),
        "{text}"
    );
    assert!(text.contains("%0Ahint: did you mean `states`?"), "{text}");
}

#[test]
fn sarif_is_code_scanning_shaped() {
    let c = Cfg::new(&[("configuration.yaml", WITH_ERROR)]);
    let out = cmd()
        .args(["check", "--format", "sarif"])
        .arg(c.root())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "template-unknown-function"));
    let res = &run["results"][0];
    assert_eq!(res["ruleId"], "template-unknown-function");
    assert_eq!(res["level"], "error");
    let idx = res["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[idx]["id"], "template-unknown-function");
    assert_eq!(
        res["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
}

#[test]
fn output_file_and_min_severity() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "frontend:\n  themes: !include_dir_merge_named themes\n",
    )]);
    let out = c.path("report.json");
    cmd()
        .args([
            "check",
            "--format",
            "json",
            "--min-severity",
            "warning",
            "-o",
        ])
        .arg(&out)
        .arg(c.root())
        .assert()
        .code(0);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 0);
    assert_eq!(
        v["summary"]["info"], 1,
        "the summary still counts hidden findings"
    );
}

#[test]
fn secrets_and_states_files_and_settings_ignore_list() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "http:\n  api_password: !secret pw\nautomation:\n  - triggers: []\n    actions:\n      - action: light.turn_on\n        target:\n          entity_id: light.gone\n",
        ),
        ("fake_secrets.yaml", "other: x\n"),
        ("states.json", r#"[{"entity_id":"light.kitchen"}]"#),
    ]);
    cmd()
        .args(["check", "--secrets", "fake_secrets.yaml", "."])
        .current_dir(c.root())
        .assert()
        .code(1);
    let out = cmd()
        .args([
            "check",
            "--placeholder-secrets",
            "--states",
            "states.json",
            "--format",
            "json",
            ".",
        ])
        .current_dir(c.root())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"entity-missing"), "{codes:?}");
    c.write(
        ".gitops-bridge.yaml",
        "github:\n  token: x\ncheck:\n  ignore:\n    - light.g*\n",
    );
    let out = cmd()
        .args([
            "check",
            "--placeholder-secrets",
            "--states",
            "states.json",
            "--format",
            "json",
            ".",
        ])
        .current_dir(c.root())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert!(
        !v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "entity-missing")
    );
    c.write(".gitops-bridge.yaml", "check:\n  ignroe: []\n");
    cmd()
        .args(["check", "."])
        .current_dir(c.root())
        .assert()
        .code(2);
}

/// A daemon settings file: GitHub, MQTT, and the `validate:` section with all three ignore
/// lists (the daemon's `path`, `PATH` here, and `watch` too).
const DAEMON_SETTINGS: &str = "github:
  token: ghp_fakeGitHubToken0000000000000000000000
  repositories: [homelab-demo/ha-config]
mqtt:
  host: localhost
validate:
  path: PATH
  watch: true
  ignore:
    - light.g*
  ignore_codes:
    - secret-unresolved
  ignore_files:
    - scripts.yaml
";

/// The codes `check --format json` reports, and its exit code.
fn codes_and_exit(root: &std::path::Path, extra: &[&str]) -> (Vec<String>, i32) {
    let out = cmd()
        .args(["check", "--placeholder-secrets", "--states", "states.json"])
        .args(["--fail-on", "warning", "--format", "json"])
        .args(extra)
        .arg(".")
        .current_dir(root)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let codes = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} {}", d["code"].as_str().unwrap(), d["file"]))
        .collect();
    (codes, out.status.code().unwrap())
}

/// `check --settings` takes the daemon's own settings file as it is: the ignore lists of
/// its `validate:` section leave out in CI what they leave out in the add-on, and its other
/// sections are not in the way. The daemon accepts the same file, and refuses `check:`.
#[test]
fn settings_file_is_the_daemons_validate_section() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "homeassistant:\n  name: !secret home_name\nautomation:\n  - triggers: []\n    actions:\n      - action: light.turn_on\n        target:\n          entity_id: light.gone\nscript: !include scripts.yaml\n",
        ),
        (
            "scripts.yaml",
            "hall:\n  sequence:\n    - service: light.turn_on\n",
        ),
        ("states.json", r#"[{"entity_id":"light.kitchen"}]"#),
    ]);
    let elsewhere = tempfile::tempdir().unwrap();
    let daemon_file = elsewhere.path().join("gitops-bridge.yaml");
    let daemon_settings = DAEMON_SETTINGS.replace("PATH", c.root().to_str().unwrap());
    std::fs::write(&daemon_file, &daemon_settings).unwrap();

    // The daemon reads the same lists from the same file.
    let sources = |file: &std::path::Path| gitops_bridge::settings::Sources {
        file: Some(file.to_path_buf()),
        addon_options: None,
        env: Vec::new(),
    };
    let daemon = gitops_bridge::settings::Settings::load(&sources(&daemon_file))
        .expect("the daemon accepts its settings file");
    assert_eq!(daemon.validate.ignored.ignore, ["light.g*"]);
    assert_eq!(daemon.validate.ignored.ignore_codes, ["secret-unresolved"]);
    assert_eq!(daemon.validate.ignored.ignore_files, ["scripts.yaml"]);

    let (without, code) = codes_and_exit(c.root(), &[]);
    assert_eq!(code, 1, "{without:?}");
    for finding in [
        "entity-missing \"configuration.yaml\"",
        "secret-unresolved \"configuration.yaml\"",
        "deprecated-service-key \"scripts.yaml\"",
    ] {
        assert!(
            without.iter().any(|c| c == finding),
            "{finding}: {without:?}"
        );
    }
    let settings_arg = daemon_file.to_str().unwrap();
    let (with, code) = codes_and_exit(c.root(), &["--settings", settings_arg]);
    assert_eq!(code, 0, "the warning is ignored: {with:?}");
    for gone in ["entity-missing", "secret-unresolved", "scripts.yaml"] {
        assert!(!with.iter().any(|c| c.contains(gone)), "{gone}: {with:?}");
    }

    // A misspelt key is an error in both, naming the section.
    std::fs::write(
        &daemon_file,
        daemon_settings.replace("  ignore:", "  ignroe:"),
    )
    .unwrap();
    let out = cmd()
        .args(["check", "--settings", settings_arg, "."])
        .current_dir(c.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("validate: unknown field `ignroe`") && stderr.contains(settings_arg),
        "{stderr}"
    );
    assert!(gitops_bridge::settings::Settings::load(&sources(&daemon_file)).is_err());

    // `check:` is not a section of the daemon's settings file.
    std::fs::write(
        &daemon_file,
        format!("{daemon_settings}check:\n  ignore: [light.g*]\n"),
    )
    .unwrap();
    let err = gitops_bridge::settings::Settings::load(&sources(&daemon_file))
        .expect_err("the daemon refuses `check:`")
        .to_string();
    assert!(err.contains("check"), "{err}");
}

#[test]
fn check_finds_the_configuration_in_a_sub_folder_and_shows_paths_from_the_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("README.md"), "my HA config\n").unwrap();
    std::fs::write(
        dir.path().join("config/configuration.yaml"),
        "automation: !include missing.yaml\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gitops-bridge"))
        .args(["check", "--format", "github"])
        .arg(dir.path())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("config/configuration.yaml"),
        "the annotation must name the file from the repository root: {stdout}"
    );

    // Two candidates: none is picked, both are named.
    std::fs::create_dir_all(dir.path().join("staging")).unwrap();
    std::fs::write(dir.path().join("staging/configuration.yaml"), "{}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gitops-bridge"))
        .arg("check")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("config/") && stderr.contains("staging/"),
        "{stderr}"
    );
}
