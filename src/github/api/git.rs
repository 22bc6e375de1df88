//! The Git Data API (refs, trees, blobs, commits), rulesets and pull requests: what the
//! template deployer reads to plan and writes to commit atomically (docs/github.md §2.2).

use serde_json::{Value, json};

use super::{Repo, Write};

/// `GET /repos/{owner}/{repo}/git/ref/heads/{branch}`: the branch's head commit.
pub fn branch_ref(repo: Repo<'_>, branch: &str) -> String {
    repo.path(&format!("git/ref/heads/{}", path_escape(branch)))
}

/// `GET /repos/{owner}/{repo}/git/trees/{rev}?recursive=1`: every file of a commit, tree
/// or branch (`HEAD` is the default branch), with its blob id.
pub fn tree(repo: Repo<'_>, rev: &str) -> String {
    repo.path(&format!("git/trees/{}?recursive=1", path_escape(rev)))
}

/// `GET /repos/{owner}/{repo}/git/blobs/{sha}`: a file's bytes, base64.
pub fn blob(repo: Repo<'_>, sha: &str) -> String {
    repo.path(&format!("git/blobs/{sha}"))
}

/// `GET /repos/{owner}/{repo}/git/commits/{sha}`.
pub fn commit(repo: Repo<'_>, sha: &str) -> String {
    repo.path(&format!("git/commits/{sha}"))
}

/// `GET /repos/{owner}/{repo}/rules/branches/{branch}`: the active rules from repository
/// and organisation rulesets that apply to the branch.
pub fn branch_rules(repo: Repo<'_>, branch: &str) -> String {
    repo.path(&format!("rules/branches/{}", path_escape(branch)))
}

/// `GET /repos/{owner}/{repo}/pulls?head={owner}:{branch}&state=open`: our open pull
/// request from `branch`, if there is one.
pub fn open_pulls_from(repo: Repo<'_>, branch: &str) -> String {
    repo.path(&format!(
        "pulls?state=open&head={}:{}",
        repo.owner,
        url_escape(branch)
    ))
}

/// One entry of a new tree: a file with this content, or (`None`) the file removed.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeChange {
    Content(String),
    /// An existing blob by id (rollback reuses the exact earlier bytes).
    Blob(String),
    Delete,
}

/// `POST /repos/{owner}/{repo}/git/trees`: `base_tree` with these paths changed.
pub fn create_tree(repo: Repo<'_>, base_tree: &str, changes: &[(String, TreeChange)]) -> Write {
    let entries: Vec<Value> = changes
        .iter()
        .map(|(path, change)| match change {
            TreeChange::Content(c) => {
                json!({"path": path, "mode": "100644", "type": "blob", "content": c})
            }
            TreeChange::Blob(sha) => {
                json!({"path": path, "mode": "100644", "type": "blob", "sha": sha})
            }
            TreeChange::Delete => {
                json!({"path": path, "mode": "100644", "type": "blob", "sha": Value::Null})
            }
        })
        .collect();
    Write::post(
        repo.path("git/trees"),
        json!({"base_tree": base_tree, "tree": entries}),
    )
}

/// `POST /repos/{owner}/{repo}/git/commits`.
pub fn create_commit(repo: Repo<'_>, message: &str, tree: &str, parent: &str) -> Write {
    Write::post(
        repo.path("git/commits"),
        json!({"message": message, "tree": tree, "parents": [parent]}),
    )
}

/// `PATCH /repos/{owner}/{repo}/git/refs/heads/{branch}`. Without `force` GitHub only
/// fast-forwards: a branch that moved since we read it answers 422.
pub fn update_branch(repo: Repo<'_>, branch: &str, sha: &str, force: bool) -> Write {
    Write::patch(
        repo.path(&format!("git/refs/heads/{}", path_escape(branch))),
        json!({"sha": sha, "force": force}),
    )
}

/// `POST /repos/{owner}/{repo}/git/refs`: a new branch at `sha`.
pub fn create_branch(repo: Repo<'_>, branch: &str, sha: &str) -> Write {
    Write::post(
        repo.path("git/refs"),
        json!({"ref": format!("refs/heads/{branch}"), "sha": sha}),
    )
}

/// `POST /repos/{owner}/{repo}/pulls`.
pub fn create_pull(repo: Repo<'_>, title: &str, body: &str, head: &str, base: &str) -> Write {
    Write::post(
        repo.path("pulls"),
        json!({"title": title, "body": body, "head": head, "base": base,
               "maintainer_can_modify": true}),
    )
}

/// `PATCH /repos/{owner}/{repo}/pulls/{number}`: new title and description.
pub fn update_pull(repo: Repo<'_>, number: u64, title: &str, body: &str) -> Write {
    Write::patch(
        repo.path(&format!("pulls/{number}")),
        json!({"title": title, "body": body}),
    )
}

/// Branch names may hold `/` (kept: GitHub's paths take them as is) but nothing that would
/// change the URL's meaning.
fn path_escape(s: &str) -> String {
    s.split('/').map(url_escape).collect::<Vec<_>>().join("/")
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
