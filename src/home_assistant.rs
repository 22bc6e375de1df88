//! Home Assistant's REST API, as the configuration deployment and the health checks need
//! it: its state, its own configuration check, reload and restart services, its log and
//! entity states. Works against HA directly
//! (`http://homeassistant.local:8123` with a long-lived token) and through the Supervisor's
//! proxy (`http://supervisor/core` with the add-on's token).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::settings::Secret;

/// `home_assistant:` (top level, and `config_deploy.home_assistant`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHomeAssistant {
    /// `http://homeassistant.local:8123`; default `http://supervisor/core` in the add-on.
    pub url: Option<String>,
    /// A long-lived access token of an administrator; default the add-on's Supervisor token.
    pub token: Option<Secret>,
}

/// Where HA's API is and the token for it.
#[derive(Debug, Clone)]
pub struct HaAccess {
    pub url: String,
    pub token: Secret,
}

impl RawHomeAssistant {
    /// These settings, with `fallback`'s for what they leave unset.
    pub fn or(self, fallback: &RawHomeAssistant) -> RawHomeAssistant {
        RawHomeAssistant {
            url: self.url.or_else(|| fallback.url.clone()),
            token: self
                .token
                .filter(|t| !t.is_empty())
                .or_else(|| fallback.token.clone()),
        }
    }

    /// The URL and token, defaulting to the Supervisor's proxy and token inside the add-on
    /// (`SUPERVISOR_TOKEN` set). Errors: the key (`url`, `token`) and what is wrong.
    pub fn resolve(self) -> Result<HaAccess, (&'static str, String)> {
        let supervisor = std::env::var("SUPERVISOR_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        let url = match (self.url, &supervisor) {
            (Some(u), _) => u.trim_end_matches('/').to_string(),
            (None, Some(_)) => "http://supervisor/core".into(),
            (None, None) => {
                return Err((
                    "url",
                    "is required outside the add-on (`http://homeassistant.local:8123`)".into(),
                ));
            }
        };
        url::Url::parse(&url).map_err(|e| ("url", format!("`{url}`: {e}")))?;
        let token = match (self.token, supervisor) {
            (Some(t), _) if !t.is_empty() => t,
            (_, Some(t)) => Secret::new(t),
            _ => {
                return Err((
                    "token",
                    "is required outside the add-on: a long-lived access token of an administrator"
                        .into(),
                ));
            }
        };
        Ok(HaAccess { url, token })
    }
}

#[derive(Clone)]
pub struct HomeAssistant {
    http: reqwest::Client,
    url: String,
    token: Secret,
}

/// What HA's own check said (`POST /api/config/core/check_config`).
#[derive(Debug, Clone, Deserialize)]
pub struct HaCheck {
    pub result: String,
    pub errors: Option<String>,
    pub warnings: Option<String>,
}

impl HaCheck {
    pub fn is_valid(&self) -> bool {
        self.result == "valid"
    }

    /// What refuses a deployment that changes `domains`: every error, and every warning
    /// about one of those integrations (HA sets up without an integration whose
    /// configuration is invalid, and calls that a warning unless the frontend needs it).
    pub fn refusals(&self, domains: &std::collections::BTreeSet<String>) -> Vec<String> {
        let mut out: Vec<String> = self.errors.iter().flat_map(|e| split_findings(e)).collect();
        if !self.is_valid() && out.is_empty() {
            out.push("invalid".into());
        }
        for w in self.warnings.iter().flat_map(|w| split_findings(w)) {
            let about = |d: &String| {
                w.contains(&format!("Invalid config for '{d}'"))
                    || w.contains(&format!("Integration error: {d} "))
                    || w.contains(&format!("Platform error '{d}'"))
                    || w.contains(&format!("from integration '{d}'"))
                    || w.contains(&format!("Platform error: {d}."))
            };
            if domains.iter().any(about) {
                out.push(w);
            }
        }
        out
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct HaConfig {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub version: String,
}

impl HaConfig {
    /// Whether the integration `domain` is loaded.
    pub fn has(&self, domain: &str) -> bool {
        self.components.iter().any(|c| c == domain)
    }
}

impl HomeAssistant {
    pub fn new(url: &str, token: Secret) -> HomeAssistant {
        HomeAssistant {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .connect_timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            url: url.trim_end_matches('/').to_string(),
            token,
        }
    }

    async fn get(&self, path: &str, timeout: Duration) -> Result<reqwest::Response, String> {
        let request = self
            .http
            .get(format!("{}{path}", self.url))
            .timeout(timeout);
        self.send(request, path).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<reqwest::Response, String> {
        let request = self.http.post(format!("{}{path}", self.url)).json(&body);
        self.send(request, path).await
    }

    /// Sends with the token; a transport failure says HA does not answer, a refused or
    /// failed status says which.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<reqwest::Response, String> {
        let r = request
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Home Assistant at {} does not answer: {}",
                    self.url,
                    plain(&e)
                )
            })?;
        status_ok(r, path)
    }

    pub async fn config(&self) -> Result<HaConfig, String> {
        self.get("/api/config", Duration::from_secs(10))
            .await?
            .json()
            .await
            .map_err(|e| format!("/api/config: {e}"))
    }

    /// Every `domain.service` HA offers now.
    pub async fn services(&self) -> Result<std::collections::BTreeSet<String>, String> {
        #[derive(Deserialize)]
        struct Domain {
            domain: String,
            #[serde(default)]
            services: serde_json::Map<String, Value>,
        }
        let list: Vec<Domain> = self
            .get("/api/services", Duration::from_secs(10))
            .await?
            .json()
            .await
            .map_err(|e| format!("/api/services: {e}"))?;
        Ok(list
            .into_iter()
            .flat_map(|d| {
                let domain = d.domain;
                d.services
                    .into_iter()
                    .map(move |(s, _)| format!("{domain}.{s}"))
            })
            .collect())
    }

    /// HA's check of the files in its configuration folder now.
    pub async fn check_config(&self) -> Result<HaCheck, String> {
        self.post("/api/config/core/check_config", Value::Null)
            .await?
            .json()
            .await
            .map_err(|e| format!("HA's configuration check: {e}"))
    }

    /// Calls `domain.service`.
    pub async fn call(&self, service: &str) -> Result<(), String> {
        let (domain, name) = service.split_once('.').unwrap_or((service, ""));
        self.post(
            &format!("/api/services/{domain}/{name}"),
            serde_json::json!({}),
        )
        .await
        .map(|_| ())
        .map_err(|e| format!("{service}: {e}"))
    }

    /// Shows (or replaces) HA's persistent notification `id`; `None` dismisses it.
    pub async fn notify(&self, id: &str, note: Option<(&str, &str)>) -> Result<(), String> {
        let (path, body) = match note {
            Some((title, message)) => (
                "/api/services/persistent_notification/create",
                serde_json::json!({ "notification_id": id, "title": title, "message": message }),
            ),
            None => (
                "/api/services/persistent_notification/dismiss",
                serde_json::json!({ "notification_id": id }),
            ),
        };
        self.post(path, body).await.map(|_| ())
    }

    /// HA's log since it started (`GET /api/error_log`); empty when HA will not give it.
    pub async fn log(&self) -> String {
        match self.get("/api/error_log", Duration::from_secs(10)).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// An entity's state, `None` when HA has no such entity.
    pub async fn state(&self, entity_id: &str) -> Result<Option<String>, String> {
        let r = self
            .http
            .get(format!("{}/api/states/{entity_id}", self.url))
            .bearer_auth(self.token.expose())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("Home Assistant does not answer: {}", plain(&e)))?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let v: Value = status_ok(r, "/api/states")?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        Ok(v["state"].as_str().map(str::to_string))
    }

    /// Waits until HA answers with state `RUNNING`.
    pub async fn wait_running(&self, timeout: Duration) -> Result<HaConfig, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.config().await {
                Ok(c) if c.state == "RUNNING" => return Ok(c),
                Ok(c) => format!("state {}", c.state),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "Home Assistant was not running again within {}s ({last})",
                    timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Restarts HA and waits until it runs again: first for it to go down (stop answering,
    /// or leave `RUNNING`), then for it to come back.
    pub async fn restart(&self, timeout: Duration) -> Result<HaConfig, String> {
        // HA may close the connection before it answers this call.
        let _ = self
            .http
            .post(format!("{}/api/services/homeassistant/restart", self.url))
            .bearer_auth(self.token.expose())
            .json(&serde_json::json!({}))
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let deadline = Instant::now() + timeout;
        loop {
            match self.config().await {
                Ok(c) if c.state == "RUNNING" => {}
                _ => break,
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "Home Assistant did not restart within {}s of being asked",
                    timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.wait_running(deadline.saturating_duration_since(Instant::now()))
            .await
    }
}

/// HA joins its findings with newlines; a finding's own lines are indented.
fn split_findings(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match out.last_mut() {
            Some(last) if line.starts_with(' ') => {
                last.push('\n');
                last.push_str(line);
            }
            _ => out.push(line.trim().to_string()),
        }
    }
    out
}

fn status_ok(r: reqwest::Response, path: &str) -> Result<reqwest::Response, String> {
    match r.status().as_u16() {
        200..=299 => Ok(r),
        401 | 403 => Err(format!(
            "{path}: Home Assistant refused the token ({}); it needs an administrator's long-lived access token",
            r.status()
        )),
        _ => Err(format!("{path}: Home Assistant answered {}", r.status())),
    }
}

/// A reqwest error without the URL (which is ours anyway) and with its cause.
fn plain(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection refused".to_string()
    } else {
        e.to_string()
    };
    if let Some(src) = e.source().and_then(|s| s.source()) {
        s = format!("{s} ({src})");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_about_a_changed_integration_refuse_it() {
        let check = HaCheck {
            result: "valid".into(),
            errors: None,
            warnings: Some("Invalid config for 'http' at configuration.yaml, line 14: expected a port\nInvalid config for 'mqtt' at configuration.yaml, line 30: bad".into()),
        };
        let d = |s: &[&str]| s.iter().map(|s| s.to_string()).collect();
        let r = check.refusals(&d(&["http"]));
        assert_eq!(r.len(), 1);
        assert!(r[0].contains("'http'"));
        assert!(check.refusals(&d(&["automation"])).is_empty());
        let invalid = HaCheck {
            result: "invalid".into(),
            errors: Some("Error loading configuration.yaml: bad".into()),
            warnings: None,
        };
        assert_eq!(invalid.refusals(&d(&[])).len(), 1);
    }
}
