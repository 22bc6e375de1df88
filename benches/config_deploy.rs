//! Configuration deployment benchmark (`cargo bench --bench config_deploy`): what one
//! deployment of a one-file automation change costs gitops-bridge itself — fetch from a
//! local bare repository, read the commit, stage it, our check, plan, the atomic writes with
//! their backup, the impact analysis, the HA calls and the health gate — against an HA
//! stand-in that answers every call at once, so HA's own share (its check, the reload) is
//! left out; docs/benchmarks.md adds it, measured in the lab. The configuration is 200
//! generated automations in packages, or a real one that checks clean (`BENCH_CONFIG=dir`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gitops_bridge::config_deploy::{
    ConfigDeploySettings, Deployer, RawConfigDeploy, Status, Trigger,
};

const ROUNDS: usize = 20;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "B")
        .env("GIT_AUTHOR_EMAIL", "b@example.com")
        .env("GIT_COMMITTER_NAME", "B")
        .env("GIT_COMMITTER_EMAIL", "b@example.com")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The configuration to deploy: `BENCH_CONFIG`, or 200 generated automations in packages.
fn source(into: &Path) -> String {
    // The shared corpus is pruned (blueprints and includes missing), so most of it fails our
    // gate; a real configuration that checks clean can be given with BENCH_CONFIG.
    let chosen = std::env::var("BENCH_CONFIG").map(PathBuf::from).ok();
    match chosen {
        Some(dir) => {
            let ok = Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", dir.display()))
                .arg(into)
                .status()
                .unwrap();
            assert!(ok.success());
            let _ = std::fs::remove_dir_all(into.join(".git"));
            dir.display().to_string()
        }
        None => {
            std::fs::create_dir_all(into.join("packages")).unwrap();
            std::fs::write(into.join("configuration.yaml"), "homeassistant:\n  packages: !include_dir_named packages\nautomation: !include automations.yaml\n").unwrap();
            std::fs::write(
                into.join("automations.yaml"),
                "- id: a\n  alias: A\n  triggers: []\n  actions: []\n",
            )
            .unwrap();
            for i in 0..200 {
                std::fs::write(
                    into.join(format!("packages/p{i}.yaml")),
                    format!("automation p{i}:\n  - id: p{i}\n    alias: P{i}\n    triggers: [{{trigger: time, at: '0{}:00'}}]\n    actions: [{{action: light.turn_on, target: {{entity_id: light.l{i}}}}}]\n", i % 10),
                )
                .unwrap();
            }
            "200 generated automations in packages".into()
        }
    }
}

/// An HA that answers at once: running, every reload offered, the check valid.
async fn instant_ha() -> String {
    use axum::routing::{get, post};
    let services: Vec<serde_json::Value> = [
        "automation",
        "script",
        "scene",
        "group",
        "template",
        "input_boolean",
        "input_number",
        "input_select",
        "input_text",
        "input_datetime",
        "input_button",
        "timer",
        "counter",
        "zone",
        "person",
        "schedule",
        "homeassistant",
        "mqtt",
        "rest",
        "command_line",
    ]
    .iter()
    .map(|d| serde_json::json!({"domain": d, "services": {"reload": {}, "reload_core_config": {}}}))
    .collect();
    let app = axum::Router::new()
        .route("/api/config", get(|| async { axum::Json(serde_json::json!({"state": "RUNNING", "components": ["automation", "script", "template", "homeassistant"], "version": "bench"})) }))
        .route("/api/services", get(move || { let s = services.clone(); async move { axum::Json(s) } }))
        .route("/api/error_log", get(|| async { "" }))
        .route("/api/config/core/check_config", post(|| async { axum::Json(serde_json::json!({"result": "valid", "errors": null, "warnings": null})) }))
        .route("/api/services/{domain}/{service}", post(|| async { axum::Json(serde_json::json!([])) }))
        .route("/api/states/{entity}", get(|| async { axum::Json(serde_json::json!({"state": "on"})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn stats(label: &str, mut xs: Vec<Duration>) {
    xs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<48} min {:>7.1} ms   median {:>7.1} ms   max {:>7.1} ms   ({} rounds)",
        ms(xs[0]),
        ms(xs[xs.len() / 2]),
        ms(xs[xs.len() - 1]),
        xs.len()
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let target = dir.path().join("config");
    std::fs::create_dir_all(&work).unwrap();
    let what = source(&work);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A", "-f"]);
    git(&work, &["commit", "-q", "-m", "a"]);
    let a = git(&work, &["rev-parse", "HEAD"]);
    // The one-file change: an automation file's last line, or a new file when none.
    let changed = ["automations.yaml", "config/automations.yaml"]
        .iter()
        .map(|p| work.join(p))
        .find(|p| p.is_file())
        .unwrap_or_else(|| work.join("automations.yaml"));
    let mut text = std::fs::read_to_string(&changed).unwrap_or_default();
    text.push_str("\n# changed by the benchmark\n");
    std::fs::write(&changed, text).unwrap();
    git(&work, &["commit", "-q", "-am", "b"]);
    let b = git(&work, &["rev-parse", "HEAD"]);
    let remote = dir.path().join("remote.git");
    git(dir.path(), &["init", "-q", "--bare", "remote.git"]);
    git(
        &work,
        &[
            "push",
            "-q",
            &format!("file://{}", remote.display()),
            "main",
        ],
    );
    // HA's folder holds commit `a`, as if deployed by hand.
    git(&work, &["checkout", "-q", &a]);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", work.display()))
        .arg(&target)
        .status()
        .unwrap();
    assert!(ok.success());
    let _ = std::fs::remove_dir_all(target.join(".git"));

    let ha = instant_ha().await;
    let files = git(&work, &["ls-files"]).lines().count();
    let source_path = if work.join("config/configuration.yaml").is_file() {
        "source_path: config\n"
    } else {
        ""
    };
    let yaml = format!(
        "repository: bench/ha-config\ngit_url: file://{}\npath: {}\nstaging: {}\n{source_path}home_assistant:\n  url: {ha}\n  token: t\nwatch_entities: [sensor.bench]\nhealth_timeout: 10s\n",
        remote.display(),
        if source_path.is_empty() {
            target.display().to_string()
        } else {
            target.join("config").display().to_string()
        },
        dir.path().join("staging").display()
    );
    let raw: RawConfigDeploy = serde_yaml_ng::from_str(&yaml).unwrap();
    let settings = Arc::new(
        ConfigDeploySettings::from_raw(
            raw,
            "https://api.github.com",
            dir.path(),
            &Default::default(),
        )
        .unwrap()
        .unwrap(),
    );
    let (store, worker) = gitops_bridge::store::Store::open_in_memory().unwrap();
    worker.spawn().unwrap();
    let deployer = Deployer::new(settings, None, &store);

    println!("config deploy: {what} ({files} files in git)");
    // The first deployment records `a` (nothing to write); then a, b, a, b…: one file each.
    let first = deployer.deploy(Trigger::Cli, Some(&a), None).await;
    assert_eq!(first.status, Status::Succeeded, "{}", first.message);
    let mut change = Vec::new();
    let mut same = Vec::new();
    for round in 0..ROUNDS {
        let commit = if round % 2 == 0 { &b } else { &a };
        let started = Instant::now();
        let d = deployer.deploy(Trigger::Cli, Some(commit), None).await;
        change.push(started.elapsed());
        assert_eq!(d.status, Status::Succeeded, "{}", d.message);
        assert_eq!(d.files.len(), 1, "{:?}", d.files);
        let started = Instant::now();
        let d = deployer.deploy(Trigger::Cli, Some(commit), None).await;
        same.push(started.elapsed());
        assert!(d.message.contains("already deployed"), "{}", d.message);
    }
    stats("one-file change, whole deployment (HA instant)", change);
    stats("the same commit again (nothing to write)", same);
}
