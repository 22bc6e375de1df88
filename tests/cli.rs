//! The command line as a user meets it: `discovery`, settings errors, `healthcheck`.

mod support;

use chrono::Utc;
use fake_github::{FakeGitHub, Owner, Repo, Run, Workflow, World};

use support::bin;

#[tokio::test]
async fn discovery_prints_every_message_serve_would_publish() {
    let now = Utc::now();
    let gh = FakeGitHub::start(
        World::new("ghp_discoveryTestToken123")
            .owner(Owner::user("octo", 1))
            .repo(
                Repo::new(100, "octo", "api")
                    .workflow(Workflow::new(10, "CI", ".github/workflows/ci.yml"))
                    .run(Run::completed(
                        1,
                        10,
                        "CI",
                        "failure",
                        now - chrono::Duration::hours(2),
                        chrono::Duration::minutes(3),
                    )),
            ),
    )
    .await;
    let cfg = support::Config::write(&gh.url(), &gh.token(), 1, "    - octo/api\n", "");
    let path = cfg.path.clone();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .arg("discovery")
            .arg("--config")
            .arg(path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for topic in [
        "# homeassistant/device/gitops_bridge_bridge/config (retained)",
        "# homeassistant/device/gitops_bridge_repo_100/config (retained)",
        "# gitops-bridge/repo/octo/api/state (retained)",
        "# gitops-bridge/bridge/availability (retained)",
    ] {
        assert!(text.contains(topic), "{topic} missing from:\n{text}");
    }
    assert!(text.contains("\"status\": \"failure\""), "{text}");
    assert!(
        !text.contains("ghp_discoveryTestToken123"),
        "the token never shows"
    );
}

#[test]
fn a_settings_mistake_is_one_line_naming_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        "github:\n  token: x\n  repositories: [a/b]\nmqtt:\n  port: seventeen\n",
    )
    .unwrap();
    let out = bin()
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("mqtt.port"), "{err}");

    let out = bin()
        .arg("serve")
        .arg("--config")
        .arg(dir.path().join("missing.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}

#[test]
fn healthcheck_fails_when_nothing_answers() {
    let port = support::free_port();
    let out = bin()
        .args([
            "healthcheck",
            "--url",
            &format!("http://127.0.0.1:{port}/healthz"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// Runs `discovery` against a settings file and returns (exit code, stdout, stderr).
async fn discovery(cfg: &support::Config) -> (Option<i32>, String, String) {
    let path = cfg.path.clone();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .arg("discovery")
            .arg("--config")
            .arg(path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn discovery_fails_with_the_reason_when_github_refuses_or_is_unreachable() {
    let gh = FakeGitHub::start(World::new("the-right-token").owner(Owner::user("octo", 1))).await;
    let cfg = support::Config::write(&gh.url(), "a-wrong-token", 1, "    - octo/api\n", "");
    let (code, stdout, stderr) = discovery(&cfg).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stdout.is_empty(),
        "nothing printed that looks like success: {stdout}"
    );
    assert!(
        stderr.contains("401") || stderr.to_lowercase().contains("token"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("a-wrong-token"),
        "the token never shows: {stderr}"
    );

    let port = support::free_port();
    let cfg = support::Config::write(
        &format!("http://127.0.0.1:{port}"),
        "t",
        1,
        "    - octo/api\n",
        "",
    );
    let (code, _, stderr) = discovery(&cfg).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("reach"), "{stderr}");
    assert!(
        stderr.contains("WARN"),
        "the poller's warning is logged: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI escapes on a pipe: {stderr:?}"
    );
}

#[test]
fn an_unknown_log_level_is_refused_with_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        "github:\n  token: x\n  repositories: [a/b]\nlog_level: verbose\n",
    )
    .unwrap();
    let out = bin()
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("log_level") && err.contains("trace, debug, info, warn, error, off"),
        "{err}"
    );
}

/// A store folder that does not exist: one line with the path and what to change, no
/// folder created, no repeated OS error.
#[test]
fn a_missing_store_folder_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "github:\n  token: x\n  api_url: http://127.0.0.1:9\n  repositories: [a/b]\nmqtt:\n  port: 9\nhttp:\n  listen: \"\"\nstore:\n  path: {}\n",
            missing.join("history.db").display()
        ),
    )
    .unwrap();
    let out = bin()
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let last = err.lines().last().unwrap();
    assert!(
        last.contains(&missing.display().to_string()) && last.contains("store.path"),
        "{err}"
    );
    assert_eq!(err.matches("does not exist").count(), 1, "{err}");
    assert!(!missing.exists(), "no folder is created");
}
