//! The request pipeline and routes. Every request goes through the same steps, in the
//! order GitHub's edge applies them: record → User-Agent → auth → faults → primary rate
//! limit → route → conditional request (ETag/304) → rate/ids headers. Routes read and
//! mutate the `World` under one lock, so a request sees a consistent snapshot.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::faults::{self, DOCS_REST, FaultKind, error_body, invalid_field};
use crate::query::{self, TimeRange};
use crate::render;
use crate::world::{Job, OwnerKind, Repo, Run, World, fake_sha};
use crate::{RecordedRequest, Shared};

mod deployments;
mod git_routes;
mod statuses;

/// What a handler answers before the cross-cutting headers are added.
pub(crate) struct Reply {
    pub status: u16,
    /// `None` = empty body (204/304).
    pub body: Option<Vec<u8>>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status,
            body: Some(serde_json::to_vec(v).unwrap_or_default()),
            headers: Vec::new(),
        }
    }
    fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
    fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, &error_body(message, DOCS_REST, status))
    }
    fn not_found() -> Reply {
        Reply::error(404, "Not Found")
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Reply {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

/// An incoming request, already read in full.
pub(crate) struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Per-request facts handlers need.
struct Ctx<'a> {
    base: String,
    now: DateTime<Utc>,
    req: &'a Incoming,
    query: Vec<(String, String)>,
    rate: (u32, u32, i64),
}

/// Run the whole pipeline for one request and return the finished reply.
pub(crate) async fn handle(shared: Arc<Shared>, req: Incoming) -> Reply {
    let seq = shared.seq.fetch_add(1, Ordering::SeqCst);
    let request_id = format!(
        "{:04X}:{:04X}:{:06X}:{:07X}:{:08X}",
        (seq * 7919) & 0xFFFF,
        (seq * 104729) & 0xFFFF,
        seq & 0xFF_FFFF,
        (seq * 31) & 0xFFF_FFFF,
        (0x6700_0000u64 + seq) & 0xFFFF_FFFF
    );
    // Logged on arrival (status 0 until answered) so the log is in arrival order; the
    // epoch detects a `clear_requests` in between, which would invalidate `index`.
    let (index, epoch) = {
        let mut log = shared.lock_requests();
        log.push(RecordedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            status: 0,
        });
        (log.len() - 1, shared.clear_epoch.load(Ordering::SeqCst))
    };

    let reply = pipeline(&shared, &req, &request_id).await;

    let mut reply = reply.header("x-github-request-id", request_id);
    if reply.body.is_some() {
        reply = reply.header("content-type", "application/json; charset=utf-8");
    }
    reply = reply.header("x-github-media-type", "github.v3; format=json");
    if let Some(v) = req.header("x-github-api-version") {
        reply = reply.header("x-github-api-version-selected", v.to_string());
    }
    {
        // The log may have been cleared meanwhile; then this request is not in it.
        let mut log = shared.lock_requests();
        if shared.clear_epoch.load(Ordering::SeqCst) == epoch
            && let Some(r) = log.get_mut(index)
        {
            r.status = reply.status;
        }
    }
    reply
}

fn rate_headers(reply: Reply, limit: u32, remaining: u32, reset: i64) -> Reply {
    reply
        .header("x-ratelimit-limit", limit.to_string())
        .header("x-ratelimit-remaining", remaining.to_string())
        .header("x-ratelimit-reset", reset.to_string())
        .header(
            "x-ratelimit-used",
            limit.saturating_sub(remaining).to_string(),
        )
        .header("x-ratelimit-resource", "core")
}

async fn pipeline(shared: &Arc<Shared>, req: &Incoming, request_id: &str) -> Reply {
    let now = Utc::now();
    let with_rate = |reply: Reply| {
        let (limit, remaining, reset) = shared.rate_snapshot(Utc::now());
        rate_headers(reply, limit, remaining, reset)
    };

    // GitHub rejects requests without a User-Agent before anything else.
    if req
        .header("user-agent")
        .is_none_or(|ua| ua.trim().is_empty())
    {
        return with_rate(Reply::json(
            403,
            &error_body(
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.",
                DOCS_REST,
                403,
            ),
        ));
    }

    let token = shared.lock_world().token.clone();
    if !authorized(req.header("authorization"), &token) {
        return with_rate(Reply::json(
            401,
            &error_body("Bad credentials", DOCS_REST, 401),
        ));
    }

    let fault = shared.take_fault(&req.method, &req.path);
    let mut malformed = false;
    let mut status_fault = None;
    match fault {
        Some(FaultKind::Delay(d)) => tokio::time::sleep(d).await,
        Some(FaultKind::PrimaryRateLimit) => {
            let (limit, _, _) = shared.rate_snapshot(now);
            let user_id = shared.user_id();
            let reset = (now + chrono::Duration::seconds(60)).timestamp();
            return rate_headers(
                Reply::json(
                    403,
                    &faults::primary_rate_limit_body(user_id, request_id, now),
                ),
                limit,
                0,
                reset,
            );
        }
        Some(FaultKind::SecondaryRateLimit { retry_after_secs }) => {
            return with_rate(
                Reply::json(403, &faults::secondary_rate_limit_body(request_id, 403))
                    .header("retry-after", retry_after_secs.to_string()),
            );
        }
        Some(FaultKind::TooManyRequests { retry_after_secs }) => {
            return with_rate(
                Reply::json(429, &faults::secondary_rate_limit_body(request_id, 429))
                    .header("retry-after", retry_after_secs.to_string()),
            );
        }
        Some(FaultKind::MalformedJson) => malformed = true,
        Some(FaultKind::Hook(hook)) => (hook.0)(&mut shared.lock_world()),
        Some(FaultKind::Status { status, body }) => status_fault = Some((status, body)),
        None => {}
    }

    let is_read = req.method == "GET" || req.method == "HEAD";
    // `GET /rate_limit` does not count against the primary limit.
    let free = is_read && req.path.trim_end_matches('/') == "/rate_limit";
    if !free && !shared.try_consume(now) {
        let (limit, _, reset) = shared.rate_snapshot(now);
        return rate_headers(
            Reply::json(
                403,
                &faults::primary_rate_limit_body(shared.user_id(), request_id, now),
            ),
            limit,
            0,
            reset,
        );
    }
    let counted = !free;

    if let Some((status, body)) = status_fault {
        shared.counted.fetch_add(1, Ordering::SeqCst);
        return with_rate(Reply::json(status, &body));
    }

    let ctx = Ctx {
        base: shared.base_url(req.header("host")),
        now,
        req,
        query: query::parse_query(&req.query),
        rate: shared.rate_snapshot(now),
    };
    let mut reply = {
        let mut world = shared.lock_world();
        let scopes = world.token_scopes.join(", ");
        route(&mut world, &ctx).header("x-oauth-scopes", scopes)
    };

    if malformed {
        let body = reply
            .body
            .take()
            .unwrap_or_else(|| b"{\"message\":\"ok\"}".to_vec());
        let cut = (body.len() / 2).max(1).min(body.len());
        reply = Reply {
            status: 200,
            body: Some(body[..cut].to_vec()),
            headers: Vec::new(),
        };
    } else if is_read && reply.status == 200 {
        let body = reply.body.as_deref().unwrap_or_default();
        let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(body)));
        if let Some(inm) = req.header("if-none-match")
            && etag_matches(inm, &etag)
        {
            // A 304 is free: give the reserved request back.
            if counted {
                shared.refund(now);
            }
            let mut r = Reply::empty(304).header("etag", etag);
            r.headers
                .extend(reply.headers.into_iter().filter(|(k, _)| k == "link"));
            return with_rate(r.header("cache-control", "private, max-age=60, s-maxage=60"));
        }
        reply = reply
            .header("etag", etag)
            .header("cache-control", "private, max-age=60, s-maxage=60")
            .header("vary", "Accept, Authorization, Cookie, X-GitHub-OTP");
    }
    if counted {
        shared.counted.fetch_add(1, Ordering::SeqCst);
    }
    if req.method == "HEAD" {
        reply.body = None;
    }
    with_rate(reply)
}

fn authorized(header: Option<&str>, token: &str) -> bool {
    let Some(h) = header else { return false };
    let h = h.trim();
    let Some((scheme, value)) = h.split_once(' ') else {
        return false;
    };
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        && !token.is_empty()
        && value.trim() == token
}

/// Weak comparison (RFC 9110 §13.1.2): `W/` prefixes are ignored; `*` matches anything.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |s: &str| s.trim().trim_start_matches("W/").to_string();
    let ours = strip(etag);
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == ours)
}

fn route(world: &mut World, ctx: &Ctx) -> Reply {
    let path = ctx.req.path.trim_end_matches('/');
    let segs: Vec<String> = path.split('/').skip(1).map(query::decode_path).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let get = ctx.req.method == "GET" || ctx.req.method == "HEAD";
    let post = ctx.req.method == "POST";
    match (s.as_slice(), get, post) {
        (["user"], true, _) => Reply::json(
            200,
            &render::user_json(world, &world.authenticated_user.clone(), &ctx.base),
        ),
        (["user", "repos"], true, _) => list_user_repos(world, ctx),
        (["users", login], true, _) => get_user(world, ctx, login),
        (["users", login, "repos"], true, _) => list_owner_repos(world, ctx, login, false),
        (["orgs", org], true, _) => get_org(world, ctx, org),
        (["orgs", org, "repos"], true, _) => list_owner_repos(world, ctx, org, true),
        (["rate_limit"], true, _) => {
            let (limit, remaining, reset) = ctx.rate;
            let include_rate = ctx.req.header("x-github-api-version") != Some("2026-03-10");
            Reply::json(
                200,
                &render::rate_limit_json(limit, remaining, reset, include_rate),
            )
        }
        (["repos", o, r, rest @ ..], _, _) => {
            let full = format!("{o}/{r}");
            if world.find_repo(&full).is_none() {
                return Reply::not_found();
            }
            if let Some(reply) = git_routes::route(world, ctx, &full, rest) {
                return reply;
            }
            if let Some(reply) = deployments::route(world, ctx, &full, rest) {
                return reply;
            }
            if let Some(reply) = statuses::route(world, ctx, &full, rest) {
                return reply;
            }
            repo_routes(world, ctx, &full, rest, get, post)
        }
        _ => Reply::not_found(),
    }
}

fn repo_routes(
    world: &mut World,
    ctx: &Ctx,
    full: &str,
    rest: &[&str],
    get: bool,
    post: bool,
) -> Reply {
    let w: &World = world;
    let repo = w.find_repo(full).expect("checked by caller");
    match (rest, get, post) {
        ([], true, _) => Reply::json(200, &render::repo_json(w, repo, &ctx.base)),
        (["actions", "workflows"], true, _) => list_workflows(repo, ctx),
        (["actions", "workflows", id], true, _) => match repo.find_workflow(id) {
            Some(wf) => Reply::json(200, &render::workflow_json(repo, wf, &ctx.base)),
            None => Reply::not_found(),
        },
        (["actions", "workflows", id, "runs"], true, _) => match repo.find_workflow(id) {
            Some(wf) => list_runs(w, repo, ctx, Some(wf.id)),
            None => Reply::not_found(),
        },
        (["actions", "workflows", id, "dispatches"], _, true) => {
            let id = id.to_string();
            dispatch(world, ctx, full, &id)
        }
        (["actions", "runs"], true, _) => list_runs(w, repo, ctx, None),
        (["actions", "runs", id], true, _) => match parse_id(id).and_then(|id| repo.latest_run(id))
        {
            Some(run) => Reply::json(200, &render::run_json(w, repo, run, &ctx.base, true)),
            None => Reply::not_found(),
        },
        (["actions", "runs", id, "attempts", n], true, _) => match find_attempt(repo, id, n) {
            Some(run) => Reply::json(200, &render::run_json(w, repo, run, &ctx.base, true)),
            None => Reply::not_found(),
        },
        (["actions", "runs", id, "jobs"], true, _) => {
            match parse_id(id).and_then(|id| repo.latest_run(id)) {
                Some(run) => list_jobs(repo, ctx, run, false),
                None => Reply::not_found(),
            }
        }
        (["actions", "runs", id, "attempts", n, "jobs"], true, _) => {
            match find_attempt(repo, id, n) {
                Some(run) => list_jobs(repo, ctx, run, true),
                None => Reply::not_found(),
            }
        }
        // A job's check run has the job's id.
        (["check-runs", id, "annotations"], true, _) => {
            match parse_id(id).and_then(|id| repo.jobs.iter().find(|j| j.id == id)) {
                Some(job) => paged_array(
                    ctx,
                    job.annotations
                        .iter()
                        .map(|a| render::annotation_json(repo, job, a))
                        .collect(),
                ),
                None => Reply::not_found(),
            }
        }
        (["actions", "jobs", id], true, _) => {
            match parse_id(id).and_then(|id| repo.jobs.iter().find(|j| j.id == id)) {
                Some(job) => Reply::json(200, &render::job_json(repo, job, &ctx.base)),
                None => Reply::not_found(),
            }
        }
        (["actions", "runs", id, action], _, true) => {
            let Some(id) = parse_id(id) else {
                return Reply::not_found();
            };
            let action = action.to_string();
            let full = full.to_string();
            run_action(world, ctx, &full, id, &action)
        }
        _ => Reply::not_found(),
    }
}

fn parse_id(s: &str) -> Option<u64> {
    s.parse().ok()
}

fn find_attempt<'a>(repo: &'a Repo, id: &str, n: &str) -> Option<&'a Run> {
    let id = parse_id(id)?;
    let n: u32 = n.parse().ok()?;
    repo.runs.iter().find(|r| r.id == id && r.attempt == n)
}

fn bad_query(field: &str) -> Reply {
    Reply::json(422, &invalid_field("Request", field))
}

/// Wrap one page of `items` as `{total_count, <key>: [...]}` with a Link header.
fn paged(ctx: &Ctx, key: &str, items: Vec<Value>) -> Reply {
    let (per_page, page) = match query::pagination(&ctx.query) {
        Ok(p) => p,
        Err(field) => return bad_query(&field),
    };
    let total = items.len();
    let (slice, link) = query::paginate(
        &items,
        per_page,
        page,
        &ctx.base,
        &ctx.req.path,
        &ctx.req.query,
    );
    let mut reply = Reply::json(200, &json!({ "total_count": total, key: slice }));
    if let Some(l) = link {
        reply = reply.header("link", l);
    }
    reply
}

/// A bare JSON array page (repository lists), with a Link header.
fn paged_array(ctx: &Ctx, items: Vec<Value>) -> Reply {
    let (per_page, page) = match query::pagination(&ctx.query) {
        Ok(p) => p,
        Err(field) => return bad_query(&field),
    };
    let (slice, link) = query::paginate(
        &items,
        per_page,
        page,
        &ctx.base,
        &ctx.req.path,
        &ctx.req.query,
    );
    let mut reply = Reply::json(200, &Value::Array(slice));
    if let Some(l) = link {
        reply = reply.header("link", l);
    }
    reply
}

fn known_login(world: &World, login: &str) -> bool {
    world.find_owner(login).is_some()
        || world.authenticated_user.eq_ignore_ascii_case(login)
        || world
            .repos
            .iter()
            .any(|r| r.owner.eq_ignore_ascii_case(login))
}

fn get_user(world: &World, ctx: &Ctx, login: &str) -> Reply {
    if !known_login(world, login) {
        return Reply::not_found();
    }
    let canonical = world
        .find_owner(login)
        .map(|o| o.login.clone())
        .or_else(|| {
            world
                .repos
                .iter()
                .find(|r| r.owner.eq_ignore_ascii_case(login))
                .map(|r| r.owner.clone())
        })
        .unwrap_or_else(|| world.authenticated_user.clone());
    Reply::json(200, &render::user_json(world, &canonical, &ctx.base))
}

fn get_org(world: &World, ctx: &Ctx, org: &str) -> Reply {
    match world.find_owner(org) {
        Some(o) if o.kind == OwnerKind::Organization => {
            Reply::json(200, &render::org_json(&o.login, o.id, &ctx.base))
        }
        _ => Reply::not_found(),
    }
}

fn last_activity(repo: &Repo) -> Option<DateTime<Utc>> {
    repo.runs.iter().map(|r| r.updated_at).max()
}

/// Sort repositories per `sort`/`direction` (GitHub: `full_name` ascends by default,
/// the date sorts descend).
fn sort_repos(repos: &mut Vec<&Repo>, ctx: &Ctx, default_sort: &str) -> Result<(), Reply> {
    let sort = query::get(&ctx.query, "sort").unwrap_or(default_sort);
    let default_dir = if sort == "full_name" { "asc" } else { "desc" };
    let dir = query::get(&ctx.query, "direction").unwrap_or(default_dir);
    match sort {
        "full_name" => repos.sort_by_key(|r| r.full_name().to_lowercase()),
        "created" => repos.sort_by_key(|r| r.id),
        "updated" | "pushed" => repos.sort_by_key(|r| (last_activity(r), r.id)),
        _ => return Err(bad_query("sort")),
    }
    match dir {
        "asc" => {}
        "desc" => repos.reverse(),
        _ => return Err(bad_query("direction")),
    }
    Ok(())
}

fn list_owner_repos(world: &World, ctx: &Ctx, login: &str, org_route: bool) -> Reply {
    let is_org = world
        .find_owner(login)
        .is_some_and(|o| o.kind == OwnerKind::Organization);
    if org_route && !is_org || !org_route && !known_login(world, login) {
        return Reply::not_found();
    }
    let ty = query::get(&ctx.query, "type").unwrap_or(if org_route { "all" } else { "owner" });
    let mut repos: Vec<&Repo> = world
        .repos
        .iter()
        .filter(|r| r.owner.eq_ignore_ascii_case(login))
        .collect();
    let valid: &[&str] = if org_route {
        &["all", "public", "private", "forks", "sources", "member"]
    } else {
        &["all", "owner", "member"]
    };
    if !valid.contains(&ty) {
        return bad_query("type");
    }
    repos.retain(|r| match ty {
        "public" => !r.private,
        "private" => r.private,
        "forks" => r.fork,
        "sources" => !r.fork,
        // Membership/collaboration is not modelled: no repo is "member" affiliated.
        "member" => false,
        _ => true,
    });
    if !org_route {
        // Lists public repositories of the user (GitHub's documented behaviour).
        repos.retain(|r| !r.private);
    }
    if let Err(e) = sort_repos(
        &mut repos,
        ctx,
        if org_route { "created" } else { "full_name" },
    ) {
        return e;
    }
    paged_array(
        ctx,
        repos
            .iter()
            .map(|r| render::repo_json(world, r, &ctx.base))
            .collect(),
    )
}

fn list_user_repos(world: &World, ctx: &Ctx) -> Reply {
    let ty = query::get(&ctx.query, "type");
    let visibility = query::get(&ctx.query, "visibility");
    let affiliation = query::get(&ctx.query, "affiliation");
    if ty.is_some() && (visibility.is_some() || affiliation.is_some()) {
        return Reply::json(
            422,
            &error_body(
                "If you specify visibility or affiliation, you cannot specify type.",
                DOCS_REST,
                422,
            ),
        );
    }
    let me = world.authenticated_user.clone();
    let is_member_org = |login: &str| {
        world
            .find_owner(login)
            .is_some_and(|o| o.kind == OwnerKind::Organization)
    };
    let mut owner = true;
    let mut org_member = true;
    let mut vis = "all";
    match ty {
        None | Some("all") => {}
        Some("owner") => org_member = false,
        Some("member") => owner = false,
        Some("public") => vis = "public",
        Some("private") => vis = "private",
        Some(_) => return bad_query("type"),
    }
    if let Some(a) = affiliation {
        owner = false;
        org_member = false;
        for part in a.split(',').map(str::trim) {
            match part {
                "owner" => owner = true,
                "organization_member" => org_member = true,
                "collaborator" => {}
                _ => return bad_query("affiliation"),
            }
        }
    }
    if let Some(v) = visibility {
        if !["all", "public", "private"].contains(&v) {
            return bad_query("visibility");
        }
        vis = v;
    }
    let mut repos: Vec<&Repo> = world
        .repos
        .iter()
        .filter(|r| {
            (owner && r.owner.eq_ignore_ascii_case(&me)) || (org_member && is_member_org(&r.owner))
        })
        .filter(|r| match vis {
            "public" => !r.private,
            "private" => r.private,
            _ => true,
        })
        .collect();
    if let Err(e) = sort_repos(&mut repos, ctx, "full_name") {
        return e;
    }
    paged_array(
        ctx,
        repos
            .iter()
            .map(|r| render::repo_json(world, r, &ctx.base))
            .collect(),
    )
}

fn list_workflows(repo: &Repo, ctx: &Ctx) -> Reply {
    let mut wfs: Vec<_> = repo.workflows.iter().collect();
    wfs.sort_by_key(|w| w.id);
    paged(
        ctx,
        "workflows",
        wfs.iter()
            .map(|w| render::workflow_json(repo, w, &ctx.base))
            .collect(),
    )
}

const RUN_STATUSES: &[&str] = &[
    "completed",
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "skipped",
    "stale",
    "success",
    "timed_out",
    "in_progress",
    "queued",
    "requested",
    "waiting",
    "pending",
    "startup_failure",
];

fn list_runs(world: &World, repo: &Repo, ctx: &Ctx, workflow_id: Option<u64>) -> Reply {
    let q = &ctx.query;
    let status = query::get(q, "status").filter(|s| !s.is_empty());
    if let Some(s) = status
        && !RUN_STATUSES.contains(&s)
    {
        return bad_query("status");
    }
    let created: Option<TimeRange> = match query::get(q, "created").filter(|s| !s.is_empty()) {
        Some(c) => match query::parse_created(c) {
            Ok(r) => Some(r),
            Err(_) => return bad_query("created"),
        },
        None => None,
    };
    let check_suite_id = match query::get(q, "check_suite_id").filter(|s| !s.is_empty()) {
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return bad_query("check_suite_id"),
        },
        None => None,
    };
    let branch = query::get(q, "branch").filter(|s| !s.is_empty());
    let event = query::get(q, "event").filter(|s| !s.is_empty());
    let head_sha = query::get(q, "head_sha").filter(|s| !s.is_empty());
    let actor = query::get(q, "actor").filter(|s| !s.is_empty());

    let mut runs: Vec<&Run> = repo
        .latest_runs()
        .into_iter()
        .filter(|r| workflow_id.is_none_or(|w| r.workflow_id == w))
        .filter(|r| branch.is_none_or(|b| r.head_branch == b))
        .filter(|r| event.is_none_or(|e| r.event == e))
        .filter(|r| head_sha.is_none_or(|s| r.head_sha.eq_ignore_ascii_case(s)))
        .filter(|r| {
            actor.is_none_or(|a| {
                let who = if r.actor.is_empty() {
                    &repo.owner
                } else {
                    &r.actor
                };
                who.eq_ignore_ascii_case(a)
            })
        })
        .filter(|r| status.is_none_or(|s| r.status == s || r.conclusion.as_deref() == Some(s)))
        .filter(|r| created.is_none_or(|c| c.contains(r.created_at)))
        .filter(|r| check_suite_id.is_none_or(|c| r.id * 10 + u64::from(r.attempt) == c))
        .collect();
    runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    paged(
        ctx,
        "workflow_runs",
        runs.iter()
            .map(|r| render::run_json(world, repo, r, &ctx.base, false))
            .collect(),
    )
}

fn list_jobs(repo: &Repo, ctx: &Ctx, run: &Run, exact_attempt: bool) -> Reply {
    let filter = query::get(&ctx.query, "filter").unwrap_or("latest");
    let of_run: Vec<&Job> = repo.jobs.iter().filter(|j| j.run_id == run.id).collect();
    let mut jobs: Vec<&Job> = if exact_attempt {
        of_run
            .iter()
            .copied()
            .filter(|j| j.attempt == run.attempt)
            .collect()
    } else {
        match filter {
            "all" => of_run.clone(),
            // For each job name, the newest attempt that ran it (jobs kept from an
            // earlier attempt by rerun-failed-jobs still show up).
            "latest" => of_run
                .iter()
                .copied()
                .filter(|j| j.attempt <= run.attempt)
                .filter(|j| {
                    !of_run.iter().any(|o| {
                        o.name == j.name && o.attempt > j.attempt && o.attempt <= run.attempt
                    })
                })
                .collect(),
            _ => return bad_query("filter"),
        }
    };
    jobs.sort_by_key(|j| (j.attempt, j.id));
    paged(
        ctx,
        "jobs",
        jobs.iter()
            .map(|j| render::job_json(repo, j, &ctx.base))
            .collect(),
    )
}

/// POST …/runs/{id}/{rerun,rerun-failed-jobs,cancel,force-cancel}.
fn run_action(world: &mut World, ctx: &Ctx, full: &str, run_id: u64, action: &str) -> Reply {
    if !["rerun", "rerun-failed-jobs", "cancel", "force-cancel"].contains(&action) {
        return Reply::not_found();
    }
    if !ctx.req.body.is_empty() && serde_json::from_slice::<Value>(&ctx.req.body).is_err() {
        return problems_parsing_json();
    }
    let mut next_id = world.max_id() + 1;
    let now = ctx.now;
    let repo = world.repo_mut(full).expect("checked by caller");
    let Some(latest) = repo.latest_run(run_id).cloned() else {
        return Reply::not_found();
    };
    match action {
        "rerun" | "rerun-failed-jobs" => {
            if !latest.is_completed() {
                return Reply::error(403, "This workflow run cannot be rerun");
            }
            let failed_only = action == "rerun-failed-jobs";
            let mut next = latest.clone();
            next.attempt += 1;
            next.status = "queued".into();
            next.conclusion = None;
            next.run_started_at = now;
            next.updated_at = now;
            let old_jobs: Vec<Job> = repo
                .jobs
                .iter()
                .filter(|j| j.run_id == run_id && j.attempt == latest.attempt)
                .cloned()
                .collect();
            for j in old_jobs {
                let failed = matches!(
                    j.conclusion.as_deref(),
                    Some("failure" | "cancelled" | "timed_out")
                );
                if failed_only && !failed {
                    continue;
                }
                repo.jobs.push(Job {
                    id: next_id,
                    run_id,
                    attempt: next.attempt,
                    name: j.name.clone(),
                    status: "queued".into(),
                    conclusion: None,
                    created_at: now,
                    started_at: None,
                    completed_at: None,
                    steps: Vec::new(),
                    annotations: Vec::new(),
                });
                next_id += 1;
            }
            repo.runs.push(next);
            Reply::json(201, &json!({}))
        }
        _ => {
            if latest.is_completed() {
                return Reply::error(409, "Cannot cancel a workflow run that is completed.");
            }
            let attempt = latest.attempt;
            if let Some(run) = repo.latest_run_mut(run_id) {
                run.status = "completed".into();
                run.conclusion = Some("cancelled".into());
                run.updated_at = now;
            }
            for j in repo
                .jobs
                .iter_mut()
                .filter(|j| j.run_id == run_id && j.attempt == attempt)
            {
                if j.status != "completed" {
                    j.status = "completed".into();
                    j.conclusion = Some("cancelled".into());
                    j.completed_at = Some(now);
                    for s in j.steps.iter_mut().filter(|s| s.status != "completed") {
                        s.status = "completed".into();
                        s.conclusion = Some("cancelled".into());
                        s.completed_at = Some(now);
                    }
                }
            }
            Reply::json(202, &json!({}))
        }
    }
}

fn problems_parsing_json() -> Reply {
    Reply::json(400, &error_body("Problems parsing JSON", DOCS_REST, 400))
}

fn invalid_request(detail: &str) -> Reply {
    Reply::json(
        422,
        &error_body(&format!("Invalid request.\n\n{detail}"), DOCS_REST, 422),
    )
}

/// POST …/actions/workflows/{id}/dispatches: creates a queued `workflow_dispatch` run.
fn dispatch(world: &mut World, ctx: &Ctx, full: &str, wf_id: &str) -> Reply {
    let body: Value = if ctx.req.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&ctx.req.body) {
            Ok(v) => v,
            Err(_) => return problems_parsing_json(),
        }
    };
    let Some(body) = body.as_object() else {
        return invalid_request("Body must be a JSON object.");
    };
    let actor = world.authenticated_user.clone();
    let next_id = world.max_id() + 1;
    let repo = world.repo_mut(full).expect("checked by caller");
    let Some(wf) = repo.find_workflow(wf_id).cloned() else {
        return Reply::not_found();
    };
    let git_ref = match body.get("ref") {
        Some(Value::String(r)) => r.clone(),
        Some(_) => return invalid_request("For 'properties/ref', value is not a string."),
        None => return invalid_request("\"ref\" wasn't supplied."),
    };
    match body.get("inputs") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) if m.len() > 25 => {
            return invalid_request(&format!(
                "For 'properties/inputs', {} properties were supplied; at most 25 are allowed.",
                m.len()
            ));
        }
        Some(Value::Object(_)) => {}
        Some(_) => return invalid_request("For 'properties/inputs', value is not an object."),
    }
    let return_details = match body.get("return_run_details") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return invalid_request("For 'properties/return_run_details', value is not a boolean.");
        }
    };
    let branch = git_ref
        .strip_prefix("refs/heads/")
        .unwrap_or(&git_ref)
        .to_string();
    if !repo.has_branch(&branch) {
        return Reply::json(
            422,
            &error_body(&format!("No ref found for: {git_ref}"), DOCS_REST, 422),
        );
    }
    if wf.state != "active" {
        return Reply::json(
            422,
            &error_body(
                "Cannot trigger a 'workflow_dispatch' on a disabled workflow",
                DOCS_REST,
                422,
            ),
        );
    }
    let head_sha = repo
        .latest_runs()
        .into_iter()
        .filter(|r| r.head_branch == branch)
        .max_by_key(|r| (r.created_at, r.id))
        .map(|r| r.head_sha.clone())
        .unwrap_or_else(|| fake_sha(&format!("{full}@{branch}")));
    let run_number = repo
        .runs
        .iter()
        .filter(|r| r.workflow_id == wf.id)
        .map(|r| r.run_number)
        .max()
        .unwrap_or(0)
        + 1;
    let run = Run::queued(next_id, wf.id, wf.name.clone(), ctx.now)
        .on_branch(branch)
        .sha(head_sha)
        .event("workflow_dispatch")
        .actor(actor)
        .number(run_number);
    repo.runs.push(run);
    if return_details {
        let full = repo.full_name();
        Reply::json(
            200,
            &json!({
                "workflow_run_id": next_id,
                "run_url": format!("{}/repos/{full}/actions/runs/{next_id}", ctx.base),
                "html_url": format!("https://github.com/{full}/actions/runs/{next_id}"),
            }),
        )
    } else {
        Reply::empty(204)
    }
}
