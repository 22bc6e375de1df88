//! Entity and action references: offline "unknown is not missing", the universe built from
//! the configuration, `--states` snapshots, ignore lists, and the false-positive classes
//! Watchman and Spook users reported (docs §4).

mod check_common;

use check_common::{Cfg, dump, expect, expect_at, expect_clean, expect_none, with_code};
use gitops_bridge::validate::{Code, Severity, StatesSnapshot};

const BASE: &str =
    "input_boolean:\n  guest_mode:\n    name: Guest mode\nscript:\n  morning:\n    sequence: []\n";

#[test]
fn offline_unknown_entities_are_not_missing() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        &format!(
            "{BASE}automation:\n  - triggers:\n      - trigger: state\n        entity_id: sensor.from_some_integration\n    actions:\n      - action: light.turn_on\n        target:\n          entity_id: light.kitchen\n"
        ),
    )]);
    let r = c.check();
    expect_clean(&r);
    expect_none(&r, Code::EntityMissing);
    let d = expect(&r, Code::ReferencesUnverified, "configuration.yaml", 0);
    assert!(d.message.starts_with("2 entity ids"), "{}", d.message);
}

#[test]
fn offline_typo_of_a_defined_entity_is_reported_as_info() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        &format!(
            "{BASE}automation:\n  - triggers: []\n    conditions:\n      - condition: state\n        entity_id: input_boolean.guest_mdoe\n        state: \"on\"\n    actions: []\n"
        ),
    )]);
    let r = c.check();
    let d = expect_at(&r, Code::EntityUnknown, "configuration.yaml", 11, 20);
    assert_eq!(
        d.hint
            .as_deref()
            .map(|h| h.starts_with("did you mean `input_boolean.guest_mode`?")),
        Some(true)
    );
}

#[test]
fn undefined_script_and_misspelt_action_are_warnings() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        &format!(
            "{BASE}automation:\n  - triggers: []\n    actions:\n      - action: script.mornin\n      - action: light.trun_on\n      - action: script.turn_on\n        target:\n          entity_id: script.morning\n"
        ),
    )]);
    let r = c.check();
    let d = expect_at(&r, Code::ActionUnknown, "configuration.yaml", 10, 17);
    assert_eq!(d.hint.as_deref(), Some("did you mean `script.morning`?"));
    let d = expect_at(&r, Code::ActionUnknown, "configuration.yaml", 11, 17);
    assert_eq!(d.hint.as_deref(), Some("did you mean `light.turn_on`?"));
    assert_eq!(with_code(&r, Code::ActionUnknown).len(), 2, "{}", dump(&r));
}

#[test]
fn removed_or_custom_actions_are_info() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "automation:\n  - triggers: []\n    actions:\n      - action: fan.set_speed\n      - action: repairs.create\n      - action: notify.mobile_app_phone\n      - action: some_custom.thing\n",
    )]);
    let r = c.check();
    expect(&r, Code::ActionNotInCore, "configuration.yaml", 4);
    expect(&r, Code::ActionNotInCore, "configuration.yaml", 5);
    assert_eq!(
        with_code(&r, Code::ActionNotInCore).len(),
        2,
        "notify is dynamic, custom domains unknown: {}",
        dump(&r)
    );
    expect_clean(&r);
}

#[test]
fn script_actions_are_not_checked_when_scripts_are_incomplete() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "script: !include scripts.yaml\nautomation:\n  - triggers: []\n    actions:\n      - action: script.anything\n",
    )]);
    let r = c.check();
    expect(&r, Code::IncludeMissing, "configuration.yaml", 1);
    expect_none(&r, Code::ActionUnknown);
}

#[test]
fn known_false_positive_classes_are_not_references() {
    // trigger.entity_id / this.entity_id (Spook #823, #1528), action names in templates
    // (Spook #1068), purpose-specific conditions (Watchman #306), attributes that look
    // like ids (Watchman #113), signal group ids (#207), comma-separated ids (Spook #71).
    let states = StatesSnapshot::from_json(
        r#"[{"entity_id":"light.kitchen"},{"entity_id":"person.anna"},{"entity_id":"sensor.weather"},{"entity_id":"light.hall"}]"#,
    )
    .unwrap();
    let c = Cfg::new(&[(
        "configuration.yaml",
        r#"automation:
  - triggers:
      - trigger: state
        entity_id: light.kitchen, light.hall
    conditions:
      - condition: person.is_not_home
        target:
          entity_id: person.anna
      - "{{ trigger.entity_id != this.entity_id and state_attr('sensor.weather', 'sensor.forecast') }}"
    actions:
      - action: "{{ 'switch.turn_on' if is_state('light.kitchen', 'on') else 'switch.turn_off' }}"
      - action: notify.signal
        data:
          target: group.KzYpQw3T5c9abc=
          message: "{{ states.light.kitchen.name }}"
"#,
    )]);
    let r = c.check_with(|o| o.states = Some(states));
    expect_none(&r, Code::EntityMissing);
    expect_none(&r, Code::EntityUnknown);
}

#[test]
fn with_states_missing_entities_and_actions_are_warnings() {
    let mut snap =
        StatesSnapshot::from_json(r#"[{"entity_id":"light.kitchen"},{"entity_id":"sensor.temp"}]"#)
            .unwrap();
    snap.merge(StatesSnapshot::from_json(r#"[{"domain":"light","services":{"turn_on":{},"turn_off":{}}},{"domain":"notify","services":{"mobile_app_phone":{}}}]"#).unwrap());
    let c = Cfg::new(&[(
        "configuration.yaml",
        &format!(
            "{BASE}automation:\n  - triggers:\n      - trigger: state\n        entity_id: light.kitchn\n    actions:\n      - action: light.turn_on\n        target:\n          entity_id:\n            - light.kitchen\n            - input_boolean.guest_mode\n      - action: notify.mobile_app_fone\n      - action: script.morning\n      - action: notify.send\n        data:\n          message: \"{{{{ states('sensor.tmp') }}}}\"\n"
        ),
    )]);
    let r = c.check_with(|o| o.states = Some(snap.clone()));
    let d = expect_at(&r, Code::EntityMissing, "configuration.yaml", 10, 20);
    assert_eq!(d.hint.as_deref(), Some("did you mean `light.kitchen`?"));
    expect_at(&r, Code::EntityMissing, "configuration.yaml", 21, 31);
    let d = expect(&r, Code::ActionMissing, "configuration.yaml", 17);
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `notify.mobile_app_phone`?")
    );
    expect(&r, Code::ActionMissing, "configuration.yaml", 19);
    assert_eq!(
        with_code(&r, Code::EntityMissing).len(),
        2,
        "YAML-defined helpers count as existing: {}",
        dump(&r)
    );
    assert_eq!(
        with_code(&r, Code::ActionMissing).len(),
        2,
        "script.morning is defined in YAML: {}",
        dump(&r)
    );
    expect_none(&r, Code::ReferencesUnverified);

    // the ignore list, with wildcards
    let r = c.check_with(|o| {
        o.states = Some(snap);
        o.ignored.ignore = vec![
            "light.kitch*".into(),
            "notify.*".into(),
            "sensor.t?p".into(),
        ];
    });
    expect_none(&r, Code::EntityMissing);
    expect_none(&r, Code::ActionMissing);
}

#[test]
fn runtime_created_groups_and_scenes_are_not_missing() {
    let snap = StatesSnapshot::from_json(r#"[{"entity_id":"light.a"}]"#).unwrap();
    let c = Cfg::new(&[(
        "configuration.yaml",
        "automation:\n  - triggers: []\n    actions:\n      - action: group.set\n        data:\n          object_id: temp\n          entities: light.a\n      - action: light.turn_off\n        target:\n          entity_id: group.temp\n",
    )]);
    expect_none(
        &c.check_with(|o| o.states = Some(snap)),
        Code::EntityMissing,
    );
}

#[test]
fn yaml_defined_entities_form_the_offline_universe() {
    let snap = StatesSnapshot::from_json(r#"[{"entity_id":"sun.sun"}]"#).unwrap();
    let c = Cfg::new(&[(
        "configuration.yaml",
        r#"group:
  Kitchen Lights:
    entities: []
template:
  - sensor:
      - name: Outdoor Temperature
        state: "1"
      - default_entity_id: sensor.custom_id
        state: "2"
sensor:
  - platform: time_date
    name: Clock
  - platform: template
    sensors:
      legacy_one:
        value_template: "1"
automation:
  - alias: Wake Up
    triggers: []
    actions:
      - action: homeassistant.turn_on
        target:
          entity_id:
            - group.kitchen_lights
            - sensor.outdoor_temperature
            - sensor.custom_id
            - sensor.clock
            - sensor.legacy_one
            - automation.wake_up
            - zone.home
"#,
    )]);
    let r = c.check_with(|o| o.states = Some(snap));
    expect_none(&r, Code::EntityMissing);
}

#[test]
fn dashboards_references_are_checked_against_states() {
    let snap = StatesSnapshot::from_json(r#"[{"entity_id":"light.kitchen"}]"#).unwrap();
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "lovelace:\n  dashboards:\n    lovelace-home:\n      mode: yaml\n      filename: dashboards/home.yaml\n      title: Home\n",
        ),
        (
            "dashboards/home.yaml",
            "views:\n  - cards:\n      - type: entities\n        entities:\n          - light.kitchen\n          - entity: light.gone\n      - type: button\n        tap_action:\n          action: perform-action\n          perform_action: light.toggle\n",
        ),
    ]);
    let r = c.check_with(|o| o.states = Some(snap));
    expect_at(&r, Code::EntityMissing, "dashboards/home.yaml", 6, 21);
    assert_eq!(with_code(&r, Code::EntityMissing).len(), 1, "{}", dump(&r));
}

#[test]
fn states_and_services_from_a_running_home_assistant() {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    fn authorized(h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer test-token")
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route(
                    "/api/states",
                    get(|h: HeaderMap| async move {
                        if !authorized(&h) {
                            return (StatusCode::UNAUTHORIZED, String::new());
                        }
                        (
                            StatusCode::OK,
                            r#"[{"entity_id":"light.kitchen","state":"on"}]"#.to_string(),
                        )
                    }),
                )
                .route(
                    "/api/services",
                    get(|h: HeaderMap| async move {
                        if !authorized(&h) {
                            return (StatusCode::UNAUTHORIZED, String::new());
                        }
                        (
                            StatusCode::OK,
                            r#"[{"domain":"light","services":{"turn_on":{}}}]"#.to_string(),
                        )
                    }),
                );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let url = format!("http://{}/", rx.recv().unwrap());
    let snap = gitops_bridge::validate::load_states(std::slice::from_ref(&url), Some("test-token"))
        .unwrap();
    assert!(snap.has_entities && snap.entities.contains("light.kitchen"));
    assert!(snap.has_services && snap.services.contains("light.turn_on"));
    let err = gitops_bridge::validate::load_states(&[url], Some("wrong")).unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}

#[test]
fn an_action_moved_to_its_integration_is_a_warning_with_the_replacement() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "script:\n  scan:\n    sequence:\n      - action: media_player.kodi_call_method\n      - action: fan.set_speed\n",
    )]);
    let r = c.check();
    let d = expect(&r, Code::ActionMoved, "configuration.yaml", 4);
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.message.contains("`kodi.call_method`"), "{}", d.message);
    // Removed with no replacement in HA's table: still only information.
    expect(&r, Code::ActionNotInCore, "configuration.yaml", 5);
    expect_none(&r, Code::ActionUnknown);
}
