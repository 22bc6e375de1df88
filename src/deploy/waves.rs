//! Rollouts in waves: the repositories a deploy touches, grouped by `templates.waves`
//! (a canary first), and the gate between two waves — every workflow run a wave's commits
//! triggered has finished, and none failed.
//!
//! The gate only reads GitHub (the runs of a commit); the rollback of a failed wave is the
//! `rollback_template` command, submitted by the caller like every write.

use std::time::{Duration, Instant};

use super::remote::TargetRepo;
use super::targets::Wave;
use crate::commands::CommandResult;
use crate::github::api::{self, Repo};
use crate::github::models::ApiRunList;
use crate::github::{GitHubClient, GitHubError};

/// How long a commit may go without any run before the gate counts it as passed: a commit
/// that triggers no workflow has nothing to wait for.
pub const SETTLE: Duration = Duration::from_secs(120);

/// `repos` in rollout order: each in the first wave that names it, the rest in a last wave.
/// Waves that name none of `repos` are left out.
pub fn group(repos: Vec<TargetRepo>, waves: &[Wave]) -> Vec<(String, Vec<TargetRepo>)> {
    let mut out: Vec<(String, Vec<TargetRepo>)> =
        waves.iter().map(|w| (w.name.clone(), Vec::new())).collect();
    let mut rest = Vec::new();
    for repo in repos {
        let wave = waves.iter().position(|w| {
            w.repositories
                .iter()
                .any(|p| p.matches(&repo.owner, &repo.name))
        });
        match wave {
            Some(i) => out[i].1.push(repo),
            None => rest.push(repo),
        }
    }
    let last = if waves.is_empty() {
        "all repositories"
    } else {
        "the rest"
    };
    out.push((last.to_string(), rest));
    out.retain(|(_, repos)| !repos.is_empty());
    out
}

/// How a commit's runs ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Every run succeeded (or was skipped or neutral), or none started within [`SETTLE`].
    Passed(String),
    Failed(String),
}

/// Watches the runs of `sha` in `repo` every `every` until they have all finished, one
/// failed, or `timeout` passed.
pub async fn gate(
    gh: &GitHubClient,
    repo: Repo<'_>,
    sha: &str,
    timeout: Duration,
    every: Duration,
) -> Gate {
    let started = Instant::now();
    let short = &sha[..sha.len().min(7)];
    loop {
        match runs_of(gh, repo, sha).await {
            Ok(runs) => {
                if let Some(verdict) = judge(&runs, short, started.elapsed()) {
                    return verdict;
                }
            }
            // A blip is waited out like a slow run; the timeout still holds.
            Err(e) => tracing::warn!("reading the runs of {short}: {e}"),
        }
        if started.elapsed() >= timeout {
            return Gate::Failed(format!(
                "the runs of {short} did not finish within {}",
                humantime::format_duration(timeout)
            ));
        }
        tokio::time::sleep(every).await;
    }
}

/// How often a gate polls runs: the poll interval, but at least every 15 s.
pub fn gate_every(poll_interval: Duration) -> Duration {
    poll_interval.min(Duration::from_secs(15))
}

/// The gate after a wave: every command of it succeeded, and the runs of every commit
/// they wrote passed ([`gate`] each, in turn, with `timeout` each).
pub async fn gate_wave(
    gh: &GitHubClient,
    results: &[CommandResult],
    timeout: Duration,
    every: Duration,
) -> Gate {
    if let Some(bad) = results.iter().find(|r| !r.ok) {
        return Gate::Failed(format!("{} was not deployed: {}", bad.repo, bad.message));
    }
    let mut passed = Vec::new();
    for r in results {
        let (Some(sha), Some((owner, name))) = (&r.commit, r.repo.split_once('/')) else {
            continue;
        };
        match gate(gh, Repo::new(owner, name), sha, timeout, every).await {
            Gate::Passed(m) => passed.push(format!("{}: {m}", r.repo)),
            Gate::Failed(m) => return Gate::Failed(format!("{}: {m}", r.repo)),
        }
    }
    Gate::Passed(if passed.is_empty() {
        "no commit in this wave, nothing to wait for".into()
    } else {
        passed.join("; ")
    })
}

/// One run of a commit: its workflow and, once it finished, its conclusion.
#[derive(Debug, Clone)]
pub struct CommitRun {
    pub workflow: String,
    pub conclusion: Option<String>,
    pub url: String,
}

async fn runs_of(
    gh: &GitHubClient,
    repo: Repo<'_>,
    sha: &str,
) -> Result<Vec<CommitRun>, GitHubError> {
    let url = gh.url(&api::actions::runs_of_commit(repo, sha));
    let list: ApiRunList = gh.get_json(&url).await?;
    Ok(list
        .workflow_runs
        .into_iter()
        .map(|r| CommitRun {
            workflow: r
                .name
                .or(r.path)
                .unwrap_or_else(|| format!("workflow {}", r.workflow_id)),
            conclusion: match r.status.as_deref() {
                Some("completed") => Some(r.conclusion.unwrap_or_else(|| "unknown".into())),
                _ => None,
            },
            url: r.html_url,
        })
        .collect())
}

/// The verdict on `runs` after `waited`, or `None` to keep waiting.
fn judge(runs: &[CommitRun], short: &str, waited: Duration) -> Option<Gate> {
    if let Some(bad) = runs.iter().find(|r| {
        r.conclusion
            .as_deref()
            .is_some_and(|c| !matches!(c, "success" | "skipped" | "neutral"))
    }) {
        return Some(Gate::Failed(format!(
            "{} ended `{}` on {short}: {}",
            bad.workflow,
            bad.conclusion.as_deref().unwrap_or_default(),
            bad.url
        )));
    }
    if runs.is_empty() {
        return (waited >= SETTLE).then(|| {
            Gate::Passed(format!(
                "no workflow ran on {short} within {}",
                humantime::format_duration(SETTLE)
            ))
        });
    }
    if runs.iter().all(|r| r.conclusion.is_some()) {
        let names: Vec<&str> = runs.iter().map(|r| r.workflow.as_str()).collect();
        return Some(Gate::Passed(format!(
            "{} passed on {short}",
            names.join(", ")
        )));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::targets::RepoPattern;

    fn repo(full: &str) -> TargetRepo {
        let (owner, name) = full.split_once('/').unwrap();
        TargetRepo {
            owner: owner.into(),
            name: name.into(),
            meta: None,
        }
    }

    fn run(conclusion: Option<&str>) -> CommitRun {
        CommitRun {
            workflow: "CI".into(),
            conclusion: conclusion.map(str::to_string),
            url: "https://github.com/o/r/actions/runs/1".into(),
        }
    }

    #[test]
    fn waves_keep_their_order_and_the_rest_goes_last() {
        let waves = vec![Wave {
            name: "canary".into(),
            repositories: vec![RepoPattern {
                owner: "octo".into(),
                name: Some("dev".into()),
            }],
        }];
        let grouped = group(
            vec![repo("octo/a"), repo("octo/dev"), repo("octo/b")],
            &waves,
        );
        let names: Vec<(&str, Vec<String>)> = grouped
            .iter()
            .map(|(n, r)| (n.as_str(), r.iter().map(TargetRepo::full_name).collect()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("canary", vec!["octo/dev".to_string()]),
                ("the rest", vec!["octo/a".to_string(), "octo/b".to_string()]),
            ]
        );
        assert_eq!(group(vec![repo("octo/a")], &[]).len(), 1);
    }

    #[test]
    fn the_gate_waits_for_every_run_and_fails_on_the_first_failure() {
        let t = Duration::from_secs(5);
        assert_eq!(judge(&[run(Some("success")), run(None)], "abc", t), None);
        assert!(matches!(
            judge(&[run(Some("success")), run(Some("skipped"))], "abc", t),
            Some(Gate::Passed(_))
        ));
        assert!(matches!(
            judge(&[run(None), run(Some("failure"))], "abc", t),
            Some(Gate::Failed(m)) if m.contains("`failure`")
        ));
        assert!(matches!(
            judge(&[run(Some("cancelled"))], "abc", t),
            Some(Gate::Failed(_))
        ));
        // No run yet: wait, unless none came within the settle time.
        assert_eq!(judge(&[], "abc", t), None);
        assert!(matches!(judge(&[], "abc", SETTLE), Some(Gate::Passed(_))));
    }
}
