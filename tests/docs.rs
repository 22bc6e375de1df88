//! docs/mqtt.md cannot drift from the program: the real `gitops-bridge discovery` (against
//! the fake GitHub's demo homelab, with every action allowed on one repository and the
//! configuration check on) prints every discovery config the daemon publishes, and this
//! test holds its entities and topics against the tables in docs/mqtt.md, both ways: every
//! entity and topic the program produces has a row, and every row is produced.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use fake_github::{FakeGitHub, World};
use gitops_bridge::mqtt::Topics;
use serde_json::Value;

/// ha-config allows every action and offers one workflow to dispatch, so every kind of
/// button is there; the rest of the demo owners are watched with no actions.
const REPOS: &str = "    - name: homelab-demo/ha-config
      allow: [rerun_failed, rerun, cancel, rollback, dispatch, deploy_template, rollback_template, deploy_config]
      dispatch: [deploy.yml]
      deploy_workflow: deploy.yml
      auto_retry: {}
      auto_rollback: {}
      health_checks:
        - url: http://127.0.0.1:9/health
      needs: [{repository: homelab-demo/infra, workflow: ci.yml}]
      on_upstream: {workflow: deploy.yml}
      quality_gate: {}
    - homelab-demo/*
";

/// A table of a markdown document: its header cells and its rows, cells trimmed.
#[derive(Debug)]
struct Table {
    /// The paragraph (or heading) just above the table, to tell tables apart.
    context: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Every `| … |` table of `markdown`, simply: a header line, a `|---|` line, then rows
/// until a line that is not a table row.
fn tables(markdown: &str) -> Vec<Table> {
    let cells = |line: &str| -> Vec<String> {
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        inner.split('|').map(|c| c.trim().to_string()).collect()
    };
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = Vec::new();
    let mut context = String::new();
    let mut paragraph_ended = true;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let is_row = line.trim_start().starts_with('|');
        if is_row
            && lines
                .get(i + 1)
                .is_some_and(|l| l.trim().starts_with("|---"))
        {
            let header = cells(line);
            let mut rows = Vec::new();
            i += 2;
            while i < lines.len() && lines[i].trim_start().starts_with('|') {
                rows.push(cells(lines[i]));
                i += 1;
            }
            out.push(Table {
                context: context.clone(),
                header,
                rows,
            });
            paragraph_ended = true;
            continue;
        }
        if line.trim().is_empty() {
            paragraph_ended = true;
        } else if paragraph_ended {
            context = line.to_string();
            paragraph_ended = false;
        } else {
            context = format!("{context} {line}");
        }
        i += 1;
    }
    out
}

/// The text between the first pair of backticks of a cell, else the cell.
fn code(cell: &str) -> String {
    match cell.split('`').nth(1) {
        Some(inner) if cell.contains('`') => inner.to_string(),
        _ => cell.to_string(),
    }
}

/// Every backticked word of a cell.
fn codes(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// `gitops-bridge discovery`'s messages: topic → JSON, in order.
fn parse_discovery(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut topic: Option<String> = None;
    let mut body = String::new();
    let mut flush = |topic: &mut Option<String>, body: &mut String| {
        if let Some(t) = topic.take() {
            let value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("{t}: {e}: not JSON:\n{body}"));
            out.push((t, value));
        }
        body.clear();
    };
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("# ") {
            flush(&mut topic, &mut body);
            let t = header
                .strip_suffix(" (retained)")
                .unwrap_or_else(|| panic!("a message header without `(retained)`: {line}"));
            topic = Some(t.to_string());
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    flush(&mut topic, &mut body);
    out
}

/// A concrete topic in the docs' placeholders: `<base>`, `<prefix>`, `<owner>/<repo>`,
/// `<action>`, `<switch>`, `<node>_repo_<id>`, `<node>_bridge`.
fn generalise(topic: &str, topics: &Topics) -> String {
    if let Some(rest) = topic.strip_prefix(&format!("{}/", topics.prefix)) {
        let parts: Vec<&str> = rest.split('/').collect();
        let device = match parts.as_slice() {
            ["device", id, "config"] if *id == topics.bridge_device_id() => "<node>_bridge",
            ["device", id, "config"]
                if id
                    .strip_prefix(&format!("{}_repo_", topics.node))
                    .is_some_and(|n| n.parse::<u64>().is_ok()) =>
            {
                "<node>_repo_<id>"
            }
            _ => panic!("a discovery topic of an unknown shape: {topic}"),
        };
        return format!("<prefix>/device/{device}/config");
    }
    let rest = topic
        .strip_prefix(&format!("{}/", topics.base))
        .unwrap_or_else(|| panic!("{topic} is under neither the base topic nor the prefix"));
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["repo", _owner, _repo, "cmd", _action] => "<base>/repo/<owner>/<repo>/cmd/<action>".into(),
        ["repo", _owner, _repo, "set", _switch] => "<base>/repo/<owner>/<repo>/set/<switch>".into(),
        ["repo", _owner, _repo, tail] => format!("<base>/repo/<owner>/<repo>/{tail}"),
        _ => format!("<base>/{rest}"),
    }
}

/// The demo homelab through the real `discovery` command.
async fn discovery_output() -> (Vec<(String, Value)>, Topics) {
    let gh = FakeGitHub::start(World::demo(Utc::now())).await;
    let ha = tempfile::tempdir().unwrap();
    std::fs::write(ha.path().join("configuration.yaml"), "homeassistant:\n").unwrap();
    // Templates on one repository, so its device shows the template entities too.
    // And the configuration deployed from ha-config, so the bridge shows its entities.
    let validate = format!(
        "validate:\n  path: {0}\ntemplates:\n  auto_update: true\n  targets:\n    - repositories: [homelab-demo/ha-config]\n      templates: [security-scan]\nconfig_deploy:\n  repository: homelab-demo/ha-config\n  path: {0}\n  home_assistant:\n    url: http://127.0.0.1:9\n    token: t\ncoordinated_deployments:\n  - name: homelab\n    steps: [{{repository: homelab-demo/ha-config}}]\n",
        ha.path().display()
    );
    let cfg = support::Config::write(&gh.url(), &gh.token(), 1, REPOS, &validate);
    let settings = cfg.settings();
    let path = cfg.path.clone();
    let out = tokio::task::spawn_blocking(move || {
        support::bin()
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
        "discovery failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = parse_discovery(&String::from_utf8(out.stdout).unwrap());
    assert!(!messages.is_empty());
    (messages, Topics::new(&settings.mqtt))
}

/// One entity as a row of the docs shows it: key, platform, name.
type Entity = (String, String, String);

/// A discovery config's entities, with dispatch buttons in the docs' pattern form; checks
/// on the way that ids follow the documented rule (`<domain>.<object id prefix>_<key>`).
fn entities(config: &Value, object_prefix: &str) -> BTreeSet<Entity> {
    let device_id = config["device"]["identifiers"][0].as_str().unwrap();
    let mut out = BTreeSet::new();
    for (key, c) in config["components"].as_object().unwrap() {
        let platform = c["platform"].as_str().unwrap().to_string();
        assert_eq!(
            c["default_entity_id"],
            format!("{platform}.{object_prefix}_{key}"),
            "{key}: the entity id does not follow docs/mqtt.md's rule"
        );
        assert_eq!(c["unique_id"], format!("{device_id}_{key}"), "{key}");
        let name = c["name"].as_str().unwrap().to_string();
        let (key, name) = if key.starts_with("dispatch_") {
            (
                "dispatch_<workflow>".to_string(),
                name.replace("deploy.yml", "<workflow>"),
            )
        } else if let Some(kind) = ["coordinate_", "coordinated_"]
            .into_iter()
            .find(|k| key.starts_with(k))
        {
            (format!("{kind}<name>"), name.replace("homelab", "<name>"))
        } else if key.starts_with("template_") && platform == "update" {
            (
                "template_<id>".to_string(),
                name.replace("security-scan", "<id>"),
            )
        } else {
            (key.clone(), name)
        };
        out.insert((key, platform, name));
    }
    out
}

/// The docs' rows of an entity table: key, platform (its first word), name.
fn documented(table: &Table) -> BTreeSet<Entity> {
    assert_eq!(
        table.header[..3],
        ["key", "platform", "name"],
        "{}",
        table.context
    );
    table
        .rows
        .iter()
        .map(|r| {
            let platform = r[1].split_whitespace().next().unwrap_or("").to_string();
            (code(&r[0]), platform, r[2].replace('`', ""))
        })
        .collect()
}

#[tokio::test]
async fn mqtt_doc_lists_exactly_the_entities_and_topics_discovery_publishes() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mqtt.md"))
        .expect("docs/mqtt.md");
    let tables = tables(&doc);
    let (messages, topics) = discovery_output().await;

    // The configs: the bridge's and one per repository.
    let configs: BTreeMap<&str, &Value> = messages
        .iter()
        .filter(|(t, _)| t.ends_with("/config"))
        .map(|(t, v)| (t.as_str(), v))
        .collect();
    let bridge = configs[topics.device_config(&topics.bridge_device_id()).as_str()];
    let repo_configs: Vec<&Value> = configs
        .iter()
        .filter(|(t, _)| !t.contains("_bridge/"))
        .map(|(_, v)| *v)
        .collect();
    assert!(repo_configs.len() >= 3, "the demo has several repositories");

    // Entities, both ways, table by table.
    let entity_table = |about: &str| {
        tables
            .iter()
            .find(|t| t.header.first().is_some_and(|h| h == "key") && t.context.contains(about))
            .unwrap_or_else(|| panic!("docs/mqtt.md has no entity table after \"{about}…\""))
    };
    let repo_table = entity_table("One device per repository");
    let bridge_table = entity_table("The bridge device");
    let mut repo_entities = BTreeSet::new();
    for config in &repo_configs {
        let full_name = config["device"]["name"].as_str().unwrap();
        let prefix = gitops_bridge::mqtt::topics::slug(full_name);
        repo_entities.extend(entities(config, &prefix));
    }
    assert_eq!(
        documented(repo_table),
        repo_entities,
        "docs/mqtt.md's repository entities (left) differ from what discovery publishes (right)"
    );
    assert_eq!(
        documented(bridge_table),
        entities(bridge, &topics.node),
        "docs/mqtt.md's bridge entities (left) differ from what discovery publishes (right)"
    );

    // Enum sensors: the documented states are exactly the options.
    for (table, config) in [(repo_table, repo_configs[0]), (bridge_table, bridge)] {
        for row in &table.rows {
            let c = &config["components"][code(&row[0])];
            if let Some(options) = c["options"].as_array() {
                let options: BTreeSet<String> = options
                    .iter()
                    .map(|o| o.as_str().unwrap().to_string())
                    .collect();
                assert_eq!(codes(&row[3]), options, "the states of `{}`", row[0]);
            }
        }
    }

    // Topics, both ways: every topic discovery prints or a config names, and the two the
    // session uses that no config names (command results, and the poll command from
    // commands.md), from the library's own topic builder.
    let mut produced: BTreeMap<String, bool> = BTreeMap::new();
    for (topic, value) in &messages {
        produced.insert(generalise(topic, &topics), true);
        if !topic.ends_with("/config") {
            continue;
        }
        let mut named = Vec::new();
        for a in value["availability"].as_array().unwrap() {
            named.push(a["topic"].as_str().unwrap().to_string());
        }
        for c in value["components"].as_object().unwrap().values() {
            for key in ["state_topic", "json_attributes_topic", "command_topic"] {
                if let Some(t) = c[key].as_str() {
                    named.push(t.to_string());
                }
            }
        }
        for t in named {
            produced.entry(generalise(&t, &topics)).or_insert(false);
        }
    }
    // Command topics the intake reads without a discovered entity that names them.
    let unnamed = [
        topics.cmd_result(),
        topics.bridge_cmd("poll"),
        topics.bridge_cmd("coordinate"),
    ];
    for t in unnamed {
        produced.entry(generalise(&t, &topics)).or_insert(false);
    }
    let topic_table = tables
        .iter()
        .find(|t| t.header.first().is_some_and(|h| h == "topic"))
        .expect("docs/mqtt.md has a topic table");
    let retained_column = topic_table
        .header
        .iter()
        .position(|h| h == "retained")
        .expect("the topic table has a `retained` column");
    let rows: BTreeMap<String, String> = topic_table
        .rows
        .iter()
        .map(|r| (code(&r[0]), r[retained_column].clone()))
        .collect();
    assert_eq!(
        rows.keys().collect::<BTreeSet<_>>(),
        produced.keys().collect::<BTreeSet<_>>(),
        "docs/mqtt.md's topics (left) differ from what the program uses (right)"
    );
    for (topic, retained) in &produced {
        if *retained {
            assert_eq!(rows[topic], "yes", "{topic} is published retained");
        }
    }
}

/// The table parser itself, on the shapes the docs use.
#[test]
fn tables_are_read_with_their_context() {
    let md = "# T\n\nOne device\nper line:\n\n| key | platform |\n|---|---|\n| `a` | sensor (enum) |\n\ntext\n";
    let t = tables(md);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].context, "One device per line:");
    assert_eq!(t[0].rows, [["`a`", "sensor (enum)"]]);
    assert_eq!(code("`a`, b"), "a");
    assert_eq!(
        codes("`a`, `b` or c"),
        BTreeSet::from(["a".into(), "b".into()])
    );
}

/// Every `value_template` of every discovery config, rendered against the state payload on
/// its `state_topic` the way HA does (`value_json` the parsed payload, `value` the text), with
/// undefined names an error: a renamed or dropped field cannot silently blank an entity.
#[tokio::test]
async fn every_value_template_renders_against_its_state_payload() {
    let (messages, _topics) = discovery_output().await;
    let mut payloads: BTreeMap<String, Value> = messages.iter().cloned().collect();
    // The configuration check's state comes from a check run, not from `discovery`: the
    // payload the bridge publishes for a real report.
    let ha = tempfile::tempdir().unwrap();
    std::fs::write(
        ha.path().join("configuration.yaml"),
        "homeassistant:\nbad: [\n",
    )
    .unwrap();
    let both = gitops_bridge::scan::check_and_scan(
        &gitops_bridge::validate::CheckOptions::new(ha.path()),
        &gitops_bridge::scan::ScanOptions::new(ha.path()),
    );
    let validation =
        gitops_bridge::mqtt::payload::validation_state(&both.check.unwrap(), Utc::now());
    let security = gitops_bridge::mqtt::payload::validation_state(&both.scan.unwrap(), Utc::now());
    // The configuration deployer's state comes from its deployments: one that succeeded and
    // a newer commit waiting.
    let configuration = {
        use gitops_bridge::config_deploy::{ConfigDeployView, ConfigDeployment, Status, Trigger};
        let mut d = ConfigDeployment::new(Trigger::Push);
        d.id = 3;
        d.commit = "0123456789abcdef0123456789abcdef01234567".into();
        d.status = Status::Succeeded;
        d.message = "deployed 1 files: reload automation.reload".into();
        d.files = vec!["automations.yaml".into()];
        d.finished_at = Some(Utc::now());
        let view = ConfigDeployView {
            repository: "homelab-demo/ha-config".into(),
            branch: "main".into(),
            html_url: "https://github.com/homelab-demo/ha-config".into(),
            deployed: Some(d.clone()),
            last: Some(d),
            head: Some("fedcba9876543210fedcba9876543210fedcba98".into()),
            pending: vec!["Add a morning automation".into()],
            fetch_error: None,
        };
        serde_json::to_value(gitops_bridge::mqtt::payload::configuration_state(&view)).unwrap()
    };
    for (_, config) in &messages {
        for c in config["components"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            let Some(t) = c["state_topic"].as_str() else {
                continue;
            };
            if t.ends_with("/bridge/validation") {
                payloads.insert(t.to_string(), serde_json::to_value(&validation).unwrap());
            } else if t.ends_with("/bridge/security") {
                payloads.insert(t.to_string(), serde_json::to_value(&security).unwrap());
            } else if t.ends_with("/bridge/configuration") {
                payloads.insert(t.to_string(), configuration.clone());
            }
        }
    }
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // HA renders with Jinja2 over Python dicts, where `value_json.update` (or `.items`,
    // `.keys` and the other dict methods) is the method, never the key: minijinja
    // cannot see that.
    let method = regex::Regex::new(
        r"value_json(\.[a-z_]+)*\.(update|items|keys|values|get|pop|copy|clear|setdefault|popitem|fromkeys)\b",
    )
    .unwrap();
    let mut rendered = 0;
    for (topic, config) in &messages {
        let Some(components) = config["components"].as_object() else {
            continue;
        };
        for (key, c) in components {
            let Some(template) = c["value_template"].as_str().filter(|t| !t.is_empty()) else {
                continue;
            };
            let state_topic = c["state_topic"]
                .as_str()
                .or(config["state_topic"].as_str())
                .unwrap_or_else(|| panic!("{topic} {key}: a value_template without a state_topic"));
            let Some(payload) = payloads.get(state_topic) else {
                panic!("{topic} {key}: nothing is published on {state_topic}");
            };
            assert!(
                !method.is_match(template),
                "{topic} {key}: `{template}` names a key HA's Jinja reads as a dict method"
            );
            let ctx = minijinja::context! {
                value_json => minijinja::Value::from(minijinja::value::Serde(payload)),
                value => payload.to_string(),
            };
            let out = env
                .render_str(template, ctx)
                .unwrap_or_else(|e| panic!("{topic} {key}: `{template}` on {payload}: {e}"));
            assert!(
                !out.trim().is_empty() || payload.is_null(),
                "{topic} {key}: `{template}` renders empty"
            );
            rendered += 1;
        }
    }
    assert!(rendered > 10, "only {rendered} value templates found");
}
