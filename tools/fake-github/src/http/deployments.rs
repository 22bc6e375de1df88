//! The Deployments API (deployments and their statuses), in the shapes of GitHub's
//! OpenAPI examples `deployment` and `deployment-status` (`fixtures/get-deployment*.json`)
//! filled from the repository's [`crate::world::Deployment`]s. A `success` status with
//! `auto_inactive` (the default) adds an `inactive` status to every earlier deployment to
//! the same environment whose latest status is `success`, unless that deployment is
//! transient or production (GitHub's documented rule).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{Ctx, Reply, paged_array, parse_id, problems_parsing_json};
use crate::faults::{invalid_field, missing_field};
use crate::query;
use crate::render;
use crate::world::{DEPLOYMENT_STATES, Deployment, DeploymentStatus, Repo, World};

/// Routes under `/repos/{o}/{r}/deployments`; `None` for anything else.
pub(super) fn route(world: &mut World, ctx: &Ctx, full: &str, rest: &[&str]) -> Option<Reply> {
    let method = ctx.req.method.as_str();
    let reply = match (method, rest) {
        ("GET" | "HEAD", ["deployments"]) => list_deployments(world, ctx, full),
        ("POST", ["deployments"]) => create_deployment(world, ctx, full),
        ("GET" | "HEAD", ["deployments", id]) => with_deployment(world, full, id, |w, repo, d| {
            Reply::json(200, &render::deployment_json(w, repo, d, &ctx.base))
        }),
        ("GET" | "HEAD", ["deployments", id, "statuses"]) => {
            with_deployment(world, full, id, |w, repo, d| list_statuses(w, ctx, repo, d))
        }
        ("GET" | "HEAD", ["deployments", id, "statuses", status_id]) => {
            with_deployment(world, full, id, |w, repo, d| {
                match parse_id(status_id).and_then(|s| d.statuses.iter().find(|x| x.id == s)) {
                    Some(st) => Reply::json(
                        200,
                        &render::deployment_status_json(w, repo, d, st, &ctx.base),
                    ),
                    None => Reply::not_found(),
                }
            })
        }
        ("POST", ["deployments", id, "statuses"]) => match parse_id(id) {
            Some(id) => create_status(world, ctx, full, id),
            None => Reply::not_found(),
        },
        _ => return None,
    };
    Some(reply)
}

fn with_deployment(
    world: &World,
    full: &str,
    id: &str,
    f: impl FnOnce(&World, &Repo, &Deployment) -> Reply,
) -> Reply {
    let repo = world.find_repo(full).expect("checked by caller");
    match parse_id(id).and_then(|id| repo.find_deployment(id)) {
        Some(d) => f(world, repo, d),
        None => Reply::not_found(),
    }
}

/// The JSON object body; an empty body counts as `{}` (then required fields are missing).
pub(super) fn body(ctx: &Ctx) -> Result<Map<String, Value>, Reply> {
    if ctx.req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&ctx.req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(super::invalid_request("Body must be a JSON object.")),
        Err(_) => Err(problems_parsing_json()),
    }
}

fn invalid(resource: &str, field: &str) -> Reply {
    Reply::json(422, &invalid_field(resource, field))
}

/// An optional string field: `Ok(None)` when absent or null, 422 when of another type.
pub(super) fn opt_str(
    body: &Map<String, Value>,
    resource: &str,
    field: &str,
) -> Result<Option<String>, Reply> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(resource, field)),
    }
}

fn opt_bool(body: &Map<String, Value>, resource: &str, field: &str) -> Result<Option<bool>, Reply> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(resource, field)),
    }
}

/// `GET …/deployments`: newest first; filters `sha`, `ref`, `task`, `environment`.
fn list_deployments(world: &World, ctx: &Ctx, full: &str) -> Reply {
    let repo = world.find_repo(full).expect("checked by caller");
    // `none` is the documented default of each filter: no filtering.
    let filter =
        |name: &str| query::get(&ctx.query, name).filter(|v| !v.is_empty() && *v != "none");
    let (sha, git_ref, task, env) = (
        filter("sha"),
        filter("ref"),
        filter("task"),
        filter("environment"),
    );
    let list: Vec<&Deployment> = repo
        .deployments_newest_first()
        .into_iter()
        .filter(|d| sha.is_none_or(|s| d.sha.eq_ignore_ascii_case(s)))
        .filter(|d| git_ref.is_none_or(|r| d.git_ref == r))
        .filter(|d| task.is_none_or(|t| d.task == t))
        .filter(|d| env.is_none_or(|e| d.environment == e))
        .collect();
    paged_array(
        ctx,
        list.iter()
            .map(|d| render::deployment_json(world, repo, d, &ctx.base))
            .collect(),
    )
}

/// `GET …/deployments/{id}/statuses`: newest first.
fn list_statuses(world: &World, ctx: &Ctx, repo: &Repo, d: &Deployment) -> Reply {
    paged_array(
        ctx,
        d.statuses
            .iter()
            .rev()
            .map(|st| render::deployment_status_json(world, repo, d, st, &ctx.base))
            .collect(),
    )
}

/// `POST …/deployments`: 201 with the new deployment. `auto_merge` and
/// `required_contexts` are checked for type only (the fake does not check the commit's
/// statuses against them and never merges), so the 202/409 answers do not occur.
fn create_deployment(world: &mut World, ctx: &Ctx, full: &str) -> Reply {
    const R: &str = "Deployment";
    let body = match body(ctx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let git_ref = match body.get("ref") {
        None | Some(Value::Null) => return Reply::json(422, &missing_field(R, "ref")),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => return invalid(R, "ref"),
    };
    let fields = (|| -> Result<_, Reply> {
        let task = opt_str(&body, R, "task")?.unwrap_or_else(|| "deploy".into());
        let environment = opt_str(&body, R, "environment")?.unwrap_or_else(|| "production".into());
        let description = opt_str(&body, R, "description")?;
        let transient = opt_bool(&body, R, "transient_environment")?.unwrap_or(false);
        let production =
            opt_bool(&body, R, "production_environment")?.unwrap_or(environment == "production");
        opt_bool(&body, R, "auto_merge")?;
        match body.get("required_contexts") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(_) => return Err(invalid(R, "required_contexts")),
        }
        let payload = match body.get("payload") {
            None | Some(Value::Null) => json!({}),
            // Kept as sent: a string payload comes back as that string.
            Some(v @ (Value::Object(_) | Value::String(_))) => v.clone(),
            Some(_) => return Err(invalid(R, "payload")),
        };
        Ok((
            task,
            environment,
            description,
            transient,
            production,
            payload,
        ))
    })();
    let (task, environment, description, transient, production, payload) = match fields {
        Ok(f) => f,
        Err(e) => return e,
    };
    let id = world.max_id() + 1;
    let creator = world.authenticated_user.clone();
    let repo = world.repo_mut(full).expect("checked by caller");
    let mut d = Deployment::new(
        id,
        repo.resolve_ref(&git_ref),
        environment,
        creator,
        ctx.now,
    );
    d.git_ref = git_ref;
    d.task = task;
    d.payload = payload;
    d.description = description;
    d.transient_environment = transient;
    d.production_environment = production;
    repo.deployments.push(d);
    let w: &World = world;
    let repo = w.find_repo(full).expect("checked by caller");
    let d = repo.find_deployment(id).expect("just added");
    Reply::json(201, &render::deployment_json(w, repo, d, &ctx.base))
}

/// `POST …/deployments/{id}/statuses`: 201 with the new status; 404 for an unknown
/// deployment, 422 for a missing or unknown `state`.
fn create_status(world: &mut World, ctx: &Ctx, full: &str, deployment_id: u64) -> Reply {
    const R: &str = "DeploymentStatus";
    let exists = world
        .find_repo(full)
        .and_then(|r| r.find_deployment(deployment_id))
        .is_some();
    if !exists {
        return Reply::not_found();
    }
    let body = match body(ctx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let state = match body.get("state") {
        None | Some(Value::Null) => return Reply::json(422, &missing_field(R, "state")),
        Some(Value::String(s)) if DEPLOYMENT_STATES.contains(&s.as_str()) => s.clone(),
        Some(_) => return invalid(R, "state"),
    };
    let fields = (|| -> Result<_, Reply> {
        let description = opt_str(&body, R, "description")?.unwrap_or_default();
        // `log_url` replaces `target_url`; either sets both.
        let target_url = opt_str(&body, R, "target_url")?;
        let log_url = opt_str(&body, R, "log_url")?
            .or(target_url)
            .unwrap_or_default();
        let environment_url = opt_str(&body, R, "environment_url")?.unwrap_or_default();
        let environment = opt_str(&body, R, "environment")?;
        let auto_inactive = opt_bool(&body, R, "auto_inactive")?.unwrap_or(true);
        Ok((
            description,
            log_url,
            environment_url,
            environment,
            auto_inactive,
        ))
    })();
    let (description, log_url, environment_url, environment, auto_inactive) = match fields {
        Ok(f) => f,
        Err(e) => return e,
    };
    let mut next_id = world.max_id() + 1;
    let creator = world.authenticated_user.clone();
    let now = ctx.now;
    let repo = world.repo_mut(full).expect("checked by caller");
    let d = repo
        .deployments
        .iter_mut()
        .find(|d| d.id == deployment_id)
        .expect("checked above");
    // Without one, the environment of the previous status, else the deployment's.
    let environment = environment
        .or_else(|| d.latest_status().map(|s| s.environment.clone()))
        .unwrap_or_else(|| d.environment.clone());
    d.environment = environment.clone();
    d.updated_at = now;
    let status_id = next_id;
    next_id += 1;
    d.statuses.push(DeploymentStatus {
        id: status_id,
        state: state.clone(),
        creator: creator.clone(),
        description,
        environment: environment.clone(),
        log_url,
        environment_url,
        created_at: now,
    });
    let this = (d.created_at, d.id);
    if state == "success" && auto_inactive {
        for other in repo.deployments.iter_mut().filter(|o| {
            (o.created_at, o.id) < this
                && o.environment == environment
                && !o.transient_environment
                && !o.production_environment
                && o.latest_status().is_some_and(|s| s.state == "success")
        }) {
            other
                .statuses
                .push(inactive(next_id, &creator, &environment, now));
            other.updated_at = now;
            next_id += 1;
        }
    }
    let w: &World = world;
    let repo = w.find_repo(full).expect("checked by caller");
    let d = repo.find_deployment(deployment_id).expect("checked above");
    let st = d.latest_status().expect("just added");
    Reply::json(
        201,
        &render::deployment_status_json(w, repo, d, st, &ctx.base),
    )
}

fn inactive(id: u64, creator: &str, environment: &str, now: DateTime<Utc>) -> DeploymentStatus {
    DeploymentStatus {
        id,
        state: "inactive".into(),
        creator: creator.to_string(),
        description: String::new(),
        environment: environment.to_string(),
        log_url: String::new(),
        environment_url: String::new(),
        created_at: now,
    }
}
