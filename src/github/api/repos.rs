//! Repositories and their owners: what `github.repositories` resolves against.

use super::Repo;

/// `GET /repos/{owner}/{repo}`.
pub fn repository(repo: Repo<'_>) -> String {
    repo.path("")
}

/// `GET /users/{username}`: tells a user from an organisation.
pub fn account(owner: &str) -> String {
    format!("users/{owner}")
}

/// `GET /user`: the token's own account.
pub fn authenticated_user() -> String {
    "user".into()
}

/// `GET /orgs/{org}/repos`, first page of 100.
pub fn organisation_repositories(org: &str) -> String {
    format!("orgs/{org}/repos?type=all&per_page=100")
}

/// `GET /user/repos`: the token's own repositories, private ones included.
pub fn own_repositories() -> String {
    "user/repos?affiliation=owner&per_page=100".into()
}

/// `GET /users/{username}/repos`: another user's public repositories.
pub fn user_repositories(user: &str) -> String {
    format!("users/{user}/repos?type=owner&per_page=100")
}

/// `POST /repos/{owner}/{repo}/deployments`: records a deployment of `sha` to
/// `environment`. No merge of the default branch, no required status checks: the commit is
/// deployed as it is, its checks are our own gates.
pub fn create_deployment(
    repo: Repo<'_>,
    sha: &str,
    environment: &str,
    description: &str,
) -> super::Write {
    super::Write::post(
        repo.path("deployments"),
        serde_json::json!({
            "ref": sha,
            "environment": environment,
            "description": description,
            "auto_merge": false,
            "required_contexts": [],
            "production_environment": true,
            "transient_environment": false,
        }),
    )
}

/// `POST /repos/{owner}/{repo}/statuses/{sha}`: a commit status under `context`, which
/// branch protection can require. GitHub keeps descriptions to 140 characters.
pub fn commit_status(
    repo: Repo<'_>,
    sha: &str,
    state: &str,
    description: &str,
    context: &str,
) -> super::Write {
    super::Write::post(
        repo.path(&format!("statuses/{sha}")),
        serde_json::json!({
            "state": state,
            "description": crate::text::truncate(description, 140),
            "context": context,
        }),
    )
}

/// `POST /repos/{owner}/{repo}/deployments/{id}/statuses`. GitHub keeps descriptions to 140
/// characters.
pub fn deployment_status(
    repo: Repo<'_>,
    id: u64,
    state: &str,
    description: &str,
    log_url: Option<&str>,
) -> super::Write {
    let mut body = serde_json::json!({
        "state": state,
        "description": crate::text::truncate(description, 140),
        "auto_inactive": true,
    });
    if let Some(url) = log_url {
        body["log_url"] = serde_json::json!(url);
    }
    super::Write::post(repo.path(&format!("deployments/{id}/statuses")), body)
}
