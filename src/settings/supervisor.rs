//! The HA Supervisor's MQTT service: in the add-on, the broker and its credentials come from
//! `GET http://supervisor/services/mqtt` unless the settings name one.

use std::time::Duration;

use serde::Deserialize;

use super::*;

/// MQTT service data from the Supervisor (`GET /services/mqtt`).
#[derive(Debug, Deserialize)]
struct SupervisorMqtt {
    host: String,
    #[serde(deserialize_with = "port_from_string_or_number")]
    port: u16,
    #[serde(default)]
    ssl: bool,
    username: Option<String>,
    password: Option<Secret>,
}

#[derive(Debug, Deserialize)]
struct SupervisorEnvelope {
    result: String,
    data: Option<SupervisorMqtt>,
    message: Option<String>,
}

fn port_from_string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        N(u16),
        S(String),
    }
    match Repr::deserialize(d)? {
        Repr::N(n) => Ok(n),
        Repr::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// Inside the add-on (`SUPERVISOR_TOKEN` set), fills MQTT host and credentials from the
/// Supervisor unless the user set `mqtt.host` by hand. Returns whether it did.
pub async fn apply_supervisor_mqtt(
    mqtt: &mut MqttSettings,
    supervisor_url: &str,
    token: Option<&str>,
) -> Result<bool, SettingsError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(false);
    };
    if mqtt.host_set_by_user {
        return Ok(false);
    }
    let url = format!("{}/services/mqtt", supervisor_url.trim_end_matches('/'));
    let supervisor_error = |message: String| SettingsError::Invalid {
        key: "mqtt.host".into(),
        message: format!(
            "not set, and the Supervisor's MQTT service could not be read ({message}); \
             install the Mosquitto add-on or set `mqtt.host` by hand"
        ),
    };
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| supervisor_error(e.to_string()))?;
    let status = response.status();
    let body: SupervisorEnvelope = response
        .json()
        .await
        .map_err(|e| supervisor_error(format!("HTTP {status}: {e}")))?;
    let data = match (body.result.as_str(), body.data) {
        ("ok", Some(data)) => data,
        _ => {
            return Err(supervisor_error(
                body.message.unwrap_or_else(|| format!("HTTP {status}")),
            ));
        }
    };
    mqtt.host = data.host;
    mqtt.port = data.port;
    mqtt.tls = data.ssl;
    mqtt.username = data.username.filter(|u| !u.is_empty());
    mqtt.password = data.password.filter(|p| !p.is_empty());
    Ok(true)
}
