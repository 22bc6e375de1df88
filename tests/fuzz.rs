//! Property-based fuzzing of every parser that takes outside input: command payloads and
//! topics (MQTT, HTTP), webhook bodies, settings files and environment, and the
//! configuration validator's YAML loader and template checker. Each property is "never
//! panics, and answers": a clear rejection is fine, a panic or an internal error is a bug.
//!
//! `PROPTEST_CASES=5000 cargo test --release --test fuzz` runs a longer campaign; the
//! default keeps the suite fast. A failure prints the minimal input, to be kept as a
//! regression case below.

use gitops_bridge::commands::CommandSource;
use gitops_bridge::commands::parse;
use gitops_bridge::github::webhook::parse_delivery;
use gitops_bridge::mqtt::intake::intake;
use gitops_bridge::mqtt::{Inbound, Topics};
use gitops_bridge::settings::{Settings, Sources};
use gitops_bridge::validate::{CheckError, CheckOptions, check};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that looks like a command payload: JSON fragments, `PRESS`, multi-byte characters.
fn payload_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("\"request_id\":".to_string()),
        Just("\"run_id\":".to_string()),
        Just("\"workflow\":".to_string()),
        Just("\"ref\":".to_string()),
        Just("\"inputs\":{".to_string()),
        Just(",".to_string()),
        Just("PRESS".to_string()),
        Just("€".to_string()),
        Just("😀".to_string()),
        Just("\"é\"".to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        Just("null".to_string()),
        "\\PC{0,12}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

fn topics() -> Topics {
    let settings = Settings::load(&Sources {
        file: None,
        addon_options: None,
        env: vec![
            ("GITOPS_BRIDGE__GITHUB__TOKEN".into(), "t".into()),
            (
                "GITOPS_BRIDGE__GITHUB__REPOSITORIES".into(),
                "[\"o/r\"]".into(),
            ),
        ],
    })
    .expect("minimal settings");
    Topics::new(&settings.mqtt)
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn command_payloads_never_panic(payload in payload_text(), bytes in prop::collection::vec(any::<u8>(), 0..64), action in "\\PC{0,16}") {
        for body in [payload.as_bytes(), &bytes[..]] {
            let _ = parse::command("o", "r", &action, body, CommandSource::Mqtt);
            let _ = parse::command("o", "r", "dispatch", body, CommandSource::Http { user: None });
        }
    }

    #[test]
    fn command_topics_never_panic(suffix in "[a-z/+#€😀]{0,30}", payload in payload_text(), retained in any::<bool>()) {
        let topics = topics();
        for topic in [format!("gitops-bridge/repo/{suffix}"), format!("gitops-bridge/bridge/cmd/{suffix}"), suffix.clone()] {
            let inbound = Inbound { topic, payload: payload.clone().into_bytes(), retained };
            if let Some(request) = intake(&topics, &inbound).into_request() {
                let _ = request.busy();
            }
        }
    }

    #[test]
    fn webhook_bodies_never_panic(body in payload_text(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        for event in ["workflow_run", "workflow_job", "push", "ping", "issues"] {
            let _ = parse_delivery(event, body.as_bytes());
            let _ = parse_delivery(event, &bytes);
            // A real delivery with one field replaced by the generated text.
            let spliced = format!("{{\"action\":\"completed\",\"repository\":{{\"id\":1}},\"workflow_run\":{body},\"workflow_job\":{body}}}");
            let _ = parse_delivery(event, spliced.as_bytes());
        }
    }
}

/// YAML-ish settings text: real keys, odd values, indentation and tabs.
fn settings_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("github:"),
        Just("  token:"),
        Just("  repositories:"),
        Just("    - "),
        Just("  poll_interval:"),
        Just("mqtt:"),
        Just("  port:"),
        Just("  host:"),
        Just("  tls:"),
        Just("store:"),
        Just("  path:"),
        Just("  retention:"),
        Just("metrics:"),
        Just("  window:"),
        Just("http:"),
        Just("  listen:"),
        Just("validate:"),
        Just("  ignore_codes:"),
        Just("log_level:"),
        Just("\t"),
        Just("  allow:"),
        Just("      dispatch:"),
        Just("- name:"),
    ];
    let value = prop_oneof![
        Just(" 60s"),
        Just(" 0"),
        Just(" -5"),
        Just(" 1e99"),
        Just(" 99999999999"),
        Just(" [rerun, nope]"),
        Just(" {a: b}"),
        Just(" ''"),
        Just(" ~"),
        Just(" *"),
        Just(" o/*"),
        Just(" €"),
        Just(" 😀😀"),
        Just(" !secret x"),
        Just(" 0.0.0.0:0"),
        Just(" verbose"),
        Just(" 5m30s"),
        Just(" 18446744073709551616s"),
    ];
    prop::collection::vec((key, value, any::<bool>()), 0..20).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(k, v, nl)| format!("{k}{v}{}", if nl { "\n" } else { "" }))
            .collect()
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn settings_never_panic(text in settings_text(), env_value in "\\PC{0,20}") {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.yaml");
        std::fs::write(&file, &text).unwrap();
        let _ = Settings::load(&Sources { file: Some(file.clone()), addon_options: None, env: vec![] });
        let options = dir.path().join("options.json");
        std::fs::write(&options, format!("{{\"mqtt\":{{\"port\":\"{}\"}}}}", env_value.replace('"', ""))).unwrap();
        let _ = Settings::load(&Sources {
            file: Some(file),
            addon_options: Some(options),
            env: vec![
                ("GITOPS_BRIDGE__MQTT__PORT".into(), env_value.clone()),
                ("GITOPS_BRIDGE__GITHUB__POLL_INTERVAL".into(), env_value.clone()),
                ("GITOPS_BRIDGE__GITHUB__REPOSITORIES".into(), env_value),
            ],
        });
    }
}

/// HA-configuration-ish YAML: HA's tags, anchors, quoting styles, flow collections,
/// templates, comments, tabs and document markers, at random indentation.
fn ha_yaml() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("automation:"),
        Just("sensor:"),
        Just("template:"),
        Just("script:"),
        Just("homeassistant:\n  packages: !include_dir_named packages"),
        Just("- platform: template"),
        Just("value_template:"),
        Just("action:"),
        Just("- service: light.turn_on"),
        Just("entity_id: light.kitchen"),
        Just("!include missing.yaml"),
        Just("!secret nope"),
        Just("!env_var X"),
        Just("!input x"),
        Just("!include_dir_merge_list ."),
        Just("\"!secret quoted\""),
        Just("&a"),
        Just("*a"),
        Just("<<: *a"),
        Just("? "),
        Just(": "),
        Just("{{ states('sensor.x') | float(0) }}"),
        Just("\"{{ now().hour"),
        Just("{% if is_state('a.b', 'on') %}x{% endif %}"),
        Just("{% for x in y %}"),
        Just("{{ x | nosuchfilter }}"),
        Just("{% macro m() %}"),
        Just("{{"),
        Just("}}"),
        Just("[a, {b: c}"),
        Just("]"),
        Just("{"),
        Just("'it''s'"),
        Just("\"a\\\n  b\""),
        Just("|"),
        Just(">-"),
        Just("# comment"),
        Just("'#434954'# c"),
        Just("---"),
        Just("..."),
        Just("\t"),
        Just("\u{feff}"),
        Just("\r\n"),
        Just("\n"),
        Just("€😀"),
        Just("yes"),
        Just("0x1F"),
        Just("1_000"),
        Just("2026-12-06"),
        Just("~"),
    ];
    prop::collection::vec((0usize..6, piece, any::<bool>()), 1..40).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(indent, p, nl)| {
                format!("{}{p}{}", "  ".repeat(indent), if nl { "\n" } else { " " })
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_validator_never_panics(main in ha_yaml(), package in ha_yaml(), bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("configuration.yaml"), &main).unwrap();
        std::fs::create_dir(dir.path().join("packages")).unwrap();
        std::fs::write(dir.path().join("packages/p.yaml"), &package).unwrap();
        std::fs::write(dir.path().join("missing.yaml"), &bytes).unwrap();
        std::fs::write(dir.path().join("secrets.yaml"), "nope: x\n").unwrap();
        let result = check(&CheckOptions::new(dir.path()));
        prop_assert!(
            !matches!(result, Err(CheckError::Internal(_))),
            "internal error {:?} on\n{main}\n---\n{package}",
            result.err()
        );
    }
}
