//! The Git Data API (refs, trees, blobs, commits), rulesets' `rules/branches` and pull
//! requests, in the shapes of GitHub's OpenAPI examples (`fixtures/git-*.json`,
//! `create-pull-request.json`, `get-branch-rules.json`) filled from the repository's
//! [`crate::git::GitStore`]. The ref update behaves like GitHub's: fast-forward only
//! unless `force`, and refused for a token without the `workflow` scope when it changes a
//! file under `.github/workflows/`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::{Ctx, Reply, invalid_request, problems_parsing_json};
use crate::git::{Commit, GitStore};
use crate::world::{PullRequest, Repo, World};

const TREE: &str = include_str!("../../fixtures/git-create-tree.json");
const COMMIT: &str = include_str!("../../fixtures/git-create-commit.json");
const REF: &str = include_str!("../../fixtures/git-get-ref.json");
const PULL: &str = include_str!("../../fixtures/create-pull-request.json");
const RULES: &str = include_str!("../../fixtures/get-branch-rules.json");

fn fixture(which: &'static str) -> Value {
    static PARSED: OnceLock<BTreeMap<&'static str, Value>> = OnceLock::new();
    PARSED
        .get_or_init(|| {
            [
                ("tree", TREE),
                ("commit", COMMIT),
                ("ref", REF),
                ("pull", PULL),
                ("rules", RULES),
            ]
            .into_iter()
            .map(|(k, s)| {
                (
                    k,
                    serde_json::from_str(s).expect("embedded fixture is JSON"),
                )
            })
            .collect()
        })
        .get(which)
        .cloned()
        .expect("known fixture")
}

/// Routes under `/repos/{o}/{r}/` this module serves; `None` for anything else.
pub(super) fn route(world: &mut World, ctx: &Ctx, full: &str, rest: &[&str]) -> Option<Reply> {
    let method = ctx.req.method.as_str();
    let scopes = world.token_scopes.clone();
    let repo = world.repo_mut(full)?;
    repo.ensure_default_branch();
    let api = format!("{}/repos/{}", ctx.base, repo.full_name());
    let reply = match (method, rest) {
        ("GET" | "HEAD", ["git", "ref", "heads", branch @ ..]) => {
            let branch = branch.join("/");
            match repo.git.refs.get(&branch) {
                Some(sha) => Reply::json(200, &ref_json(&api, &branch, sha)),
                None => Reply::not_found(),
            }
        }
        ("GET" | "HEAD", ["git", "trees", rev]) => get_tree(repo, ctx, &api, rev),
        ("GET" | "HEAD", ["git", "blobs", sha]) => match repo.git.blobs.get(*sha) {
            Some(bytes) => Reply::json(200, &blob_json(&api, sha, bytes)),
            None => Reply::not_found(),
        },
        ("GET" | "HEAD", ["git", "commits", sha]) => match repo.git.commits.get(*sha) {
            Some(c) => Reply::json(200, &commit_json(&api, &repo.full_name(), sha, c)),
            None => Reply::not_found(),
        },
        ("GET" | "HEAD", ["rules", "branches", branch @ ..]) => {
            let branch = branch.join("/");
            Reply::json(200, &branch_rules(repo, &branch))
        }
        ("POST", ["git", "trees"]) => create_tree(repo, ctx, &api),
        ("POST", ["git", "commits"]) => create_commit(repo, ctx, &api),
        ("POST", ["git", "refs"]) => create_ref(repo, ctx, &api),
        ("PATCH", ["git", "refs", "heads", branch @ ..]) => {
            let branch = branch.join("/");
            update_ref(repo, ctx, &api, &branch, &scopes)
        }
        ("GET" | "HEAD", ["pulls"]) => list_pulls(repo, ctx, &api),
        ("POST", ["pulls"]) => create_pull(repo, ctx, &api),
        ("PATCH", ["pulls", number]) => update_pull(repo, ctx, &api, number),
        _ => return None,
    };
    Some(reply)
}

fn body(ctx: &Ctx) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(&ctx.req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid_request("Body must be a JSON object.")),
        Err(_) => Err(problems_parsing_json()),
    }
}

fn ref_json(api: &str, branch: &str, sha: &str) -> Value {
    let mut v = fixture("ref");
    v["ref"] = json!(format!("refs/heads/{branch}"));
    v["url"] = json!(format!("{api}/git/refs/heads/{branch}"));
    v["object"]["sha"] = json!(sha);
    v["object"]["url"] = json!(format!("{api}/git/commits/{sha}"));
    v
}

fn blob_json(api: &str, sha: &str, bytes: &[u8]) -> Value {
    // GitHub wraps the base64 at 60 characters with `\n`, like `base64` does.
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    json!({
        "content": format!("{}\n", wrapped.join("\n")),
        "encoding": "base64",
        "url": format!("{api}/git/blobs/{sha}"),
        "sha": sha,
        "size": bytes.len(),
        "node_id": format!("B_{}", &sha[..12]),
    })
}

/// A tree listing: files (and, recursively, the folders above them) in path order.
fn tree_json(
    g: &GitStore,
    api: &str,
    tree_sha: &str,
    files: &BTreeMap<String, String>,
    recursive: bool,
) -> Value {
    let mut entries: BTreeMap<String, Value> = BTreeMap::new();
    for (path, sha) in files {
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 1..parts.len() {
            if !recursive && depth > 1 {
                break;
            }
            let dir = parts[..depth].join("/");
            let id = crate::world::fake_sha(&format!("{tree_sha}:{dir}"));
            entries.entry(dir.clone()).or_insert_with(|| {
                json!({"path": dir, "mode": "040000", "type": "tree", "sha": id,
                       "url": format!("{api}/git/trees/{id}")})
            });
        }
        if recursive || parts.len() == 1 {
            let size = g.blobs.get(sha).map_or(0, Vec::len);
            entries.insert(
                path.clone(),
                json!({"path": path, "mode": "100644", "type": "blob", "size": size, "sha": sha,
                       "url": format!("{api}/git/blobs/{sha}")}),
            );
        }
    }
    let mut v = fixture("tree");
    v["sha"] = json!(tree_sha);
    v["url"] = json!(format!("{api}/git/trees/{tree_sha}"));
    v["tree"] = Value::Array(entries.into_values().collect());
    v["truncated"] = json!(false);
    v
}

fn get_tree(repo: &Repo, ctx: &Ctx, api: &str, rev: &str) -> Reply {
    let recursive = crate::query::get(&ctx.query, "recursive").is_some();
    let rev = if rev == "HEAD" {
        repo.default_branch.as_str()
    } else {
        rev
    };
    let tree_sha = if repo.git.trees.contains_key(rev) {
        rev.to_string()
    } else {
        match repo.git.resolve(rev).and_then(|c| repo.git.commits.get(&c)) {
            Some(c) => c.tree.clone(),
            None => return Reply::not_found(),
        }
    };
    let files = &repo.git.trees[&tree_sha];
    Reply::json(200, &tree_json(&repo.git, api, &tree_sha, files, recursive))
}

fn create_tree(repo: &mut Repo, ctx: &Ctx, api: &str) -> Reply {
    let b = match body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut files = match b.get("base_tree") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::String(sha)) => match repo.git.trees.get(sha) {
            Some(t) => t.clone(),
            None => return Reply::error(422, "base_tree is not a valid tree oid"),
        },
        Some(_) => return invalid_request("For 'properties/base_tree', value is not a string."),
    };
    let Some(Value::Array(entries)) = b.get("tree") else {
        return invalid_request("\"tree\" wasn't supplied.");
    };
    for e in entries {
        let Some(path) = e.get("path").and_then(Value::as_str) else {
            return invalid_request("For 'items', \"path\" wasn't supplied.");
        };
        if !matches!(
            e.get("mode").and_then(Value::as_str),
            Some("100644" | "100755" | "120000")
        ) {
            return invalid_request(
                "For 'properties/mode', value is not one of the allowed values.",
            );
        }
        match (e.get("sha"), e.get("content")) {
            (Some(Value::Null), None) => {
                if files.remove(path).is_none() {
                    return Reply::error(
                        422,
                        &format!("GitRPC::BadObjectState: {path} does not exist"),
                    );
                }
            }
            (Some(Value::String(sha)), None) => {
                if !repo.git.blobs.contains_key(sha) {
                    return Reply::error(422, &format!("tree.sha {sha} is not a valid blob"));
                }
                files.insert(path.to_string(), sha.clone());
            }
            (None, Some(Value::String(content))) => {
                let sha = repo.git.put_blob(content.as_bytes());
                files.insert(path.to_string(), sha);
            }
            _ => return invalid_request("Exactly one of \"sha\" or \"content\" must be supplied."),
        }
    }
    let sha = repo.git.put_tree(files.clone());
    Reply::json(201, &tree_json(&repo.git, api, &sha, &files, true))
}

fn commit_json(api: &str, full: &str, sha: &str, c: &Commit) -> Value {
    let mut v = fixture("commit");
    v["sha"] = json!(sha);
    v["url"] = json!(format!("{api}/git/commits/{sha}"));
    v["html_url"] = json!(format!("https://github.com/{full}/commit/{sha}"));
    v["message"] = json!(c.message);
    v["tree"] = json!({"sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree)});
    v["parents"] = Value::Array(
        c.parents
            .iter()
            .map(|p| {
                json!({"sha": p, "url": format!("{api}/git/commits/{p}"),
                       "html_url": format!("https://github.com/{full}/commit/{p}")})
            })
            .collect(),
    );
    v
}

fn create_commit(repo: &mut Repo, ctx: &Ctx, api: &str) -> Reply {
    let b = match body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(message) = b.get("message").and_then(Value::as_str) else {
        return invalid_request("\"message\" wasn't supplied.");
    };
    let Some(tree) = b.get("tree").and_then(Value::as_str) else {
        return invalid_request("\"tree\" wasn't supplied.");
    };
    if !repo.git.trees.contains_key(tree) {
        return Reply::error(422, "Tree SHA does not exist");
    }
    let parents: Vec<String> = match b.get("parents") {
        None => Vec::new(),
        Some(Value::Array(ps)) => ps
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        Some(_) => return invalid_request("For 'properties/parents', value is not an array."),
    };
    if parents.iter().any(|p| !repo.git.commits.contains_key(p)) {
        return Reply::error(422, "Parent SHA does not exist or is not a commit object");
    }
    let commit = Commit {
        tree: tree.to_string(),
        parents,
        message: message.to_string(),
    };
    let sha = repo.git.put_commit(commit.clone());
    Reply::json(201, &commit_json(api, &repo.full_name(), &sha, &commit))
}

fn create_ref(repo: &mut Repo, ctx: &Ctx, api: &str) -> Reply {
    let b = match body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(name), Some(sha)) = (
        b.get("ref").and_then(Value::as_str),
        b.get("sha").and_then(Value::as_str),
    ) else {
        return invalid_request("\"ref\" and \"sha\" must be supplied.");
    };
    let Some(branch) = name.strip_prefix("refs/heads/") else {
        return Reply::error(
            422,
            "Reference name must start with 'refs/' and have at least two slashes.",
        );
    };
    if repo.git.refs.contains_key(branch) {
        return Reply::error(422, "Reference already exists");
    }
    if !repo.git.commits.contains_key(sha) {
        return Reply::error(422, "Object does not exist");
    }
    repo.git.refs.insert(branch.to_string(), sha.to_string());
    repo.pushed(branch, sha);
    Reply::json(201, &ref_json(api, branch, sha))
}

fn update_ref(repo: &mut Repo, ctx: &Ctx, api: &str, branch: &str, scopes: &[String]) -> Reply {
    let b = match body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(sha) = b.get("sha").and_then(Value::as_str) else {
        return invalid_request("\"sha\" wasn't supplied.");
    };
    let force = b.get("force").and_then(Value::as_bool).unwrap_or(false);
    let Some(old) = repo.git.refs.get(branch).cloned() else {
        return Reply::error(422, "Reference does not exist");
    };
    if !repo.git.commits.contains_key(sha) {
        return Reply::error(422, "Object does not exist");
    }
    if !force && !repo.git.is_ancestor(&old, sha) {
        return Reply::error(422, "Update is not a fast forward");
    }
    if !scopes.iter().any(|s| s == "workflow")
        && let Some(path) = changed_workflow(&repo.git, &old, sha)
    {
        return Reply::error(
            422,
            &format!(
                "refusing to allow a Personal Access Token to create or update workflow `{path}` without `workflow` scope"
            ),
        );
    }
    repo.git.refs.insert(branch.to_string(), sha.to_string());
    repo.pushed(branch, sha);
    Reply::json(200, &ref_json(api, branch, sha))
}

/// The first file under `.github/workflows/` that differs between two commits.
fn changed_workflow(g: &GitStore, old: &str, new: &str) -> Option<String> {
    let empty = BTreeMap::new();
    let a = g.files_at(old).unwrap_or(&empty);
    let b = g.files_at(new).unwrap_or(&empty);
    a.keys()
        .chain(b.keys())
        .filter(|p| p.starts_with(".github/workflows/"))
        .find(|p| a.get(*p) != b.get(*p))
        .cloned()
}

fn branch_rules(repo: &Repo, branch: &str) -> Value {
    if !repo.pr_only_branches.iter().any(|b| b == branch) {
        return json!([]);
    }
    let mut rule = fixture("rules")[0].clone();
    rule["type"] = json!("pull_request");
    rule["ruleset_source"] = json!(repo.full_name());
    rule["parameters"] = json!({
        "dismiss_stale_reviews_on_push": false,
        "require_code_owner_review": false,
        "require_last_push_approval": false,
        "required_approving_review_count": 1,
        "required_review_thread_resolution": false
    });
    json!([rule])
}

fn pull_json(api: &str, repo: &Repo, pr: &PullRequest) -> Value {
    let mut v = fixture("pull");
    let full = repo.full_name();
    v["number"] = json!(pr.number);
    v["title"] = json!(pr.title);
    v["body"] = json!(pr.body);
    v["state"] = json!(pr.state);
    v["url"] = json!(format!("{api}/pulls/{}", pr.number));
    v["html_url"] = json!(format!("https://github.com/{full}/pull/{}", pr.number));
    v["head"]["ref"] = json!(pr.head);
    v["head"]["label"] = json!(format!("{}:{}", repo.owner, pr.head));
    v["head"]["sha"] = json!(repo.git.refs.get(&pr.head).cloned().unwrap_or_default());
    v["base"]["ref"] = json!(pr.base);
    v["base"]["label"] = json!(format!("{}:{}", repo.owner, pr.base));
    v["base"]["sha"] = json!(repo.git.refs.get(&pr.base).cloned().unwrap_or_default());
    v
}

fn list_pulls(repo: &Repo, ctx: &Ctx, api: &str) -> Reply {
    let state = crate::query::get(&ctx.query, "state").unwrap_or("open");
    let head = crate::query::get(&ctx.query, "head");
    let items: Vec<Value> = repo
        .pulls
        .iter()
        .filter(|p| state == "all" || p.state == state)
        .filter(|p| head.is_none_or(|h| h == format!("{}:{}", repo.owner, p.head)))
        .map(|p| pull_json(api, repo, p))
        .collect();
    Reply::json(200, &Value::Array(items))
}

fn create_pull(repo: &mut Repo, ctx: &Ctx, api: &str) -> Reply {
    let b = match body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let field = |k: &str| b.get(k).and_then(Value::as_str).map(String::from);
    let (Some(title), Some(head), Some(base)) = (field("title"), field("head"), field("base"))
    else {
        return invalid_request("\"title\", \"head\" and \"base\" must be supplied.");
    };
    let head = head
        .split_once(':')
        .map_or(head.clone(), |(_, b)| b.to_string());
    if !repo.git.refs.contains_key(&head) || !repo.git.refs.contains_key(&base) {
        return Reply::error(422, "Validation Failed: head or base does not exist");
    }
    if repo
        .pulls
        .iter()
        .any(|p| p.state == "open" && p.head == head && p.base == base)
    {
        return Reply::error(
            422,
            &format!("A pull request already exists for {}:{head}.", repo.owner),
        );
    }
    let pr = PullRequest {
        number: repo.pulls.len() as u64 + 1,
        title,
        body: field("body").unwrap_or_default(),
        head,
        base,
        state: "open".into(),
    };
    repo.pulls.push(pr.clone());
    Reply::json(201, &pull_json(api, repo, &pr))
}

fn update_pull(repo: &mut Repo, ctx: &Ctx, api: &str, number: &str) -> Reply {
    let b = match body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(i) = number
        .parse::<u64>()
        .ok()
        .and_then(|n| repo.pulls.iter().position(|p| p.number == n))
    else {
        return Reply::not_found();
    };
    if let Some(t) = b.get("title").and_then(Value::as_str) {
        repo.pulls[i].title = t.to_string();
    }
    if let Some(t) = b.get("body").and_then(Value::as_str) {
        repo.pulls[i].body = t.to_string();
    }
    if let Some(s) = b.get("state").and_then(Value::as_str) {
        repo.pulls[i].state = s.to_string();
    }
    let pr = repo.pulls[i].clone();
    Reply::json(200, &pull_json(api, repo, &pr))
}
