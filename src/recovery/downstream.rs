//! Downstream runs: a repository `needs` workflows of other repositories, and when one of
//! them succeeds on its default branch, its `on_upstream` workflow is dispatched here with
//! the upstream's commit as an input — the cross-repository trigger GitHub Actions lacks
//! (`workflow_run` only sees its own repository). Dispatches are `dispatch` commands
//! through the one executor (allow-list, dedupe, audit, pacing, the quality gate), source
//! `policy`, one per upstream run attempt even across restarts (`request_id`).
//!
//! The graph is checked at start-up ([`find_cycle`]): a dispatched workflow that is itself
//! an upstream of the repository it came from would loop for ever.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use tokio_util::sync::CancellationToken;

use super::Switch;
use crate::commands::{Action, Command, CommandHandle, CommandSource, Params};
use crate::model::RunState;
use crate::state::{Change, RepoView, RunSummary, StateHandle};

/// One upstream workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub owner: String,
    pub name: String,
    /// Its workflow file (`release.yml`).
    pub workflow: String,
}

impl Need {
    /// Whether `run` of `view` is this upstream succeeding on its default branch.
    fn met_by(&self, view: &RepoView, run: &RunSummary) -> bool {
        view.repo.is(&self.owner, &self.name)
            && run.workflow_file.as_deref() == Some(self.workflow.as_str())
            && run.branch.as_deref() == Some(view.repo.default_branch.as_str())
            && run.status == RunState::Success
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.owner, self.name, self.workflow)
    }
}

/// A repository's `needs:` and `on_upstream:`.
#[derive(Debug, Clone, PartialEq)]
pub struct DownstreamPolicy {
    pub needs: Vec<Need>,
    /// Dispatched here when a need is met.
    pub workflow: String,
    /// The input that receives the upstream's commit; `None`: no input.
    pub sha_input: Option<String>,
}

/// The first cycle among `(repository, policy)` pairs, named node by node
/// (`a/x:build.yml → b/y:deploy.yml → a/x:build.yml`). A node is a repository's workflow:
/// an upstream workflow points at the workflow it dispatches downstream.
pub fn find_cycle<'a>(
    downstreams: impl IntoIterator<Item = (&'a str, &'a DownstreamPolicy)>,
) -> Option<String> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (repo, policy) in downstreams {
        let target = format!("{repo}:{}", policy.workflow).to_ascii_lowercase();
        for need in &policy.needs {
            edges
                .entry(need.to_string().to_ascii_lowercase())
                .or_default()
                .insert(target.clone());
        }
    }
    // Depth-first, remembering the path; a node on the path again closes a cycle.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle.join(" → "));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

/// The task: watches completed runs and dispatches what they trigger.
pub struct Downstream {
    state: StateHandle,
    commands: CommandHandle,
}

impl Downstream {
    pub fn new(state: StateHandle, commands: CommandHandle) -> Self {
        Downstream { state, commands }
    }

    pub async fn run(self, cancel: CancellationToken) {
        let mut changes = super::Changes::of(&self.state, &cancel);
        while let Some(change) = changes.next().await {
            if let Change::RunCompleted { repo_id, run } = change {
                self.completed(repo_id, &run).await;
            }
        }
    }

    async fn completed(&self, repo_id: u64, run: &RunSummary) {
        let snapshot = self.state.snapshot();
        let Some(upstream) = snapshot.repos.get(&repo_id) else {
            return;
        };
        for view in snapshot.repos.values() {
            let Some(policy) = &view.policy.downstream else {
                continue;
            };
            let Some(need) = policy.needs.iter().find(|n| n.met_by(upstream, run)) else {
                continue;
            };
            let name = view.repo.full_name();
            if snapshot.automation_paused || !view.switch_on(Switch::Downstream) {
                tracing::info!(
                    "downstream: {need} succeeded ({}); not dispatching {} in {name}: switched off or automation paused",
                    short(&run.sha),
                    policy.workflow
                );
                continue;
            }
            let mut inputs = serde_json::Map::new();
            if let Some(input) = &policy.sha_input {
                inputs.insert(input.clone(), run.sha.clone().into());
            }
            let command = Command {
                source: CommandSource::Policy,
                owner: view.repo.owner.clone(),
                name: view.repo.name.clone(),
                action: Action::Dispatch,
                params: Params {
                    request_id: Some(format!(
                        "downstream-{}-{}-{}-{}",
                        upstream.repo.id, run.id, run.attempt, view.repo.id
                    )),
                    workflow: Some(policy.workflow.clone()),
                    inputs: Some(inputs),
                    ..Params::default()
                },
            };
            let result = self.commands.execute(command).await;
            tracing::info!(
                "downstream: {need} succeeded ({}); {name}: {}",
                short(&run.sha),
                result.message
            );
            if result.ok && !result.duplicate {
                self.state.announce_recovery(
                    view.repo.id,
                    super::RecoveryEvent {
                        event_type: "dispatched_downstream",
                        repository: name,
                        run_id: result.run_id.unwrap_or(run.id),
                        attempt: 1,
                        reason: format!("{need} succeeded on {}", short(&run.sha)),
                        message: result.message.clone(),
                        url: result.url.clone().or_else(|| Some(run.url.clone())),
                    },
                );
            }
        }
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(needs: &[(&str, &str)], workflow: &str) -> DownstreamPolicy {
        DownstreamPolicy {
            needs: needs
                .iter()
                .map(|(repo, wf)| {
                    let (owner, name) = repo.split_once('/').unwrap();
                    Need {
                        owner: owner.into(),
                        name: name.into(),
                        workflow: (*wf).into(),
                    }
                })
                .collect(),
            workflow: workflow.into(),
            sha_input: None,
        }
    }

    #[test]
    fn a_cycle_is_named_and_a_chain_is_not_one() {
        let lib_to_app = policy(&[("o/lib", "release.yml")], "build.yml");
        let app_to_site = policy(&[("o/app", "build.yml")], "deploy.yml");
        let chain = [("o/app", &lib_to_app), ("o/site", &app_to_site)];
        assert_eq!(find_cycle(chain), None);
        let site_to_lib = policy(&[("o/site", "deploy.yml")], "release.yml");
        let looped = [
            ("o/app", &lib_to_app),
            ("o/site", &app_to_site),
            ("o/lib", &site_to_lib),
        ];
        assert_eq!(
            find_cycle(looped).as_deref(),
            Some("o/app:build.yml → o/site:deploy.yml → o/lib:release.yml → o/app:build.yml")
        );
        // Another workflow of the same repository is another node: no cycle.
        let lib_ci = policy(&[("o/site", "deploy.yml")], "ci.yml");
        let fine = [
            ("o/app", &lib_to_app),
            ("o/site", &app_to_site),
            ("o/lib", &lib_ci),
        ];
        assert_eq!(find_cycle(fine), None);
        // A workflow triggering itself, names in any case.
        let own = policy(&[("O/Self", "ci.yml")], "CI.yml");
        assert_eq!(
            find_cycle([("o/self", &own)]).as_deref(),
            Some("o/self:ci.yml → o/self:ci.yml")
        );
    }
}
