//! The writes shared by `deploy_template` and `rollback_template`: one atomic commit through
//! the Git Data API, onto the branch (fast-forward only) or onto our pull-request branch.
//!
//! Tree and commit objects are unreachable until a ref points at them, so a failure before
//! the ref update leaves the repository exactly as it was: nothing is ever half-written.

use crate::commands::executor::{Executor, Failure};
use crate::deploy::DeployMode;
use crate::github::GitHubError;
use crate::github::api::git::TreeChange;
use crate::github::api::{self, Repo};
use crate::github::models::{ApiBranchRule, ApiGitCommit, ApiPull, ApiRef, ApiTree};
use crate::state::RepoView;

/// The branch our pull requests come from (stable, so the next deploy updates the same PR).
pub const PR_BRANCH: &str = "gitops-bridge/templates";

/// Rule types of `rules/branches` that forbid a direct push of our commit.
const BLOCKING_RULES: &[&str] = &[
    "pull_request",
    "required_status_checks",
    "required_deployments",
    "required_signatures",
    "update",
    "merge_queue",
];

/// Where a commit went.
pub(super) struct Published {
    pub commit: String,
    /// The commit, or the pull request.
    pub url: String,
    /// `Some(number)` in pull-request mode.
    pub pull: Option<u64>,
    /// The pull request already held exactly this change: nothing was written.
    pub already_proposed: bool,
}

/// Why a publish did not happen.
pub(super) enum PublishError {
    /// The branch moved between our read and our ref update: re-plan and try again.
    Moved,
    Failed(Failure),
}

impl From<Failure> for PublishError {
    fn from(f: Failure) -> Self {
        PublishError::Failed(f)
    }
}

/// `auto`: a pull request when the branch's rules would refuse our direct commit.
pub(super) async fn resolve_mode(
    x: &Executor,
    view: &RepoView,
    branch: &str,
    mode: DeployMode,
) -> Result<DeployMode, Failure> {
    if mode != DeployMode::Auto {
        return Ok(mode);
    }
    let repo = Repo::from(&view.repo);
    let gh = x.reader();
    let rules: Vec<ApiBranchRule> = gh
        .get_json(&gh.url(&api::git::branch_rules(repo, branch)))
        .await
        .map_err(Failure::GitHub)?;
    Ok(
        if rules
            .iter()
            .any(|r| BLOCKING_RULES.contains(&r.kind.as_str()))
        {
            DeployMode::Pr
        } else {
            DeployMode::Commit
        },
    )
}

/// The head commit of `branch`.
pub(super) async fn branch_head(
    x: &Executor,
    view: &RepoView,
    branch: &str,
) -> Result<String, Failure> {
    let gh = x.reader();
    let url = gh.url(&api::git::branch_ref(Repo::from(&view.repo), branch));
    match gh.get_json::<ApiRef>(&url).await {
        Ok(r) => Ok(r.object.sha),
        Err(GitHubError::NotFound { .. }) => Err(Failure::Refused(format!(
            "{} has no branch `{branch}`",
            view.repo.full_name()
        ))),
        // An empty repository has no tree to build on.
        Err(GitHubError::Conflict { .. }) => Err(Failure::Refused(format!(
            "{} is empty; push a first commit before deploying templates",
            view.repo.full_name()
        ))),
        Err(e) => Err(Failure::GitHub(e)),
    }
}

/// Commits `changes` on top of `head` (whose tree is `base_tree`) and publishes the commit
/// on `branch` (commit mode) or on [`PR_BRANCH`] with a pull request into `branch`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn publish(
    x: &mut Executor,
    view: &RepoView,
    branch: &str,
    mode: DeployMode,
    head: &str,
    base_tree: &str,
    changes: &[(String, TreeChange)],
    message: &str,
    pr_body: &str,
) -> Result<Published, PublishError> {
    let repo = Repo::from(&view.repo);
    let id = view.repo.id;
    let tree = x
        .send(id, api::git::create_tree(repo, base_tree, changes))
        .await
        .map_err(scope_hint)?;
    let tree: ApiTree = parse(tree)?;

    if mode == DeployMode::Pr {
        return propose(x, view, branch, head, &tree.sha, message, pr_body).await;
    }

    let commit = x
        .send(id, api::git::create_commit(repo, message, &tree.sha, head))
        .await
        .map_err(scope_hint)?;
    let commit: ApiGitCommit = parse(commit)?;
    match x
        .send(
            id,
            api::git::update_branch(repo, branch, &commit.sha, false),
        )
        .await
    {
        Ok(_) => Ok(Published {
            url: commit
                .html_url
                .clone()
                .unwrap_or_else(|| format!("{}/commit/{}", view.repo.html_url, commit.sha)),
            commit: commit.sha,
            pull: None,
            already_proposed: false,
        }),
        Err(Failure::GitHub(GitHubError::Unprocessable { message, .. }))
            if message.to_ascii_lowercase().contains("fast forward") =>
        {
            Err(PublishError::Moved)
        }
        Err(e) => Err(PublishError::Failed(scope_hint(e))),
    }
}

/// Pull-request mode: our branch gets the commit (force: it is ours alone), and the open
/// pull request from it is updated, or one is opened.
#[allow(clippy::too_many_arguments)]
async fn propose(
    x: &mut Executor,
    view: &RepoView,
    base: &str,
    head: &str,
    tree: &str,
    message: &str,
    body: &str,
) -> Result<Published, PublishError> {
    let repo = Repo::from(&view.repo);
    let id = view.repo.id;
    let gh = x.reader().clone();
    let existing = match gh
        .get_json::<ApiRef>(&gh.url(&api::git::branch_ref(repo, PR_BRANCH)))
        .await
    {
        Ok(r) => Some(r.object.sha),
        Err(GitHubError::NotFound { .. }) => None,
        Err(e) => return Err(Failure::GitHub(e).into()),
    };
    // The branch already proposes exactly this: same tree on the same base.
    let mut unchanged = false;
    if let Some(sha) = &existing {
        let c: ApiGitCommit = gh
            .get_json(&gh.url(&api::git::commit(repo, sha)))
            .await
            .map_err(Failure::GitHub)?;
        unchanged = c.tree.sha == tree && c.parents.first().is_some_and(|p| p.sha == head);
    }
    let commit_sha = if unchanged {
        existing.clone().unwrap_or_default()
    } else {
        let commit = x
            .send(id, api::git::create_commit(repo, message, tree, head))
            .await
            .map_err(scope_hint)?;
        let commit: ApiGitCommit = parse(commit)?;
        let write = match existing {
            Some(_) => api::git::update_branch(repo, PR_BRANCH, &commit.sha, true),
            None => api::git::create_branch(repo, PR_BRANCH, &commit.sha),
        };
        x.send(id, write).await.map_err(scope_hint)?;
        commit.sha
    };
    let title = message.lines().next().unwrap_or(message);
    let open: Vec<ApiPull> = gh
        .get_json(&gh.url(&api::git::open_pulls_from(repo, PR_BRANCH)))
        .await
        .map_err(Failure::GitHub)?;
    let pull = match open.into_iter().next() {
        Some(p) if unchanged => p,
        Some(p) => {
            let updated = x
                .send(id, api::git::update_pull(repo, p.number, title, body))
                .await?;
            parse::<ApiPull>(updated).unwrap_or(p)
        }
        None => {
            let created = x
                .send(
                    id,
                    api::git::create_pull(repo, title, body, PR_BRANCH, base),
                )
                .await?;
            parse::<ApiPull>(created)?
        }
    };
    Ok(Published {
        commit: commit_sha,
        url: pull.html_url,
        pull: Some(pull.number),
        already_proposed: unchanged,
    })
}

fn parse<T: serde::de::DeserializeOwned>(v: Option<serde_json::Value>) -> Result<T, Failure> {
    let v = v.ok_or_else(|| Failure::Refused("GitHub answered without a body".into()))?;
    serde_json::from_value(v)
        .map_err(|e| Failure::Refused(format!("GitHub answered something unexpected: {e}")))
}

/// GitHub's refusal to let a token without the `workflow` scope touch `.github/workflows/`
/// (docs/github.md §2.2), turned into what to do about it.
fn scope_hint(f: Failure) -> Failure {
    match f {
        Failure::GitHub(
            GitHubError::Unprocessable { message, .. } | GitHubError::Forbidden { message, .. },
        ) if message.contains("`workflow` scope") || message.contains("`workflows` permission") => {
            Failure::Refused(format!(
                "GitHub refused to change a workflow file: the token lacks the `workflow` scope (classic token: tick `workflow`; fine-grained: Workflows read and write). Nothing was changed. GitHub said: {message}"
            ))
        }
        other => other,
    }
}
