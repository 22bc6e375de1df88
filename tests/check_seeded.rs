//! Seeded-bug suite: a clean configuration (`tests/fixtures/ha/seeded`) gets one injected
//! bug per diagnostic code, and the code must be reported in the right file at the line of
//! the injected text. Every code in `Code::ALL` must have a seed here.

mod check_common;

use std::path::Path;

use check_common::{Cfg, dump};
use gitops_bridge::validate::{CheckOptions, Code, SecretsMode, StatesSnapshot};

const BASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ha/seeded");

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn base() -> Cfg {
    let c = Cfg::new(&[]);
    copy_dir(Path::new(BASE), c.root());
    c
}

fn read(c: &Cfg, f: &str) -> String {
    std::fs::read_to_string(c.path(f)).unwrap_or_default()
}

fn append(c: &Cfg, f: &str, text: &str) {
    let mut s = read(c, f);
    s.push_str(text);
    c.write(f, &s);
}

fn replace(c: &Cfg, f: &str, from: &str, to: &str) {
    let s = read(c, f);
    assert!(s.contains(from), "{f} has no {from:?}");
    c.write(f, &s.replacen(from, to, 1));
}

/// An automation for automations.yaml whose action data carries `msg`.
fn automation_msg(msg: &str) -> String {
    format!(
        "\n- id: seeded\n  triggers: []\n  actions:\n    - action: persistent_notification.create\n      data:\n        message: \"{msg}\"\n"
    )
}

/// One injected bug.
struct Seed {
    code: Code,
    /// File the finding must be in (relative to the root; `dir/` for directory notes).
    file: &'static str,
    /// Text on the line the finding must be on; `None` for whole-file findings (line 0).
    marker: Option<&'static str>,
    inject: fn(&Cfg),
    options: fn(&mut CheckOptions, &Cfg),
}

fn no_options(_: &mut CheckOptions, _: &Cfg) {}

fn with_states(o: &mut CheckOptions, c: &Cfg) {
    o.states = Some(StatesSnapshot::from_json(&read(c, "states.json")).unwrap());
}

fn seeds() -> Vec<Seed> {
    vec![
        Seed {
            code: Code::YamlSyntax,
            file: "configuration.yaml",
            marker: Some("broken: value: x"),
            inject: |c| append(c, "configuration.yaml", "broken: value: x\n"),
            options: no_options,
        },
        Seed {
            code: Code::YamlEncoding,
            file: "scripts.yaml",
            marker: Some("ding"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "bell:\n  alias: \"ding\u{7}\"\n  sequence: []\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::YamlDuplicateKey,
            file: "configuration.yaml",
            marker: Some("http: # again"),
            inject: |c| {
                append(
                    c,
                    "configuration.yaml",
                    "http: # again\n  server_port: 8124\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::YamlInvalidKey,
            file: "templates/sensors.yaml",
            marker: Some("state: {{ 1 }}"),
            inject: |c| {
                append(
                    c,
                    "templates/sensors.yaml",
                    "- sensor:\n    - name: Unquoted\n      state: {{ 1 }}\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::YamlMergeInvalid,
            file: "helpers/modes.yaml",
            marker: Some("<<: !include"),
            inject: |c| {
                append(
                    c,
                    "helpers/modes.yaml",
                    "away:\n  <<: !include ../common.yaml\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::YamlUnknownTag,
            file: "scripts.yaml",
            marker: Some("!lambda"),
            inject: |c| append(c, "scripts.yaml", "odd:\n  sequence: !lambda return 1;\n"),
            options: no_options,
        },
        Seed {
            code: Code::TagMissingArgument,
            file: "configuration.yaml",
            marker: Some("logger: !include"),
            inject: |c| append(c, "configuration.yaml", "logger: !include\n"),
            options: no_options,
        },
        Seed {
            code: Code::YamlQuotedTag,
            file: "configuration.yaml",
            marker: Some("\"!secret statestream_topic\""),
            inject: |c| {
                append(
                    c,
                    "configuration.yaml",
                    "mqtt_statestream:\n  base_topic: \"!secret statestream_topic\"\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::IncludeMissing,
            file: "configuration.yaml",
            marker: Some("logger.yaml"),
            inject: |c| append(c, "configuration.yaml", "logger: !include logger.yaml\n"),
            options: no_options,
        },
        Seed {
            code: Code::IncludeCycle,
            file: "recorder.yaml",
            marker: Some("exclude: !include"),
            inject: |c| {
                append(
                    c,
                    "configuration.yaml",
                    "recorder: !include recorder.yaml\n",
                );
                c.write(
                    "recorder.yaml",
                    "purge_keep_days: 10\nexclude: !include recorder.yaml\n",
                );
            },
            options: no_options,
        },
        Seed {
            code: Code::IncludeDirMissing,
            file: "configuration.yaml",
            marker: Some("!include_dir_list panels"),
            inject: |c| {
                append(
                    c,
                    "configuration.yaml",
                    "panel_custom: !include_dir_list panels\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::IncludeDirIgnoredFile,
            file: "helpers/list.yaml",
            marker: Some("- vacation"),
            inject: |c| c.write("helpers/list.yaml", "- vacation\n"),
            options: no_options,
        },
        Seed {
            code: Code::IncludeDirDuplicate,
            file: "helpers/zz_more.yaml",
            marker: Some("guest_mode:"),
            inject: |c| c.write("helpers/zz_more.yaml", "guest_mode:\n  name: Guests\n"),
            options: no_options,
        },
        Seed {
            code: Code::SecretMissing,
            file: "configuration.yaml",
            marker: Some("!secret mqtt_user"),
            inject: |c| {
                replace(
                    c,
                    "configuration.yaml",
                    "username: homeassistant",
                    "username: !secret mqtt_user",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::SecretUnresolved,
            file: "configuration.yaml",
            marker: Some("!secret mqtt_password"),
            inject: |c| std::fs::remove_file(c.path("secrets.yaml")).unwrap(),
            options: no_options,
        },
        Seed {
            code: Code::SecretFileInvalid,
            file: "secrets.yaml",
            marker: Some("- not"),
            inject: |c| c.write("secrets.yaml", "- not a mapping\n"),
            options: no_options,
        },
        Seed {
            code: Code::EnvVarMissing,
            file: "configuration.yaml",
            marker: Some("!env_var"),
            inject: |c| {
                replace(
                    c,
                    "configuration.yaml",
                    "server_port: 8123",
                    "server_port: !env_var GITOPS_BRIDGE_SEEDED_UNSET",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::InputOutsideBlueprint,
            file: "scripts.yaml",
            marker: Some("!input"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "from_bp:\n  sequence:\n    - action: !input the_action\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::ConfigInvalid,
            file: "configuration.yaml",
            marker: Some("- homeassistant"),
            inject: |c| c.write("configuration.yaml", "- homeassistant\n- default_config\n"),
            options: no_options,
        },
        Seed {
            code: Code::ConfigInvalidDomain,
            file: "configuration.yaml",
            marker: Some("Recorder:"),
            inject: |c| append(c, "configuration.yaml", "Recorder:\n  purge_keep_days: 3\n"),
            options: no_options,
        },
        Seed {
            code: Code::ConfigUnknownIntegration,
            file: "configuration.yaml",
            marker: Some("darksky:"),
            inject: |c| append(c, "configuration.yaml", "darksky:\n  api_key: x\n"),
            options: no_options,
        },
        Seed {
            code: Code::PackageInvalid,
            file: "packages/Bad-Name.yaml",
            marker: Some("input_boolean"),
            inject: |c| {
                c.write(
                    "packages/Bad-Name.yaml",
                    "input_boolean:\n  party:\n    name: Party\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::PackageConflict,
            file: "packages/guests.yaml",
            marker: Some("name: Visitors"),
            inject: |c| {
                c.write(
                    "packages/guests.yaml",
                    "input_boolean:\n  guest_mode:\n    name: Visitors\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::BlueprintMissing,
            file: "automations.yaml",
            marker: Some("path: example/notify_of.yaml"),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    "\n- id: bp\n  use_blueprint:\n    path: example/notify_of.yaml\n    input:\n      watched: input_boolean.guest_mode\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::TemplateSyntax,
            file: "automations.yaml",
            marker: Some("seeded_syntax"),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    &automation_msg("{{ states('sensor.seeded_syntax' }}"),
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::TemplateUnknownFunction,
            file: "automations.yaml",
            marker: Some("statest("),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    &automation_msg("{{ statest('sensor.time') }}"),
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::TemplateUnknownFilter,
            file: "automations.yaml",
            marker: Some("| flaot"),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    &automation_msg("{% if true %}{{ states('sensor.time') | flaot }}{% endif %}"),
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::TemplateUnknownTest,
            file: "automations.yaml",
            marker: Some("is numbr"),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    &automation_msg("{{ states('sensor.time') is numbr }}"),
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::TemplateLimited,
            file: "automations.yaml",
            marker: Some("room: "),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    "\n- id: limited\n  trigger_variables:\n    room: \"{{ states('sensor.time') }}\"\n  triggers:\n    - trigger: mqtt\n      topic: \"home/{{ room }}\"\n  actions: []\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::TemplateImportMissing,
            file: "automations.yaml",
            marker: Some("nope.jinja"),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    &automation_msg("{% from 'nope.jinja' import x %}{{ x() }}"),
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::TemplateImportUnknown,
            file: "automations.yaml",
            marker: Some("import celsius"),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    &automation_msg("{% from 'tools.jinja' import celsius %}{{ celsius(1) }}"),
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::TemplateMutation,
            file: "scripts.yaml",
            marker: Some(".append("),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "collect:\n  sequence:\n    - variables:\n        ids: \"{% set l = [] %}{% do l.append(1) %}{{ l }}\"\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::TemplateUnknownVariable,
            file: "automations.yaml",
            marker: Some("triger."),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    &automation_msg("{{ triger.to_state.state }}"),
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::EntityMissing,
            file: "scripts.yaml",
            marker: Some("light.kitchn"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "lights:\n  sequence:\n    - action: light.turn_on\n      target:\n        entity_id: light.kitchn\n",
                )
            },
            options: with_states,
        },
        Seed {
            code: Code::EntityUnknown,
            file: "scripts.yaml",
            marker: Some("guest_mdoe"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "typo:\n  sequence:\n    - action: input_boolean.turn_on\n      target:\n        entity_id: input_boolean.guest_mdoe\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::ActionMissing,
            file: "scripts.yaml",
            marker: Some("notify.mobile_app_fone"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "notify_me:\n  sequence:\n    - action: notify.mobile_app_fone\n",
                )
            },
            options: with_states,
        },
        Seed {
            code: Code::ActionUnknown,
            file: "scripts.yaml",
            marker: Some("light.trun_on"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "typo_action:\n  sequence:\n    - action: light.trun_on\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::ActionNotInCore,
            file: "scripts.yaml",
            marker: Some("fan.set_speed"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "old_fan:\n  sequence:\n    - action: fan.set_speed\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::ActionMoved,
            file: "scripts.yaml",
            marker: Some("media_player.kodi_call_method"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "kodi_update:\n  sequence:\n    - action: media_player.kodi_call_method\n      data:\n        method: VideoLibrary.Scan\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::ReferencesUnverified,
            file: "configuration.yaml",
            marker: None,
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "ext:\n  sequence:\n    - action: light.turn_on\n      target:\n        entity_id: light.from_an_integration\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::LegacyTemplateEntity,
            file: "configuration.yaml",
            marker: Some("platform: template"),
            inject: |c| {
                replace(
                    c,
                    "configuration.yaml",
                    "  - platform: time_date\n",
                    "  - platform: template\n    sensors:\n      old:\n        value_template: \"1\"\n  - platform: time_date\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::DeprecatedServiceKey,
            file: "scripts.yaml",
            marker: Some("service: light.turn_on"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "old_style:\n  sequence:\n    - service: light.turn_on\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::DeprecatedDataTemplate,
            file: "scripts.yaml",
            marker: Some("data_template:"),
            inject: |c| {
                append(
                    c,
                    "scripts.yaml",
                    "older_style:\n  sequence:\n    - action: light.turn_on\n      data_template:\n        brightness: \"{{ 100 }}\"\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::DeprecatedTriggerPlatform,
            file: "automations.yaml",
            marker: Some("platform: state"),
            inject: |c| {
                append(
                    c,
                    "automations.yaml",
                    "\n- id: old\n  triggers:\n    - platform: state\n      entity_id: input_boolean.guest_mode\n  actions: []\n",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::ComponentManifestInvalid,
            file: "custom_components/demo_custom/manifest.json",
            marker: Some("\"version\""),
            inject: |c| {
                replace(
                    c,
                    "custom_components/demo_custom/manifest.json",
                    "\"1.0.0\"",
                    "\"latest\"",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::ComponentManifestIncomplete,
            file: "custom_components/demo_custom/manifest.json",
            marker: Some("{"),
            inject: |c| {
                replace(
                    c,
                    "custom_components/demo_custom/manifest.json",
                    "  \"codeowners\": [\"@example\"],\n",
                    "",
                )
            },
            options: no_options,
        },
        Seed {
            code: Code::FileUnreachable,
            file: "old_automations.yaml",
            marker: None,
            inject: |c| c.write("old_automations.yaml", "- alias: old\n"),
            options: no_options,
        },
        Seed {
            code: Code::FileEsphome,
            file: "esphome/",
            marker: None,
            inject: |c| {
                c.write("esphome/a.yaml", "esphome:\n  name: a\n");
                c.write("esphome/b.yaml", "esphome:\n  name: b\n");
            },
            options: no_options,
        },
        Seed {
            code: Code::FileJinjaYaml,
            file: "dwains/page.yaml",
            marker: None,
            inject: |c| {
                c.write(
                    "dwains/page.yaml",
                    "{% for r in rooms %}\n- title: {{ r }}\n{% endfor %}\n",
                )
            },
            options: no_options,
        },
    ]
}

#[test]
fn base_configuration_is_clean() {
    let c = base();
    let r = c.check();
    assert!(r.diagnostics.is_empty(), "{}", dump(&r));
    let r = c.check_with(|o| with_states(o, &c));
    assert!(r.diagnostics.is_empty(), "{}", dump(&r));
}

#[test]
fn every_code_has_a_seed() {
    let seeded: Vec<Code> = seeds().iter().map(|s| s.code).collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !seeded.contains(c))
        .map(|c| c.name())
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a seeded bug: {missing:?}"
    );
}

#[test]
fn every_seeded_bug_is_found_at_its_line() {
    let mut failures = Vec::new();
    for s in seeds() {
        let c = base();
        (s.inject)(&c);
        let line = match s.marker {
            None => 0,
            Some(m) => {
                let text = read(&c, s.file);
                text.lines()
                    .position(|l| l.contains(m))
                    .map(|i| i as u32 + 1)
                    .unwrap_or_else(|| panic!("{}: marker {m:?} not in {}", s.code, s.file))
            }
        };
        let mut opts = CheckOptions::new(c.root());
        opts.secrets = SecretsMode::Auto;
        (s.options)(&mut opts, &c);
        let r = gitops_bridge::validate::check(&opts).expect("check runs");
        if !r
            .diagnostics
            .iter()
            .any(|d| d.code == s.code && d.file == s.file && d.line == line)
        {
            failures.push(format!(
                "{} expected at {}:{line}; got:\n{}",
                s.code,
                s.file,
                dump(&r)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_code_is_documented_with_its_severity() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/validate.md")).unwrap();
    for c in Code::ALL {
        let heading = format!("\n### {}\n", c.name());
        assert!(
            doc.contains(&heading),
            "docs/validate.md has no section `### {}`",
            c.name()
        );
        let row = format!("| [`{0}`](#{0}) | {1} |", c.name(), c.severity());
        assert!(
            doc.contains(&row),
            "docs/validate.md table row for {} missing or with another severity",
            c.name()
        );
    }
}
