//! `gitops-bridge dashboard` on the fake GitHub's demo homelab: the YAML reads back in
//! PyYAML (HA's loader) as the dashboard meant, uses only HA's built-in cards, and every
//! entity it names is one `discovery` announces. (`ha_e2e` loads it into a real HA.)

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use chrono::Utc;
use fake_github::{FakeGitHub, World};
use serde_json::Value;

/// ha-config allows every action; the rest of the demo is watched with none.
const REPOS: &str = "    - name: homelab-demo/ha-config
      allow: [rerun_failed, rerun, cancel, rollback, dispatch, deploy_template, rollback_template, deploy_config]
      dispatch: [deploy.yml]
      deploy_workflow: deploy.yml
    - homelab-demo/*
";

/// HA's built-in cards, the badge type, the tile feature and the view layout this dashboard
/// may use.
const BUILT_IN: &[&str] = &[
    "heading",
    "tile",
    "markdown",
    "conditional",
    "history-graph",
    "grid",
    "entity",
    "sections",
    "update-actions",
];

/// YAML → JSON the way HA reads it: PyYAML's safe loader.
fn pyyaml(text: &str) -> Value {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with PyYAML (`.ci/run` installs it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "PyYAML could not load the dashboard");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn types(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get("type") {
                out.insert(t.clone());
            }
            map.values().for_each(|v| types(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| types(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_dashboard_names_only_announced_entities_and_reads_back_in_pyyaml() {
    let gh = FakeGitHub::start(World::demo(Utc::now())).await;
    let ha = tempfile::tempdir().unwrap();
    std::fs::write(ha.path().join("configuration.yaml"), "homeassistant:\n").unwrap();
    let extra = format!(
        "validate:\n  path: {0}\ntemplates:\n  targets:\n    - repositories: [homelab-demo/ha-config]\n      templates: [security-scan]\nconfig_deploy:\n  repository: homelab-demo/ha-config\n  path: {0}\n  home_assistant:\n    url: http://127.0.0.1:9\n    token: t\n",
        ha.path().display()
    );
    let cfg = support::Config::write(&gh.url(), &gh.token(), 1, REPOS, &extra);
    let yaml = support::cli_stdout("dashboard", &cfg.path).await;
    let discovery = support::cli_stdout("discovery", &cfg.path).await;

    let announced: BTreeSet<String> = discovery
        .split("\n# ")
        .filter_map(|chunk| chunk.split_once('\n'))
        .filter(|(topic, _)| topic.contains("/device/"))
        .flat_map(|(_, body)| {
            let config: Value = serde_json::from_str(body).unwrap();
            config["components"]
                .as_object()
                .unwrap()
                .values()
                .map(|c| c["default_entity_id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(announced.len() > 40, "{announced:?}");

    let dashboard = pyyaml(&yaml);
    // YAML 1.1 (PyYAML, HA) and YAML 1.2 read the same document: nothing bare that 1.1
    // would turn into a boolean or a number.
    let yaml_1_2: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(dashboard, yaml_1_2);
    let view = &dashboard["views"][0];
    assert_eq!(view["type"], "sections");
    let sections = view["sections"].as_array().unwrap();
    // The bridge, then the configuration deployed from ha-config, then the repositories.
    assert_eq!(sections[1]["cards"][0]["heading"], "Configuration");
    let configuration: Vec<&str> = sections[1]["cards"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["entity"].as_str())
        .collect();
    assert_eq!(
        configuration,
        [
            "update.gitops_bridge_configuration",
            "sensor.gitops_bridge_configuration_commit",
            "sensor.gitops_bridge_configuration_deployed_at",
            "sensor.gitops_bridge_configuration_deployment",
            "switch.gitops_bridge_config_auto_deploy",
        ]
    );
    let repo_headings: Vec<&str> = sections[2..]
        .iter()
        .map(|s| s["cards"][0]["heading"].as_str().unwrap())
        .collect();
    assert!(
        repo_headings.contains(&"homelab-demo/ha-config"),
        "{repo_headings:?}"
    );
    assert_eq!(
        sections.len(),
        2 + discovery.matches("/device/gitops_bridge_repo_").count(),
        "one section per repository after the bridge's and the configuration's"
    );

    let mut named = BTreeSet::new();
    support::lovelace::referenced(&dashboard, &mut named);
    let unknown: Vec<&String> = named.difference(&announced).collect();
    assert!(unknown.is_empty(), "not announced: {unknown:?}");
    assert!(
        named.iter().any(|e| e.starts_with("update.")),
        "template updates shown"
    );

    let mut used = BTreeSet::new();
    types(&dashboard, &mut used);
    let foreign: Vec<&String> = used
        .iter()
        .filter(|t| !BUILT_IN.contains(&t.as_str()))
        .collect();
    assert!(foreign.is_empty(), "not built-in: {foreign:?}");

    // Conditions compare with the string HA's states carry, not a YAML 1.1 boolean.
    assert!(yaml.contains("state: \"on\""));
    assert!(!dashboard.to_string().contains("\"state\":true"));

    // Buttons only where the settings allow them: ha-config has every kind, others none.
    let buttons = |heading: &str| -> Vec<String> {
        let section = sections
            .iter()
            .find(|s| s["cards"][0]["heading"] == heading)
            .unwrap();
        section["cards"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["entity"].as_str())
            .filter(|e| e.starts_with("button."))
            .map(str::to_string)
            .collect()
    };
    let ha_config = buttons("homelab-demo/ha-config");
    assert!(
        ha_config.contains(&"button.homelab_demo_ha_config_rerun_failed_jobs".to_string()),
        "{ha_config:?}"
    );
    let others: Vec<&&str> = repo_headings
        .iter()
        .filter(|h| **h != "homelab-demo/ha-config")
        .collect();
    assert!(!others.is_empty());
    for other in others {
        assert!(buttons(other).is_empty(), "{other} allows no action");
    }
}

/// The dashboard of the demo homelab with `repos` and `extra` settings, and the entity ids
/// the discovery of the same settings announces.
async fn dashboard_and_announced(repos: &str, extra: &str) -> (Value, BTreeSet<String>) {
    let gh = FakeGitHub::start(World::demo(Utc::now())).await;
    let cfg = support::Config::write(&gh.url(), &gh.token(), 1, repos, extra);
    let dashboard = pyyaml(&support::cli_stdout("dashboard", &cfg.path).await);
    let discovery = support::cli_stdout("discovery", &cfg.path).await;
    let announced = discovery
        .split("\n# ")
        .filter_map(|chunk| chunk.split_once('\n'))
        .filter(|(topic, _)| topic.contains("/device/"))
        .flat_map(|(_, body)| {
            let config: Value = serde_json::from_str(body).unwrap();
            config["components"]
                .as_object()
                .unwrap()
                .values()
                .map(|c| c["default_entity_id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    (dashboard, announced)
}

/// The section whose heading is `heading`, if the dashboard has one.
fn section<'d>(dashboard: &'d Value, heading: &str) -> Option<&'d Value> {
    dashboard["views"][0]["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["cards"][0]["heading"] == heading)
}

/// The configuration deployment's entities on the bridge, the update entity first.
const CONFIGURATION: [&str; 5] = [
    "update.gitops_bridge_configuration",
    "sensor.gitops_bridge_configuration_commit",
    "sensor.gitops_bridge_configuration_deployed_at",
    "sensor.gitops_bridge_configuration_deployment",
    "switch.gitops_bridge_config_auto_deploy",
];

/// `config_deploy` adds the Configuration section right after the bridge's: the update
/// entity (with *Install* on its tile where `deploy_config` is allowed), the deployed commit,
/// when, the last deployment and its message, the auto-deploy switch — all announced.
/// Without `config_deploy`, no such section.
#[tokio::test]
async fn the_configuration_section_comes_with_config_deploy_only() {
    let ha = tempfile::tempdir().unwrap();
    std::fs::write(ha.path().join("configuration.yaml"), "homeassistant:\n").unwrap();
    let config_deploy = format!(
        "config_deploy:\n  repository: homelab-demo/ha-config\n  path: {}\n  home_assistant:\n    url: http://127.0.0.1:9\n    token: t\n",
        ha.path().display()
    );

    let (dashboard, announced) = dashboard_and_announced(REPOS, &config_deploy).await;
    let sections = dashboard["views"][0]["sections"].as_array().unwrap();
    assert_eq!(sections[0]["cards"][0]["heading"], "GitOps Bridge");
    let configuration = &sections[1];
    assert_eq!(configuration["cards"][0]["heading"], "Configuration");
    let cards = configuration["cards"].as_array().unwrap();
    let update = cards
        .iter()
        .find(|c| c["entity"] == CONFIGURATION[0])
        .expect("the update entity's tile");
    assert_eq!(update["type"], "tile");
    assert_eq!(update["features"][0]["type"], "update-actions", "{update}");
    for &e in &CONFIGURATION[1..] {
        assert!(
            cards
                .iter()
                .any(|c| c["type"] == "tile" && c["entity"] == e),
            "no tile for {e}: {configuration}"
        );
    }
    let markdown = cards
        .iter()
        .find(|c| c["type"] == "markdown")
        .expect("the last deployment's markdown")["content"]
        .as_str()
        .unwrap();
    assert!(
        markdown.contains("states['sensor.gitops_bridge_configuration_deployment']"),
        "{markdown}"
    );
    assert!(markdown.contains("d.message"), "{markdown}");
    let mut named = BTreeSet::new();
    support::lovelace::referenced(configuration, &mut named);
    assert!(named.len() >= 5, "{named:?}");
    let unknown: Vec<&String> = named.difference(&announced).collect();
    assert!(unknown.is_empty(), "not announced: {unknown:?}");

    // ha-config without `deploy_config` allowed: the update entity cannot install, so its
    // tile is a plain one.
    let without_deploy_config = REPOS.replace(", deploy_config]", "]");
    let (dashboard, _) = dashboard_and_announced(&without_deploy_config, &config_deploy).await;
    let update = section(&dashboard, "Configuration").unwrap()["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entity"] == CONFIGURATION[0])
        .unwrap()
        .clone();
    assert!(update.get("features").is_none(), "{update}");

    // No `config_deploy` (and so no `deploy_config`, which needs it): no section.
    let (dashboard, announced) = dashboard_and_announced(&without_deploy_config, "").await;
    assert!(section(&dashboard, "Configuration").is_none());
    assert!(section(&dashboard, "GitOps Bridge").is_some());
    let mut named = BTreeSet::new();
    support::lovelace::referenced(&dashboard, &mut named);
    for e in CONFIGURATION {
        assert!(!named.contains(e) && !announced.contains(e), "{e}");
    }
    let unknown: Vec<&String> = named.difference(&announced).collect();
    assert!(unknown.is_empty(), "not announced: {unknown:?}");
}

/// Thirty-five repositories with long names: one section each, in the order watched, every
/// entity id distinct and announced, and nothing tied to a count of repositories.
#[tokio::test]
async fn thirty_five_long_named_repositories_each_get_their_section() {
    const OWNER: &str = "a-homelab-organisation-with-a-long-name";
    let mut world = World::new("t").owner(fake_github::Owner::org(OWNER, 7));
    for i in 0..35u64 {
        let name = format!("service-{i:02}-with-a-rather-long-repository-name");
        world = world.repo(fake_github::Repo::new(100 + i, OWNER, &name).workflow(
            fake_github::Workflow::new(
                1000 + i,
                "Continuous integration and delivery",
                ".github/workflows/ci.yml",
            ),
        ));
    }
    let gh = FakeGitHub::start(world).await;
    let cfg = support::Config::write(&gh.url(), &gh.token(), 1, &format!("    - {OWNER}/*\n"), "");
    let yaml = support::cli_stdout("dashboard", &cfg.path).await;
    let discovery = support::cli_stdout("discovery", &cfg.path).await;
    let dashboard = pyyaml(&yaml);
    let sections = dashboard["views"][0]["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 36);
    let headings: Vec<&str> = sections[1..]
        .iter()
        .map(|s| s["cards"][0]["heading"].as_str().unwrap())
        .collect();
    assert!(headings.iter().all(|h| h.starts_with(OWNER)));
    let mut unique = headings.clone();
    unique.dedup();
    assert_eq!(unique.len(), 35, "every repository once");
    let mut named = BTreeSet::new();
    support::lovelace::referenced(&dashboard, &mut named);
    for entity in &named {
        assert!(
            discovery.contains(&format!("\"default_entity_id\": \"{entity}\"")),
            "{entity} is not announced"
        );
    }
    // Repositories that never ran still get their tiles (HA shows them as unknown).
    assert!(named.contains(&format!(
        "sensor.{}_service_07_with_a_rather_long_repository_name_last_run_status",
        OWNER.replace('-', "_")
    )));
}
