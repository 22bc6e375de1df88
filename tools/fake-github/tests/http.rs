//! What a GitHub client (the daemon) observes over real HTTP: conditional requests,
//! rate limits, pagination, auth errors, faults, mutations and payload shapes.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use fake_github::{FakeGitHub, Fault, FaultKind, Job, Owner, Repo, Run, Step, Workflow, World};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_test_token";

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 0).unwrap()
}

/// One repo `octo/app` with workflow 10 (`ci.yml`), five completed runs a day apart
/// (ids 101..=105, newest last) with one job each, and an in-progress run 106.
fn world() -> World {
    let mut w = World::new(TOKEN);
    w.authenticated_user = "octo".into();
    w.owners.push(Owner::user("octo", 7));
    w.owners.push(Owner::org("acme", 8));
    let mut repo =
        Repo::new(20, "octo", "app").workflow(Workflow::new(10, "CI", ".github/workflows/ci.yml"));
    for i in 0..5u64 {
        let conclusion = if i == 3 { "failure" } else { "success" };
        let run = Run::completed(
            101 + i,
            10,
            "CI",
            conclusion,
            t0() + chrono::Duration::days(i as i64),
            chrono::Duration::minutes(3),
        );
        let job = Job::for_run(1000 + i, &run, "build")
            .step(Step::new(
                "Set up job",
                "completed",
                Some("success"),
                Some(run.run_started_at),
                Some(run.run_started_at),
            ))
            .step(Step::new(
                "Test",
                "completed",
                Some(conclusion),
                Some(run.run_started_at),
                Some(run.updated_at),
            ));
        repo.runs.push(run);
        repo.jobs.push(job);
    }
    repo.runs.push(
        Run::in_progress(106, 10, "CI", t0() + chrono::Duration::days(5)).on_branch("feature"),
    );
    w.repos.push(repo);
    for i in 0..7u64 {
        let mut r = Repo::new(30 + i, "acme", format!("svc-{i}"));
        r.private = i % 2 == 0;
        w.repos.push(r);
    }
    w
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("gitops-bridge-tests/0.1")
        .build()
        .unwrap()
}

async fn get(gh: &FakeGitHub, path: &str) -> reqwest::Response {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", gh.url())
    };
    client()
        .get(url)
        .bearer_auth(gh.token())
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .unwrap()
}

async fn post(gh: &FakeGitHub, path: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", gh.url()))
        .bearer_auth(gh.token())
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn etag_gives_free_304() {
    let gh = FakeGitHub::start(world()).await;
    let first = get(&gh, "/repos/octo/app/actions/runs").await;
    assert_eq!(first.status(), 200);
    let etag = header(&first, "etag").unwrap();
    assert!(etag.starts_with("W/\"") && etag.len() == 64 + 4, "{etag}");
    let remaining: u32 = header(&first, "x-ratelimit-remaining")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(gh.counted_requests(), 1);

    let second = client()
        .get(format!("{}/repos/octo/app/actions/runs", gh.url()))
        .bearer_auth(TOKEN)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 304);
    assert_eq!(
        header(&second, "x-ratelimit-remaining")
            .unwrap()
            .parse::<u32>()
            .unwrap(),
        remaining
    );
    assert!(header(&second, "x-ratelimit-reset").is_some());
    assert_eq!(header(&second, "etag").unwrap(), etag);
    assert!(second.bytes().await.unwrap().is_empty());
    assert_eq!(gh.counted_requests(), 1);

    // A change in the world changes the body, so the old etag no longer matches.
    gh.with_world(|w| {
        w.repo_mut("octo/app")
            .unwrap()
            .latest_run_mut(106)
            .unwrap()
            .status = "completed".into()
    });
    let third = client()
        .get(format!("{}/repos/octo/app/actions/runs", gh.url()))
        .bearer_auth(TOKEN)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 200);
    assert_ne!(header(&third, "etag").unwrap(), etag);
    assert_eq!(
        header(&third, "x-ratelimit-remaining")
            .unwrap()
            .parse::<u32>()
            .unwrap(),
        remaining - 1
    );
    assert_eq!(gh.counted_requests(), 2);
    let log = gh.requests();
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200, 304, 200]
    );
    assert_eq!(log[0].header("x-github-api-version"), Some("2022-11-28"));
}

#[tokio::test]
async fn every_response_has_rate_and_request_headers() {
    let gh = FakeGitHub::start(world()).await;
    for path in ["/user", "/nope", "/repos/octo/app"] {
        let r = get(&gh, path).await;
        for h in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-used",
            "x-ratelimit-reset",
            "x-github-request-id",
        ] {
            assert!(header(&r, h).is_some(), "{path} lacks {h}");
        }
        assert_eq!(header(&r, "x-ratelimit-resource").unwrap(), "core");
        assert_eq!(
            header(&r, "content-type").unwrap(),
            "application/json; charset=utf-8"
        );
        let reset: i64 = header(&r, "x-ratelimit-reset").unwrap().parse().unwrap();
        assert!(
            reset > Utc::now().timestamp() && reset < Utc::now().timestamp() + 3601,
            "epoch seconds"
        );
    }
}

#[tokio::test]
async fn link_header_walks_all_pages_of_org_repos() {
    let gh = FakeGitHub::start(world()).await;
    let mut url = format!("{}/orgs/acme/repos?per_page=3&type=all", gh.url());
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let r = get(&gh, &url).await;
        assert_eq!(r.status(), 200);
        let link = header(&r, "link");
        let body: Value = r.json().await.unwrap();
        names.extend(
            body.as_array()
                .unwrap()
                .iter()
                .map(|x| x["full_name"].as_str().unwrap().to_string()),
        );
        pages += 1;
        let Some(link) = link else { break };
        if pages == 1 {
            assert!(
                link.contains("; rel=\"next\"")
                    && link.contains("; rel=\"last\"")
                    && !link.contains("rel=\"prev\"")
            );
            assert!(
                link.contains(&format!(
                    "<{}/orgs/acme/repos?per_page=3&type=all&page=3>; rel=\"last\"",
                    gh.url()
                )),
                "{link}"
            );
        }
        if pages == 2 {
            assert!(link.contains("rel=\"prev\"") && link.contains("rel=\"first\""));
        }
        let next = link
            .split(", ")
            .find(|p| p.ends_with("rel=\"next\""))
            .map(|p| {
                p.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string()
            });
        match next {
            Some(n) => url = n,
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 7);
    let unique: BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), 7);
    // Default org sort is `created` descending.
    assert_eq!(names[0], "acme/svc-6");
}

#[tokio::test]
async fn created_and_other_run_filters() {
    let gh = FakeGitHub::start(world()).await;
    let runs = |v: &Value| {
        v["workflow_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    let r: Value = get(&gh, "/repos/octo/app/actions/runs?created=%3E%3D2025-03-12")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(runs(&r), vec![106, 105, 104, 103]);
    assert_eq!(r["total_count"], 4);
    let r: Value = get(
        &gh,
        "/repos/octo/app/actions/runs?created=>=2025-03-12T12:00:01Z",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(runs(&r), vec![106, 105, 104]);
    let r: Value = get(
        &gh,
        "/repos/octo/app/actions/runs?created=2025-03-11..2025-03-12",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(runs(&r), vec![103, 102]);
    let r: Value = get(&gh, "/repos/octo/app/actions/runs?status=failure")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(runs(&r), vec![104]);
    let r: Value = get(
        &gh,
        "/repos/octo/app/actions/workflows/ci.yml/runs?branch=feature",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(runs(&r), vec![106]);
    let bad = get(&gh, "/repos/octo/app/actions/runs?created=yesterday").await;
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        get(&gh, "/repos/octo/app/actions/runs?per_page=abc")
            .await
            .status(),
        422
    );
}

#[tokio::test]
async fn auth_and_user_agent_errors() {
    let gh = FakeGitHub::start(world()).await;
    let url = format!("{}/user", gh.url());
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("token wrong"),
        Some("Basic abc"),
    ] {
        let mut rb = client().get(&url);
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert!(header(&r, "x-ratelimit-remaining").is_some());
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body,
            json!({"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"})
        );
    }
    let ok = client()
        .get(&url)
        .header("authorization", format!("token {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(
        (
            body["login"].as_str(),
            body["id"].as_u64(),
            body["type"].as_str()
        ),
        (Some("octo"), Some(7), Some("User"))
    );

    let no_ua = reqwest::Client::new()
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(no_ua.status(), 403);
    assert_eq!(gh.counted_requests(), 1);
}

#[tokio::test]
async fn rate_limit_exhaustion_then_reset() {
    let gh = FakeGitHub::start(world()).await;
    gh.set_rate_limit(10, 1, Duration::from_millis(1500));
    let ok = get(&gh, "/repos/octo/app").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "x-ratelimit-remaining").unwrap(), "0");
    assert_eq!(header(&ok, "x-ratelimit-used").unwrap(), "10");
    let reset: i64 = header(&ok, "x-ratelimit-reset").unwrap().parse().unwrap();

    let limited = get(&gh, "/repos/octo/app").await;
    assert_eq!(limited.status(), 403);
    assert_eq!(header(&limited, "x-ratelimit-remaining").unwrap(), "0");
    assert_eq!(
        header(&limited, "x-ratelimit-reset")
            .unwrap()
            .parse::<i64>()
            .unwrap(),
        reset
    );
    let body: Value = limited.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for user ID 7.")
    );
    assert_eq!(
        body["documentation_url"],
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    );
    assert_eq!(gh.counted_requests(), 1);

    // GET /rate_limit still answers and does not count.
    let rl: Value = get(&gh, "/rate_limit").await.json().await.unwrap();
    assert_eq!(rl["resources"]["core"]["remaining"], 0);
    assert_eq!(rl["resources"]["core"]["limit"], 10);
    assert_eq!(rl["resources"]["core"]["reset"], reset);

    // Wait until the advertised reset (epoch seconds), then the window is full again.
    let wait = (reset * 1000 - Utc::now().timestamp_millis()).max(0) as u64 + 50;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let again = get(&gh, "/repos/octo/app").await;
    assert_eq!(again.status(), 200);
    assert_eq!(header(&again, "x-ratelimit-remaining").unwrap(), "9");
    assert_eq!(gh.counted_requests(), 2);
}

#[tokio::test]
async fn rate_limit_endpoint_is_free_and_drops_rate_in_2026_api() {
    let gh = FakeGitHub::start(world()).await;
    let r: Value = get(&gh, "/rate_limit").await.json().await.unwrap();
    assert_eq!(r["rate"], r["resources"]["core"]);
    assert_eq!(r["resources"]["core"]["remaining"], 5000);
    let r: Value = client()
        .get(format!("{}/rate_limit", gh.url()))
        .bearer_auth(TOKEN)
        .header("x-github-api-version", "2026-03-10")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r.get("rate").is_none());
    assert_eq!(gh.counted_requests(), 0);
}

#[tokio::test]
async fn faults_of_every_kind() {
    let gh = FakeGitHub::start(world()).await;
    let path = "/repos/octo/app/actions/runs";

    gh.inject(Fault::new("/repos/octo/app/actions", FaultKind::server_error()).times(1));
    let r = get(&gh, path).await;
    assert_eq!(r.status(), 500);
    assert!(header(&r, "x-ratelimit-remaining").is_some());
    assert_eq!(get(&gh, path).await.status(), 200, "times(1) applies once");

    gh.inject(Fault::new("/repos", FaultKind::not_found()).method("POST"));
    assert_eq!(get(&gh, path).await.status(), 200, "method filter");
    assert_eq!(
        post(&gh, "/repos/octo/app/actions/runs/101/rerun", json!({}))
            .await
            .status(),
        404
    );
    gh.clear_faults();

    gh.inject(Fault::new(path, FaultKind::unprocessable("bad thing")).times(1));
    let r = get(&gh, path).await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(body["errors"][0]["message"], "bad thing");

    gh.inject(
        Fault::new(
            path,
            FaultKind::forbidden("Resource not accessible by personal access token"),
        )
        .times(1),
    );
    let r = get(&gh, path).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Resource not accessible by personal access token"
    );

    gh.inject(
        Fault::new(
            path,
            FaultKind::Status {
                status: 502,
                body: json!({"message": "Bad gateway"}),
            },
        )
        .times(1),
    );
    assert_eq!(get(&gh, path).await.status(), 502);

    gh.inject(Fault::new(path, FaultKind::MalformedJson).times(1));
    let r = get(&gh, path).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.is_empty() && serde_json::from_str::<Value>(&text).is_err());

    gh.inject(Fault::new(path, FaultKind::PrimaryRateLimit).times(1));
    let r = get(&gh, path).await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "x-ratelimit-remaining").unwrap(), "0");
    let reset: i64 = header(&r, "x-ratelimit-reset").unwrap().parse().unwrap();
    assert!((reset - Utc::now().timestamp() - 60).abs() <= 2);
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded")
    );

    gh.inject(
        Fault::new(
            path,
            FaultKind::SecondaryRateLimit {
                retry_after_secs: 7,
            },
        )
        .times(1),
    );
    let r = get(&gh, path).await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "retry-after").unwrap(), "7");
    assert_ne!(header(&r, "x-ratelimit-remaining").unwrap(), "0");
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );

    gh.inject(
        Fault::new(
            path,
            FaultKind::TooManyRequests {
                retry_after_secs: 3,
            },
        )
        .times(1),
    );
    let r = get(&gh, path).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after").unwrap(), "3");

    gh.inject(Fault::new(path, FaultKind::Delay(Duration::from_millis(700))).times(1));
    let timeout_client = reqwest::Client::builder()
        .user_agent("t")
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = timeout_client
        .get(format!("{}{path}", gh.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let start = std::time::Instant::now();
    assert_eq!(
        get(&gh, path).await.status(),
        200,
        "delay was used up by the timed-out request"
    );
    assert!(start.elapsed() < Duration::from_millis(600));
}

#[tokio::test]
async fn rerun_keeps_previous_attempt_readable() {
    let gh = FakeGitHub::start(world()).await;
    let r = post(
        &gh,
        "/repos/octo/app/actions/runs/104/rerun",
        json!({"enable_debug_logging": false}),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}));

    let latest: Value = get(&gh, "/repos/octo/app/actions/runs/104")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(latest["run_attempt"], 2);
    assert_eq!(latest["status"], "queued");
    assert_eq!(latest["conclusion"], Value::Null);
    assert_eq!(
        latest["previous_attempt_url"],
        format!("{}/repos/octo/app/actions/runs/104/attempts/1", gh.url())
    );
    let first: Value = get(&gh, "/repos/octo/app/actions/runs/104/attempts/1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["run_attempt"], 1);
    assert_eq!(first["conclusion"], "failure");
    assert_eq!(first["previous_attempt_url"], Value::Null);
    assert_eq!(latest["created_at"], first["created_at"]);

    // The list shows the run once, at its latest attempt.
    let list: Value = get(&gh, "/repos/octo/app/actions/runs")
        .await
        .json()
        .await
        .unwrap();
    let entries: Vec<&Value> = list["workflow_runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == 104)
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["run_attempt"], 2);

    let jobs1: Value = get(&gh, "/repos/octo/app/actions/runs/104/attempts/1/jobs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jobs1["jobs"][0]["conclusion"], "failure");
    assert_eq!(jobs1["jobs"][0]["run_attempt"], 1);
    let jobs: Value = get(&gh, "/repos/octo/app/actions/runs/104/jobs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jobs["total_count"], 1);
    assert_eq!(jobs["jobs"][0]["run_attempt"], 2);
    assert_eq!(jobs["jobs"][0]["status"], "queued");
    let all: Value = get(&gh, "/repos/octo/app/actions/runs/104/jobs?filter=all")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["total_count"], 2);

    // Not completed → GitHub refuses.
    let r = post(&gh, "/repos/octo/app/actions/runs/104/rerun", json!({})).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "This workflow run cannot be rerun"
    );

    let r = post(
        &gh,
        "/repos/octo/app/actions/runs/105/rerun-failed-jobs",
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let recorded = gh
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/104/rerun"))
        .unwrap();
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.json().unwrap()["enable_debug_logging"], false);
}

#[tokio::test]
async fn cancel_running_and_conflict_when_completed() {
    let gh = FakeGitHub::start(world()).await;
    let r = post(&gh, "/repos/octo/app/actions/runs/106/cancel", json!({})).await;
    assert_eq!(r.status(), 202);
    let run: Value = get(&gh, "/repos/octo/app/actions/runs/106")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (run["status"].as_str(), run["conclusion"].as_str()),
        (Some("completed"), Some("cancelled"))
    );
    let r = post(&gh, "/repos/octo/app/actions/runs/106/cancel", json!({})).await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Cannot cancel a workflow run that is completed."
    );
    assert_eq!(
        post(&gh, "/repos/octo/app/actions/runs/999/cancel", json!({}))
            .await
            .status(),
        404
    );
    assert_eq!(gh.counted_requests(), 4, "mutations count too");
}

#[tokio::test]
async fn dispatch_204_or_200_with_run_details() {
    let gh = FakeGitHub::start(world()).await;
    let r = post(
        &gh,
        "/repos/octo/app/actions/workflows/ci.yml/dispatches",
        json!({"ref": "main", "inputs": {"x": "1"}}),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());

    let r = post(
        &gh,
        "/repos/octo/app/actions/workflows/10/dispatches",
        json!({"ref": "refs/heads/feature", "return_run_details": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let details: Value = r.json().await.unwrap();
    let id = details["workflow_run_id"].as_u64().unwrap();
    assert_eq!(
        details["run_url"],
        format!("{}/repos/octo/app/actions/runs/{id}", gh.url())
    );
    assert_eq!(
        details["html_url"],
        format!("https://github.com/octo/app/actions/runs/{id}")
    );
    let fixture: Value = serde_json::from_str(include_str!(
        "../fixtures/create-workflow-dispatch.response.json"
    ))
    .unwrap();
    assert_eq!(keys(&details), keys(&fixture));

    let run: Value = get(&gh, &format!("/repos/octo/app/actions/runs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(run["event"], "workflow_dispatch");
    assert_eq!(run["status"], "queued");
    assert_eq!(run["head_branch"], "feature");
    assert_eq!(run["actor"]["login"], "octo");
    let list: Value = get(&gh, "/repos/octo/app/actions/runs?event=workflow_dispatch")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total_count"], 2);

    let r = post(
        &gh,
        "/repos/octo/app/actions/workflows/ci.yml/dispatches",
        json!({"ref": "nope"}),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "No ref found for: nope"
    );
    let r = post(
        &gh,
        "/repos/octo/app/actions/workflows/other.yml/dispatches",
        json!({"ref": "main"}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let inputs: serde_json::Map<String, Value> =
        (0..26).map(|i| (format!("i{i}"), json!("v"))).collect();
    let r = post(
        &gh,
        "/repos/octo/app/actions/workflows/ci.yml/dispatches",
        json!({"ref": "main", "inputs": inputs}),
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = client()
        .post(format!(
            "{}/repos/octo/app/actions/workflows/ci.yml/dispatches",
            gh.url()
        ))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Problems parsing JSON"
    );
}

#[tokio::test]
async fn payloads_have_the_fixture_key_sets() {
    let gh = FakeGitHub::start(world()).await;
    let list_fixture: Value =
        serde_json::from_str(include_str!("../fixtures/list-workflow-runs.json")).unwrap();
    let get_fixture: Value =
        serde_json::from_str(include_str!("../fixtures/get-workflow-run.json")).unwrap();
    let jobs_fixture: Value =
        serde_json::from_str(include_str!("../fixtures/list-jobs-for-workflow-run.json")).unwrap();
    let wf_fixture: Value =
        serde_json::from_str(include_str!("../fixtures/get-workflow.json")).unwrap();
    let hook: Value =
        serde_json::from_str(include_str!("../fixtures/workflow_run.completed.json")).unwrap();

    let list: Value = get(&gh, "/repos/octo/app/actions/runs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&list), keys(&list_fixture));
    let item = &list["workflow_runs"][0];
    let fixture_item = &list_fixture["workflow_runs"][0];
    assert_eq!(keys(item), keys(fixture_item));
    for nested in [
        "actor",
        "triggering_actor",
        "head_commit",
        "repository",
        "head_repository",
    ] {
        assert_eq!(keys(&item[nested]), keys(&fixture_item[nested]), "{nested}");
    }

    let run: Value = get(&gh, "/repos/octo/app/actions/runs/105")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&run), keys(&get_fixture));
    assert_eq!(run["path"], ".github/workflows/ci.yml@main");
    assert_eq!(run["run_started_at"], "2025-03-14T12:00:10Z");
    assert_eq!(run["updated_at"], "2025-03-14T12:03:10Z");
    assert_eq!(
        run["jobs_url"],
        format!("{}/repos/octo/app/actions/runs/105/jobs", gh.url())
    );
    assert_eq!(run["repository"]["full_name"], "octo/app");
    assert_eq!(run["repository"]["owner"]["login"], "octo");

    let jobs: Value = get(&gh, "/repos/octo/app/actions/runs/105/jobs")
        .await
        .json()
        .await
        .unwrap();
    let mut expected = keys(&jobs_fixture["jobs"][0]);
    expected.extend(["run_attempt".to_string(), "created_at".to_string()]);
    assert_eq!(keys(&jobs["jobs"][0]), expected);
    assert_eq!(
        keys(&jobs["jobs"][0]["steps"][0]),
        keys(&jobs_fixture["jobs"][0]["steps"][0])
    );
    assert_eq!(jobs["jobs"][0]["steps"].as_array().unwrap().len(), 2);

    let wf: Value = get(&gh, "/repos/octo/app/actions/workflows/ci.yml")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&wf), keys(&wf_fixture));
    assert_eq!(wf["id"], 10);
    let wfs: Value = get(&gh, "/repos/octo/app/actions/workflows")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wfs["total_count"], 1);

    let repo: Value = get(&gh, "/repos/octo/app").await.json().await.unwrap();
    assert_eq!(keys(&repo), keys(&hook["repository"]));
    assert_eq!(repo["default_branch"], "main");
    assert_eq!(repo["html_url"], "https://github.com/octo/app");
    assert_eq!(repo["url"], format!("{}/repos/octo/app", gh.url()));
    let org: Value = get(&gh, "/orgs/acme").await.json().await.unwrap();
    assert_eq!(org["login"], "acme");
    assert_eq!(get(&gh, "/orgs/octo").await.status(), 404);
    let user: Value = get(&gh, "/users/acme").await.json().await.unwrap();
    assert_eq!(user["type"], "Organization");
}

#[tokio::test]
async fn unknown_routes_are_github_404s() {
    let gh = FakeGitHub::start(world()).await;
    for path in [
        "/nope",
        "/repos/octo/missing",
        "/repos/octo/app/actions/runs/abc",
        "/repos/octo/app/actions/runs/1/attempts/x",
    ] {
        let r = get(&gh, path).await;
        assert_eq!(r.status(), 404, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body,
            json!({"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"})
        );
    }
}

#[tokio::test]
async fn odd_input_never_breaks_the_server() {
    let gh = FakeGitHub::start(world()).await;
    let paths = [
        "/repos/octo/app/actions/runs?per_page=-1",
        "/repos/octo/app/actions/runs?page=99999999999999999999999",
        "/repos/octo/app/actions/runs?per_page=100000&page=18446744073709551615",
        "/repos/octo/app/actions/runs?status=%ZZ&created=%",
        "/repos/octo/app/actions/runs?created=2025-13-45",
        "/repos/octo/app/actions/runs?created=..",
        "/repos/%E2%9C%93/app",
        "/user/repos?affiliation=owner,weird",
        "/user/repos?type=owner&visibility=all",
        "/orgs/acme/repos?sort=stars",
        "/repos/octo/app/actions/runs/18446744073709551616/jobs",
        "/repos/octo/app/actions/runs/101/jobs?filter=some",
        "//",
    ];
    for p in paths {
        let r = get(&gh, p).await;
        assert!(r.status().as_u16() < 500, "{p} → {}", r.status());
    }
    let r = post(
        &gh,
        "/repos/octo/app/actions/workflows/ci.yml/dispatches",
        json!([1, 2]),
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = post(
        &gh,
        "/repos/octo/app/actions/workflows/ci.yml/dispatches",
        json!({"inputs": {}}),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(get(&gh, "/user").await.status(), 200, "still serving");
}

#[tokio::test]
async fn user_repos_affiliation() {
    let gh = FakeGitHub::start(world()).await;
    let names = |v: Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["full_name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let all = names(
        get(&gh, "/user/repos?per_page=100")
            .await
            .json()
            .await
            .unwrap(),
    );
    assert_eq!(all.len(), 8);
    let own = names(
        get(&gh, "/user/repos?affiliation=owner")
            .await
            .json()
            .await
            .unwrap(),
    );
    assert_eq!(own, vec!["octo/app"]);
    let private = names(
        get(
            &gh,
            "/user/repos?visibility=private&affiliation=organization_member",
        )
        .await
        .json()
        .await
        .unwrap(),
    );
    assert_eq!(private.len(), 4);
    let public_user = names(
        get(&gh, "/users/acme/repos?type=all")
            .await
            .json()
            .await
            .unwrap(),
    );
    assert_eq!(
        public_user.len(),
        3,
        "only public repos of a user/org via /users/{{login}}/repos"
    );
    assert_eq!(
        get(&gh, "/user/repos?type=owner&affiliation=owner")
            .await
            .status(),
        422
    );
}

#[tokio::test]
async fn shutdown_refuses_connections() {
    let gh = FakeGitHub::start(world()).await;
    let c = client();
    let url = format!("{}/user", gh.url());
    assert_eq!(
        c.get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    gh.shutdown();
    // Same client: its pooled keep-alive connection must not be served either.
    assert!(c.get(&url).bearer_auth(TOKEN).send().await.is_err());
    assert!(client().get(&url).bearer_auth(TOKEN).send().await.is_err());
    assert!(std::net::TcpStream::connect(gh.addr()).is_err());
}

#[tokio::test]
async fn rerun_failed_jobs_keeps_passed_jobs_under_latest() {
    let gh = FakeGitHub::start(world()).await;
    gh.with_world(|w| {
        let repo = w.repo_mut("octo/app").unwrap();
        let run = repo.latest_run(104).unwrap().clone();
        let mut passed = Job::for_run(2000, &run, "lint");
        passed.conclusion = Some("success".into());
        repo.jobs.push(passed);
    });
    let r = post(
        &gh,
        "/repos/octo/app/actions/runs/104/rerun-failed-jobs",
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let latest: Value = get(&gh, "/repos/octo/app/actions/runs/104/jobs")
        .await
        .json()
        .await
        .unwrap();
    let seen: BTreeSet<(String, u64)> = latest["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["name"].as_str().unwrap().to_string(),
                j["run_attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        BTreeSet::from([("build".to_string(), 2), ("lint".to_string(), 1)])
    );
    let attempt2: Value = get(&gh, "/repos/octo/app/actions/runs/104/attempts/2/jobs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attempt2["total_count"], 1);
    assert_eq!(attempt2["jobs"][0]["name"], "build");
    assert_eq!(attempt2["jobs"][0]["status"], "queued");
}

#[tokio::test]
async fn force_cancel_and_jobs_follow() {
    let gh = FakeGitHub::start(world()).await;
    gh.with_world(|w| {
        let repo = w.repo_mut("octo/app").unwrap();
        let run = repo.latest_run(106).unwrap().clone();
        repo.jobs.push(Job::for_run(3000, &run, "build"));
    });
    assert_eq!(
        post(
            &gh,
            "/repos/octo/app/actions/runs/106/force-cancel",
            json!({})
        )
        .await
        .status(),
        202
    );
    let jobs: Value = get(&gh, "/repos/octo/app/actions/runs/106/jobs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jobs["jobs"][0]["conclusion"], "cancelled");
    assert_eq!(
        post(
            &gh,
            "/repos/octo/app/actions/runs/106/force-cancel",
            json!({})
        )
        .await
        .status(),
        409
    );
}
