//! What a target repository has installed next to what the library offers, template by
//! template: the facts behind each repository's `update` entities and drift sensor in HA,
//! and behind `gitops-bridge templates status`.

use serde::Serialize;

use super::plan::RepoPlan;
use super::targets::Assignment;

/// One repository's templates, as read from one branch.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TemplateReport {
    /// The branch read (the target's, or the repository's default branch).
    pub branch: String,
    pub templates: Vec<TemplateStatus>,
    /// Why the branch could not be read now; `templates` are then the last ones known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateStatus {
    pub id: String,
    /// The lock's version; `None` before the first deploy.
    pub installed: Option<String>,
    /// The library's version; `None` when the template leaves the repository at the next
    /// deploy (no target lists it any more).
    pub latest: Option<String>,
    /// What an update brings: the changelog lines after `installed`, newest first.
    pub changes: Vec<String>,
    /// Files of this template edited by hand since our deploy.
    pub drifted: Vec<String>,
}

/// Where a template stands in one repository, derived from its [`TemplateStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateState {
    /// A file of it was edited by hand since our deploy.
    Drifted,
    /// No target lists it any more; the next deploy deletes its files.
    Removed,
    NotDeployed,
    UpdateAvailable,
    UpToDate,
}

impl TemplateState {
    /// As tables, attributes and JSON show it.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateState::Drifted => "drifted",
            TemplateState::Removed => "removed",
            TemplateState::NotDeployed => "not deployed",
            TemplateState::UpdateAvailable => "update available",
            TemplateState::UpToDate => "up to date",
        }
    }
}

impl TemplateStatus {
    pub fn state(&self) -> TemplateState {
        if !self.drifted.is_empty() {
            TemplateState::Drifted
        } else if self.latest.is_none() {
            TemplateState::Removed
        } else if self.installed.is_none() {
            TemplateState::NotDeployed
        } else if self.installed != self.latest {
            TemplateState::UpdateAvailable
        } else {
            TemplateState::UpToDate
        }
    }
}

impl TemplateReport {
    /// The report of `plan`, the plan of `assignment` against `branch`.
    pub fn of(branch: &str, plan: &RepoPlan, assignment: &Assignment) -> TemplateReport {
        let templates = plan
            .templates
            .iter()
            .map(|t| {
                let installed = t
                    .installed
                    .as_deref()
                    .and_then(|v| semver::Version::parse(v).ok());
                let changes = assignment
                    .templates
                    .iter()
                    .find(|(template, _)| template.id == t.id)
                    .filter(|_| t.installed != t.target)
                    .map(|(template, _)| {
                        template
                            .changes_since(installed.as_ref())
                            .into_iter()
                            .map(|c| format!("{}: {}", c.version, c.note))
                            .collect()
                    })
                    .unwrap_or_default();
                TemplateStatus {
                    id: t.id.clone(),
                    installed: t.installed.clone(),
                    latest: t.target.clone(),
                    changes,
                    drifted: plan
                        .drifted()
                        .into_iter()
                        .filter(|f| f.template == t.id)
                        .map(|f| f.path.clone())
                        .collect(),
                }
            })
            .collect();
        TemplateReport {
            branch: branch.to_string(),
            templates,
            error: None,
        }
    }

    /// Every drifted file, across templates.
    pub fn drifted(&self) -> Vec<&str> {
        self.templates
            .iter()
            .flat_map(|t| t.drifted.iter().map(String::as_str))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::lock::{Lock, LockedTemplate, blob_sha};
    use crate::deploy::plan::{self, TargetState};
    use crate::deploy::{DeployMode, Library, render};

    fn assignment(id: &str) -> Assignment {
        let library = Library::bundled();
        let template = library.get(id).unwrap().clone();
        let rendered = render::render(&library, &template, &Default::default()).unwrap();
        Assignment {
            templates: vec![(template, rendered)],
            branch: None,
            mode: DeployMode::Commit,
        }
    }

    #[test]
    fn a_repository_without_a_lock_has_nothing_installed() {
        let a = assignment("yaml-validation");
        let p = plan::plan(&TargetState::default(), &a.templates, None);
        let r = TemplateReport::of("main", &p, &a);
        let t = &r.templates[0];
        assert_eq!(t.installed, None);
        assert_eq!(t.latest.as_deref(), Some("1.0.0"));
        assert_eq!(t.state(), TemplateState::NotDeployed);
        assert_eq!(t.changes, vec!["1.0.0: First release.".to_string()]);
    }

    #[test]
    fn an_older_lock_is_an_update_and_a_hand_edit_is_drift() {
        let a = assignment("yaml-validation");
        let (template, rendered) = &a.templates[0];
        // What an earlier version deployed: the same paths, other bytes, version 0.9.0.
        let mut files = std::collections::BTreeMap::new();
        let mut locked = std::collections::BTreeMap::new();
        for f in rendered {
            let old = format!("{}# old\n", f.content);
            files.insert(f.path.clone(), blob_sha(old.as_bytes()));
            locked.insert(f.path.clone(), blob_sha(old.as_bytes()));
        }
        let mut lock = Lock {
            version: 1,
            ..Lock::default()
        };
        lock.templates.insert(
            template.id.clone(),
            LockedTemplate {
                version: semver::Version::new(0, 9, 0),
                files: locked,
            },
        );
        let mut state = TargetState {
            tree: "t".into(),
            files,
            lock: Some(lock),
        };
        let p = plan::plan(&state, &a.templates, None);
        let r = TemplateReport::of("main", &p, &a);
        assert_eq!(r.templates[0].installed.as_deref(), Some("0.9.0"));
        assert_eq!(r.templates[0].state(), TemplateState::UpdateAvailable);
        assert!(r.drifted().is_empty());

        let edited = &rendered[0].path;
        state
            .files
            .insert(edited.clone(), blob_sha(b"edited by hand\n"));
        let p = plan::plan(&state, &a.templates, None);
        let r = TemplateReport::of("main", &p, &a);
        assert_eq!(r.drifted(), vec![edited.as_str()]);
        assert_eq!(r.templates[0].state(), TemplateState::Drifted);
    }
}
