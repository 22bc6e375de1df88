//! Removed and deprecated syntax, custom integration manifests, top-level integrations,
//! and the files HA never loads (unreachable, ESPHome, Jinja-preprocessed YAML).

mod check_common;

use check_common::{Cfg, dump, expect, expect_at, expect_clean, expect_none, with_code};
use gitops_bridge::validate::{Code, Severity};

#[test]
fn legacy_template_entities_are_errors() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "sensor:\n  - platform: time_date\n  - platform: template\n    sensors:\n      a:\n        value_template: \"{{ 1 }}\"\nswitch:\n  platform: template\n  switches: {}\n",
    )]);
    let r = c.check();
    let d = expect_at(&r, Code::LegacyTemplateEntity, "configuration.yaml", 3, 5);
    assert!(d.message.contains("`sensors`: a"), "{}", d.message);
    expect(&r, Code::LegacyTemplateEntity, "configuration.yaml", 8);
    assert_eq!(d.severity, Severity::Error);
}

#[test]
fn deprecated_forms_are_info_with_the_modern_form() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "automation:\n  - trigger:\n      - platform: state\n        entity_id: sun.sun\n    action:\n      - service: light.turn_on\n        data_template:\n          brightness: \"{{ 1 }}\"\n      - service_template: \"{{ 'light.turn_off' }}\"\nnotify:\n  - platform: group\n    name: all\n    services:\n      - service: mobile_app_phone\n",
    )]);
    let r = c.check();
    let d = expect_at(
        &r,
        Code::DeprecatedTriggerPlatform,
        "configuration.yaml",
        3,
        9,
    );
    assert_eq!(d.hint.as_deref(), Some("write `trigger: state`"));
    let d = expect_at(&r, Code::DeprecatedServiceKey, "configuration.yaml", 6, 9);
    assert_eq!(d.hint.as_deref(), Some("write `action: light.turn_on`"));
    expect_at(&r, Code::DeprecatedDataTemplate, "configuration.yaml", 7, 9);
    expect_at(&r, Code::DeprecatedServiceKey, "configuration.yaml", 9, 9);
    // a notify group member is not an action call; entity platforms are not triggers
    assert_eq!(
        with_code(&r, Code::DeprecatedServiceKey).len(),
        2,
        "{}",
        dump(&r)
    );
    assert_eq!(
        with_code(&r, Code::DeprecatedTriggerPlatform).len(),
        1,
        "{}",
        dump(&r)
    );
    expect_clean(&r);
}

#[test]
fn custom_component_manifests() {
    let c = Cfg::new(&[
        ("configuration.yaml", "homeassistant:\n"),
        (
            "custom_components/good/manifest.json",
            r#"{"domain":"good","name":"Good","version":"1.2.3","documentation":"https://x","codeowners":["@me"]}"#,
        ),
        (
            "custom_components/noversion/manifest.json",
            "{\n  \"domain\": \"noversion\",\n  \"name\": \"x\",\n  \"documentation\": \"https://x\",\n  \"codeowners\": []\n}\n",
        ),
        (
            "custom_components/badver/manifest.json",
            "{\n  \"domain\": \"badver\",\n  \"name\": \"x\",\n  \"version\": \"latest\",\n  \"documentation\": \"u\",\n  \"codeowners\": []\n}\n",
        ),
        (
            "custom_components/renamed/manifest.json",
            "{\n  \"domain\": \"other\",\n  \"name\": \"x\",\n  \"version\": \"1.0\",\n  \"documentation\": \"u\",\n  \"codeowners\": []\n}\n",
        ),
        (
            "custom_components/broken/manifest.json",
            "{\n  \"domain\": \"broken\",\n  \"name\": \"x\"\n  \"version\": \"1.0\"\n}\n",
        ),
        (
            "custom_components/sparse/manifest.json",
            r#"{"domain":"sparse","name":"x","version":"0.1.0"}"#,
        ),
    ]);
    let r = c.check();
    expect(
        &r,
        Code::ComponentManifestInvalid,
        "custom_components/noversion/manifest.json",
        1,
    );
    expect_at(
        &r,
        Code::ComponentManifestInvalid,
        "custom_components/badver/manifest.json",
        4,
        3,
    );
    expect_at(
        &r,
        Code::ComponentManifestInvalid,
        "custom_components/renamed/manifest.json",
        2,
        3,
    );
    expect(
        &r,
        Code::ComponentManifestInvalid,
        "custom_components/broken/manifest.json",
        4,
    );
    expect(
        &r,
        Code::ComponentManifestIncomplete,
        "custom_components/sparse/manifest.json",
        1,
    );
    assert!(
        with_code(&r, Code::ComponentManifestInvalid)
            .iter()
            .all(|d| !d.file.contains("good"))
    );
}

#[test]
fn unknown_integrations_and_platforms() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "default_config:\nlight groups: []\ndarksky:\nsensor:\n  - platform: darksky\n  - platform: my_custom\n  - platform: time_date\n\"hue \": 1\nMyThing:\n",
        ),
        (
            "custom_components/my_custom/manifest.json",
            r#"{"domain":"my_custom","name":"x","version":"1","documentation":"u","codeowners":[]}"#,
        ),
    ]);
    let r = c.check();
    expect_at(
        &r,
        Code::ConfigUnknownIntegration,
        "configuration.yaml",
        3,
        1,
    );
    expect_at(
        &r,
        Code::ConfigUnknownIntegration,
        "configuration.yaml",
        5,
        15,
    );
    expect(&r, Code::ConfigInvalidDomain, "configuration.yaml", 8);
    expect(&r, Code::ConfigInvalidDomain, "configuration.yaml", 9);
    assert_eq!(
        with_code(&r, Code::ConfigUnknownIntegration).len(),
        2,
        "{}",
        dump(&r)
    );
}

#[test]
fn unreachable_esphome_and_jinja_files_are_notes() {
    let c = Cfg::new(&[
        ("configuration.yaml", "script: !include scripts.yaml\n"),
        ("scripts.yaml", "a:\n  sequence: []\n"),
        (
            "old.yaml",
            "b:\n  sequence:\n    - action: \"{{ nope() }}\"\n",
        ),
        ("archive/one.yaml", "x: 1\n"),
        ("archive/two.yaml", "y: 2\n"),
        (
            "devices/node.yaml",
            "esphome:\n  name: node\nsensor:\n  - platform: adc\n    <<: !include common.yaml\n",
        ),
        (
            "dwains/page.yaml",
            "{% for room in rooms %}\n- title: {{ room }}\n{% endfor %}\n",
        ),
        ("secrets.fake.yaml", "a: b\n"),
        (".github/workflows/ci.yaml", "on: push\n"),
        ("custom_components/x/services.yaml", "do: {}\n"),
        (
            "custom_components/x/manifest.json",
            r#"{"domain":"x","name":"x","version":"1","documentation":"u","codeowners":[]}"#,
        ),
    ]);
    let r = c.check();
    expect(&r, Code::FileUnreachable, "old.yaml", 0);
    let d = expect(&r, Code::FileUnreachable, "archive/", 0);
    assert!(d.message.starts_with("2 YAML files"), "{}", d.message);
    expect(&r, Code::FileEsphome, "devices/node.yaml", 0);
    expect(&r, Code::FileJinjaYaml, "dwains/page.yaml", 0);
    // nothing in unreached files is checked
    expect_none(&r, Code::TemplateUnknownFunction);
    expect_none(&r, Code::YamlMergeInvalid);
    assert_eq!(r.diagnostics.len(), 4, "{}", dump(&r));
}

#[test]
fn ignore_codes_and_files() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "automation:\n  - trigger:\n      - platform: state\n        entity_id: sun.sun\n    action: []\n",
        ),
        ("www/card.yaml", "x: 1\n"),
    ]);
    let r = c.check();
    assert!(!with_code(&r, Code::DeprecatedTriggerPlatform).is_empty());
    expect(&r, Code::FileUnreachable, "www/card.yaml", 0);
    let r = c.check_with(|o| {
        o.ignored.ignore_codes = vec!["deprecated-trigger-platform".into()];
        o.ignored.ignore_files = vec!["www/*".into()];
    });
    assert!(r.diagnostics.is_empty(), "{}", dump(&r));
}

#[test]
fn blueprints_used_must_exist() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "automation:\n  - use_blueprint:\n      path: me/motion.yaml\n  - use_blueprint:\n      path: me/gone.yaml\nscript:\n  s:\n    use_blueprint:\n      path: me/motion.yaml\n",
        ),
        (
            "blueprints/automation/me/motion.yaml",
            "blueprint:\n  name: m\n  domain: automation\ntriggers: []\nactions: []\n",
        ),
    ]);
    let r = c.check();
    expect_at(&r, Code::BlueprintMissing, "configuration.yaml", 5, 13);
    // the script blueprint lives under blueprints/script/, not automation/
    expect_at(&r, Code::BlueprintMissing, "configuration.yaml", 9, 13);
    assert_eq!(
        with_code(&r, Code::BlueprintMissing).len(),
        2,
        "{}",
        dump(&r)
    );
}

#[test]
fn a_git_ignored_manifest_is_named_as_the_reason() {
    let c = Cfg::new(&[
        ("configuration.yaml", "default_config:\n"),
        ("custom_components/private/__init__.py", ""),
        ("custom_components/shared/__init__.py", ""),
        (".gitignore", "custom_components/private/manifest.json\n"),
    ]);
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(c.root())
            .args(args)
            .output()
            .expect("git runs")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    let r = c.check();
    let ignored = expect(
        &r,
        Code::ComponentManifestInvalid,
        "custom_components/private",
        0,
    );
    assert!(ignored.message.contains("git-ignored"), "{}", dump(&r));
    assert!(ignored.hint.as_deref().unwrap_or("").contains(".gitignore"));
    // One that is simply missing does not blame git.
    let missing = expect(
        &r,
        Code::ComponentManifestInvalid,
        "custom_components/shared",
        0,
    );
    assert!(!missing.message.contains("git-ignored"), "{}", dump(&r));
}

#[test]
fn an_unreachable_broken_automations_file_is_called_broken_not_jinja() {
    let c = Cfg::new(&[
        ("configuration.yaml", "default_config:\n"),
        (
            "automations_old.yaml",
            "- alias: Old\n  trigger:\n    - platform: template\n      value_template: \"{{ is_state('sun.sun', 'below_horizon') }}\"\n  action:\n   - service: light.turn_on\n  - bad: indent\n",
        ),
    ]);
    let r = c.check();
    let d = expect(&r, Code::FileUnreachable, "automations_old.yaml", 0);
    assert!(d.message.contains("not valid YAML"), "{}", d.message);
    expect_none(&r, Code::FileJinjaYaml);
}
