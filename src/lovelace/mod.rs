//! A Lovelace dashboard for Home Assistant's own frontend, generated from the same
//! discovery configs the daemon announces, so every entity it names is one the daemon
//! creates (by its `default_entity_id`). Built-in cards only (sections view, heading,
//! tile, markdown, conditional, history-graph): nothing to install.
//!
//! `gitops-bridge dashboard` prints it as YAML, to paste into a dashboard's raw
//! configuration editor or to save as a YAML-mode dashboard.

mod yaml;

use serde_json::{Value, json};

use crate::commands::buttons;
use crate::mqtt::discovery::DeviceConfig;
use crate::state::RepoView;

pub use yaml::to_string as to_yaml;

/// How long the trend graphs look back: a week, the default metrics window.
const TREND_HOURS: u32 = 168;

/// The dashboard: the bridge first, then one section per repository in the order given.
/// The repositories are borrowed: the daemon's API builds it from its live snapshot.
pub fn dashboard(
    title: &str,
    bridge: &DeviceConfig,
    repos: &[(&RepoView, &DeviceConfig)],
) -> Value {
    let mut sections = vec![bridge_section(bridge)];
    sections.extend(configuration_section(bridge));
    sections.extend(
        repos
            .iter()
            .map(|(view, config)| repo_section(view, config)),
    );
    json!({
        "title": title,
        "views": [{
            "title": title,
            "path": "gitops",
            "icon": "mdi:source-branch",
            "type": "sections",
            "max_columns": 4,
            "badges": view_badges(bridge, repos),
            "sections": sections,
        }],
    })
}

/// The entity id of a component, when the config has it.
fn entity<'c>(config: &'c DeviceConfig, key: &str) -> Option<&'c str> {
    config
        .components
        .get(key)
        .map(|c| c.default_entity_id.as_str())
}

fn tile(entity: &str, name: Option<&str>) -> Value {
    let mut card = json!({ "type": "tile", "entity": entity });
    if let Some(name) = name {
        card["name"] = json!(name);
    }
    card
}

fn half(mut card: Value) -> Value {
    card["grid_options"] = json!({ "columns": 6 });
    card
}

fn full(mut card: Value) -> Value {
    card["grid_options"] = json!({ "columns": "full" });
    card
}

/// A tile that presses its button when tapped, asking first when the action says so.
fn button_tile(entity: &str, name: &str, confirm: Option<&str>) -> Value {
    let mut press = json!({
        "action": "perform-action",
        "perform_action": "button.press",
        "target": { "entity_id": entity },
    });
    if let Some(text) = confirm {
        press["confirmation"] = json!({ "text": text });
    }
    let mut card = half(tile(entity, Some(name)));
    // A button's state is when it was last pressed: noise on a dashboard.
    card["hide_state"] = json!(true);
    card["tap_action"] = press.clone();
    card["icon_tap_action"] = press;
    card
}

/// A heading badge shown only while a binary sensor is `on`.
fn badge_while_on(entity: &str) -> Value {
    json!({
        "type": "entity",
        "entity": entity,
        "show_state": false,
        "visibility": [{ "condition": "state", "entity": entity, "state": "on" }],
    })
}

fn view_badges(bridge: &DeviceConfig, repos: &[(&RepoView, &DeviceConfig)]) -> Vec<Value> {
    let mut badges: Vec<Value> = ["github", "github_requests_left"]
        .iter()
        .filter_map(|key| entity(bridge, key))
        .map(|e| json!({ "type": "entity", "entity": e }))
        .collect();
    // Failing repositories stand out at the top, whatever the scroll position.
    badges.extend(
        repos
            .iter()
            .filter_map(|(_, config)| entity(config, "failing"))
            .map(badge_while_on),
    );
    badges
}

fn bridge_section(bridge: &DeviceConfig) -> Value {
    let mut cards = vec![json!({
        "type": "heading",
        "heading": bridge.device.name,
        "icon": "mdi:source-branch-sync",
    })];
    if let Some(problem) = entity(bridge, "github_problem") {
        cards.push(full(json!({
            "type": "conditional",
            "conditions": [{ "condition": "state", "entity": problem, "state": "on" }],
            "card": {
                "type": "markdown",
                "content": format!(
                    "**GitHub is not answering.** {{{{ state_attr('{problem}', 'error') or '' }}}}"
                ),
            },
        })));
    }
    // Short names: a tile's default is the device name and the entity's, which the
    // bridge section's heading already says.
    for (key, label) in [
        ("github", "GitHub"),
        ("github_requests_left", "API budget"),
        ("last_poll", "Last poll"),
        ("repositories", "Repositories"),
        ("configuration_valid", "Configuration"),
        ("configuration_problems", "Configuration problems"),
        ("security", "Security"),
        ("security_problems", "Security problems"),
    ] {
        if let Some(e) = entity(bridge, key) {
            cards.push(half(tile(e, Some(label))));
        }
    }
    if let Some(e) = entity(bridge, "check_configuration") {
        cards.push(button_tile(e, "Check configuration", None));
    }
    json!({ "type": "grid", "cards": cards })
}

/// The configuration deployed from its repository (`config_deploy`): the update entity
/// (*Install* on its tile and in its more-info dialog), what is deployed, the last deployment and why it
/// ended so, and the auto-deploy switch. Nothing without `config_deploy`.
fn configuration_section(bridge: &DeviceConfig) -> Option<Value> {
    let update = bridge.components.get("configuration")?;
    let mut install = full(tile(&update.default_entity_id, Some("Configuration")));
    // *Skip* and *Install* on the tile itself, where the repository allows `deploy_config`
    // (without a command topic HA's update entity cannot install, and the feature shows
    // nothing).
    if update.command_topic.is_some() {
        install["features"] = json!([{ "type": "update-actions" }]);
    }
    let mut cards = vec![
        json!({ "type": "heading", "heading": "Configuration", "icon": "mdi:home-import-outline" }),
        install,
    ];
    for (key, label) in [
        ("configuration_commit", "Deployed"),
        ("configuration_deployed_at", "Deployed at"),
        ("configuration_deployment", "Last deployment"),
        ("config_auto_deploy", "Auto-deploy"),
    ] {
        if let Some(e) = entity(bridge, key) {
            cards.push(half(tile(e, Some(label))));
        }
    }
    if let Some(e) = entity(bridge, "configuration_deployment") {
        cards.push(full(
            json!({ "type": "markdown", "content": last_deployment_markdown(e) }),
        ));
    }
    Some(json!({ "type": "grid", "cards": cards }))
}

/// The last configuration deployment as a line: commit (linked), outcome, what HA had to do
/// and the reason, from the sensor's attributes; "No deployment yet" before the first.
fn last_deployment_markdown(sensor: &str) -> String {
    format!(
        "{{% set d = states['{sensor}'].attributes if states['{sensor}'] is defined else {{}} %}}\n\
         {{% if d.commit is defined %}}[{{{{ d.commit }}}}]({{{{ d.url }}}}) by {{{{ d.trigger }}}} — **{{{{ states('{sensor}') }}}}**{{% if d.action %}} ({{{{ d.action }}}}){{% endif %}}\n\n\
         {{{{ d.message }}}}\n\
         {{% else %}}No deployment yet.{{% endif %}}"
    )
}

fn repo_section(view: &RepoView, config: &DeviceConfig) -> Value {
    let name = &config.device.name;
    let mut badges = Vec::new();
    if let Some(e) = entity(config, "health") {
        badges
            .push(json!({ "type": "entity", "entity": e, "show_state": true, "show_icon": true }));
    }
    badges.extend(
        ["failing", "running"]
            .iter()
            .filter_map(|k| entity(config, k))
            .map(badge_while_on),
    );
    let mut heading = json!({
        "type": "heading",
        "heading": name,
        "icon": "mdi:source-repository",
        "badges": badges,
    });
    if let Some(url) = &config.device.configuration_url {
        heading["tap_action"] = json!({ "action": "url", "url_path": url });
    }
    let mut cards = vec![heading];
    if let Some(e) = entity(config, "last_run_status") {
        let mut last = full(tile(e, Some("Last run")));
        last["state_content"] = json!(["state", "workflow", "branch"]);
        cards.push(last);
        cards.push(full(
            json!({ "type": "markdown", "content": last_run_markdown(e) }),
        ));
    }
    for (key, label) in [
        ("success_rate", "Success rate"),
        ("health_score", "Health score"),
        ("median_run_duration", "Median duration"),
        ("failure_streak", "Failure streak"),
    ] {
        if let Some(e) = entity(config, key) {
            cards.push(half(tile(e, Some(label))));
        }
    }
    cards.extend(history_graph(
        config,
        "Success rate",
        &[("success_rate", "Success rate")],
    ));
    cards.extend(history_graph(
        config,
        "Run duration",
        &[
            ("median_run_duration", "Median"),
            ("p95_run_duration", "95th percentile"),
        ],
    ));
    // The buttons the repository's settings allow, labelled as in its device.
    for button in buttons(&view.policy) {
        if let Some(e) = entity(config, &button.key) {
            cards.push(button_tile(e, &button.label, button.confirm));
        }
    }
    // Template updates, where a template target covers the repository (the components
    // map is sorted, so their order is stable).
    for c in config
        .components
        .values()
        .filter(|c| c.platform == "update")
    {
        cards.push(full(tile(&c.default_entity_id, Some(&c.name))));
    }
    if let Some(e) = entity(config, "template_drift") {
        cards.push(half(tile(e, Some("Template drift"))));
    }
    json!({ "type": "grid", "cards": cards })
}

/// A week of the `lines` (component key, legend) the config has, or nothing without any.
fn history_graph(config: &DeviceConfig, title: &str, lines: &[(&str, &str)]) -> Option<Value> {
    let entities: Vec<Value> = lines
        .iter()
        .filter_map(|(key, name)| entity(config, key).map(|e| json!({ "entity": e, "name": name })))
        .collect();
    (!entities.is_empty()).then(|| {
        full(json!({
            "type": "history-graph",
            "title": title,
            "hours_to_show": TREND_HOURS,
            "entities": entities,
        }))
    })
}

/// The last run as a line with its link and failed jobs, from the status sensor's
/// attributes (the run); "No runs yet" before the first.
fn last_run_markdown(status: &str) -> String {
    format!(
        "{{% set run = states['{status}'].attributes if states['{status}'] is defined else {{}} %}}\n\
         {{% if run.url is defined %}}[{{{{ run.workflow }}}} #{{{{ run.run_number }}}}]({{{{ run.url }}}}) on `{{{{ run.branch }}}}` by {{{{ run.actor or 'someone' }}}} — **{{{{ states('{status}') }}}}**\n\
         {{% if run.failed_jobs %}}Failed: {{{{ run.failed_jobs | join(', ') }}}}{{% endif %}}\n\
         {{% else %}}No runs yet.{{% endif %}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_template_is_valid_jinja() {
        let mut env = minijinja::Environment::new();
        env.add_template("t", &last_run_markdown("sensor.a_b_last_run_status"))
            .expect("the template parses");
        let mut env = minijinja::Environment::new();
        env.add_template(
            "d",
            &last_deployment_markdown("sensor.b_configuration_deployment"),
        )
        .expect("the template parses");
    }
}
