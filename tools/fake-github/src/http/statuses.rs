//! Commit statuses: `POST /repos/{o}/{r}/statuses/{sha}`, `GET …/commits/{ref}/statuses`
//! and the combined status `GET …/commits/{ref}/status`, in the shapes of GitHub's
//! OpenAPI examples `status` and `combined-commit-status`
//! (`fixtures/create-commit-status.json`, `fixtures/get-combined-commit-status.json`)
//! filled from the repository's [`crate::world::CommitStatus`]es.

use serde_json::Value;

use super::deployments::{body, opt_str};
use super::{Ctx, Reply, paged_array};
use crate::faults::{DOCS_REST, custom_field_error, error_body};
use crate::query;
use crate::render;
use crate::world::{COMMIT_STATES, CommitStatus, Repo, World};

/// GitHub keeps at most this many statuses per commit and context.
pub(crate) const MAX_STATUSES_PER_CONTEXT: usize = 1000;

/// Routes for commit statuses; `None` for anything else.
pub(super) fn route(world: &mut World, ctx: &Ctx, full: &str, rest: &[&str]) -> Option<Reply> {
    let method = ctx.req.method.as_str();
    let reply = match (method, rest) {
        ("POST", ["statuses", sha]) => create_status(world, ctx, full, sha),
        ("GET" | "HEAD", ["commits", git_ref @ .., "statuses"]) if !git_ref.is_empty() => {
            let repo = world.find_repo(full).expect("checked by caller");
            match resolve(repo, &git_ref.join("/")) {
                Some(sha) => paged_array(
                    ctx,
                    repo.statuses_newest_first(&sha)
                        .into_iter()
                        .map(|st| render::commit_status_json(world, repo, st, &ctx.base))
                        .collect(),
                ),
                None => Reply::not_found(),
            }
        }
        ("GET" | "HEAD", ["commits", git_ref @ .., "status"]) if !git_ref.is_empty() => {
            let repo = world.find_repo(full).expect("checked by caller");
            match resolve(repo, &git_ref.join("/")) {
                Some(sha) => combined(world, ctx, repo, &sha),
                None => Reply::not_found(),
            }
        }
        _ => return None,
    };
    Some(reply)
}

fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit `{ref}` names: a full sha as given (lowercased), a known branch
/// (`main`, `heads/main`, `refs/heads/main`) as its head, or an abbreviated sha (7+ hex
/// digits) that is the prefix of exactly one commit with statuses. `None` → 404.
fn resolve(repo: &Repo, git_ref: &str) -> Option<String> {
    if is_full_sha(git_ref) {
        return Some(git_ref.to_ascii_lowercase());
    }
    let branch = git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("heads/"))
        .unwrap_or(git_ref);
    if repo.has_branch(branch) {
        return Some(repo.resolve_ref(branch));
    }
    if git_ref.len() >= 7 && git_ref.bytes().all(|b| b.is_ascii_hexdigit()) {
        let prefix = git_ref.to_ascii_lowercase();
        let mut shas: Vec<&str> = repo
            .statuses
            .iter()
            .map(|s| s.sha.as_str())
            .filter(|s| s.starts_with(&prefix))
            .collect();
        shas.dedup();
        if let [sha] = shas.as_slice() {
            return Some(sha.to_string());
        }
    }
    None
}

/// `GET …/commits/{ref}/status`: `statuses` (newest per context) paginated with `Link`,
/// `state` and `total_count` over all contexts.
fn combined(world: &World, ctx: &Ctx, repo: &Repo, sha: &str) -> Reply {
    let (per_page, page) = match query::pagination(&ctx.query) {
        Ok(p) => p,
        Err(field) => return super::bad_query(&field),
    };
    let latest = repo.latest_statuses(sha);
    let (slice, link) = query::paginate(
        &latest,
        per_page,
        page,
        &ctx.base,
        &ctx.req.path,
        &ctx.req.query,
    );
    let body = render::combined_status_json(world, repo, sha, &latest, &slice, &ctx.base);
    let mut reply = Reply::json(200, &body);
    if let Some(l) = link {
        reply = reply.header("link", l);
    }
    reply
}

/// `POST …/statuses/{sha}`: 201 with the new status and a `Location` header. 422
/// "No commit found for SHA: …" unless `sha` is 40 hex digits; 422 Validation Failed
/// (`custom`, "state is not included in the list") for a missing or unknown `state`;
/// 422 (`invalid`) for a non-string `context`/`description`/`target_url`.
fn create_status(world: &mut World, ctx: &Ctx, full: &str, sha: &str) -> Reply {
    const R: &str = "Status";
    if !is_full_sha(sha) {
        return Reply::json(
            422,
            &error_body(&format!("No commit found for SHA: {sha}"), DOCS_REST, 422),
        );
    }
    let sha = sha.to_ascii_lowercase();
    let body = match body(ctx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let state = match body.get("state") {
        Some(Value::String(s)) if COMMIT_STATES.contains(&s.as_str()) => s.clone(),
        _ => {
            return Reply::json(
                422,
                &custom_field_error(R, "state", "state is not included in the list"),
            );
        }
    };
    let fields = (|| -> Result<_, Reply> {
        let context = opt_str(&body, R, "context")?.unwrap_or_else(|| "default".into());
        let description = opt_str(&body, R, "description")?;
        let target_url = opt_str(&body, R, "target_url")?;
        Ok((context, description, target_url))
    })();
    let (context, description, target_url) = match fields {
        Ok(f) => f,
        Err(e) => return e,
    };
    let id = world.max_id() + 1;
    let creator = world.authenticated_user.clone();
    let repo = world.repo_mut(full).expect("checked by caller");
    let same = repo
        .statuses
        .iter()
        .filter(|s| s.sha == sha && s.context.eq_ignore_ascii_case(&context))
        .count();
    if same >= MAX_STATUSES_PER_CONTEXT {
        return Reply::json(
            422,
            &custom_field_error(
                R,
                "context",
                "This SHA and context has reached the maximum number of statuses.",
            ),
        );
    }
    let mut st = CommitStatus::new(id, &sha, state, context, creator, ctx.now);
    st.description = description;
    st.target_url = target_url;
    repo.statuses.push(st);
    let w: &World = world;
    let repo = w.find_repo(full).expect("checked by caller");
    let st = repo.statuses.last().expect("just added");
    Reply::json(201, &render::commit_status_json(w, repo, st, &ctx.base)).header(
        "location",
        format!("{}/repos/{}/statuses/{sha}", ctx.base, repo.full_name()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_resolve_like_github() {
        let sha = "a".repeat(40);
        let repo = Repo::new(1, "o", "r").status(CommitStatus::new(
            2,
            &sha,
            "success",
            "ci",
            "o",
            chrono::Utc::now(),
        ));
        let head = repo.git.refs["main"].clone();
        assert_eq!(resolve(&repo, &"B".repeat(40)), Some("b".repeat(40)));
        assert_eq!(resolve(&repo, "main"), Some(head.clone()));
        assert_eq!(resolve(&repo, "refs/heads/main"), Some(head.clone()));
        assert_eq!(resolve(&repo, "heads/main"), Some(head));
        assert_eq!(resolve(&repo, "aaaaaaa"), Some(sha));
        assert_eq!(resolve(&repo, "aaaaaa"), None);
        assert_eq!(resolve(&repo, "no-such-branch"), None);
    }
}
