//! The include tags with HA's exact semantics (`annotatedyaml/loader.py`): paths relative
//! to the including file, `*.yaml` only, dot-files and `secrets.yaml` skipped, the silent
//! cases, and cycles. Semantics are observed the way a user sees them: a template bug in
//! a file is reported only if HA would load that file.

mod check_common;

use check_common::{Cfg, dump, expect, expect_at, expect_clean, expect_none, with_code};
use gitops_bridge::validate::Code;

/// An automation whose template calls an unknown function `bad_<tag>()` on line 6, column 22.
fn automation(tag: &str) -> String {
    format!(
        "- alias: {tag}\n  triggers: []\n  actions:\n    - action: persistent_notification.create\n      data:\n        message: \"{{{{ bad_{tag}() }}}}\"\n"
    )
}

fn bad_fn_files(r: &gitops_bridge::validate::Report) -> Vec<String> {
    let mut v: Vec<String> = with_code(r, Code::TemplateUnknownFunction)
        .iter()
        .map(|d| d.file.clone())
        .collect();
    v.sort();
    v
}

#[test]
fn include_is_relative_to_the_including_file() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "automation: !include conf/automations.yaml\n",
        ),
        ("conf/automations.yaml", "!include_dir_merge_list more\n"),
        ("conf/more/a.yaml", &automation("a")),
        // same name relative to the root: must not be read
        ("more/a.yaml", &automation("root")),
    ]);
    let r = c.check();
    assert_eq!(bad_fn_files(&r), vec!["conf/more/a.yaml"], "{}", dump(&r));
    expect_at(&r, Code::TemplateUnknownFunction, "conf/more/a.yaml", 6, 22);
}

#[test]
fn missing_include_is_an_error_at_the_tag() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "homeassistant:\n  name: x\nautomation: !include automations.yaml\n",
    )]);
    let r = c.check();
    let d = expect_at(&r, Code::IncludeMissing, "configuration.yaml", 3, 13);
    assert!(d.message.contains("automations.yaml"));
}

#[test]
fn include_of_empty_file_is_an_empty_mapping() {
    let c = Cfg::new(&[
        ("configuration.yaml", "script: !include scripts.yaml\n"),
        ("scripts.yaml", "# nothing yet\n"),
    ]);
    expect_clean(&c.check());
}

#[test]
fn absolute_config_paths_map_to_the_root() {
    // HA OS mounts the configuration at /config; repositories refer to it that way.
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "automation: !include /config/automations/main.yaml\n",
        ),
        ("automations/main.yaml", &automation("abs")),
    ]);
    let r = c.check();
    expect_none(&r, Code::IncludeMissing);
    assert_eq!(bad_fn_files(&r), vec!["automations/main.yaml"]);
}

#[test]
fn dir_merge_list_takes_yaml_only_and_skips_dot_entries_and_secrets() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "automation: !include_dir_merge_list automations\n",
        ),
        ("automations/a.yaml", &automation("a")),
        ("automations/sub/b.yaml", &automation("b")),
        ("automations/c.yml", &automation("yml")),
        ("automations/.hidden.yaml", &automation("hidden")),
        ("automations/.git/x.yaml", &automation("dotdir")),
        ("automations/secrets.yaml", &automation("secrets")),
    ]);
    let r = c.check();
    assert_eq!(
        bad_fn_files(&r),
        vec!["automations/a.yaml", "automations/sub/b.yaml"],
        "{}",
        dump(&r)
    );
    let d = expect(&r, Code::IncludeDirIgnoredFile, "automations/c.yml", 0);
    assert!(d.message.contains("only *.yaml"));
}

#[test]
fn dir_merge_list_ignores_a_mapping_file_with_a_warning() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "sensor: !include_dir_merge_list sensors\n",
        ),
        (
            "sensors/time.yaml",
            "- platform: time_date\n  display_options: [time]\n",
        ),
        (
            "sensors/mqtt.yaml",
            "# moved here by mistake\nmqtt:\n  sensor:\n    - name: x\n      state_topic: a/b\n",
        ),
        ("sensors/empty.yaml", "# nothing\n"),
    ]);
    let r = c.check();
    expect(&r, Code::IncludeDirIgnoredFile, "sensors/mqtt.yaml", 2);
    assert_eq!(
        with_code(&r, Code::IncludeDirIgnoredFile).len(),
        1,
        "empty files are silent: {}",
        dump(&r)
    );
}

#[test]
fn dir_list_drops_empty_files() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "automation: !include_dir_list automations\n",
        ),
        (
            "automations/one.yaml",
            "alias: one\ntriggers: []\nactions:\n  - action: persistent_notification.create\n    data:\n      message: \"{{ bad_one() }}\"\n",
        ),
        ("automations/two.yaml", ""),
    ]);
    let r = c.check();
    expect(&r, Code::TemplateUnknownFunction, "automations/one.yaml", 6);
    expect_none(&r, Code::IncludeDirIgnoredFile);
}

#[test]
fn dir_named_uses_file_stems_and_reports_collisions() {
    let c = Cfg::new(&[
        ("configuration.yaml", "script: !include_dir_named scripts\n"),
        ("scripts/morning.yaml", "sequence: []\n"),
        ("scripts/sub/morning.yaml", "sequence: []\n"),
        (
            "scripts/evening.yaml",
            "sequence:\n  - action: script.morning\n  - action: script.mornin\n",
        ),
    ]);
    let r = c.check();
    expect(&r, Code::IncludeDirDuplicate, "scripts/sub/morning.yaml", 1);
    // `script.morning` is defined by the file stem; `script.mornin` is not
    let d = expect(&r, Code::ActionUnknown, "scripts/evening.yaml", 3);
    assert!(
        d.hint.as_deref().unwrap_or("").contains("script.morning"),
        "{}",
        dump(&r)
    );
    assert_eq!(with_code(&r, Code::ActionUnknown).len(), 1);
}

#[test]
fn dir_merge_named_reports_keys_defined_twice() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "input_boolean: !include_dir_merge_named helpers\n",
        ),
        (
            "helpers/a.yaml",
            "guest:\n  name: Guest\nparty:\n  name: Party\n",
        ),
        (
            "helpers/b.yaml",
            "away:\n  name: Away\nguest:\n  name: Guest again\n",
        ),
        ("helpers/list.yaml", "- not: a mapping\n"),
    ]);
    let r = c.check();
    let d = expect(&r, Code::IncludeDirDuplicate, "helpers/b.yaml", 3);
    assert!(d.message.contains("helpers/a.yaml:1"), "{}", d.message);
    expect(&r, Code::IncludeDirIgnoredFile, "helpers/list.yaml", 1);
}

#[test]
fn missing_directory_is_silent_in_ha_and_info_here() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "frontend:\n  themes: !include_dir_merge_named themes\n",
    )]);
    let r = c.check();
    expect_at(&r, Code::IncludeDirMissing, "configuration.yaml", 2, 11);
    expect_clean(&r);
}

#[test]
fn include_cycles_are_detected() {
    let c = Cfg::new(&[
        ("configuration.yaml", "script: !include a.yaml\n"),
        ("a.yaml", "one: !include b.yaml\n"),
        ("b.yaml", "sequence: !include a.yaml\n"),
    ]);
    let r = c.check();
    let d = expect_at(&r, Code::IncludeCycle, "b.yaml", 1, 11);
    assert!(
        d.message.contains("a.yaml -> b.yaml -> a.yaml"),
        "{}",
        d.message
    );
}

#[test]
fn self_include_through_a_directory_is_a_cycle() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "group: !include_dir_merge_named groups\n",
        ),
        ("groups/all.yaml", "all: !include_dir_merge_named .\n"),
    ]);
    let r = c.check();
    assert!(
        !with_code(&r, Code::IncludeCycle).is_empty(),
        "{}",
        dump(&r)
    );
}

#[test]
fn including_a_directory_with_include_is_an_error() {
    let c = Cfg::new(&[
        ("configuration.yaml", "automation: !include automations\n"),
        ("automations/a.yaml", "[]\n"),
    ]);
    expect(&c.check(), Code::IncludeMissing, "configuration.yaml", 1);
}

#[test]
fn env_var_without_default() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "http:\n  server_port: !env_var GITOPS_BRIDGE_TEST_SURELY_UNSET_VAR\n  base_url: !env_var GITOPS_BRIDGE_TEST_SURELY_UNSET_VAR2 http://x\n",
    )]);
    let r = c.check();
    expect_at(&r, Code::EnvVarMissing, "configuration.yaml", 2, 16);
    assert_eq!(
        with_code(&r, Code::EnvVarMissing).len(),
        1,
        "a default makes it fine"
    );
}

#[test]
fn input_belongs_in_blueprints() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "automation:\n  - triggers: []\n    actions:\n      - action: !input act\n",
        ),
        (
            "blueprints/automation/me/bp.yaml",
            "blueprint:\n  name: x\n  domain: automation\n  input:\n    target_light:\n      name: Light\ntriggers: []\nactions:\n  - action: light.turn_on\n    target: !input target_light\n",
        ),
    ]);
    let r = c.check();
    expect_at(&r, Code::InputOutsideBlueprint, "configuration.yaml", 4, 17);
    assert_eq!(
        with_code(&r, Code::InputOutsideBlueprint).len(),
        1,
        "{}",
        dump(&r)
    );
}
