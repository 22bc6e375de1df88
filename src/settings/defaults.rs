//! What an unset setting means, in one place (`examples/settings.yaml` and `docs/` quote
//! these values).

use std::time::Duration;

const DAY: u64 = 86_400;

/// `github.api_url`.
pub const GITHUB_API_URL: &str = "https://api.github.com";
/// `github.poll_interval`.
pub const POLL_INTERVAL: Duration = Duration::from_secs(60);
/// `github.discovery_interval`: how often `owner/*` and renamed repositories are resolved.
pub const DISCOVERY_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// `github.request_timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// `github.rate_limit_reserve`: requests kept back for commands.
pub const RATE_LIMIT_RESERVE: u32 = 100;
/// `github.include_forks`.
pub const INCLUDE_FORKS: bool = true;

/// `mqtt.host`.
pub const MQTT_HOST: &str = "localhost";
/// `mqtt.port` without and with TLS.
pub const MQTT_PORT: u16 = 1883;
pub const MQTT_TLS_PORT: u16 = 8883;
/// `mqtt.base_topic`.
pub const BASE_TOPIC: &str = "gitops-bridge";
/// `mqtt.discovery_prefix`: Home Assistant's default.
pub const DISCOVERY_PREFIX: &str = "homeassistant";
/// `mqtt.keep_alive`.
pub const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// `store.retention`.
pub const RETENTION: Duration = Duration::from_secs(90 * DAY);
/// `metrics.window`.
pub const METRICS_WINDOW: Duration = Duration::from_secs(7 * DAY);
/// `http.listen`: the add-on's ingress port.
pub const HTTP_LISTEN: &str = "0.0.0.0:8099";
/// `validate.watch`.
pub const VALIDATE_WATCH: bool = true;
/// `validate.security`.
pub const VALIDATE_SECURITY: bool = true;
