//! Validation: every field checked, cross-field rules, defaults filled. The only way from
//! [`RawSettings`] to [`Settings`].

use std::collections::BTreeSet;
use std::time::Duration;

use url::Url;

use super::defaults;
use super::*;

/// The levels a `log_level` directive may name.
const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// A `log_level` is a level (`debug`) or comma-separated `target=level` directives
/// (`gitops_bridge=debug,info`). `tracing`'s own parser takes a lone unknown word as a target
/// name, so `verbose` would silently mean "log nothing": every directive must name a level.
/// Returns the filter with spaces around directives removed (`tracing` refuses them).
pub(super) fn check_log_level(filter: &str) -> Result<String, String> {
    let bad = |directive: &str| {
        format!(
            "`{directive}` is not a log level; use one of {} (or `target=level`, comma-separated)",
            LOG_LEVELS.join(", ")
        )
    };
    for directive in filter.split(',').map(str::trim) {
        let level = match directive.rsplit_once('=') {
            Some((target, level)) if !target.is_empty() => level,
            Some(_) => return Err(bad(directive)),
            None => directive,
        };
        if !LOG_LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
            return Err(bad(directive));
        }
    }
    let normalised: Vec<&str> = filter.split(',').map(str::trim).collect();
    let normalised = normalised.join(",");
    tracing_subscriber::EnvFilter::try_new(&normalised).map_err(|e| format!("`{filter}`: {e}"))?;
    Ok(normalised)
}

impl Settings {
    /// Checks cross-field rules and fills defaults.
    pub fn from_raw(raw: RawSettings) -> Result<Settings, SettingsError> {
        let github = validate_github(raw.github)?;
        let mqtt = validate_mqtt(raw.mqtt)?;
        let store = StoreSettings {
            path: raw
                .store
                .path
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE_FILE)),
            retention: raw.store.retention.map_or(defaults::RETENTION, |d| d.0),
        };
        if store.path.as_os_str().is_empty() {
            return Err(invalid("store.path", "must not be empty"));
        }
        let metrics_window = raw.metrics.window.map_or(defaults::METRICS_WINDOW, |d| d.0);
        if metrics_window < Duration::from_secs(3600) {
            return Err(invalid("metrics.window", "must be at least 1h"));
        }
        if store.retention < metrics_window {
            return Err(invalid(
                "store.retention",
                "must be at least `metrics.window`, or metrics would miss runs",
            ));
        }
        let http = HttpSettings {
            listen: match raw.http.listen {
                Some(l) if l.trim().is_empty() => None,
                Some(l) => {
                    l.parse::<std::net::SocketAddr>().map_err(|_| {
                        invalid(
                            "http.listen",
                            format!("`{l}` is not an address like `0.0.0.0:8099`"),
                        )
                    })?;
                    Some(l)
                }
                None => Some(defaults::HTTP_LISTEN.to_string()),
            },
            api_token: raw.http.api_token.filter(|t| !t.is_empty()),
            mcp_trusted_networks: raw
                .http
                .mcp_trusted_networks
                .unwrap_or_default()
                .iter()
                .filter(|n| !n.trim().is_empty())
                .map(|n| parse_network(n.trim()))
                .collect::<Result<_, _>>()?,
        };
        let validate = ValidateSettings {
            path: raw.validate.path.filter(|p| !p.as_os_str().is_empty()),
            watch: raw.validate.watch.unwrap_or(defaults::VALIDATE_WATCH),
            security: raw.validate.security.unwrap_or(defaults::VALIDATE_SECURITY),
            ignored: crate::validate::IgnoreLists {
                ignore: raw.validate.ignore,
                ignore_codes: raw.validate.ignore_codes,
                ignore_files: raw.validate.ignore_files,
            },
        };
        if let Some(path) = &validate.path
            && !path.is_dir()
        {
            return Err(invalid(
                "validate.path",
                format!(
                    "{} is not a directory (the one holding configuration.yaml)",
                    path.display()
                ),
            ));
        }
        let templates = if raw.templates.targets.is_empty() && raw.templates.library.is_none() {
            None
        } else {
            let t = crate::deploy::TemplateSettings::from_raw(raw.templates)
                .map_err(|(key, message)| invalid(&key, message))?;
            Some(std::sync::Arc::new(t))
        };
        let store_dir = match store.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let config_deploy = crate::config_deploy::ConfigDeploySettings::from_raw(
            raw.config_deploy,
            github.api_url.as_str(),
            &store_dir,
            &raw.home_assistant,
        )
        .map_err(|(key, message)| invalid(&key, message))?
        .map(std::sync::Arc::new);
        for (i, selector) in github.repositories.iter().enumerate() {
            if !selector
                .policy()
                .allow
                .contains(&crate::commands::Action::DeployConfig)
            {
                continue;
            }
            let fits = config_deploy.as_ref().is_some_and(|cd| match selector {
                RepoSelector::Exact { owner, name, .. } => {
                    owner.eq_ignore_ascii_case(&cd.owner) && name.eq_ignore_ascii_case(&cd.name)
                }
                RepoSelector::Owner { owner, .. } => owner.eq_ignore_ascii_case(&cd.owner),
            });
            if !fits {
                return Err(invalid(
                    &format!("github.repositories[{i}].allow"),
                    "`deploy_config` deploys the repository `config_deploy.repository` names; allow it on that repository's entry (and set `config_deploy`)",
                ));
            }
        }
        if validate.path.is_none()
            && let Some(i) = github
                .repositories
                .iter()
                .position(|r| r.policy().gate.as_ref().is_some_and(|g| g.config_check))
        {
            return Err(invalid(
                &format!("github.repositories[{i}].quality_gate.config_check"),
                "judges the check of the HA configuration directory, but `validate.path` names none; set it (the add-on sets it to /homeassistant)",
            ));
        }
        let coordinated =
            super::coordination::coordinated(raw.coordinated_deployments, &github.repositories)?;
        let home_assistant = home_assistant(raw.home_assistant, &github.repositories)?;
        let log_level = raw
            .log_level
            .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_string());
        let log_level = check_log_level(&log_level).map_err(|m| invalid("log_level", m))?;
        Ok(Settings {
            github,
            mqtt,
            store,
            metrics_window,
            http,
            validate,
            templates,
            config_deploy,
            coordinated,
            home_assistant,
            log_level,
        })
    }
}

fn validate_github(raw: RawGitHub) -> Result<GitHubSettings, SettingsError> {
    let token = match (raw.token.filter(|t| !t.is_empty()), raw.token_file) {
        (Some(t), _) => t,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    "github.token_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let text = text.trim();
            if text.is_empty() {
                return Err(invalid(
                    "github.token_file",
                    format!("{} is empty", path.display()),
                ));
            }
            Secret::new(text)
        }
        (None, None) => {
            return Err(SettingsError::Missing {
                key: "github.token".into(),
                hint:
                    "set `github.token` (or `github.token_file`, or GITOPS_BRIDGE__GITHUB__TOKEN) \
                       to a GitHub token that can read Actions"
                        .into(),
            });
        }
    };
    if token
        .expose()
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "github.token",
            "contains whitespace; paste the token alone",
        ));
    }
    let api_url_text = raw
        .api_url
        .unwrap_or_else(|| defaults::GITHUB_API_URL.to_string());
    let api_url = parse_http_url(&api_url_text, "github.api_url")?;

    if raw.repositories.is_empty() {
        return Err(SettingsError::Missing {
            key: "github.repositories".into(),
            hint: "list at least one repository: `owner/name` or `owner/*`".into(),
        });
    }
    let mut repositories = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, entry) in raw.repositories.into_iter().enumerate() {
        let key = format!("github.repositories[{i}]");
        let selector = validate_repository(entry, &key)?;
        let id = match &selector {
            RepoSelector::Exact { owner, name, .. } => {
                format!("{}/{}", owner.to_lowercase(), name.to_lowercase())
            }
            RepoSelector::Owner { owner, .. } => format!("{}/*", owner.to_lowercase()),
        };
        if !seen.insert(id.clone()) {
            return Err(invalid(&key, format!("`{id}` is listed twice")));
        }
        repositories.push(selector);
    }
    super::coordination::check_graph(&repositories)?;

    let poll_interval = raw.poll_interval.map_or(defaults::POLL_INTERVAL, |d| d.0);
    // Quiet polls are free (304), and pacing stretches the interval when the budget runs low,
    // so a short interval is safe; below a second it would only burn CPU.
    if poll_interval < Duration::from_secs(1) {
        return Err(invalid("github.poll_interval", "must be at least 1s"));
    }
    // Discovery runs inside poll cycles, so it is never more often than polling anyway.
    let discovery_interval = raw
        .discovery_interval
        .map_or(defaults::DISCOVERY_INTERVAL, |d| d.0);
    let request_timeout = raw
        .request_timeout
        .map_or(defaults::REQUEST_TIMEOUT, |d| d.0);
    if request_timeout.is_zero() {
        return Err(invalid("github.request_timeout", "must be more than 0s"));
    }
    Ok(GitHubSettings {
        token,
        api_url,
        repositories,
        poll_interval,
        discovery_interval,
        webhook_secret: raw.webhook_secret.filter(|s| !s.is_empty()),
        allow_unsigned_webhooks: raw.allow_unsigned_webhooks.unwrap_or(false),
        include_archived: raw.include_archived.unwrap_or(false),
        include_forks: raw.include_forks.unwrap_or(defaults::INCLUDE_FORKS),
        request_timeout,
        rate_limit_reserve: raw
            .rate_limit_reserve
            .unwrap_or(defaults::RATE_LIMIT_RESERVE),
    })
}

fn is_owner_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
}

fn is_repo_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn validate_repository(entry: RawRepository, key: &str) -> Result<RepoSelector, SettingsError> {
    let (name, raw_policy) = match entry {
        RawRepository::Name(n) => (n, RawRepositoryPolicy::default()),
        RawRepository::Detailed(p) => (p.name.clone(), *p),
    };
    let name = name.trim().to_string();
    let Some((owner, repo)) = name.split_once('/') else {
        return Err(invalid(
            key,
            format!("`{name}` is not `owner/name` or `owner/*`"),
        ));
    };
    if !is_owner_name(owner) {
        return Err(invalid(
            key,
            format!("`{owner}` is not a GitHub user or organisation name"),
        ));
    }
    let mut allow = BTreeSet::new();
    for (j, a) in raw_policy.allow.iter().enumerate() {
        let action = Action::parse(a.trim()).ok_or_else(|| {
            invalid(
                &format!("{key}.allow[{j}]"),
                format!("unknown action `{a}`; allowed: {}", Action::names()),
            )
        })?;
        allow.insert(action);
    }
    for (j, w) in raw_policy.dispatch.iter().enumerate() {
        if !crate::model::is_workflow_file(w) {
            return Err(invalid(
                &format!("{key}.dispatch[{j}]"),
                format!("`{w}` is not a workflow file name like `deploy.yml`"),
            ));
        }
    }
    if !raw_policy.dispatch.is_empty() && !allow.contains(&Action::Dispatch) {
        return Err(invalid(
            &format!("{key}.dispatch"),
            "lists workflows but `dispatch` is not in `allow`; add it there to offer them",
        ));
    }
    if let Some(w) = &raw_policy.deploy_workflow
        && !crate::model::is_workflow_file(w)
    {
        return Err(invalid(
            &format!("{key}.deploy_workflow"),
            format!("`{w}` is not a workflow file name like `deploy.yml`"),
        ));
    }
    if let Some(r) = &raw_policy.rollback {
        if !crate::model::is_workflow_file(&r.workflow) {
            return Err(invalid(
                &format!("{key}.rollback.workflow"),
                format!(
                    "`{}` is not a workflow file name like `rollback.yml`",
                    r.workflow
                ),
            ));
        }
        if r.input.trim().is_empty() {
            return Err(invalid(
                &format!("{key}.rollback.input"),
                "must not be empty",
            ));
        }
    }
    if let Some(r) = &raw_policy.dispatch_ref
        && !crate::model::is_valid_git_ref(r)
    {
        return Err(invalid(
            &format!("{key}.dispatch_ref"),
            format!("`{r}` is not a git ref"),
        ));
    }
    let auto_retry = match raw_policy.auto_retry {
        None => None,
        Some(raw) => Some(retry_policy(key, raw, &allow)?),
    };
    let auto_rollback = match raw_policy.auto_rollback {
        None => None,
        Some(raw) => {
            let defaults = crate::recovery::RollbackPolicy::default();
            let after = raw.after.unwrap_or(defaults.after);
            if after == 0 {
                return Err(invalid(
                    &format!("{key}.auto_rollback.after"),
                    "must be at least 1 failed run",
                ));
            }
            if !allow.contains(&Action::Rollback) {
                return Err(invalid(
                    &format!("{key}.auto_rollback"),
                    "rolls back through `rollback`, which is not in `allow`; add it there",
                ));
            }
            if raw_policy.deploy_workflow.is_none() {
                return Err(invalid(
                    &format!("{key}.auto_rollback"),
                    "counts failures of `deploy_workflow`, which is not set; name the deploy workflow",
                ));
            }
            Some(crate::recovery::RollbackPolicy {
                after,
                cooldown: raw.cooldown.map(|d| d.0).unwrap_or(defaults.cooldown),
                health_failures: raw.health_failures.unwrap_or(defaults.health_failures),
            })
        }
    };
    let health = health_policy(
        key,
        &raw_policy.health_checks,
        raw_policy.health_check_every,
    )?;
    let downstream = super::coordination::downstream_policy(
        key,
        raw_policy.needs,
        raw_policy.on_upstream,
        &allow,
        &raw_policy.dispatch,
    )?;
    let policy = RepoPolicy {
        slo: super::coordination::slo_targets(key, raw_policy.slo)?,
        gate: super::coordination::gate_policy(raw_policy.quality_gate),
        downstream,
        health,
        auto_rollback,
        auto_retry,
        allow,
        dispatch: raw_policy.dispatch,
        deploy_workflow: raw_policy.deploy_workflow,
        rollback: raw_policy.rollback.map(|r| Rollback {
            workflow: r.workflow,
            input: r.input,
        }),
        dispatch_ref: raw_policy.dispatch_ref,
    };
    if let Some((_, why)) = policy.unmet_requirement() {
        return Err(invalid(&format!("{key}.allow"), why));
    }
    if repo == "*" {
        Ok(RepoSelector::Owner {
            owner: owner.to_string(),
            policy,
        })
    } else if is_repo_name(repo) {
        Ok(RepoSelector::Exact {
            owner: owner.to_string(),
            name: repo.to_string(),
            policy,
        })
    } else {
        Err(invalid(key, format!("`{repo}` is not a repository name")))
    }
}

pub(super) fn validate_mqtt(raw: RawMqtt) -> Result<MqttSettings, SettingsError> {
    let host_set_by_user = raw.host.as_deref().is_some_and(|h| !h.trim().is_empty());
    let host = raw
        .host
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| defaults::MQTT_HOST.to_string());
    if host.contains("://") || host.contains('/') || host.contains(' ') {
        return Err(invalid(
            "mqtt.host",
            format!("`{host}` is not a host name; write the host alone, e.g. `core-mosquitto`"),
        ));
    }
    let tls = raw.tls.unwrap_or(false);
    let port = raw.port.unwrap_or(if tls {
        defaults::MQTT_TLS_PORT
    } else {
        defaults::MQTT_PORT
    });
    if port == 0 {
        return Err(invalid("mqtt.port", "must be 1–65535"));
    }
    if raw.ca_file.is_some() && !tls {
        return Err(invalid("mqtt.ca_file", "is set but `mqtt.tls` is false"));
    }
    if let Some(ca) = &raw.ca_file
        && !ca.is_file()
    {
        return Err(invalid(
            "mqtt.ca_file",
            format!("{} does not exist", ca.display()),
        ));
    }
    if raw.password.as_ref().is_some_and(|p| !p.is_empty()) && raw.username.is_none() {
        return Err(invalid(
            "mqtt.password",
            "is set but `mqtt.username` is not",
        ));
    }
    let base_topic = raw
        .base_topic
        .unwrap_or_else(|| defaults::BASE_TOPIC.to_string());
    validate_topic_root(&base_topic, "mqtt.base_topic")?;
    let discovery_prefix = raw
        .discovery_prefix
        .unwrap_or_else(|| defaults::DISCOVERY_PREFIX.to_string());
    validate_topic_root(&discovery_prefix, "mqtt.discovery_prefix")?;
    if base_topic == discovery_prefix {
        return Err(invalid(
            "mqtt.base_topic",
            "must differ from `mqtt.discovery_prefix`",
        ));
    }
    let birth_topic = raw
        .birth_topic
        .unwrap_or_else(|| format!("{discovery_prefix}/status"));
    validate_topic_root(&birth_topic, "mqtt.birth_topic")?;
    let client_id = raw
        .client_id
        .unwrap_or_else(|| format!("{}-{}", base_topic.replace('/', "-"), std::process::id()));
    if client_id.is_empty() || client_id.len() > 128 {
        return Err(invalid("mqtt.client_id", "must be 1–128 characters"));
    }
    let keep_alive = raw.keep_alive.map_or(defaults::KEEP_ALIVE, |d| d.0);
    if keep_alive < Duration::from_secs(5) {
        return Err(invalid("mqtt.keep_alive", "must be at least 5s"));
    }
    Ok(MqttSettings {
        host,
        port,
        username: raw.username.filter(|u| !u.is_empty()),
        password: raw.password.filter(|p| !p.is_empty()),
        tls,
        ca_file: raw.ca_file,
        client_id,
        base_topic,
        discovery_prefix,
        birth_topic,
        keep_alive,
        host_set_by_user,
    })
}

fn validate_topic_root(topic: &str, key: &str) -> Result<(), SettingsError> {
    if topic.is_empty()
        || topic.starts_with('/')
        || topic.ends_with('/')
        || topic.contains(['+', '#', '\0'])
        || topic.contains("//")
    {
        return Err(invalid(
            key,
            format!("`{topic}` is not a valid topic (no wildcards, no leading or trailing `/`)"),
        ));
    }
    Ok(())
}

fn parse_http_url(text: &str, key: &str) -> Result<Url, SettingsError> {
    let url =
        Url::parse(text.trim()).map_err(|e| invalid(key, format!("`{text}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            key,
            format!("`{text}` must be an http(s) URL with a host"),
        ));
    }
    Ok(url)
}

/// A network (`172.30.32.1/32`, `fd00::/8`) or a single address (`127.0.0.1`).
fn parse_network(text: &str) -> Result<ipnet::IpNet, SettingsError> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            invalid(
                "http.mcp_trusted_networks",
                format!("`{text}` is not an address or a network like `172.30.32.1/32`"),
            )
        })
}

/// A repository's `auto_retry:`, checked: known classes, never `real`, and the
/// `rerun_failed` it needs allowed.
fn retry_policy(
    key: &str,
    raw: super::schema::RawAutoRetry,
    allow: &BTreeSet<Action>,
) -> Result<crate::recovery::RetryPolicy, SettingsError> {
    use crate::recovery::{FailureClass, RetryPolicy};
    let defaults = RetryPolicy::default();
    let classes = match raw.classes {
        None => defaults.classes,
        Some(list) => {
            let mut classes = BTreeSet::new();
            for (j, c) in list.iter().enumerate() {
                let class = FailureClass::parse(c.trim()).ok_or_else(|| {
                    invalid(
                        &format!("{key}.auto_retry.classes[{j}]"),
                        format!(
                            "unknown class `{c}`; known: infrastructure, timeout, flaky, unknown"
                        ),
                    )
                })?;
                if class == FailureClass::Real {
                    return Err(invalid(
                        &format!("{key}.auto_retry.classes[{j}]"),
                        "a `real` failure fails again on a re-run; it is never retried",
                    ));
                }
                classes.insert(class);
            }
            classes
        }
    };
    if !allow.contains(&Action::RerunFailed) {
        return Err(invalid(
            &format!("{key}.auto_retry"),
            "re-runs failed jobs through `rerun_failed`, which is not in `allow`; add it there",
        ));
    }
    Ok(RetryPolicy {
        classes,
        max_retries: raw.max_retries.unwrap_or(defaults.max_retries),
        backoff: raw.backoff.map(|d| d.0).unwrap_or(defaults.backoff),
    })
}

/// `home_assistant:`, resolved when it is set, inside the add-on, or needed: an entity
/// health check refuses to start without it.
fn home_assistant(
    raw: crate::home_assistant::RawHomeAssistant,
    repositories: &[RepoSelector],
) -> Result<Option<crate::home_assistant::HaAccess>, SettingsError> {
    let needed_by = repositories.iter().enumerate().find(|(_, r)| {
        r.policy().health.as_ref().is_some_and(|h| {
            h.checks
                .iter()
                .any(|c| matches!(c, crate::recovery::Check::Entity(_)))
        })
    });
    match raw.resolve() {
        Ok(access) => Ok(Some(access)),
        Err((key, message)) => match needed_by {
            Some((i, _)) => Err(invalid(
                &format!("home_assistant.{key}"),
                format!(
                    "{message}; `github.repositories[{i}].health_checks` checks an entity of Home Assistant"
                ),
            )),
            None => Ok(None),
        },
    }
}

/// A repository's `health_checks:`, checked: http(s) URLs and real statuses, or entity
/// ids; a timeout.
fn health_policy(
    key: &str,
    raw: &[super::schema::RawHealthCheck],
    every: Option<super::schema::HumanDuration>,
) -> Result<Option<crate::recovery::HealthPolicy>, SettingsError> {
    use crate::recovery::{Check, EntityCheck, HealthPolicy, HttpCheck};
    if raw.is_empty() {
        if every.is_some() {
            return Err(invalid(
                &format!("{key}.health_check_every"),
                "is set but `health_checks` lists no check",
            ));
        }
        return Ok(None);
    }
    let mut checks = Vec::new();
    for (j, c) in raw.iter().enumerate() {
        let at = format!("{key}.health_checks[{j}]");
        let timeout = c.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10));
        let check = match (&c.url, &c.entity) {
            (Some(url), None) => {
                if c.state.is_some() {
                    return Err(invalid(
                        &format!("{at}.state"),
                        "belongs to an `entity` check; an HTTP check has `expect_status`",
                    ));
                }
                let parsed = Url::parse(url.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        invalid(
                            &format!("{at}.url"),
                            format!("`{url}` is not an http(s) URL"),
                        )
                    })?;
                let expect_status = c.expect_status.unwrap_or(200);
                if !(100..=599).contains(&expect_status) {
                    return Err(invalid(
                        &format!("{at}.expect_status"),
                        format!("{expect_status} is not an HTTP status"),
                    ));
                }
                Check::Http(HttpCheck {
                    url: parsed,
                    expect_status,
                    timeout,
                })
            }
            (None, Some(entity)) => {
                if c.expect_status.is_some() {
                    return Err(invalid(
                        &format!("{at}.expect_status"),
                        "belongs to a `url` check; an entity check has `state`",
                    ));
                }
                if !crate::validate::domains::is_entity_id(entity) {
                    return Err(invalid(
                        &format!("{at}.entity"),
                        format!("`{entity}` is not an entity id like `binary_sensor.nas_online`"),
                    ));
                }
                Check::Entity(EntityCheck {
                    entity_id: entity.clone(),
                    state: c.state.clone(),
                    timeout,
                })
            }
            _ => {
                return Err(invalid(
                    &at,
                    "needs exactly one of `url` (an HTTP check) and `entity` (an entity of Home Assistant)",
                ));
            }
        };
        checks.push(check);
    }
    let every = every.map(|d| d.0).unwrap_or(Duration::from_secs(300));
    if every < Duration::from_secs(10) {
        return Err(invalid(
            &format!("{key}.health_check_every"),
            "must be at least 10s",
        ));
    }
    Ok(Some(HealthPolicy { checks, every }))
}
