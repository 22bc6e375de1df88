//! `templates:` in the settings: which templates go to which repositories, with which
//! variables, on which branch, and how (pull request, direct commit, or whichever the
//! branch's rules allow).
//!
//! Checked when settings load: every template id exists and every target renders with its
//! variables, so a typo is a settings error at start, not a failed deploy later.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::library::{Library, Template};
use super::render::{self, Rendered};

/// `templates:` as users write it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplates {
    /// A library folder (holding `templates.yaml`); default: the library bundled with this
    /// version of gitops-bridge.
    pub library: Option<PathBuf>,
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    /// How often the daemon reads every target again for HA's `update` entities
    /// (default 10 minutes; an unchanged repository costs a free `304`).
    pub check_every: Option<crate::settings::HumanDuration>,
    /// Deploys roll out wave by wave, in this order; repositories no wave names go last.
    #[serde(default)]
    pub waves: Vec<RawWave>,
    /// How long a wave's runs may take before the rollout stops (default 30 minutes).
    pub wave_timeout: Option<crate::settings::HumanDuration>,
    /// The daemon applies new versions of installed templates by itself, wave by wave.
    #[serde(default)]
    pub auto_update: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWave {
    /// For messages; default `wave N`.
    pub name: Option<String>,
    /// `owner/name` or `owner/*`.
    pub repositories: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// `owner/name` or `owner/*`.
    pub repositories: Vec<String>,
    /// Template ids.
    pub templates: Vec<String>,
    /// Per template id: variable → value.
    #[serde(default)]
    pub variables: BTreeMap<String, Map<String, Value>>,
    /// Default: the repository's default branch.
    pub branch: Option<String>,
    #[serde(default)]
    pub mode: DeployMode,
}

/// How a deploy reaches the branch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployMode {
    /// A pull request from `gitops-bridge/templates`, updated in place by the next deploy.
    #[default]
    Pr,
    /// A commit straight onto the branch.
    Commit,
    /// A commit, unless the branch's rules require pull requests.
    Auto,
}

impl DeployMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployMode::Pr => "pr",
            DeployMode::Commit => "commit",
            DeployMode::Auto => "auto",
        }
    }
}

/// A repository pattern: `owner/name`, or `owner/*` (`name` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct RepoPattern {
    pub owner: String,
    pub name: Option<String>,
}

impl RepoPattern {
    pub fn matches(&self, owner: &str, name: &str) -> bool {
        self.owner.eq_ignore_ascii_case(owner)
            && self
                .name
                .as_ref()
                .is_none_or(|n| n.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub repositories: Vec<RepoPattern>,
    pub templates: Vec<String>,
    pub variables: BTreeMap<String, Map<String, Value>>,
    pub branch: Option<String>,
    pub mode: DeployMode,
}

/// The validated `templates:` section.
#[derive(Debug, Clone)]
pub struct TemplateSettings {
    pub library: Arc<Library>,
    pub targets: Vec<Target>,
    pub check_every: Duration,
    pub waves: Vec<Wave>,
    pub wave_timeout: Duration,
    pub auto_update: bool,
}

/// One step of a rollout.
#[derive(Debug, Clone)]
pub struct Wave {
    pub name: String,
    pub repositories: Vec<RepoPattern>,
}

/// Default of `templates.wave_timeout`.
pub const WAVE_TIMEOUT: Duration = Duration::from_secs(1800);

/// Default of `templates.check_every`.
pub const CHECK_EVERY: Duration = Duration::from_secs(600);
/// Below this, `check_every` would spend the rate limit on a question whose answer rarely
/// changes.
const MIN_CHECK_EVERY: Duration = Duration::from_secs(10);

/// What one repository gets: its templates rendered, its branch and mode.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub templates: Vec<(Template, Vec<Rendered>)>,
    pub branch: Option<String>,
    pub mode: DeployMode,
}

impl TemplateSettings {
    /// Checks `raw` against its library. Errors are `(key, message)`.
    pub fn from_raw(raw: RawTemplates) -> Result<TemplateSettings, (String, String)> {
        let library = match &raw.library {
            Some(dir) => {
                Library::load(dir).map_err(|e| ("templates.library".into(), e.to_string()))?
            }
            None => Library::bundled(),
        };
        let mut targets = Vec::new();
        for (i, t) in raw.targets.into_iter().enumerate() {
            let key = format!("templates.targets[{i}]");
            if t.repositories.is_empty() {
                return Err((format!("{key}.repositories"), "lists no repository".into()));
            }
            let mut repositories = Vec::new();
            for r in &t.repositories {
                let pattern = parse_pattern(r).ok_or_else(|| {
                    (
                        format!("{key}.repositories"),
                        format!("`{r}` is not `owner/name` or `owner/*`"),
                    )
                })?;
                repositories.push(pattern);
            }
            if t.templates.is_empty() {
                return Err((format!("{key}.templates"), "lists no template".into()));
            }
            for id in &t.templates {
                let Some(template) = library.get(id) else {
                    return Err((
                        format!("{key}.templates"),
                        format!(
                            "no template `{id}` in the {} library; it has: {}",
                            library.origin,
                            library.ids()
                        ),
                    ));
                };
                let given = t.variables.get(id).cloned().unwrap_or_default();
                render::render(&library, template, &given)
                    .map_err(|e| (format!("{key}.variables.{id}"), e.to_string()))?;
            }
            if let Some(id) = t.variables.keys().find(|id| !t.templates.contains(id)) {
                return Err((
                    format!("{key}.variables.{id}"),
                    format!("`{id}` is not among this target's templates"),
                ));
            }
            if let Some(b) = &t.branch
                && !valid_branch(b)
            {
                return Err((
                    format!("{key}.branch"),
                    format!("`{b}` is not a branch name"),
                ));
            }
            targets.push(Target {
                repositories,
                templates: t.templates,
                variables: t.variables,
                branch: t.branch,
                mode: t.mode,
            });
        }
        let check_every = raw.check_every.map_or(CHECK_EVERY, |d| d.0);
        if check_every < MIN_CHECK_EVERY {
            return Err((
                "templates.check_every".into(),
                format!(
                    "{} is too often; at least {}",
                    humantime::format_duration(check_every),
                    humantime::format_duration(MIN_CHECK_EVERY)
                ),
            ));
        }
        let mut waves = Vec::new();
        for (i, w) in raw.waves.into_iter().enumerate() {
            let key = format!("templates.waves[{i}]");
            if w.repositories.is_empty() {
                return Err((format!("{key}.repositories"), "lists no repository".into()));
            }
            let mut repositories = Vec::new();
            for r in &w.repositories {
                repositories.push(parse_pattern(r).ok_or_else(|| {
                    (
                        format!("{key}.repositories"),
                        format!("`{r}` is not `owner/name` or `owner/*`"),
                    )
                })?);
            }
            waves.push(Wave {
                name: w.name.unwrap_or_else(|| format!("wave {}", i + 1)),
                repositories,
            });
        }
        Ok(TemplateSettings {
            library: Arc::new(library),
            targets,
            check_every,
            waves,
            wave_timeout: raw.wave_timeout.map_or(WAVE_TIMEOUT, |d| d.0),
            auto_update: raw.auto_update,
        })
    }

    /// Whether any target names this repository.
    pub fn targets_repo(&self, owner: &str, name: &str) -> bool {
        self.targets
            .iter()
            .any(|t| t.repositories.iter().any(|p| p.matches(owner, name)))
    }

    /// What `owner/name` gets, rendered. `None` when no target names it. An exact
    /// `owner/name` entry wins over `owner/*` for branch and mode; a template listed by two
    /// targets for the same repository is an error (which variables would win?).
    pub fn assignment(&self, owner: &str, name: &str) -> Result<Option<Assignment>, String> {
        let matching = self.matching(owner, name);
        if matching.is_empty() {
            return Ok(None);
        }
        let mut templates: Vec<(Template, Vec<Rendered>)> = Vec::new();
        for t in &matching {
            for id in &t.templates {
                if templates.iter().any(|(x, _)| &x.id == id) {
                    return Err(format!(
                        "{owner}/{name} gets template `{id}` from two targets; list it in one"
                    ));
                }
                let template = self
                    .library
                    .get(id)
                    .ok_or_else(|| format!("no template `{id}`"))?;
                let given = t.variables.get(id).cloned().unwrap_or_default();
                let files =
                    render::render(&self.library, template, &given).map_err(|e| e.to_string())?;
                templates.push((template.clone(), files));
            }
        }
        let first = matching[0];
        Ok(Some(Assignment {
            templates,
            branch: first.branch.clone(),
            mode: first.mode,
        }))
    }

    /// The branch setting of `owner/name`'s assignment without rendering anything: `None`
    /// when no target names it, `Some(None)` for the repository's default branch.
    pub fn branch_of(&self, owner: &str, name: &str) -> Option<Option<&str>> {
        self.matching(owner, name)
            .first()
            .map(|t| t.branch.as_deref())
    }

    /// The targets naming `owner/name`, exact `owner/name` entries before `owner/*` ones.
    fn matching(&self, owner: &str, name: &str) -> Vec<&Target> {
        let mut matching: Vec<&Target> = self
            .targets
            .iter()
            .filter(|t| t.repositories.iter().any(|p| p.matches(owner, name)))
            .collect();
        let exact = |t: &&Target| {
            t.repositories
                .iter()
                .any(|p| p.name.is_some() && p.matches(owner, name))
        };
        matching.sort_by_key(|t| !exact(t));
        matching
    }
}

fn parse_pattern(s: &str) -> Option<RepoPattern> {
    let (owner, name) = s.split_once('/')?;
    let ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !ok(owner) {
        return None;
    }
    if name == "*" {
        return Some(RepoPattern {
            owner: owner.into(),
            name: None,
        });
    }
    ok(name).then(|| RepoPattern {
        owner: owner.into(),
        name: Some(name.into()),
    })
}

/// `git check-ref-format`'s main rules, enough to refuse what GitHub would.
fn valid_branch(b: &str) -> bool {
    !b.is_empty()
        && !b.starts_with('/')
        && !b.ends_with('/')
        && !b.ends_with(".lock")
        && !b.contains("..")
        && !b.contains("//")
        && !b.contains("@{")
        && !b
            .chars()
            .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(yaml: &str) -> RawTemplates {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn targets_name_known_templates_and_variables() {
        let ok = TemplateSettings::from_raw(raw(
            "targets:\n  - repositories: [me/ha, me/*]\n    templates: [security-scan]\n    variables: {security-scan: {zizmor: true}}\n",
        ))
        .unwrap();
        assert!(ok.targets_repo("Me", "anything"));
        let a = ok.assignment("me", "ha").unwrap().unwrap();
        assert_eq!(a.mode, DeployMode::Pr);
        assert!(
            a.templates[0].1[0]
                .content
                .contains("zizmor --format sarif")
        );
        assert!(ok.assignment("you", "ha").unwrap().is_none());

        let (key, msg) = TemplateSettings::from_raw(raw(
            "targets:\n  - repositories: [me/ha]\n    templates: [security-scans]\n",
        ))
        .unwrap_err();
        assert_eq!(key, "templates.targets[0].templates");
        assert!(msg.contains("security-scan"), "{msg}");

        let (key, msg) = TemplateSettings::from_raw(raw(
            "targets:\n  - repositories: [me/ha]\n    templates: [security-scan]\n    variables: {security-scan: {zizmor: 1}}\n",
        ))
        .unwrap_err();
        assert_eq!(key, "templates.targets[0].variables.security-scan");
        assert!(msg.contains("boolean"), "{msg}");

        let (key, _) = TemplateSettings::from_raw(raw(
            "targets:\n  - repositories: [me]\n    templates: [security-scan]\n",
        ))
        .unwrap_err();
        assert_eq!(key, "templates.targets[0].repositories");
    }

    #[test]
    fn one_template_from_two_targets_is_refused_for_that_repository() {
        let s = TemplateSettings::from_raw(raw(
            "targets:\n  - repositories: [me/*]\n    templates: [security-scan]\n  - repositories: [me/ha]\n    templates: [security-scan]\n    mode: commit\n",
        ))
        .unwrap();
        assert!(
            s.assignment("me", "ha")
                .unwrap_err()
                .contains("two targets")
        );
        assert_eq!(
            s.assignment("me", "other").unwrap().unwrap().mode,
            DeployMode::Pr
        );
    }
}
