//! Home Assistant MQTT discovery payloads, built from data: pure functions, no I/O.
//!
//! One device-based discovery config per repository (`<prefix>/device/<node>_repo_<id>/config`)
//! and one for the bridge. Entity names follow HA's naming rules: `has_entity_name` is implied
//! for MQTT entities, so names never repeat the device name; `default_entity_id` is a full
//! `<domain>.<object_id>`; `unique_id`s come from GitHub's numeric repository id, so a rename
//! keeps every entity and its history.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use super::topics::{Topics, slug};
use crate::commands::Action;
use crate::deploy::status::TemplateReport;
use crate::metrics::HealthLevel;
use crate::model::RunState;
use crate::recovery::Switch;
use crate::state::RepoView;

/// The `origin` block HA logs with every discovered item.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Origin {
    pub name: &'static str,
    pub sw_version: &'static str,
    pub support_url: &'static str,
}

pub const ORIGIN: Origin = Origin {
    name: "gitops-bridge",
    sw_version: env!("CARGO_PKG_VERSION"),
    support_url: "https://github.com/gitops-bridge/gitops-bridge",
};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Device {
    pub identifiers: Vec<String>,
    pub name: String,
    pub manufacturer: &'static str,
    pub model: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sw_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_device: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Availability {
    pub topic: String,
}

/// One entity inside a device config. Every optional key is left out when unset.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Component {
    pub platform: &'static str,
    pub name: String,
    pub unique_id: String,
    pub default_entity_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_of_measurement: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_display_precision: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_category: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_by_default: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_template: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_attributes_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_attributes_template: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_press: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_install: Option<String>,
}

/// A device-based discovery config.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeviceConfig {
    pub device: Device,
    pub origin: Origin,
    pub availability: Vec<Availability>,
    pub availability_mode: &'static str,
    pub qos: u8,
    pub components: BTreeMap<String, Component>,
}

/// A retained message to publish: topic and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
}

impl DeviceConfig {
    pub fn to_message(&self, topics: &Topics) -> Message {
        Message {
            topic: topics.device_config(&self.device.identifiers[0]),
            payload: serde_json::to_vec(self).expect("discovery configs serialise"),
        }
    }
}

/// The static part of a sensor-like entity, so entities are declared as data.
struct Spec {
    key: &'static str,
    platform: &'static str,
    name: &'static str,
    device_class: Option<&'static str>,
    state_class: Option<&'static str>,
    unit: Option<&'static str>,
    precision: Option<u8>,
    icon: Option<&'static str>,
    category: Option<&'static str>,
    value_template: &'static str,
    attributes_template: Option<&'static str>,
}

const SPEC: Spec = Spec {
    key: "",
    platform: "sensor",
    name: "",
    device_class: None,
    state_class: None,
    unit: None,
    precision: None,
    icon: None,
    category: None,
    value_template: "",
    attributes_template: None,
};

/// Every per-repository entity that reads the repository's state topic.
const REPO_ENTITIES: &[Spec] = &[
    Spec {
        key: "last_run_status",
        name: "Last run status",
        device_class: Some("enum"),
        icon: Some("mdi:github"),
        value_template: "{{ value_json.status }}",
        attributes_template: Some("{{ (value_json.last_run or {}) | tojson }}"),
        ..SPEC
    },
    Spec {
        key: "last_run_finished",
        name: "Last run finished",
        device_class: Some("timestamp"),
        value_template: "{{ value_json.finished_at }}",
        ..SPEC
    },
    Spec {
        key: "last_run_duration",
        name: "Last run duration",
        device_class: Some("duration"),
        state_class: Some("measurement"),
        unit: Some("s"),
        precision: Some(0),
        value_template: "{{ value_json.duration_s }}",
        ..SPEC
    },
    Spec {
        key: "success_rate",
        name: "Success rate",
        state_class: Some("measurement"),
        unit: Some("%"),
        precision: Some(1),
        icon: Some("mdi:percent-circle-outline"),
        value_template: "{{ value_json.success_rate }}",
        ..SPEC
    },
    Spec {
        key: "health_score",
        name: "Health score",
        state_class: Some("measurement"),
        precision: Some(0),
        icon: Some("mdi:heart-pulse"),
        value_template: "{{ value_json.health_score }}",
        attributes_template: Some("{{ value_json.workflows | tojson }}"),
        ..SPEC
    },
    Spec {
        key: "health",
        name: "Health",
        device_class: Some("enum"),
        icon: Some("mdi:stethoscope"),
        value_template: "{{ value_json.health }}",
        ..SPEC
    },
    Spec {
        key: "median_run_duration",
        name: "Median run duration",
        device_class: Some("duration"),
        state_class: Some("measurement"),
        unit: Some("s"),
        precision: Some(0),
        category: Some("diagnostic"),
        value_template: "{{ value_json.duration_p50_s }}",
        ..SPEC
    },
    Spec {
        key: "p95_run_duration",
        name: "95th percentile run duration",
        device_class: Some("duration"),
        state_class: Some("measurement"),
        unit: Some("s"),
        precision: Some(0),
        category: Some("diagnostic"),
        value_template: "{{ value_json.duration_p95_s }}",
        ..SPEC
    },
    Spec {
        key: "median_queue_time",
        name: "Median queue time",
        device_class: Some("duration"),
        state_class: Some("measurement"),
        unit: Some("s"),
        precision: Some(0),
        category: Some("diagnostic"),
        value_template: "{{ value_json.queue_p50_s }}",
        ..SPEC
    },
    Spec {
        key: "mean_time_to_recovery",
        name: "Mean time to recovery",
        device_class: Some("duration"),
        state_class: Some("measurement"),
        unit: Some("s"),
        precision: Some(0),
        icon: Some("mdi:wrench-clock"),
        value_template: "{{ value_json.mttr_s }}",
        ..SPEC
    },
    Spec {
        key: "failure_streak",
        name: "Failure streak",
        state_class: Some("measurement"),
        icon: Some("mdi:alert-circle-outline"),
        value_template: "{{ value_json.failure_streak }}",
        ..SPEC
    },
    Spec {
        key: "runs_per_day",
        name: "Runs per day",
        state_class: Some("measurement"),
        unit: Some("runs/d"),
        precision: Some(1),
        icon: Some("mdi:chart-line"),
        category: Some("diagnostic"),
        value_template: "{{ value_json.runs_per_day }}",
        ..SPEC
    },
    Spec {
        key: "failing",
        platform: "binary_sensor",
        name: "Failing",
        device_class: Some("problem"),
        value_template: "{{ 'ON' if value_json.failing else 'OFF' }}",
        attributes_template: Some("{{ {'failure_streak': value_json.failure_streak} | tojson }}"),
        ..SPEC
    },
    Spec {
        key: "running",
        platform: "binary_sensor",
        name: "Running",
        device_class: Some("running"),
        value_template: "{{ 'ON' if value_json.running else 'OFF' }}",
        ..SPEC
    },
    // The plan's success metrics as service-level objectives: on = breached, unknown (HA's
    // `None`) while nothing is measured. The measured value and the target are attributes.
    Spec {
        key: "slo_success_rate",
        platform: "binary_sensor",
        name: "Success rate SLO",
        device_class: Some("problem"),
        category: Some("diagnostic"),
        value_template: "{{ 'None' if value_json.slo.success_rate.breached is none else ('ON' if value_json.slo.success_rate.breached else 'OFF') }}",
        attributes_template: Some("{{ value_json.slo.success_rate | tojson }}"),
        ..SPEC
    },
    Spec {
        key: "slo_duration",
        platform: "binary_sensor",
        name: "Duration SLO",
        device_class: Some("problem"),
        category: Some("diagnostic"),
        value_template: "{{ 'None' if value_json.slo.duration.breached is none else ('ON' if value_json.slo.duration.breached else 'OFF') }}",
        attributes_template: Some("{{ value_json.slo.duration | tojson }}"),
        ..SPEC
    },
    Spec {
        key: "slo_recovery_time",
        platform: "binary_sensor",
        name: "Recovery time SLO",
        device_class: Some("problem"),
        category: Some("diagnostic"),
        value_template: "{{ 'None' if value_json.slo.recovery_time.breached is none else ('ON' if value_json.slo.recovery_time.breached else 'OFF') }}",
        attributes_template: Some("{{ value_json.slo.recovery_time | tojson }}"),
        ..SPEC
    },
];

/// The bridge device's entities (all read `<base>/bridge/state`).
const BRIDGE_ENTITIES: &[Spec] = &[
    Spec {
        key: "github",
        platform: "binary_sensor",
        name: "GitHub",
        device_class: Some("connectivity"),
        category: Some("diagnostic"),
        value_template: "{{ 'ON' if value_json.github.reachable else 'OFF' }}",
        attributes_template: Some("{{ value_json.github | tojson }}"),
        ..SPEC
    },
    Spec {
        key: "github_problem",
        platform: "binary_sensor",
        name: "GitHub problem",
        device_class: Some("problem"),
        category: Some("diagnostic"),
        value_template: "{{ 'ON' if value_json.github.error else 'OFF' }}",
        attributes_template: Some("{{ {'error': value_json.github.error} | tojson }}"),
        ..SPEC
    },
    Spec {
        key: "github_requests_left",
        name: "GitHub requests left",
        state_class: Some("measurement"),
        icon: Some("mdi:api"),
        category: Some("diagnostic"),
        value_template: "{{ value_json.github.rate_limit_remaining }}",
        ..SPEC
    },
    Spec {
        key: "last_poll",
        name: "Last poll",
        device_class: Some("timestamp"),
        category: Some("diagnostic"),
        value_template: "{{ value_json.github.last_poll }}",
        ..SPEC
    },
    Spec {
        key: "repositories",
        name: "Repositories",
        state_class: Some("measurement"),
        icon: Some("mdi:source-repository-multiple"),
        value_template: "{{ value_json.repositories }}",
        ..SPEC
    },
    Spec {
        key: "version",
        name: "Version",
        icon: Some("mdi:tag-outline"),
        category: Some("diagnostic"),
        value_template: "{{ value_json.version }}",
        ..SPEC
    },
];

fn component(
    spec: &Spec,
    unique_prefix: &str,
    entity_prefix: &str,
    state_topic: &str,
) -> Component {
    let options = match spec.key {
        "last_run_status" => Some(RunState::ALL.iter().map(|s| s.as_str()).collect()),
        "health" => Some(HealthLevel::ALL.iter().map(|s| s.as_str()).collect()),
        _ => None,
    };
    Component {
        platform: spec.platform,
        name: spec.name.to_string(),
        unique_id: format!("{unique_prefix}_{}", spec.key),
        default_entity_id: format!("{}.{entity_prefix}_{}", spec.platform, spec.key),
        device_class: spec.device_class,
        state_class: spec.state_class,
        unit_of_measurement: spec.unit,
        suggested_display_precision: spec.precision,
        icon: spec.icon,
        entity_category: spec.category,
        options,
        state_topic: Some(state_topic.to_string()),
        value_template: Some(spec.value_template.into()),
        json_attributes_topic: spec.attributes_template.map(|_| state_topic.to_string()),
        json_attributes_template: spec.attributes_template.map(Cow::from),
        ..Component::default()
    }
}

/// The discovery config of one repository's device.
pub fn repo_config(view: &RepoView, topics: &Topics) -> DeviceConfig {
    let repo = &view.repo;
    let device_id = topics.repo_device_id(repo.id);
    let entity_prefix = slug(&repo.full_name());
    let state_topic = topics.repo_state(repo);
    let mut components: BTreeMap<String, Component> = REPO_ENTITIES
        .iter()
        .map(|spec| {
            (
                spec.key.to_string(),
                component(spec, &device_id, &entity_prefix, &state_topic),
            )
        })
        .collect();
    components.insert(
        "workflow_run".into(),
        Component {
            platform: "event",
            name: "Workflow run".into(),
            unique_id: format!("{device_id}_workflow_run"),
            default_entity_id: format!("event.{entity_prefix}_workflow_run"),
            icon: Some("mdi:play-circle-outline"),
            event_types: Some(RunState::CONCLUSIONS.iter().map(|s| s.as_str()).collect()),
            state_topic: Some(topics.repo_events(repo)),
            ..Component::default()
        },
    );
    // One button per allowed action, from the actions' own metadata. A bare press sends
    // `PRESS`; a dispatch button sends its workflow.
    for button in crate::commands::buttons(&view.policy) {
        let payload = if button.params.is_empty() {
            "PRESS".to_string()
        } else {
            serde_json::Value::Object(button.params).to_string()
        };
        components.insert(
            button.key.clone(),
            Component {
                platform: "button",
                name: button.label,
                unique_id: format!("{device_id}_{}", button.key),
                default_entity_id: format!("button.{entity_prefix}_{}", button.key),
                icon: Some(button.icon),
                command_topic: Some(topics.repo_cmd(repo, button.action)),
                payload_press: Some(payload),
                ..Component::default()
            },
        );
    }
    // The health checks' problem sensor, where the settings give any.
    if view.policy.health.is_some() {
        components.insert(
            "health_check".into(),
            Component {
                platform: "binary_sensor",
                name: "Health check".into(),
                unique_id: format!("{device_id}_health_check"),
                default_entity_id: format!("binary_sensor.{entity_prefix}_health_check"),
                device_class: Some("problem"),
                icon: Some("mdi:heart-pulse"),
                state_topic: Some(state_topic.clone()),
                value_template: Some(
                    "{{ 'None' if value_json.health_check is none else ('OFF' if value_json.health_check.ok else 'ON') }}"
                        .into(),
                ),
                json_attributes_topic: Some(state_topic.clone()),
                json_attributes_template: Some(
                    "{{ (value_json.health_check or {}) | tojson }}".into(),
                ),
                ..Component::default()
            },
        );
    }
    // The quality gate's problem sensor, where the settings set a gate.
    if view.policy.gate.is_some() {
        components.insert(
            "quality_gate".into(),
            Component {
                platform: "binary_sensor",
                name: "Quality gate".into(),
                unique_id: format!("{device_id}_quality_gate"),
                default_entity_id: format!("binary_sensor.{entity_prefix}_quality_gate"),
                device_class: Some("problem"),
                icon: Some("mdi:shield-check-outline"),
                state_topic: Some(state_topic.clone()),
                value_template: Some(
                    "{{ 'None' if value_json.quality_gate is none else ('OFF' if value_json.quality_gate.passing else 'ON') }}"
                        .into(),
                ),
                json_attributes_topic: Some(state_topic.clone()),
                json_attributes_template: Some(
                    "{{ (value_json.quality_gate or {}) | tojson }}".into(),
                ),
                ..Component::default()
            },
        );
    }
    // What the policies do, as an event entity, where any is configured.
    if view.policy.has_automation() {
        components.insert(
            "recovery".into(),
            Component {
                platform: "event",
                name: "Recovery".into(),
                unique_id: format!("{device_id}_recovery"),
                default_entity_id: format!("event.{entity_prefix}_recovery"),
                icon: Some("mdi:lifebuoy"),
                event_types: Some(crate::recovery::RECOVERY_EVENT_TYPES.to_vec()),
                state_topic: Some(topics.repo_recovery(repo)),
                ..Component::default()
            },
        );
    }
    // A switch for each automatic policy the settings configure.
    for switch in view.policy.switches() {
        let key = switch.key();
        components.insert(
            key.into(),
            switch_component(
                switch,
                (&device_id, &entity_prefix),
                &state_topic,
                format!("{{{{ value_json.switches.{key} }}}}"),
                topics.repo_switch_set(repo, key),
            ),
        );
    }
    if let Some(report) = &view.templates {
        template_components(view, report, topics, &device_id, &entity_prefix)
            .into_iter()
            .for_each(|(k, c)| {
                components.insert(k, c);
            });
    }
    DeviceConfig {
        device: Device {
            identifiers: vec![device_id],
            name: repo.full_name(),
            manufacturer: "GitHub",
            model: "Repository",
            sw_version: None,
            configuration_url: Some(repo.html_url.clone()),
            via_device: Some(topics.bridge_device_id()),
        },
        origin: ORIGIN,
        availability: vec![
            Availability {
                topic: topics.bridge_availability(),
            },
            Availability {
                topic: topics.repo_availability(repo),
            },
        ],
        availability_mode: "all",
        qos: 1,
        components,
    }
}

/// One `update` entity per workflow template the repository gets (Install deploys that
/// template, when `deploy_template` is allowed) and the drift sensor. All read the
/// repository's state, whose `templates` map holds HA's update JSON per template id.
fn template_components(
    view: &RepoView,
    report: &TemplateReport,
    topics: &Topics,
    device_id: &str,
    entity_prefix: &str,
) -> Vec<(String, Component)> {
    let repo = &view.repo;
    let state_topic = topics.repo_state(repo);
    let installable = view.policy.allow.contains(&Action::DeployTemplate);
    let mut out = Vec::new();
    for t in report.templates.iter().filter(|t| t.latest.is_some()) {
        let key = format!("template_{}", slug(&t.id));
        // Template ids are `[a-z0-9-]` (the library checks), safe inside a quoted literal.
        let id = &t.id;
        out.push((
            key.clone(),
            Component {
                platform: "update",
                name: format!("{id} template"),
                unique_id: format!("{device_id}_{key}"),
                default_entity_id: format!("update.{entity_prefix}_{key}"),
                icon: Some("mdi:file-sync-outline"),
                entity_category: Some("config"),
                state_topic: Some(state_topic.clone()),
                value_template: Some(
                    format!("{{{{ value_json.templates['{id}'] | default({{}}) | tojson }}}}")
                        .into(),
                ),
                json_attributes_topic: Some(state_topic.clone()),
                json_attributes_template: Some(
                    format!(
                        "{{{{ value_json.template_attributes['{id}'] | default({{}}) | tojson }}}}"
                    )
                    .into(),
                ),
                command_topic: installable.then(|| topics.repo_cmd(repo, Action::DeployTemplate)),
                payload_install: installable
                    .then(|| serde_json::json!({ "template": id }).to_string()),
                ..Component::default()
            },
        ));
    }
    out.push((
        "template_drift".into(),
        Component {
            platform: "binary_sensor",
            name: "Template drift".into(),
            unique_id: format!("{device_id}_template_drift"),
            default_entity_id: format!("binary_sensor.{entity_prefix}_template_drift"),
            device_class: Some("problem"),
            entity_category: Some("diagnostic"),
            icon: Some("mdi:file-compare"),
            state_topic: Some(state_topic.clone()),
            value_template: Some("{{ 'ON' if value_json.template_drift.files else 'OFF' }}".into()),
            json_attributes_topic: Some(state_topic),
            json_attributes_template: Some("{{ value_json.template_drift | tojson }}".into()),
            ..Component::default()
        },
    ));
    out
}

/// Entities of the configuration check (all read `<base>/bridge/validation`).
const VALIDATION_ENTITIES: &[Spec] = &[
    Spec {
        key: "configuration_problems",
        name: "Configuration problems",
        state_class: Some("measurement"),
        icon: Some("mdi:file-alert-outline"),
        value_template: "{{ value_json.problems }}",
        attributes_template: Some(
            "{{ {'errors': value_json.errors, 'warnings': value_json.warnings, 'info': value_json.info, 'checked_at': value_json.checked_at, 'top': value_json.top} | tojson }}",
        ),
        ..SPEC
    },
    Spec {
        key: "configuration_valid",
        platform: "binary_sensor",
        name: "Configuration",
        device_class: Some("problem"),
        value_template: "{{ 'ON' if value_json.errors > 0 else 'OFF' }}",
        ..SPEC
    },
];

/// Entities of the security scan (all read `<base>/bridge/security`). Findings travel as
/// code, file, line and a message that shows secrets only redacted.
const SECURITY_ENTITIES: &[Spec] = &[
    Spec {
        key: "security_problems",
        name: "Security problems",
        state_class: Some("measurement"),
        icon: Some("mdi:shield-alert-outline"),
        value_template: "{{ value_json.problems }}",
        attributes_template: Some(
            "{{ {'errors': value_json.errors, 'warnings': value_json.warnings, 'info': value_json.info, 'checked_at': value_json.checked_at, 'top': value_json.top} | tojson }}",
        ),
        ..SPEC
    },
    Spec {
        key: "security",
        platform: "binary_sensor",
        name: "Security",
        device_class: Some("problem"),
        value_template: "{{ 'ON' if value_json.errors > 0 else 'OFF' }}",
        ..SPEC
    },
];

/// A policy switch (entity category *config*): `ids` are the device id and the entity id
/// prefix; HA sends `ON`/`OFF` to `command_topic` and shows what `value_template` reads.
fn switch_component(
    switch: Switch,
    ids: (&str, &str),
    state_topic: &str,
    value_template: String,
    command_topic: String,
) -> Component {
    let (device_id, entity_prefix) = ids;
    let key = switch.key();
    Component {
        platform: "switch",
        name: switch.name().into(),
        unique_id: format!("{device_id}_{key}"),
        default_entity_id: format!("switch.{entity_prefix}_{key}"),
        icon: Some(switch.icon()),
        entity_category: Some("config"),
        state_topic: Some(state_topic.to_string()),
        value_template: Some(value_template.into()),
        command_topic: Some(command_topic),
        ..Component::default()
    }
}

/// The configuration deployment's entities on the bridge device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigDeployEntities {
    /// Where *Install* sends `deploy_config` (the configuration repository's command topic),
    /// when that repository allows it.
    pub install_topic: Option<String>,
    /// New commits deploy by themselves (`config_deploy.auto`): the auto-deploy switch.
    pub auto: bool,
}

impl ConfigDeployEntities {
    /// From the settings, when `config_deploy` is set.
    pub fn of(
        settings: &crate::settings::Settings,
        topics: &Topics,
    ) -> Option<ConfigDeployEntities> {
        let cd = settings.config_deploy.as_ref()?;
        let allowed = settings
            .github
            .policy_for(&cd.owner, &cd.name)
            .is_some_and(|p| p.allow.contains(&Action::DeployConfig));
        Some(ConfigDeployEntities {
            install_topic: allowed.then(|| {
                format!(
                    "{}/cmd/{}",
                    topics.repo_root(&cd.owner, &cd.name),
                    Action::DeployConfig
                )
            }),
            auto: cd.auto,
        })
    }
}

/// What the settings turn on beyond the bridge's fixed entities (the configuration check
/// and scan, switches, the configuration deployment, coordinated deployments), so exactly
/// those entities are announced.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// The configuration check (`validate.path` set): its sensors and button.
    pub config: bool,
    /// The security scan with it (`validate.security`): its sensors.
    pub security: bool,
    /// Some repository has an automatic policy: the *Automation paused* switch.
    pub automation: bool,
    /// `config_deploy` is set: the configuration's update entity, sensors and event.
    pub config_deploy: Option<ConfigDeployEntities>,
    /// The names of `coordinated_deployments`: a *Deploy* button and a status sensor each.
    pub coordinated: Vec<String>,
    /// `templates.auto_update` is on: the *Template auto-update* switch.
    pub template_auto_update: bool,
}

impl Checks {
    /// What the settings turn on.
    pub fn of(settings: &crate::settings::Settings, topics: &Topics) -> Checks {
        Checks {
            config: settings.validate.path.is_some(),
            security: settings.validate.path.is_some() && settings.validate.security,
            automation: settings.has_automation(),
            config_deploy: ConfigDeployEntities::of(settings, topics),
            coordinated: settings
                .coordinated
                .iter()
                .map(|d| d.name.clone())
                .collect(),
            template_auto_update: settings.templates.as_ref().is_some_and(|t| t.auto_update),
        }
    }
}

/// Entities of the configuration deployment (all read `<base>/bridge/configuration`).
const CONFIG_DEPLOY_ENTITIES: &[Spec] = &[
    Spec {
        key: "configuration_commit",
        name: "Deployed configuration",
        icon: Some("mdi:source-commit"),
        value_template: "{{ (value_json.deployed_commit or 'None')[:7] }}",
        attributes_template: Some(
            "{{ {'commit': value_json.deployed_commit, 'branch_head': value_json.branch_head, 'pending': value_json.pending, 'fetch_error': value_json.fetch_error} | tojson }}",
        ),
        ..SPEC
    },
    Spec {
        key: "configuration_deployed_at",
        name: "Configuration deployed",
        device_class: Some("timestamp"),
        icon: Some("mdi:home-clock-outline"),
        value_template: "{{ value_json.deployed_at or 'None' }}",
        ..SPEC
    },
    Spec {
        key: "configuration_deployment",
        name: "Last config deployment",
        device_class: Some("enum"),
        icon: Some("mdi:home-import-outline"),
        value_template: "{{ value_json.outcome or 'None' }}",
        attributes_template: Some("{{ (value_json.last or {}) | tojson }}"),
        ..SPEC
    },
];

/// The bridge device's discovery config, with the entities of the `checks` that run.
pub fn bridge_config(topics: &Topics, checks: Checks) -> DeviceConfig {
    let device_id = topics.bridge_device_id();
    let state_topic = topics.bridge_state();
    // A bridge switch reads its state from the bridge state, under its own key.
    let bridge_switch = |components: &mut BTreeMap<String, Component>, switch: Switch| {
        let key = switch.key();
        components.insert(
            key.into(),
            switch_component(
                switch,
                (&device_id, &topics.node),
                &state_topic,
                format!("{{{{ value_json.{key} }}}}"),
                topics.bridge_switch_set(key),
            ),
        );
    };
    let mut components: BTreeMap<String, Component> = BRIDGE_ENTITIES
        .iter()
        .map(|spec| {
            (
                spec.key.to_string(),
                component(spec, &device_id, &topics.node, &state_topic),
            )
        })
        .collect();
    if checks.security {
        let security_topic = topics.bridge_security();
        for spec in SECURITY_ENTITIES {
            components.insert(
                spec.key.to_string(),
                component(spec, &device_id, &topics.node, &security_topic),
            );
        }
    }
    if checks.automation {
        bridge_switch(&mut components, Switch::AutomationPaused);
    }
    if let Some(cd) = &checks.config_deploy {
        let topic = topics.bridge_configuration();
        for spec in CONFIG_DEPLOY_ENTITIES {
            let mut c = component(spec, &device_id, &topics.node, &topic);
            if spec.key == "configuration_deployment" {
                c.options = Some(
                    crate::mqtt::payload::CONFIG_DEPLOYMENT_EVENTS
                        .iter()
                        .copied()
                        .chain(["running"])
                        .collect(),
                );
            }
            components.insert(spec.key.to_string(), c);
        }
        components.insert(
            "configuration".into(),
            Component {
                platform: "update",
                name: "Configuration".into(),
                unique_id: format!("{device_id}_configuration"),
                default_entity_id: format!("update.{}_configuration", topics.node),
                icon: Some("mdi:home-import-outline"),
                state_topic: Some(topic.clone()),
                value_template: Some("{{ value_json.versions | tojson }}".into()),
                command_topic: cd.install_topic.clone(),
                payload_install: cd.install_topic.as_ref().map(|_| "PRESS".to_string()),
                ..Component::default()
            },
        );
        components.insert(
            "config_deployment".into(),
            Component {
                platform: "event",
                name: "Config deployment".into(),
                unique_id: format!("{device_id}_config_deployment"),
                default_entity_id: format!("event.{}_config_deployment", topics.node),
                icon: Some("mdi:home-import-outline"),
                event_types: Some(crate::mqtt::payload::CONFIG_DEPLOYMENT_EVENTS.to_vec()),
                state_topic: Some(topics.bridge_configuration_events()),
                ..Component::default()
            },
        );
        if cd.auto {
            bridge_switch(&mut components, Switch::ConfigAutoDeploy);
        }
    }
    if checks.template_auto_update {
        bridge_switch(&mut components, Switch::TemplateAutoUpdate);
    }
    for name in &checks.coordinated {
        let slug = crate::mqtt::topics::slug(name);
        let key = format!("coordinate_{slug}");
        components.insert(
            key.clone(),
            Component {
                platform: "button",
                name: format!("Deploy {name}"),
                unique_id: format!("{device_id}_{key}"),
                default_entity_id: format!("button.{}_{key}", topics.node),
                icon: Some("mdi:rocket-launch-outline"),
                command_topic: Some(topics.bridge_cmd("coordinate")),
                payload_press: Some(serde_json::json!({ "deployment": name }).to_string()),
                ..Component::default()
            },
        );
        // The bridge state carries every deployment the coordinator announced (idle from
        // its start); before that, idle too.
        let status = format!("(value_json.coordinated | default({{}}))['{slug}'] | default({{}})");
        let key = format!("coordinated_{slug}");
        components.insert(
            key.clone(),
            Component {
                platform: "sensor",
                name: format!("{name} deployment"),
                unique_id: format!("{device_id}_{key}"),
                default_entity_id: format!("sensor.{}_{key}", topics.node),
                device_class: Some("enum"),
                options: Some(crate::recovery::coordinate::Progress::ALL.to_vec()),
                icon: Some("mdi:rocket-launch-outline"),
                state_topic: Some(state_topic.clone()),
                value_template: Some(
                    format!("{{{{ ({status}).state | default('idle') }}}}").into(),
                ),
                json_attributes_topic: Some(state_topic.clone()),
                json_attributes_template: Some(format!("{{{{ {status} | tojson }}}}").into()),
                ..Component::default()
            },
        );
    }
    if checks.config {
        let validation_topic = topics.bridge_validation();
        for spec in VALIDATION_ENTITIES {
            components.insert(
                spec.key.to_string(),
                component(spec, &device_id, &topics.node, &validation_topic),
            );
        }
        components.insert(
            "check_configuration".into(),
            Component {
                platform: "button",
                name: "Check configuration".into(),
                unique_id: format!("{device_id}_check_configuration"),
                default_entity_id: format!("button.{}_check_configuration", topics.node),
                icon: Some("mdi:file-check-outline"),
                command_topic: Some(topics.bridge_cmd("validate")),
                payload_press: Some("PRESS".into()),
                ..Component::default()
            },
        );
    }
    let components = components;
    DeviceConfig {
        device: Device {
            identifiers: vec![device_id],
            name: "GitOps Bridge".into(),
            manufacturer: "gitops-bridge",
            model: "Bridge",
            sw_version: Some(env!("CARGO_PKG_VERSION")),
            configuration_url: None,
            via_device: None,
        },
        origin: ORIGIN,
        availability: vec![Availability {
            topic: topics.bridge_availability(),
        }],
        availability_mode: "all",
        qos: 1,
        components,
    }
}

/// Is a retained device config ours? It is when it names our bridge's availability topic:
/// that tells our configs from another bridge's with another base topic.
pub fn is_ours(payload: &[u8], topics: &Topics) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return false;
    };
    let ours = topics.bridge_availability();
    v.get("availability")
        .and_then(|a| a.as_array())
        .is_some_and(|list| {
            list.iter()
                .any(|a| a.get("topic").and_then(|t| t.as_str()) == Some(&ours))
        })
}

/// The repository topics (`…/state`, `…/availability`) a retained config of ours points at,
/// so they can be cleared with it.
pub fn repo_topics_of(payload: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(components) = v.get("components").and_then(|c| c.as_object()) {
        for c in components.values() {
            if let Some(t) = c.get("state_topic").and_then(|t| t.as_str())
                && t.ends_with("/state")
            {
                out.push(t.to_string());
            }
        }
    }
    if let Some(list) = v.get("availability").and_then(|a| a.as_array()) {
        for a in list {
            if let Some(t) = a.get("topic").and_then(|t| t.as_str())
                && t.contains("/repo/")
            {
                out.push(t.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A repository without runs, for tests.
#[cfg(test)]
pub(crate) fn empty_view(repo: crate::model::Repository) -> RepoView {
    RepoView {
        repo,
        available: true,
        unavailable_reason: None,
        health: crate::metrics::health(
            &[],
            crate::metrics::Window {
                now: chrono::Utc::now(),
                length: std::time::Duration::from_secs(86400),
                default_branch: "",
            },
        ),
        last_run: None,
        workflows: Vec::new(),
        policy: Default::default(),
        synced: true,
        templates: None,
        health_check: None,
        switches: Default::default(),
        gate: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Action, RepoPolicy};
    use crate::model::Repository;

    fn topics() -> Topics {
        Topics {
            base: "gitops-bridge".into(),
            prefix: "homeassistant".into(),
            birth: "homeassistant/status".into(),
            node: "gitops_bridge".into(),
        }
    }

    fn view() -> RepoView {
        empty_view(Repository {
            id: 1296269,
            owner: "Octo-Org".into(),
            name: "api.server".into(),
            default_branch: "main".into(),
            html_url: "https://github.com/Octo-Org/api.server".into(),
            private: false,
            archived: false,
        })
    }

    /// HA's entity id rule (core `valid_entity_id`): domain without `__`, object id of
    /// `[a-z0-9_]` not starting or ending with `_`.
    fn valid_entity_id(id: &str) -> bool {
        let Some((domain, object)) = id.split_once('.') else {
            return false;
        };
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !s.starts_with('_')
                && !s.ends_with('_')
        };
        ok(domain) && ok(object) && !domain.contains("__")
    }

    #[test]
    fn repository_config_follows_ha_naming_rules() {
        let cfg = repo_config(&view(), &topics());
        let msg = cfg.to_message(&topics());
        assert_eq!(
            msg.topic,
            "homeassistant/device/gitops_bridge_repo_1296269/config"
        );
        assert_eq!(cfg.device.name, "Octo-Org/api.server");
        assert_eq!(
            cfg.device.via_device.as_deref(),
            Some("gitops_bridge_bridge")
        );
        for (key, c) in &cfg.components {
            assert!(
                valid_entity_id(&c.default_entity_id),
                "{key}: {}",
                c.default_entity_id
            );
            assert!(
                c.default_entity_id
                    .starts_with(&format!("{}.octo_org_api_server_", c.platform))
            );
            assert!(
                c.unique_id.starts_with("gitops_bridge_repo_1296269_"),
                "{}",
                c.unique_id
            );
            assert!(
                !c.name.to_lowercase().contains("octo"),
                "name repeats the device: {}",
                c.name
            );
        }
        let status = &cfg.components["last_run_status"];
        assert_eq!(status.options.as_ref().unwrap().last(), Some(&"unknown"));
        assert!(
            cfg.components["workflow_run"]
                .event_types
                .as_ref()
                .unwrap()
                .contains(&"failure")
        );
        // Without allowed actions there are no buttons.
        assert!(cfg.components.values().all(|c| c.platform != "button"));
    }

    #[test]
    fn unique_ids_are_unique_and_stable_across_renames() {
        let a = repo_config(&view(), &topics());
        let mut renamed = view();
        renamed.repo.name = "renamed".into();
        let b = repo_config(&renamed, &topics());
        let ids_a: Vec<_> = a.components.values().map(|c| c.unique_id.clone()).collect();
        let ids_b: Vec<_> = b.components.values().map(|c| c.unique_id.clone()).collect();
        assert_eq!(ids_a, ids_b);
        let mut dedup = ids_a.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), ids_a.len());
    }

    #[test]
    fn buttons_only_for_allowed_actions() {
        let mut v = view();
        v.policy = RepoPolicy {
            allow: [Action::RerunFailed, Action::Dispatch]
                .into_iter()
                .collect(),
            dispatch: vec!["deploy.yml".into()],
            ..Default::default()
        };
        let cfg = repo_config(&v, &topics());
        let buttons: Vec<&str> = cfg
            .components
            .iter()
            .filter(|(_, c)| c.platform == "button")
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(buttons, vec!["dispatch_deploy", "rerun_failed_jobs"]);
        let d = &cfg.components["dispatch_deploy"];
        assert_eq!(
            d.command_topic.as_deref(),
            Some("gitops-bridge/repo/Octo-Org/api.server/cmd/dispatch")
        );
        assert_eq!(
            d.payload_press.as_deref(),
            Some(r#"{"workflow":"deploy.yml"}"#)
        );
    }

    #[test]
    fn ownership_is_recognised_by_availability_topic() {
        let t = topics();
        let ours = repo_config(&view(), &t).to_message(&t);
        assert!(is_ours(&ours.payload, &t));
        let mut other = t.clone();
        other.base = "another".into();
        assert!(!is_ours(&ours.payload, &other));
        assert!(!is_ours(b"not json", &t));
        assert_eq!(
            repo_topics_of(&ours.payload),
            vec![
                "gitops-bridge/repo/Octo-Org/api.server/availability".to_string(),
                "gitops-bridge/repo/Octo-Org/api.server/state".to_string()
            ]
        );
    }

    #[test]
    fn bridge_entities_are_valid() {
        let cfg = bridge_config(
            &topics(),
            Checks {
                config: true,
                security: true,
                automation: true,
                config_deploy: Some(ConfigDeployEntities {
                    install_topic: Some(
                        "gitops-bridge/repo/home/ha-config/cmd/deploy_config".into(),
                    ),
                    auto: true,
                }),
                coordinated: vec!["Home-lab".into()],
                template_auto_update: true,
            },
        );
        assert_eq!(cfg.components["configuration"].platform, "update");
        assert_eq!(
            cfg.components["configuration"].command_topic.as_deref(),
            Some("gitops-bridge/repo/home/ha-config/cmd/deploy_config")
        );
        for c in cfg.components.values() {
            assert!(
                valid_entity_id(&c.default_entity_id),
                "{}",
                c.default_entity_id
            );
        }
        assert_eq!(
            cfg.components["github"].default_entity_id,
            "binary_sensor.gitops_bridge_github"
        );
    }

    /// A coordinated deployment's button starts it by name; its sensor reads the bridge
    /// state's entry, idle until the coordinator has said anything.
    #[test]
    fn a_coordinated_deployment_has_a_deploy_button_and_a_status_sensor() {
        let checks = Checks {
            config: false,
            security: false,
            automation: false,
            config_deploy: None,
            coordinated: vec!["Home-lab".into()],
            template_auto_update: false,
        };
        let cfg = bridge_config(&topics(), checks);
        let button = &cfg.components["coordinate_home_lab"];
        assert_eq!(button.platform, "button");
        assert_eq!(button.name, "Deploy Home-lab");
        assert_eq!(
            button.command_topic.as_deref(),
            Some("gitops-bridge/bridge/cmd/coordinate")
        );
        let press: serde_json::Value =
            serde_json::from_str(button.payload_press.as_deref().unwrap()).unwrap();
        assert_eq!(press, serde_json::json!({"deployment": "Home-lab"}));
        let sensor = &cfg.components["coordinated_home_lab"];
        assert_eq!(sensor.device_class, Some("enum"));
        assert_eq!(
            sensor.options.as_deref(),
            Some(&["idle", "running", "succeeded", "failed"][..])
        );
        let env = minijinja::Environment::new();
        let render = |template: &str, state: serde_json::Value| {
            env.render_str(
                template,
                minijinja::value::Serde(&serde_json::json!({ "value_json": state })),
            )
            .unwrap()
        };
        let value = sensor.value_template.as_deref().unwrap();
        let attributes = sensor.json_attributes_template.as_deref().unwrap();
        assert_eq!(render(value, serde_json::json!({"version": "1"})), "idle");
        assert_eq!(
            render(attributes, serde_json::json!({"version": "1"})),
            "{}"
        );
        let running =
            serde_json::json!({"coordinated": {"home_lab": {"state": "running", "step": 2}}});
        assert_eq!(render(value, running.clone()), "running");
        let shown: serde_json::Value = serde_json::from_str(&render(attributes, running)).unwrap();
        assert_eq!(shown["step"], 2);
    }
}

#[cfg(test)]
mod slo_tests {
    use super::*;

    /// What HA would show for the SLO sensors of a repository state.
    fn slo_states(state: serde_json::Value) -> Vec<String> {
        let env = minijinja::Environment::new();
        ["slo_success_rate", "slo_duration", "slo_recovery_time"]
            .iter()
            .map(|key| {
                let spec = REPO_ENTITIES.iter().find(|s| s.key == *key).unwrap();
                env.render_str(
                    spec.value_template,
                    minijinja::value::Serde(&serde_json::json!({ "value_json": state })),
                )
                .unwrap()
            })
            .collect()
    }

    /// The state's `slo` object for these numbers and targets, as the bridge publishes it.
    fn state(
        numbers: (Option<f64>, Option<f64>, Option<f64>),
        targets: &crate::recovery::SloTargets,
    ) -> serde_json::Value {
        let mut h = crate::metrics::health(
            &[],
            crate::metrics::Window {
                now: chrono::Utc::now(),
                length: std::time::Duration::from_secs(3600),
                default_branch: "main",
            },
        );
        (h.success_rate, h.duration_p95_s, h.mttr_s) = numbers;
        serde_json::json!({ "slo": crate::recovery::slo::objectives(&h, targets) })
    }

    #[test]
    fn slos_are_breached_met_or_unknown() {
        let plan = crate::recovery::SloTargets::default();
        let breached = state((Some(80.0), Some(300.0), Some(7200.0)), &plan);
        assert_eq!(slo_states(breached), ["ON", "ON", "ON"]);
        let met = state((Some(95.0), Some(299.0), Some(3599.0)), &plan);
        assert_eq!(slo_states(met), ["OFF", "OFF", "OFF"]);
        assert_eq!(
            slo_states(state((None, None, None), &plan)),
            ["None", "None", "None"]
        );
        // The settings' targets, not the plan's.
        let strict = crate::recovery::SloTargets {
            min_success_rate: 99.0,
            ..plan
        };
        let mid = state((Some(97.0), Some(10.0), Some(60.0)), &strict);
        assert_eq!(slo_states(mid), ["ON", "OFF", "OFF"]);
    }
}
