//! Commit statuses over real HTTP: create, list for a reference, the combined status,
//! the 422s, rate-limit accounting and the `commit_statuses` helper.

use std::collections::BTreeSet;

use fake_github::render::{COMBINED_STATUS_FIXTURE, COMMIT_STATUS_FIXTURE};
use fake_github::{FakeGitHub, Owner, Repo, World};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_test_token";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn world() -> World {
    let mut w = World::new(TOKEN);
    w.authenticated_user = "octo".into();
    w.owners.push(Owner::user("octo", 7));
    w.repos.push(Repo::new(20, "octo", "app"));
    w
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("gitops-bridge-tests/0.1")
        .build()
        .unwrap()
}

async fn get(gh: &FakeGitHub, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", gh.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn post(gh: &FakeGitHub, path: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("{}{path}", gh.url()))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn fixture(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

fn ids(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn create_returns_the_status_shape_with_location() {
    let gh = FakeGitHub::start(world()).await;
    let r = client()
        .post(format!("{}/repos/octo/app/statuses/{SHA}", gh.url()))
        .bearer_auth(TOKEN)
        .json(&json!({
            "state": "success",
            "target_url": "https://ci.example/1",
            "description": "The build succeeded!",
            "context": "continuous-integration/jenkins"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(
        r.headers()["location"],
        format!("{}/repos/octo/app/statuses/{SHA}", gh.url()).as_str()
    );
    let st: Value = r.json().await.unwrap();
    let rest = fixture(COMMIT_STATUS_FIXTURE);
    assert_eq!(keys(&st), keys(&rest));
    assert_eq!(keys(&st["creator"]), keys(&rest["creator"]));
    assert_eq!(st["state"], "success");
    assert_eq!(st["context"], "continuous-integration/jenkins");
    assert_eq!(st["description"], "The build succeeded!");
    assert_eq!(st["target_url"], "https://ci.example/1");
    assert_eq!(st["creator"]["login"], "octo");
    assert_eq!(st["creator"]["id"], 7);
    assert_eq!(
        st["url"],
        format!("{}/repos/octo/app/statuses/{SHA}", gh.url())
    );
    // Ids are unique across the world (the repository has id 20).
    assert!(st["id"].as_u64().unwrap() > 20);
    assert_eq!(gh.counted_requests(), 1);

    // Defaults: context `default`, description and target_url null; an upper-case sha is
    // the same commit.
    let (status, st) = post(
        &gh,
        &format!("/repos/octo/app/statuses/{}", SHA.to_uppercase()),
        json!({"state": "pending"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(st["context"], "default");
    assert_eq!(st["description"], Value::Null);
    assert_eq!(st["target_url"], Value::Null);
    assert_eq!(gh.commit_statuses("octo/app", SHA).len(), 2);
}

#[tokio::test]
async fn list_and_combined_status_follow_the_newest_per_context() {
    let gh = FakeGitHub::start(world()).await;
    for (state, context) in [
        ("pending", "ci/build"),
        ("failure", "ci/lint"),
        ("success", "ci/build"),
    ] {
        let (status, _) = post(
            &gh,
            &format!("/repos/octo/app/statuses/{SHA}"),
            json!({"state": state, "context": context, "description": format!("{context} {state}")}),
        )
        .await;
        assert_eq!(status, 201);
    }

    let (status, list) = get(&gh, &format!("/repos/octo/app/commits/{SHA}/statuses")).await;
    assert_eq!(status, 200);
    let list_ids = ids(&list);
    assert_eq!(list_ids.len(), 3);
    assert!(list_ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(list[0]["state"], "success");
    let rest = fixture(COMMIT_STATUS_FIXTURE);
    assert_eq!(keys(&list[0]), keys(&rest));

    let (status, combined) = get(&gh, &format!("/repos/octo/app/commits/{SHA}/status")).await;
    assert_eq!(status, 200);
    let rest = fixture(COMBINED_STATUS_FIXTURE);
    assert_eq!(keys(&combined), keys(&rest));
    assert_eq!(keys(&combined["repository"]), keys(&rest["repository"]));
    assert_eq!(combined["state"], "failure");
    assert_eq!(combined["total_count"], 2);
    assert_eq!(combined["sha"], SHA);
    let contexts: Vec<&str> = combined["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["context"].as_str().unwrap())
        .collect();
    assert_eq!(contexts, ["ci/build", "ci/lint"]);
    assert_eq!(combined["statuses"][0]["state"], "success");
    assert_eq!(keys(&combined["statuses"][0]), keys(&rest["statuses"][0]));
    assert_eq!(
        combined["commit_url"],
        format!("{}/repos/octo/app/commits/{SHA}", gh.url())
    );

    // The lint failure is fixed: all newest statuses succeed.
    post(
        &gh,
        &format!("/repos/octo/app/statuses/{SHA}"),
        json!({"state": "success", "context": "CI/LINT"}),
    )
    .await;
    let (_, combined) = get(&gh, &format!("/repos/octo/app/commits/{SHA}/status")).await;
    assert_eq!(combined["state"], "success");
    assert_eq!(combined["total_count"], 2);

    // Paginated like GitHub: `statuses` per page, `total_count` over all contexts.
    let r = client()
        .get(format!(
            "{}/repos/octo/app/commits/{SHA}/status?per_page=1",
            gh.url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["link"]
            .to_str()
            .unwrap()
            .contains("rel=\"next\"")
    );
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["statuses"].as_array().unwrap().len(), 1);
    assert_eq!(page["total_count"], 2);

    // The helper renders the same list.
    let helper = gh.commit_statuses("octo/app", SHA);
    assert_eq!(helper.len(), 4);
    assert_eq!(helper[0]["context"], "CI/LINT");
    assert_eq!(helper[3]["description"], "ci/build pending");
    assert!(gh.commit_statuses("octo/app", &"f".repeat(40)).is_empty());
    assert!(gh.commit_statuses("octo/nope", SHA).is_empty());
}

#[tokio::test]
async fn refs_name_branches_and_unknown_refs_are_404() {
    let gh = FakeGitHub::start(world()).await;
    let head = gh.with_world(|w| w.find_repo("octo/app").unwrap().git.refs["main"].clone());
    post(
        &gh,
        &format!("/repos/octo/app/statuses/{head}"),
        json!({"state": "success", "context": "ci"}),
    )
    .await;
    let (status, combined) = get(&gh, "/repos/octo/app/commits/main/status").await;
    assert_eq!(status, 200);
    assert_eq!(combined["sha"], head.as_str());
    assert_eq!(combined["state"], "success");
    let (status, list) = get(&gh, "/repos/octo/app/commits/refs/heads/main/statuses").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // A full sha without statuses: empty list, pending with no statuses.
    let (status, list) = get(&gh, &format!("/repos/octo/app/commits/{SHA}/statuses")).await;
    assert_eq!((status, list), (200, json!([])));
    let (_, combined) = get(&gh, &format!("/repos/octo/app/commits/{SHA}/status")).await;
    assert_eq!(combined["state"], "pending");
    assert_eq!(combined["total_count"], 0);
    assert_eq!(combined["statuses"], json!([]));

    let (status, body) = get(&gh, "/repos/octo/app/commits/no-such-branch/status").await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Not Found");
    let (status, _) = get(&gh, "/repos/octo/app/commits/no-such-branch/statuses").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn invalid_requests_are_422_like_github() {
    let gh = FakeGitHub::start(world()).await;
    let path = format!("/repos/octo/app/statuses/{SHA}");

    for body in [
        json!({"state": "cancelled"}),
        json!({}),
        json!({"state": 1}),
    ] {
        let (status, err) = post(&gh, &path, body).await;
        assert_eq!(status, 422);
        assert_eq!(err["message"], "Validation Failed");
        assert_eq!(err["status"], "422");
        assert_eq!(
            err["errors"],
            json!([{
                "resource": "Status",
                "code": "custom",
                "field": "state",
                "message": "state is not included in the list"
            }])
        );
    }

    let (status, err) = post(&gh, &path, json!({"state": "success", "context": 5})).await;
    assert_eq!(status, 422);
    assert_eq!(err["errors"][0]["code"], "invalid");
    assert_eq!(err["errors"][0]["field"], "context");

    for sha in ["main", "0123456", &format!("{SHA}0"), &"g".repeat(40)] {
        let (status, err) = post(
            &gh,
            &format!("/repos/octo/app/statuses/{sha}"),
            json!({"state": "success"}),
        )
        .await;
        assert_eq!(status, 422, "{sha}");
        assert_eq!(err["message"], format!("No commit found for SHA: {sha}"));
        assert_eq!(err["status"], "422");
    }

    let r = client()
        .post(format!("{}{path}", gh.url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    assert!(gh.commit_statuses("octo/app", SHA).is_empty());
    // Every one of them used the rate limit, like GitHub's writes.
    assert_eq!(gh.counted_requests(), 9);

    // Authentication as for every route.
    let r = client()
        .post(format!("{}{path}", gh.url()))
        .json(&json!({"state": "success"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(gh.commit_statuses("octo/app", SHA).is_empty());
}

#[tokio::test]
async fn world_built_statuses_render_and_keep_ids_unique() {
    let now = chrono::Utc::now();
    let w = world();
    let w = World {
        repos: vec![
            w.repos[0].clone().status(
                fake_github::CommitStatus::new(500, SHA, "error", "ci", "someone-else", now)
                    .description("boom"),
            ),
        ],
        ..w
    };
    assert_eq!(w.max_id(), 500);
    let gh = FakeGitHub::start(w).await;
    let list = gh.commit_statuses("octo/app", SHA);
    assert_eq!(list[0]["state"], "error");
    assert_eq!(list[0]["description"], "boom");
    assert_eq!(list[0]["creator"]["login"], "someone-else");
    let (_, st) = post(
        &gh,
        &format!("/repos/octo/app/statuses/{SHA}"),
        json!({"state": "success", "context": "ci"}),
    )
    .await;
    assert_eq!(st["id"], 501);
    let (_, combined) = get(&gh, &format!("/repos/octo/app/commits/{SHA}/status")).await;
    assert_eq!(combined["state"], "success");
}
