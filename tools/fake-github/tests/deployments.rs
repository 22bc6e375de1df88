//! The Deployments API over real HTTP: create, statuses, lists and filters, errors, the
//! test helpers on `FakeGitHub` and the `deployment` webhook body.

use std::collections::BTreeSet;

use fake_github::{FakeGitHub, OTHER_DEPLOYER, Owner, Repo, Run, World};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_test_token";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// `octo/app` (user `octo`), whose `feature` branch is only known from a run.
fn world() -> World {
    let mut w = World::new(TOKEN);
    w.authenticated_user = "octo".into();
    w.owners.push(Owner::user("octo", 7));
    let run = Run::queued(101, 10, "CI", chrono::Utc::now())
        .on_branch("feature")
        .sha("fea7fea7fea7fea7fea7fea7fea7fea7fea7fea7");
    w.repos.push(Repo::new(20, "octo", "app").run(run));
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

fn ids(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn create_deployment_resolves_ref_and_has_githubs_shape() {
    let gh = FakeGitHub::start(world()).await;
    let main_head = gh.with_world(|w| w.repo_mut("octo/app").unwrap().git.refs["main"].clone());
    let (status, d) = post(
        &gh,
        "/repos/octo/app/deployments",
        json!({
            "ref": "main",
            "environment": "homelab",
            "description": "deploy config",
            "auto_merge": false,
            "required_contexts": [],
            "payload": {"paths": ["configuration.yaml"]},
            "transient_environment": false,
        }),
    )
    .await;
    assert_eq!(status, 201);
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/get-deployment.json")).unwrap();
    assert_eq!(keys(&d), keys(&fixture));
    let id = d["id"].as_u64().unwrap();
    let api = format!("{}/repos/octo/app", gh.url());
    assert_eq!(d["ref"], "main");
    assert_eq!(d["sha"], main_head.as_str());
    assert_eq!(d["task"], "deploy");
    assert_eq!(d["environment"], "homelab");
    assert_eq!(d["original_environment"], "homelab");
    assert_eq!(d["production_environment"], false);
    assert_eq!(d["transient_environment"], false);
    assert_eq!(d["description"], "deploy config");
    assert_eq!(d["payload"], json!({"paths": ["configuration.yaml"]}));
    assert_eq!(d["creator"]["login"], "octo");
    assert_eq!(d["url"], format!("{api}/deployments/{id}"));
    assert_eq!(
        d["statuses_url"],
        format!("{api}/deployments/{id}/statuses")
    );
    assert_eq!(d["repository_url"], api);

    // A sha is used as is; a branch known only from a run resolves to its head; an
    // unknown ref gets a stable fake sha. `production` defaults to a production env.
    let (_, by_sha) = post(&gh, "/repos/octo/app/deployments", json!({"ref": SHA})).await;
    assert_eq!((&by_sha["sha"], &by_sha["ref"]), (&json!(SHA), &json!(SHA)));
    assert_eq!(by_sha["environment"], "production");
    assert_eq!(by_sha["production_environment"], true);
    assert_eq!(by_sha["description"], Value::Null);
    assert_eq!(by_sha["payload"], json!({}));
    let (_, feature) = post(
        &gh,
        "/repos/octo/app/deployments",
        json!({"ref": "feature"}),
    )
    .await;
    assert_eq!(feature["sha"], "fea7fea7fea7fea7fea7fea7fea7fea7fea7fea7");
    let (_, a) = post(&gh, "/repos/octo/app/deployments", json!({"ref": "v1.0"})).await;
    let (_, b) = post(&gh, "/repos/octo/app/deployments", json!({"ref": "v1.0"})).await;
    assert_eq!(a["sha"], b["sha"]);
    assert_eq!(a["sha"].as_str().unwrap().len(), 40);

    let (status, got) = get(&gh, &format!("/repos/octo/app/deployments/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got, d);
    assert_eq!(gh.deployments("octo/app").last().unwrap(), &d);
    assert_eq!(gh.deployments("octo/app").len(), 5);
}

#[tokio::test]
async fn deployment_errors_are_githubs() {
    let gh = FakeGitHub::start(world()).await;
    let (status, body) = post(
        &gh,
        "/repos/octo/app/deployments",
        json!({"environment": "x"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        body["errors"][0],
        json!({"resource": "Deployment", "code": "missing_field", "field": "ref"})
    );
    let (status, body) = post(&gh, "/repos/octo/app/deployments", json!({"ref": 5})).await;
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (422, &json!("invalid"))
    );
    let (status, _) = post(
        &gh,
        "/repos/octo/app/deployments",
        json!({"ref": "main", "required_contexts": "ci"}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(gh.deployments("octo/app").is_empty());

    let (status, _) = get(&gh, "/repos/octo/app/deployments/999").await;
    assert_eq!(status, 404);
    let (status, _) = get(&gh, "/repos/octo/app/deployments/999/statuses").await;
    assert_eq!(status, 404);
    let (status, body) = post(
        &gh,
        "/repos/octo/app/deployments/999/statuses",
        json!({"state": "success"}),
    )
    .await;
    assert_eq!((status, &body["message"]), (404, &json!("Not Found")));

    let id = gh.create_deployment("octo/app", SHA, "homelab");
    for bad in [json!({"state": "done"}), json!({"state": 1}), json!({})] {
        let (status, body) = post(
            &gh,
            &format!("/repos/octo/app/deployments/{id}/statuses"),
            bad.clone(),
        )
        .await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(body["errors"][0]["field"], "state");
        assert_eq!(body["errors"][0]["resource"], "DeploymentStatus");
    }
    assert!(gh.deployment_statuses("octo/app", id).is_empty());
}

#[tokio::test]
async fn statuses_lists_filters_and_auto_inactive() {
    let gh = FakeGitHub::start(world()).await;
    let older = gh.create_deployment("octo/app", SHA, "homelab");
    let status_path = |id: u64| format!("/repos/octo/app/deployments/{id}/statuses");
    post(&gh, &status_path(older), json!({"state": "success"})).await;

    let (_, d) = post(
        &gh,
        "/repos/octo/app/deployments",
        json!({"ref": "main", "environment": "homelab"}),
    )
    .await;
    let id = d["id"].as_u64().unwrap();
    let (status, st) = post(
        &gh,
        &status_path(id),
        json!({"state": "in_progress", "log_url": "https://ci.example/1", "description": "copying"}),
    )
    .await;
    assert_eq!(status, 201);
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/get-deployment-status.json")).unwrap();
    assert_eq!(keys(&st), keys(&fixture));
    assert_eq!(st["state"], "in_progress");
    assert_eq!(st["environment"], "homelab");
    assert_eq!(st["log_url"], "https://ci.example/1");
    assert_eq!(st["target_url"], "https://ci.example/1");
    assert_eq!(st["environment_url"], "");
    assert_eq!(st["description"], "copying");
    assert_eq!(st["creator"]["login"], "octo");
    let deployment_url = format!("{}/repos/octo/app/deployments/{id}", gh.url());
    assert_eq!(st["deployment_url"], deployment_url);
    assert_eq!(
        st["url"],
        format!("{deployment_url}/statuses/{}", st["id"].as_u64().unwrap())
    );
    post(
        &gh,
        &status_path(id),
        json!({"state": "success", "environment_url": "http://ha.local:8123"}),
    )
    .await;

    // Oldest first from the helper, newest first from the API; the earlier successful
    // deployment to the same environment was marked inactive.
    assert_eq!(
        gh.deployment_statuses("octo/app", id),
        ["in_progress", "success"]
    );
    assert_eq!(
        gh.deployment_statuses("octo/app", older),
        ["success", "inactive"]
    );
    let (status, list) = get(&gh, &status_path(id)).await;
    assert_eq!(status, 200);
    let states: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["success", "in_progress"]);
    let status_id = list[0]["id"].as_u64().unwrap();
    let (status, one) = get(&gh, &format!("{}/{status_id}", status_path(id))).await;
    assert_eq!((status, &one), (200, &list[0]));

    // A status naming another environment moves the deployment there.
    let other = gh.create_deployment("octo/app", "main", "staging");
    post(
        &gh,
        &status_path(other),
        json!({"state": "queued", "environment": "qa", "auto_inactive": false}),
    )
    .await;
    let (_, moved) = get(&gh, &format!("/repos/octo/app/deployments/{other}")).await;
    assert_eq!(
        (&moved["environment"], &moved["original_environment"]),
        (&json!("qa"), &json!("staging"))
    );
    assert_eq!(moved["ref"], "main");
    assert_eq!(moved["creator"]["login"], OTHER_DEPLOYER);
    assert_eq!(moved["creator"]["type"], "Bot");

    let (_, all) = get(&gh, "/repos/octo/app/deployments").await;
    assert_eq!(ids(&all), [other, id, older]);
    let (_, homelab) = get(&gh, "/repos/octo/app/deployments?environment=homelab").await;
    assert_eq!(ids(&homelab), [id, older]);
    let (_, by_sha) = get(&gh, &format!("/repos/octo/app/deployments?sha={SHA}")).await;
    assert_eq!(ids(&by_sha), [older]);
    let (_, by_ref) = get(&gh, "/repos/octo/app/deployments?ref=main").await;
    assert_eq!(ids(&by_ref), [other, id]);
    let (_, none) = get(&gh, "/repos/octo/app/deployments?task=migrate").await;
    assert_eq!(ids(&none), Vec::<u64>::new());
    let (_, page) = get(&gh, "/repos/octo/app/deployments?per_page=1&page=2").await;
    assert_eq!(ids(&page), [id]);
}

#[tokio::test]
async fn deployment_webhook_body_has_the_recorded_shape() {
    let gh = FakeGitHub::start(world()).await;
    let id = gh.create_deployment("octo/app", SHA, "production");
    let hook = gh.deployment_webhook("octo/app", id);
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/deployment.created.json")).unwrap();
    assert_eq!(keys(&hook), keys(&fixture));
    assert_eq!(hook["action"], "created");
    assert_eq!(hook["workflow"], Value::Null);
    assert_eq!(hook["deployment"], gh.deployments("octo/app")[0]);
    assert_eq!(hook["deployment"]["production_environment"], true);
    let (_, repo) = get(&gh, "/repos/octo/app").await;
    assert_eq!(hook["repository"], repo);
    assert_eq!(hook["sender"]["login"], OTHER_DEPLOYER);
    assert_eq!(keys(&hook["sender"]), keys(&fixture["sender"]));
}
