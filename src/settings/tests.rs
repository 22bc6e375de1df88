//! Settings: layering, validation and their error messages.

use std::time::Duration;

use super::checks::{check_log_level, validate_mqtt};
use super::*;

fn sources(yaml: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, Sources) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.yaml");
    std::fs::write(&path, yaml).unwrap();
    let s = Sources {
        file: Some(path),
        addon_options: None,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    (dir, s)
}

const MINIMAL: &str = "github:\n  token: ghp_abc\n  repositories: [octo-org/api]\n";

#[test]
fn minimal_file_gets_documented_defaults() {
    let (_d, s) = sources(MINIMAL, &[]);
    let st = Settings::load(&s).unwrap();
    assert_eq!(st.github.api_url.as_str(), "https://api.github.com/");
    assert_eq!(st.github.poll_interval, Duration::from_secs(60));
    assert_eq!(st.mqtt.port, 1883);
    assert_eq!(st.mqtt.base_topic, "gitops-bridge");
    assert_eq!(st.mqtt.discovery_prefix, "homeassistant");
    assert_eq!(st.mqtt.birth_topic, "homeassistant/status");
    assert_eq!(st.metrics_window, Duration::from_secs(7 * 86400));
    // History next to the settings file, wherever it is: never `/data` off the add-on.
    let file = s.file.as_deref().unwrap();
    assert_eq!(
        st.store.path,
        file.parent().unwrap().join("gitops-bridge.db")
    );
    assert!(
        st.github
            .policy_for("octo-org", "api")
            .unwrap()
            .allow
            .is_empty()
    );
}

#[test]
fn unknown_key_is_named_with_its_path() {
    let (_d, s) = sources(&format!("{MINIMAL}mqtt:\n  prot: 1883\n"), &[]);
    let err = Settings::load(&s).unwrap_err().to_string();
    assert!(err.contains("mqtt"), "{err}");
    assert!(err.contains("unknown field `prot`"), "{err}");
}

#[test]
fn wrong_type_names_the_key() {
    let (_d, s) = sources(&format!("{MINIMAL}mqtt:\n  port: seventeen\n"), &[]);
    let err = Settings::load(&s).unwrap_err().to_string();
    assert!(err.contains("mqtt.port"), "{err}");
}

#[test]
fn a_trusted_mcp_network_that_is_not_one_is_named() {
    let (_d, s) = sources(
        &format!("{MINIMAL}http:\n  mcp_trusted_networks: [127.0.0.1, home-assistant]\n"),
        &[],
    );
    let err = Settings::load(&s).unwrap_err().to_string();
    assert!(err.contains("http.mcp_trusted_networks"), "{err}");
    assert!(err.contains("`home-assistant` is not an address"), "{err}");
    let (_d, s) = sources(MINIMAL, &[]);
    assert!(
        Settings::load(&s)
            .unwrap()
            .http
            .mcp_trusted_networks
            .is_empty(),
        "nothing is trusted unless set"
    );
}

#[test]
fn missing_token_says_how_to_set_it() {
    let (_d, s) = sources("github:\n  repositories: [a/b]\n", &[]);
    let err = Settings::load(&s).unwrap_err().to_string();
    assert!(err.contains("github.token"), "{err}");
    assert!(err.contains("GITOPS_BRIDGE__GITHUB__TOKEN"), "{err}");
}

#[test]
fn bad_url_and_bad_repository_are_rejected() {
    let (_d, s) = sources(&format!("{MINIMAL}  api_url: ftp://x\n"), &[]);
    assert!(
        Settings::load(&s)
            .unwrap_err()
            .to_string()
            .contains("github.api_url")
    );
    let (_d, s) = sources("github:\n  token: t\n  repositories: [just-a-name]\n", &[]);
    let err = Settings::load(&s).unwrap_err().to_string();
    assert!(err.contains("github.repositories[0]"), "{err}");
}

#[test]
fn env_overrides_file_and_parses_numbers() {
    let (_d, s) = sources(
        MINIMAL,
        &[
            ("GITOPS_BRIDGE__MQTT__PORT", "8883"),
            ("GITOPS_BRIDGE__MQTT__HOST", "broker.lan"),
            ("GITOPS_BRIDGE__GITHUB__REPOSITORIES", "[a/b, c/*]"),
            ("UNRELATED", "x"),
        ],
    );
    let st = Settings::load(&s).unwrap();
    assert_eq!(st.mqtt.port, 8883);
    assert_eq!(st.mqtt.host, "broker.lan");
    assert!(st.mqtt.host_set_by_user);
    assert_eq!(st.github.repositories.len(), 2);
}

#[test]
fn addon_options_override_file_key_by_key_and_blank_means_unset() {
    let (dir, mut s) = sources(
        &format!("{MINIMAL}mqtt:\n  host: from-file\n  username: u\n"),
        &[],
    );
    let opts = dir.path().join("options.json");
    std::fs::write(
        &opts,
        r#"{"mqtt":{"host":"","port":1884},"log_level":"debug"}"#,
    )
    .unwrap();
    s.addon_options = Some(opts);
    let st = Settings::load(&s).unwrap();
    assert_eq!(st.mqtt.host, "from-file");
    assert_eq!(st.mqtt.port, 1884);
    assert_eq!(st.mqtt.username.as_deref(), Some("u"));
    assert_eq!(st.log_level, "debug");
}

#[test]
fn addon_repositories_add_to_the_files_list() {
    let yaml = "github:\n  token: t\n  repositories:\n    - name: octo/api\n      allow: [rerun]\n";
    let (dir, mut s) = sources(yaml, &[]);
    let opts = dir.path().join("options.json");
    std::fs::write(
        &opts,
        r#"{"github":{"repositories":["octo/api","octo/web"],"poll_interval":"90"}}"#,
    )
    .unwrap();
    s.addon_options = Some(opts);
    let st = Settings::load(&s).unwrap();
    assert_eq!(st.github.repositories.len(), 2);
    assert!(
        st.github
            .policy_for("octo", "api")
            .unwrap()
            .allow
            .contains(&Action::Rerun)
    );
    assert_eq!(
        st.github.poll_interval,
        Duration::from_secs(90),
        "a bare number is seconds"
    );
}

#[test]
fn policy_rules() {
    let yaml = "github:\n  token: t\n  repositories:\n    - octo/*\n    - name: octo/api\n      allow: [rerun, dispatch]\n      dispatch: [deploy.yml]\n";
    let (_d, s) = sources(yaml, &[]);
    let st = Settings::load(&s).unwrap();
    let p = st.github.policy_for("octo", "api").unwrap();
    assert!(p.allow.contains(&Action::Dispatch));
    assert!(
        st.github
            .policy_for("octo", "other")
            .unwrap()
            .allow
            .is_empty()
    );
    assert!(st.github.policy_for("someone", "else").is_none());

    let bad = "github:\n  token: t\n  repositories:\n    - name: octo/api\n      allow: [rerun, deploy]\n";
    let (_d, s) = sources(bad, &[]);
    let err = Settings::load(&s).unwrap_err().to_string();
    assert!(
        err.contains("github.repositories[0].allow[1]") && err.contains("deploy"),
        "{err}"
    );

    let bad =
        "github:\n  token: t\n  repositories:\n    - name: octo/api\n      allow: [rollback]\n";
    let (_d, s) = sources(bad, &[]);
    assert!(Settings::load(&s).is_err());
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let (_d, s) = sources(
        &format!("{MINIMAL}mqtt:\n  username: u\n  password: hunter2\n"),
        &[],
    );
    let st = Settings::load(&s).unwrap();
    let dump = format!("{st:?}");
    assert!(
        !dump.contains("ghp_abc") && !dump.contains("hunter2"),
        "{dump}"
    );
}

/// A stand-in for the Supervisor answering `GET /services/mqtt` once with `body`.
async fn supervisor(status: u16, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/services/mqtt",
        axum::routing::get(move |headers: axum::http::HeaderMap| async move {
            let authorised = headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some("Bearer sup-token");
            let code = if authorised { status } else { 401 };
            (axum::http::StatusCode::from_u16(code).unwrap(), body)
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn mqtt_defaults() -> MqttSettings {
    validate_mqtt(RawMqtt::default()).unwrap()
}

#[tokio::test]
async fn the_supervisor_provides_the_broker_unless_set_by_hand() {
    // The documented answer, with the port as a string.
    let url = supervisor(
        200,
        r#"{"result":"ok","data":{"addon":"core_mosquitto","host":"core-mosquitto","port":"1883","ssl":false,"username":"addons","password":"pw","protocol":"3.1.1"}}"#,
    )
    .await;
    let mut mqtt = mqtt_defaults();
    assert!(
        apply_supervisor_mqtt(&mut mqtt, &url, Some("sup-token"))
            .await
            .unwrap()
    );
    assert_eq!((mqtt.host.as_str(), mqtt.port), ("core-mosquitto", 1883));
    assert_eq!(mqtt.username.as_deref(), Some("addons"));
    assert_eq!(mqtt.password.as_ref().map(Secret::expose), Some("pw"));

    let mut by_hand = mqtt_defaults();
    by_hand.host_set_by_user = true;
    by_hand.host = "broker.lan".into();
    assert!(
        !apply_supervisor_mqtt(&mut by_hand, &url, Some("sup-token"))
            .await
            .unwrap()
    );
    assert_eq!(by_hand.host, "broker.lan");

    let mut outside = mqtt_defaults();
    assert!(
        !apply_supervisor_mqtt(&mut outside, &url, None)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn no_mqtt_service_is_a_clear_error() {
    let url = supervisor(
        400,
        r#"{"result":"error","message":"No mqtt service available"}"#,
    )
    .await;
    let mut mqtt = mqtt_defaults();
    let err = apply_supervisor_mqtt(&mut mqtt, &url, Some("sup-token"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mqtt.host")
            && err.contains("No mqtt service available")
            && err.contains("Mosquitto"),
        "{err}"
    );
}

#[test]
fn log_levels_must_name_a_level() {
    for good in [
        "info",
        "DEBUG",
        "gitops_bridge=debug,info",
        "warn, rumqttc=off",
    ] {
        assert!(check_log_level(good).is_ok(), "{good}");
    }
    for bad in ["verbose", "info,loud", "gitops_bridge=chatty", "=debug", ""] {
        let e = check_log_level(bad).unwrap_err();
        assert!(
            e.contains("trace, debug, info, warn, error, off"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn durations_accept_text_and_seconds() {
    let (_d, s) = sources(
        &format!("{MINIMAL}  poll_interval: 2m\nmetrics:\n  window: 86400\n"),
        &[],
    );
    let st = Settings::load(&s).unwrap();
    assert_eq!(st.github.poll_interval, Duration::from_secs(120));
    assert_eq!(st.metrics_window, Duration::from_secs(86400));
    let (_d, s) = sources(&format!("{MINIMAL}  poll_interval: soon\n"), &[]);
    let err = Settings::load(&s).unwrap_err().to_string();
    assert!(err.contains("github.poll_interval"), "{err}");
}
