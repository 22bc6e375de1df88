//! Configuration deployments that must be refused or handled before Home Assistant is
//! involved: real git repositories on disk, the real staging clone, and no HA (its URL
//! answers nothing) unless a test serves the few calls it needs. The deployments that reach
//! HA are proven in a real one (`ha_e2e::config_deploy`).

use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Duration;

use gitops_bridge::config_deploy::{
    ConfigDeploySettings, Deployer, RawConfigDeploy, Status, Trigger,
};
use gitops_bridge::store::Store;
use support::git;

mod support;

const CONFIG: &str = "homeassistant:\n  name: Home\nautomation: !include automations.yaml\n";
const AUTOMATIONS: &str = "- id: a\n  alias: A\n  triggers: []\n  actions: []\n";

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// A repository with a small configuration, pushed, and HA's folder holding the same
    /// files plus what HA keeps (`secrets.yaml`, `.storage/`).
    fn new() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(site.work()).unwrap();
        std::fs::create_dir_all(site.target().join(".storage")).unwrap();
        for (p, c) in [
            ("configuration.yaml", CONFIG),
            ("automations.yaml", AUTOMATIONS),
        ] {
            std::fs::write(site.work().join(p), c).unwrap();
            std::fs::write(site.target().join(p), c).unwrap();
        }
        std::fs::write(site.target().join("secrets.yaml"), "x: y\n").unwrap();
        std::fs::write(site.target().join(".storage/core.config"), "{}").unwrap();
        git(&site.work(), &["init", "-q", "-b", "main"]);
        git(&site.work(), &["add", "-A"]);
        git(&site.work(), &["commit", "-q", "-m", "first"]);
        git(site.dir.path(), &["init", "-q", "--bare", "remote.git"]);
        site.push_head();
        site
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    fn target(&self) -> PathBuf {
        self.dir.path().join("config")
    }
    fn staging(&self) -> PathBuf {
        self.dir.path().join("staging")
    }
    fn remote(&self) -> String {
        format!("file://{}/remote.git", self.dir.path().display())
    }

    fn push_head(&self) {
        git(&self.work(), &["push", "-q", "-f", &self.remote(), "main"]);
    }

    /// Commits the work tree as it is now and pushes; the new commit.
    fn commit(&self, message: &str) -> String {
        git(&self.work(), &["add", "-A"]);
        git(&self.work(), &["commit", "-q", "-m", message]);
        self.push_head();
        git(&self.work(), &["rev-parse", "HEAD"])
    }

    fn settings(&self, extra: &str, ha_url: &str) -> Arc<ConfigDeploySettings> {
        let yaml = format!(
            "repository: home/ha-config\ngit_url: {}\npath: {}\nstaging: {}\nhome_assistant:\n  url: {ha_url}\n  token: t0ken-for-ha\n{extra}",
            self.remote(),
            self.target().display(),
            self.staging().display()
        );
        let raw: RawConfigDeploy = serde_yaml_ng::from_str(&yaml).unwrap();
        Arc::new(
            ConfigDeploySettings::from_raw(
                raw,
                "https://api.github.com",
                self.dir.path(),
                &Default::default(),
            )
            .unwrap()
            .unwrap(),
        )
    }

    /// Every file of HA's folder with its bytes.
    fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![self.target()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(self.target()).unwrap().display().to_string();
                    out.push((rel, std::fs::read(&p).unwrap_or_default()));
                }
            }
        }
        out.sort();
        out
    }
}

/// A port nothing listens on: HA "does not answer".
fn nowhere() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

async fn deployer(site: &Site, settings: Arc<ConfigDeploySettings>) -> Deployer {
    let (store, worker) = Store::open(&site.dir.path().join("gitops-bridge.db")).unwrap();
    worker.spawn().unwrap();
    Deployer::new(settings, None, &store)
}

async fn deploy(site: &Site, extra: &str) -> gitops_bridge::config_deploy::ConfigDeployment {
    let d = deployer(site, site.settings(extra, &nowhere())).await;
    d.deploy(Trigger::Cli, None, None).await
}

#[tokio::test]
async fn a_commit_equal_to_the_folder_succeeds_without_asking_ha() {
    let site = Site::new();
    let before = site.snapshot();
    let d = deploy(&site, "").await;
    assert_eq!(d.status, Status::Succeeded, "{}", d.message);
    assert!(d.message.contains("already deployed"), "{}", d.message);
    assert_eq!(d.subjects, vec!["first"]);
    assert_eq!(site.snapshot(), before);
}

/// A change to the work tree.
type Change = dyn Fn(&Path);

#[tokio::test]
async fn unsafe_commits_are_refused_and_the_folder_is_left_as_it_was() {
    let site = Site::new();
    let before = site.snapshot();
    let cases: Vec<(&str, Box<Change>, &str)> = vec![
        (
            "a symlink out of the folder",
            Box::new(|w: &Path| {
                std::os::unix::fs::symlink("/etc/passwd", w.join("passwd.yaml")).unwrap()
            }),
            "`passwd.yaml` is a symlink",
        ),
        (
            "a huge binary file",
            Box::new(|w: &Path| {
                std::fs::write(w.join("www/huge.bin"), vec![0u8; 2 * 1024 * 1024]).unwrap()
            }),
            "`www/huge.bin` is 2097152 bytes, more than `config_deploy.max_file_bytes` (1048576)",
        ),
        (
            "no configuration.yaml",
            Box::new(|w: &Path| std::fs::remove_file(w.join("configuration.yaml")).unwrap()),
            "the commit has no configuration.yaml",
        ),
        (
            "a broken include",
            Box::new(|w: &Path| {
                std::fs::write(
                    w.join("configuration.yaml"),
                    format!("{CONFIG}script: !include missing.yaml\n"),
                )
                .unwrap()
            }),
            "our check found 1 error in the commit; nothing changed: configuration.yaml:4:",
        ),
    ];
    for (what, change, expected) in cases {
        std::fs::create_dir_all(site.work().join("www")).unwrap();
        change(&site.work());
        let bad = site.commit(what);
        let d = deploy(&site, "max_file_bytes: 1048576\n").await;
        assert_eq!(d.status, Status::Refused, "{what}: {}", d.message);
        assert_eq!(d.commit, bad);
        assert!(d.message.contains(expected), "{what}: {}", d.message);
        assert_eq!(site.snapshot(), before, "{what}: HA's folder changed");
        // Back to the good configuration for the next case.
        git(&site.work(), &["reset", "-q", "--hard", "HEAD~1"]);
        site.push_head();
    }
}

#[tokio::test]
async fn a_force_pushed_branch_is_deployed_as_it_now_is_and_said_so() {
    let site = Site::new();
    std::fs::write(
        site.work().join("automations.yaml"),
        AUTOMATIONS.replace("alias: A", "alias: B"),
    )
    .unwrap();
    let second = site.commit("second");
    // Deployed by hand: the folder holds the second commit.
    std::fs::write(
        site.target().join("automations.yaml"),
        AUTOMATIONS.replace("alias: A", "alias: B"),
    )
    .unwrap();
    let d = deploy(&site, "").await;
    assert_eq!(
        (d.status, d.commit.as_str()),
        (Status::Succeeded, second.as_str())
    );
    // History rewritten: the branch now points at a new commit with the same files.
    git(
        &site.work(),
        &["commit", "-q", "--amend", "-m", "second, reworded"],
    );
    site.push_head();
    let d = deploy(&site, "").await;
    assert_eq!(d.status, Status::Succeeded, "{}", d.message);
    assert!(
        d.message.contains("is not in this commit's history"),
        "{}",
        d.message
    );
    assert_ne!(d.commit, second);
}

#[tokio::test]
async fn a_corrupt_staging_clone_is_fetched_again() {
    let site = Site::new();
    assert_eq!(deploy(&site, "").await.status, Status::Succeeded);
    // Objects gone and HEAD garbled: git cannot use this clone any more.
    let repo = site.staging().join("repo.git");
    std::fs::remove_dir_all(repo.join("objects")).unwrap();
    std::fs::write(repo.join("HEAD"), "garbage").unwrap();
    let d = deploy(&site, "").await;
    assert_eq!(d.status, Status::Succeeded, "{}", d.message);
}

#[tokio::test]
async fn a_remote_that_refuses_the_token_is_a_clear_failure_and_the_token_is_never_shown() {
    let site = Site::new();
    // An HTTP git remote that answers 401, as GitHub does for a token without access.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"GitHub\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    let before = site.snapshot();
    let yaml = format!(
        "repository: home/ha-config\ngit_url: http://127.0.0.1:{port}/home/ha-config.git\npath: {}\nstaging: {}\nhome_assistant:\n  url: {}\n  token: t\n",
        site.target().display(),
        site.staging().display(),
        nowhere()
    );
    let raw: RawConfigDeploy = serde_yaml_ng::from_str(&yaml).unwrap();
    let settings = Arc::new(
        ConfigDeploySettings::from_raw(
            raw,
            "https://api.github.com",
            site.dir.path(),
            &Default::default(),
        )
        .unwrap()
        .unwrap(),
    );
    let (store, worker) = Store::open(&site.dir.path().join("gitops-bridge.db")).unwrap();
    worker.spawn().unwrap();
    let token = gitops_bridge::settings::Secret::new("ghp_R3alLo0kingT0kenVa1ue0123456789abcde");
    let d = Deployer::new(settings, Some(token), &store)
        .deploy(Trigger::Cli, None, None)
        .await;
    assert_eq!(d.status, Status::Failed, "{}", d.message);
    assert!(
        d.message
            .contains("access refused; the token needs read access"),
        "{}",
        d.message
    );
    let stored = serde_json::to_string(&d).unwrap();
    assert!(!stored.contains("R3alLo0king"), "{stored}");
    assert_eq!(site.snapshot(), before);
}

#[tokio::test]
async fn a_change_is_never_applied_while_home_assistant_does_not_answer() {
    let site = Site::new();
    let before = site.snapshot();
    std::fs::write(
        site.work().join("automations.yaml"),
        AUTOMATIONS.replace("alias: A", "alias: B"),
    )
    .unwrap();
    site.commit("second");
    let d = deploy(&site, "").await;
    assert_eq!(d.status, Status::Failed, "{}", d.message);
    assert!(d.message.contains("does not answer"), "{}", d.message);
    assert_eq!(d.files, vec!["automations.yaml"]);
    assert_eq!(site.snapshot(), before);
}

/// An HA that answers what a deployment asks before its check, and never answers the check:
/// the deployment stops there, with the new files in place.
async fn ha_stuck_in_its_check() -> String {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route("/api/config", get(|| async { axum::Json(serde_json::json!({"state": "RUNNING", "components": ["automation"], "version": "2026.11.0"})) }))
        .route("/api/services", get(|| async { axum::Json(serde_json::json!([{"domain": "automation", "services": {"reload": {}}}])) }))
        .route("/api/error_log", get(|| async { "" }))
        .route("/api/config/core/check_config", post(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn a_deployment_interrupted_part_way_is_undone_at_the_next_start() {
    let site = Site::new();
    let before = site.snapshot();
    std::fs::write(
        site.work().join("automations.yaml"),
        AUTOMATIONS.replace("alias: A", "alias: B"),
    )
    .unwrap();
    std::fs::create_dir_all(site.work().join("packages")).unwrap();
    std::fs::write(site.work().join("packages/new.yaml"), "{}\n").unwrap();
    site.commit("second");
    let url = ha_stuck_in_its_check().await;
    let settings = site.settings("", &url);
    let first = deployer(&site, settings.clone()).await;
    let running = tokio::spawn(async move { first.deploy(Trigger::Cli, None, None).await });
    // Wait until the new files are in place, then stop the deployment dead (as a crash would).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(site.target().join("automations.yaml"))
        .unwrap()
        .contains("alias: A")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the deployment never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.abort();
    let _ = running.await;
    assert_ne!(site.snapshot(), before);

    let next = deployer(&site, settings).await;
    let undone = next
        .recover()
        .await
        .expect("the interrupted deployment is found");
    assert_eq!(undone.status, Status::Interrupted);
    assert!(
        undone.message.contains("interrupted while applying"),
        "{}",
        undone.message
    );
    assert_eq!(
        site.snapshot(),
        before,
        "the files of before are back, the new one gone"
    );
    assert!(next.recover().await.is_none(), "undone once");
}

// -- in the daemon ------------------------------------------------------------------------

use fake_github::{Owner, World};
use support::rig::Rig;

const SECRET: &str = "config-deploy-webhook-secret";

impl Rig {
    async fn webhook(&self, event: &str, body: &serde_json::Value) {
        let body = serde_json::to_vec(body).unwrap();
        let r = self
            .http
            .post(format!("{}/webhook/github", self.url))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", format!("d-{}", rand::random::<u64>()))
            .header(
                "x-hub-signature-256",
                gitops_bridge::github::webhook::sign(SECRET.as_bytes(), &body),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "webhook {event}: {}", r.status());
    }

    /// GitHub's deployments of the configuration repository, oldest first, with the states
    /// posted on each.
    fn github_deployments(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = self
            .gh
            .deployments("home/ha-config")
            .iter()
            .map(|d| {
                let id = d["id"].as_u64().unwrap();
                (
                    d["sha"].as_str().unwrap().to_string(),
                    self.gh.deployment_statuses("home/ha-config", id),
                )
            })
            .collect();
        out.reverse();
        out
    }

    async fn wait_deployments(
        &self,
        n: usize,
        settled: impl Fn(&[(String, Vec<String>)]) -> bool,
    ) -> Vec<(String, Vec<String>)> {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let d = self.github_deployments();
            if d.len() == n && settled(&d) {
                return d;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "GitHub has {d:?}, expected {n} deployments"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn push(sha: &str) -> serde_json::Value {
    serde_json::json!({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": sha,
        "repository": {"id": 4242, "full_name": "home/ha-config", "name": "ha-config"},
    })
}

fn finished(states: &[String]) -> bool {
    states.len() >= 2
}

/// The deployer in the daemon: its start-up fetch deploys the branch, pushes deploy (once
/// per commit), the pause switch stops automatic deployments but not a command, a GitHub
/// deployment for the environment is deployed and answered on GitHub, and every deployment
/// is recorded there (in_progress, then its outcome) and shown in HA.
#[tokio::test]
async fn the_daemon_deploys_on_push_and_request_records_on_github_and_honours_the_pause() {
    let site = Site::new();
    let before = site.snapshot();
    let world = World::new("test-token")
        .owner(Owner::user("home", 7))
        .repo(fake_github::Repo::new(4242, "home", "ha-config"));
    let extra = format!(
        "config_deploy:\n  repository: home/ha-config\n  git_url: {}\n  path: {}\n  staging: {}\n  poll_interval: 1h\n  home_assistant:\n    url: {}\n    token: t\n",
        site.remote(),
        site.target().display(),
        site.staging().display(),
        nowhere()
    );
    let rig = Rig::launch(
        world,
        "    - name: home/ha-config\n      allow: [deploy_config]\n",
        "gitops-bridge/#",
        move |s| {
            s.replace("http:\n  listen: \"\"\n", "").replace(
                "github:\n",
                &format!("github:\n  webhook_secret: {SECRET}\n"),
            ) + &extra
        },
        true,
    )
    .await;
    let first = git(&site.work(), &["rev-parse", "HEAD"]);

    // Start-up: the safety-net fetch deploys the branch head (already in the folder).
    let d = rig.wait_deployments(1, |d| finished(&d[0].1)).await;
    assert_eq!(
        d[0],
        (
            first.clone(),
            vec!["in_progress".to_string(), "success".to_string()]
        )
    );
    let state = rig
        .probe
        .wait_for(
            "gitops-bridge/bridge/configuration",
            Duration::from_secs(10),
            |s| s.json()["versions"]["installed_version"] == first[..7],
        )
        .await
        .json();
    assert_eq!(state["versions"]["latest_version"], first[..7]);
    assert_eq!(state["outcome"], "succeeded");
    let api: serde_json::Value = rig
        .http
        .get(format!("{}/api/config-deployments", rig.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["deployed"]["commit"], first.as_str(), "{api}");
    assert_eq!(api["deployed"]["trigger"]["kind"], "poll");

    // A push of the same commit again: deployed before, so nothing.
    rig.webhook("push", &push(&first)).await;
    // A new commit: deployed on push; HA does not answer, so it fails and nothing changes.
    std::fs::write(
        site.work().join("automations.yaml"),
        AUTOMATIONS.replace("alias: A", "alias: B"),
    )
    .unwrap();
    let second = site.commit("second");
    rig.webhook("push", &push(&second)).await;
    let d = rig.wait_deployments(2, |d| finished(&d[1].1)).await;
    assert_eq!(
        d[1],
        (
            second.clone(),
            vec!["in_progress".to_string(), "error".to_string()]
        )
    );
    let event = rig
        .probe
        .wait_for(
            "gitops-bridge/bridge/configuration/events",
            Duration::from_secs(10),
            |s| s.json()["commit"] == second[..7],
        )
        .await
        .json();
    assert_eq!(event["event_type"], "failed");
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .contains("does not answer"),
        "{event}"
    );
    assert_eq!(site.snapshot(), before);

    // Paused from HA: a push is not deployed; the command still is (a person asked).
    rig.probe
        .publish("gitops-bridge/bridge/set/config_auto_deploy", "OFF", false)
        .await;
    rig.probe
        .wait_for("gitops-bridge/bridge/state", Duration::from_secs(10), |s| {
            s.json()["config_auto_deploy"] == "OFF"
        })
        .await;
    std::fs::write(
        site.work().join("automations.yaml"),
        AUTOMATIONS.replace("alias: A", "alias: C"),
    )
    .unwrap();
    let third = site.commit("third");
    rig.webhook("push", &push(&third)).await;
    rig.probe
        .publish(
            "gitops-bridge/repo/home/ha-config/cmd/deploy_config",
            format!("{{\"request_id\": \"cfg-1\", \"commit\": \"{first}\"}}"),
            false,
        )
        .await;
    let result = rig
        .probe
        .wait_for("gitops-bridge/cmd/result", Duration::from_secs(10), |s| {
            s.json()["request_id"] == "cfg-1"
        })
        .await
        .json();
    assert_eq!(result["ok"], true, "{result}");
    // Requests are taken in order: the command's deployment is the third, the push made none.
    let d = rig.wait_deployments(3, |d| finished(&d[2].1)).await;
    assert_eq!(
        d[2],
        (
            first.clone(),
            vec!["in_progress".to_string(), "success".to_string()]
        )
    );

    // A GitHub deployment created for the environment, while paused: refused on GitHub.
    let id = rig
        .gh
        .create_deployment("home/ha-config", &first, "home-assistant");
    rig.webhook(
        "deployment",
        &rig.gh.deployment_webhook("home/ha-config", id),
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rig.gh.deployment_statuses("home/ha-config", id).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no status on deployment {id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        rig.gh.deployment_statuses("home/ha-config", id),
        vec!["failure"]
    );

    // Every GitHub write came through the executor's audit trail.
    let audit = gitops_bridge::store::Db::open(&rig.cfg.dir.path().join("store.db"))
        .unwrap()
        .recent_commands(50)
        .unwrap();
    rig.stop().await;
    let recorded = audit.iter().filter(|c| c.source == "config-deploy").count();
    assert_eq!(recorded, 3 + 6 + 1, "{audit:?}");
}
