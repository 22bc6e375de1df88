//! `!secret` with HA's lookup (nearest `secrets.yaml` first, up to the root), the
//! `--secrets FILE` stand-in and placeholder modes, and the promise that no secret value
//! ever appears in a report.

mod check_common;

use check_common::{Cfg, dump, expect, expect_at, expect_clean, expect_none, with_code};
use gitops_bridge::validate::{Code, Format, SecretsMode, Severity, report};

const VALUE: &str = "hunter2-very-secret-value";

#[test]
fn secret_found_in_the_nearest_file_and_walking_up() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "http:\n  api_password: !secret root_pw\nhomeassistant:\n  packages:\n    p: !include packages/p.yaml\n",
        ),
        ("secrets.yaml", &format!("root_pw: {VALUE}\nshared: x\n")),
        (
            "packages/p.yaml",
            "notify:\n  - platform: smtp\n    password: !secret pkg_pw\n    username: !secret shared\n",
        ),
        ("packages/secrets.yaml", "pkg_pw: y\n"),
    ]);
    expect_clean(&c.check());
}

#[test]
fn missing_name_with_a_secrets_file_is_an_error() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "http:\n  api_password: !secret nope\n",
        ),
        ("secrets.yaml", &format!("other: {VALUE}\n")),
    ]);
    let r = c.check();
    let d = expect_at(&r, Code::SecretMissing, "configuration.yaml", 2, 17);
    assert!(d.hint.as_deref().unwrap_or("").contains("secrets.yaml"));
}

#[test]
fn a_secret_in_a_parent_of_the_root_is_not_seen() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secrets.yaml"), "pw: x\n").unwrap();
    std::fs::create_dir(outer.path().join("cfg")).unwrap();
    std::fs::write(
        outer.path().join("cfg/configuration.yaml"),
        "http:\n  api_password: !secret pw\n",
    )
    .unwrap();
    let r = gitops_bridge::validate::check(&gitops_bridge::validate::CheckOptions::new(
        outer.path().join("cfg"),
    ))
    .unwrap();
    // no secrets.yaml inside the root: unresolved (placeholder), not found above it
    expect(&r, Code::SecretUnresolved, "configuration.yaml", 2);
}

#[test]
fn without_secrets_file_names_are_reported_once_as_info() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "http:\n  api_password: !secret pw\nmqtt:\n  password: !secret pw\n  username: !secret user\n",
        ),
        ("secrets.fake.yaml", "pw: x\n"),
    ]);
    let r = c.check();
    let found = with_code(&r, Code::SecretUnresolved);
    assert_eq!(found.len(), 2, "once per name: {}", dump(&r));
    assert!(found.iter().all(|d| d.severity == Severity::Info));
    assert!(
        found[0]
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("--secrets secrets.fake.yaml"),
        "stand-in suggested: {}",
        dump(&r)
    );
    expect_clean(&r);
}

#[test]
fn secrets_file_option_stands_in_for_the_root_file() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "http:\n  api_password: !secret pw\nmqtt:\n  username: !secret user\n",
        ),
        ("ci/fake_secrets.yaml", "pw: x\n"),
    ]);
    let fake = c.path("ci/fake_secrets.yaml");
    let r = c.check_with(|o| o.secrets = SecretsMode::File(fake));
    expect_at(&r, Code::SecretMissing, "configuration.yaml", 4, 13);
    assert_eq!(with_code(&r, Code::SecretMissing).len(), 1);
}

#[test]
fn placeholder_mode_never_fails() {
    let c = Cfg::new(&[
        ("configuration.yaml", "http:\n  api_password: !secret pw\n"),
        ("secrets.yaml", "other: 1\n"),
    ]);
    let r = c.check_with(|o| o.secrets = SecretsMode::Placeholder);
    expect_none(&r, Code::SecretMissing);
    expect(&r, Code::SecretUnresolved, "configuration.yaml", 2);
}

#[test]
fn secrets_file_must_be_a_mapping_and_cannot_use_secrets() {
    let c = Cfg::new(&[
        ("configuration.yaml", "http:\n  api_password: !secret pw\n"),
        ("secrets.yaml", "- a\n- b\n"),
    ]);
    expect(&c.check(), Code::SecretFileInvalid, "secrets.yaml", 1);
    let c = Cfg::new(&[
        ("configuration.yaml", "http:\n  api_password: !secret pw\n"),
        ("secrets.yaml", "pw: !secret other\n"),
    ]);
    expect_at(&c.check(), Code::SecretFileInvalid, "secrets.yaml", 1, 5);
}

#[test]
fn secret_values_never_appear_in_any_output() {
    // A broken secrets file, a secret used where a template would be, a duplicate key,
    // a bad !!int: the value must not leak through any message or format.
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "http:\n  api_password: !secret pw\ntemplate:\n  - sensor:\n      - name: x\n        state: !secret tpl\n",
        ),
        (
            "secrets.yaml",
            &format!(
                "pw: {VALUE}\npw: {VALUE}-again\ntpl: \"{{{{ {VALUE}() }}}}\"\nnum: !!int {VALUE}\n"
            ),
        ),
    ]);
    let r = c.check();
    assert!(!r.diagnostics.is_empty());
    for f in [Format::Text, Format::Json, Format::Github, Format::Sarif] {
        let out = report::render(&r, f, Severity::Info, c.root());
        assert!(!out.contains(VALUE), "{f:?} leaks the secret:\n{out}");
    }
}
