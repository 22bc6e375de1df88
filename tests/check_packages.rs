//! Packages merged the way HA merges them (`homeassistant/config.py:
//! merge_packages_config`): list integrations concatenate, dict integrations merge, a key
//! set twice with different values is a conflict that drops the package's value.

mod check_common;

use check_common::{Cfg, dump, expect, expect_clean, expect_none, with_code};
use gitops_bridge::validate::Code;

#[test]
fn list_integrations_from_packages_are_checked() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "homeassistant:\n  packages: !include_dir_named packages\nautomation:\n  - alias: main\n    triggers: []\n    actions: []\n",
        ),
        (
            "packages/ups.yaml",
            "automation:\n  - alias: ups\n    triggers: []\n    conditions: \"{{ statest('sensor.ups') != 'OL' }}\"\n    actions: []\n",
        ),
    ]);
    let r = c.check();
    let d = expect(&r, Code::TemplateUnknownFunction, "packages/ups.yaml", 4);
    assert_eq!(d.column, 21);
    assert_eq!(d.hint.as_deref(), Some("did you mean `states`?"));
}

#[test]
fn dict_integrations_merge_and_conflicts_are_errors() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "homeassistant:\n  packages:\n    a: !include a.yaml\n    b: !include b.yaml\ninput_boolean:\n  guest:\n    name: Guest\n",
        ),
        ("a.yaml", "input_boolean:\n  party:\n    name: Party\n"),
        (
            "b.yaml",
            "input_boolean:\n  guest:\n    name: Visitor\n  party:\n    name: Party\n",
        ),
    ]);
    let r = c.check();
    // `guest.name` differs from the main configuration: conflict; `party.name` is equal: fine
    let d = expect(&r, Code::PackageConflict, "b.yaml", 3);
    assert!(
        d.message.contains("'name'") && d.message.contains("configuration.yaml:7"),
        "{}",
        d.message
    );
    assert_eq!(
        with_code(&r, Code::PackageConflict).len(),
        1,
        "{}",
        dump(&r)
    );
}

#[test]
fn script_keys_from_packages_are_known_actions() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "homeassistant:\n  packages:\n    p: !include p.yaml\nscript:\n  main:\n    sequence:\n      - action: script.from_package\n",
        ),
        ("p.yaml", "script:\n  from_package:\n    sequence: []\n"),
    ]);
    expect_clean(&c.check());
}

#[test]
fn invalid_package_name_and_definition() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "homeassistant:\n  packages:\n    Bad-Name: !include a.yaml\n    ok: !include b.yaml\n",
        ),
        ("a.yaml", "input_boolean: {}\n"),
        ("b.yaml", "input_boolean: {}\nlogger: debug\n"),
    ]);
    let r = c.check();
    let d = expect(&r, Code::PackageInvalid, "configuration.yaml", 3);
    assert!(d.hint.as_deref().unwrap_or("").contains("bad_name"));
    expect(&r, Code::PackageInvalid, "b.yaml", 2);
}

#[test]
fn package_with_an_unknown_integration() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "homeassistant:\n  packages:\n    p: !include p.yaml\n",
        ),
        ("p.yaml", "yahoofinance:\n  symbols: [AAPL]\n"),
    ]);
    expect(&c.check(), Code::ConfigUnknownIntegration, "p.yaml", 1);
}

#[test]
fn dict_integration_given_a_list_cannot_merge() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "homeassistant:\n  packages:\n    p: !include p.yaml\n",
        ),
        ("p.yaml", "input_boolean:\n  - name: wrong\n"),
    ]);
    expect(&c.check(), Code::PackageConflict, "p.yaml", 2);
}

#[test]
fn custom_integration_in_a_package_is_known() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "homeassistant:\n  packages:\n    p: !include p.yaml\n",
        ),
        ("p.yaml", "my_custom:\n  option: 1\n"),
        (
            "custom_components/my_custom/manifest.json",
            r#"{"domain":"my_custom","name":"Mine","version":"1.0.0","documentation":"https://x","codeowners":[]}"#,
        ),
    ]);
    let r = c.check();
    expect_none(&r, Code::ConfigUnknownIntegration);
    expect_clean(&r);
}
