//! The MCP server driven by a real MCP client — the official Python SDK (`mcp` on PyPI,
//! `tests/mcp/client.py`) — against a running daemon (real Mosquitto, fake GitHub): the
//! handshake, the tool list an assistant sees, every read tool, a command the repository
//! allows (it reaches GitHub and the audit trail) and ones it does not (refused), and the
//! bearer-token rule.

mod support;

use std::process::Command;
use std::time::Duration;

use fake_github::{Job, Owner, Repo, Run, Workflow, World};
use serde_json::{Value, json};
use support::rig::Rig;

const WAIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "an-mcp-api-token";
const LEAKED: &str = "ghp_R3alLo0kingT0kenVa1ue0123456789abcde";

/// `octo/api` whose last run (1003) is still running (it fails in its `test` job once the
/// test lets it finish, so the daemon fetches its jobs), and `octo/web`, quiet.
fn world() -> World {
    let mut api = support::world::octo_api(1, ["success", "success", "success"]);
    let running = api.runs.last_mut().unwrap();
    running.status = "in_progress".into();
    running.conclusion = None;
    let running = running.clone();
    api = api
        .job(Job::for_run(50, &running, "build"))
        .job(Job::for_run(51, &running, "test"));
    let web = Repo::new(2, "octo", "web")
        .workflow(Workflow::new(20, "Pages", ".github/workflows/pages.yml"))
        .run(Run::completed(
            2001,
            20,
            "Pages",
            "success",
            chrono::Utc::now() - chrono::Duration::hours(3),
            chrono::Duration::minutes(1),
        ));
    World::new("t")
        .owner(Owner::user("octo", 1))
        .repo(api)
        .repo(web)
}

/// An HA configuration with one broken include and a token written in plain text.
fn ha_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("configuration.yaml"),
        format!(
            "homeassistant:\n  name: Home\nautomation: !include automations.yaml\nrest_command:\n  deploy:\n    url: https://api.github.com/repos/octo/api/dispatches\n    method: post\n    headers:\n      authorization: \"token {LEAKED}\"\n"
        ),
    )
    .unwrap();
    dir
}

/// Runs the Python client: `calls` in one session; `Err` with the reason when refused.
fn client(url: &str, token: &str, calls: Value) -> Result<Value, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.py");
    let out = Command::new("python3")
        .args([script, &format!("{url}/mcp"), token, &calls.to_string()])
        .output()
        .expect("python3 runs (`.ci/run` installs the `mcp` package)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "client.py printed no JSON ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    match value.get("refused") {
        Some(reason) => Err(reason.as_str().unwrap_or_default().to_string()),
        None => Ok(value),
    }
}

async fn start(ha: &std::path::Path, token: Option<&str>) -> Rig {
    start_with(ha, token, "").await
}

/// `http_extra`: more `http:` settings lines.
async fn start_with(ha: &std::path::Path, token: Option<&str>, http_extra: &str) -> Rig {
    let http = match token {
        Some(t) => format!("http:\n  listen: \"\"\n  api_token: {t}\n{http_extra}"),
        None => format!("http:\n  listen: \"\"\n{http_extra}"),
    };
    let validate = format!("validate:\n  path: {}\n", ha.display());
    let rig = Rig::launch(
        world(),
        "    - name: octo/api\n      allow: [rerun]\n    - octo/web\n",
        "gitops-bridge/#",
        |text| text.replace("http:\n  listen: \"\"\n", &(http + &validate)),
        true,
    )
    .await;
    rig.probe
        .wait_for("gitops-bridge/repo/octo/api/state", WAIT, |s| {
            s.json()["running"] == true
        })
        .await;
    rig.gh.with_world(|w| {
        let repo = w.repo_mut("octo/api").unwrap();
        let now = chrono::Utc::now();
        let run = repo.runs.iter_mut().find(|r| r.id == 1003).unwrap();
        run.status = "completed".into();
        run.conclusion = Some("failure".into());
        run.updated_at = now;
        for job in &mut repo.jobs {
            job.status = "completed".into();
            job.conclusion = Some(
                if job.name == "test" {
                    "failure"
                } else {
                    "success"
                }
                .into(),
            );
            job.completed_at = Some(now);
        }
    });
    // The failed run's jobs are stored and the first check has run.
    rig.probe
        .wait_for("gitops-bridge/repo/octo/api/state", WAIT, |s| {
            s.json()["last_run"]["failed_jobs"] == json!(["test"])
        })
        .await;
    rig.probe
        .wait_for("gitops-bridge/bridge/validation", WAIT, |_| true)
        .await;
    rig
}

fn result(out: &Value, index: usize) -> &Value {
    &out["results"][index]
}

#[tokio::test]
async fn an_assistant_reads_everything_and_may_only_command_what_the_repository_allows() {
    let ha = ha_config();
    let rig = start(ha.path(), Some(TOKEN)).await;
    let url = rig.url.clone();
    let calls = json!([
        ["list_repositories", {}],
        ["repository_status", {"owner": "octo", "repo": "api"}],
        ["run_history", {"owner": "octo", "repo": "api", "per_page": 2}],
        ["run_jobs", {"owner": "octo", "repo": "api", "run_id": 1003}],
        ["workflow_metrics", {"window": "7d"}],
        ["configuration_check", {}],
        ["security_scan", {}],
        ["run_command", {"owner": "octo", "repo": "api", "action": "rerun", "run_id": 1003, "request_id": "mcp-1"}],
        ["run_command", {"owner": "octo", "repo": "web", "action": "rerun"}],
        ["run_command", {"owner": "octo", "repo": "api", "action": "dispatch", "workflow": "ci.yml"}],
        ["run_history", {"owner": "octo", "repo": "nope"}],
    ]);
    let out = tokio::task::spawn_blocking(move || client(&url, TOKEN, calls))
        .await
        .unwrap()
        .expect("the token is accepted");

    assert_eq!(out["server"], "gitops-bridge");
    // The tool list: every read tool marked read-only, the command tool not, and schemas an
    // assistant can fill in without help.
    let tools = out["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "configuration_check",
            "list_repositories",
            "repository_status",
            "run_command",
            "run_history",
            "run_jobs",
            "security_scan",
            "workflow_metrics"
        ]
    );
    for tool in tools {
        let read_only = tool["annotations"]["readOnlyHint"] == true;
        assert_eq!(read_only, tool["name"] != "run_command", "{tool}");
        assert!(
            tool["description"].as_str().unwrap().len() > 80,
            "{} explains itself",
            tool["name"]
        );
        assert_eq!(tool["input_schema"]["type"], "object", "{tool}");
    }
    let command = tools.iter().find(|t| t["name"] == "run_command").unwrap();
    let schema = &command["input_schema"];
    assert!(
        schema["properties"]["action"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("rerun_failed")),
        "{schema}"
    );
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["owner", "repo", "action"]);

    // Reads.
    let listed = &result(&out, 0)["structured"];
    let repos: Vec<&str> = listed["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(repos, ["octo/api", "octo/web"]);
    assert_eq!(listed["repositories"][0]["actions"], json!(["rerun"]));
    assert_eq!(listed["repositories"][0]["health"]["failing"], true);
    let status = &result(&out, 1)["structured"];
    assert_eq!(status["workflows"][0]["file"], "ci.yml");
    let history = &result(&out, 2)["structured"];
    assert_eq!(history["total"], 3);
    let ids: Vec<u64> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1003, 1002], "newest first, two per page");
    let jobs = &result(&out, 3)["structured"];
    assert_eq!(jobs["failed_jobs"], json!(["test"]));
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 2);
    let metrics = &result(&out, 4)["structured"];
    assert_eq!(metrics["totals"]["repositories"], 2);
    assert_eq!(metrics["window_s"], 7 * 86400);
    let check = &result(&out, 5)["structured"];
    let check_text = check.to_string();
    assert!(
        check_text.contains("automations.yaml"),
        "the missing include is reported: {check}"
    );
    let scan = &result(&out, 6);
    assert_eq!(scan["is_error"], false, "{scan}");
    assert!(
        scan["text"]
            .as_str()
            .unwrap()
            .contains("configuration.yaml"),
        "{scan}"
    );
    assert!(
        !out.to_string().contains(LEAKED),
        "the leaked token never reaches the assistant"
    );
    for i in 0..7 {
        assert_eq!(result(&out, i)["is_error"], false, "{}", result(&out, i));
    }

    // The allowed command reached GitHub through the executor, audited as from MCP.
    let rerun = result(&out, 7);
    assert_eq!(rerun["is_error"], false, "{rerun}");
    assert_eq!(rerun["structured"]["ok"], true);
    assert!(
        rig.gh
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path == "/repos/octo/api/actions/runs/1003/rerun"),
        "the rerun reached GitHub"
    );
    // Not allowed: refused with the reason, and nothing else was written.
    for i in [8, 9] {
        let refused = result(&out, i);
        assert_eq!(refused["is_error"], true, "{refused}");
        assert!(
            refused["structured"]["message"]
                .as_str()
                .unwrap()
                .contains("is not allowed"),
            "{refused}"
        );
    }
    let posts = rig
        .gh
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "only the allowed command wrote to GitHub");
    let unknown = result(&out, 10);
    assert_eq!(unknown["is_error"], true);
    assert!(
        unknown["text"]
            .as_str()
            .unwrap()
            .contains("not a watched repository")
    );
    let audit: Value = rig
        .http
        .get(format!("{}/api/commands", rig.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sources: Vec<(&str, bool)> = audit["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["source"].as_str().unwrap(), c["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        sources,
        [("mcp", false), ("mcp", false), ("mcp", true)],
        "every command audited, newest first"
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_wrong_token_or_none_configured_is_refused_unless_the_network_is_trusted() {
    let ha = ha_config();
    let rig = start(ha.path(), Some(TOKEN)).await;
    let url = rig.url.clone();
    let refused = tokio::task::spawn_blocking(move || {
        client(&url, "not-the-token", json!([["list_repositories", {}]]))
    })
    .await
    .unwrap();
    assert_eq!(refused, Err("HTTP 401".to_string()));
    rig.stop().await;

    // Without `http.api_token`, only HA ingress may use it.
    let rig = start(ha.path(), None).await;
    let url = rig.url.clone();
    let refused = tokio::task::spawn_blocking(move || {
        client(&url, TOKEN, json!([["list_repositories", {}]]))
    })
    .await
    .unwrap();
    assert_eq!(refused, Err("HTTP 403".to_string()));
    rig.stop().await;

    // A trusted network (what HA's own MCP integration, which sends no token, needs) gets
    // in without one; commands from there still obey the allow-list.
    let rig = start_with(ha.path(), None, "  mcp_trusted_networks: [127.0.0.0/8]\n").await;
    let url = rig.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        client(
            &url,
            "",
            json!([
                ["list_repositories", {}],
                ["run_command", {"owner": "octo", "repo": "web", "action": "rerun"}]
            ]),
        )
    })
    .await
    .unwrap()
    .expect("a trusted network needs no token");
    assert_eq!(result(&out, 0)["is_error"], false);
    assert_eq!(result(&out, 1)["is_error"], true, "octo/web allows nothing");
    rig.stop().await;
}
