//! The policies' on/off switches, as HA `switch` entities: per repository, one for each
//! automatic policy its settings configure (`auto_retry`, `auto_rollback`, `needs`); on the bridge,
//! *Automation paused*, the emergency stop for every automatic action, and *Configuration
//! auto-deploy* when `config_deploy` deploys new commits by itself. Settings say what a
//! policy does; a switch says whether it may act now. States live in the store (the state
//! task writes them), so they survive a restart; an unset switch is on (paused: off).

use std::fmt;

use serde::{Serialize, Serializer};

/// One switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Switch {
    AutoRetry,
    AutoRollback,
    /// Dispatches of `on_upstream` when a workflow in `needs` succeeds.
    Downstream,
    /// Bridge-level: stops every automatic action.
    AutomationPaused,
    /// Bridge-level: new commits of the configuration repository are deployed by themselves.
    ConfigAutoDeploy,
    /// Bridge-level: newer library versions of installed templates are deployed by themselves
    /// (`templates.auto_update`, one policy for the whole library).
    TemplateAutoUpdate,
}

impl Switch {
    pub const ALL: [Switch; 6] = [
        Switch::AutoRetry,
        Switch::AutoRollback,
        Switch::Downstream,
        Switch::AutomationPaused,
        Switch::ConfigAutoDeploy,
        Switch::TemplateAutoUpdate,
    ];

    /// The topic segment, component key and store key.
    pub fn key(self) -> &'static str {
        match self {
            Switch::AutoRetry => "auto_retry",
            Switch::AutoRollback => "auto_rollback",
            Switch::Downstream => "downstream",
            Switch::AutomationPaused => "automation_paused",
            Switch::ConfigAutoDeploy => "config_auto_deploy",
            Switch::TemplateAutoUpdate => "template_auto_update",
        }
    }

    pub fn parse(key: &str) -> Option<Switch> {
        Switch::ALL.into_iter().find(|s| s.key() == key)
    }

    /// What HA calls it.
    pub fn name(self) -> &'static str {
        match self {
            Switch::AutoRetry => "Auto-retry",
            Switch::AutoRollback => "Auto-rollback",
            Switch::Downstream => "Downstream triggers",
            Switch::AutomationPaused => "Automation paused",
            Switch::ConfigAutoDeploy => "Configuration auto-deploy",
            Switch::TemplateAutoUpdate => "Template auto-update",
        }
    }

    pub fn icon(self) -> &'static str {
        match self {
            Switch::AutoRetry => "mdi:restart",
            Switch::AutoRollback => "mdi:undo-variant",
            Switch::Downstream => "mdi:source-branch-sync",
            Switch::AutomationPaused => "mdi:pause-octagon",
            Switch::ConfigAutoDeploy => "mdi:home-import-outline",
            Switch::TemplateAutoUpdate => "mdi:file-sync-outline",
        }
    }

    /// Its state when nobody set it: policies act unless paused.
    pub fn default_on(self) -> bool {
        !matches!(self, Switch::AutomationPaused)
    }

    /// Whether it belongs to the bridge rather than a repository.
    pub fn is_bridge(self) -> bool {
        matches!(
            self,
            Switch::AutomationPaused | Switch::ConfigAutoDeploy | Switch::TemplateAutoUpdate
        )
    }
}

/// By its key, so a map of switches serialises as `{"auto_retry": true}`.
impl Serialize for Switch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

impl fmt::Display for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Where a switch is: the bridge, or a repository by GitHub id. Stored as `0` for the bridge
/// (GitHub ids start at 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Bridge,
    Repo(u64),
}

impl Scope {
    pub fn as_id(self) -> u64 {
        match self {
            Scope::Bridge => 0,
            Scope::Repo(id) => id,
        }
    }

    pub fn from_id(id: u64) -> Scope {
        if id == 0 {
            Scope::Bridge
        } else {
            Scope::Repo(id)
        }
    }
}

/// `ON`/`OFF`, as HA's MQTT switch sends and shows them.
pub fn payload(on: bool) -> &'static str {
    if on { "ON" } else { "OFF" }
}

/// A command payload: `ON` or `OFF` (case-insensitive), nothing else.
pub fn parse_payload(payload: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    if text.eq_ignore_ascii_case("on") {
        Some(true)
    } else if text.eq_ignore_ascii_case("off") {
        Some(false)
    } else {
        None
    }
}
