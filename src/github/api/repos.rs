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
