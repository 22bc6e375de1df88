//! Entity and action references checked against a known universe.
//!
//! The universe is built offline from the configuration itself (YAML-defined helpers,
//! scripts, automations, groups, template and platform entities, shell and REST commands)
//! and, when given, from a running HA's `/api/states` and `/api/services`.
//!
//! Offline, an id that the configuration does not define is *unknown*, not missing: it
//! may come from an integration, the UI or a device. So offline we only report what we can
//! know: actions of built-in integrations that do not exist, scripts the (complete) YAML
//! does not define, and ids one typo away from a defined one (information). With a
//! snapshot of states and services, references absent from both are reported as missing.
//!
//! False positives reported against Watchman and Spook are avoided by construction:
//! references come from structured keys and from constant arguments in templates, never
//! from a text scan, so `trigger.entity_id`, `this.entity_id`, action names and attribute
//! names are not taken for entity ids.

pub mod components;
pub mod domains;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::validate::codes::Code;
use crate::validate::domains::{CustomComponents, DYNAMIC_ACTION_DOMAINS};
use crate::validate::loader::Loader;
use crate::validate::names::{distance_within, suggest};
use crate::validate::packages::slugify;
use crate::validate::templates::is_template;
use crate::validate::walk::{Ref, RefKind};
use crate::validate::yaml::{Kind, Node};

/// What a running HA reports: entity ids and `domain.service` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatesSnapshot {
    pub entities: HashSet<String>,
    pub services: HashSet<String>,
    /// `entities` was filled from `/api/states` (an empty set is then meaningful).
    pub has_entities: bool,
    /// `services` was filled from `/api/services`.
    pub has_services: bool,
}

impl StatesSnapshot {
    /// Reads `/api/states` output (a list of state objects), `/api/services` output (a list
    /// of `{domain, services}`), or an object `{"states": […], "services": […]}`.
    pub fn from_json(text: &str) -> Result<StatesSnapshot, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let mut s = StatesSnapshot::default();
        s.absorb(&v)?;
        Ok(s)
    }

    fn absorb(&mut self, v: &serde_json::Value) -> Result<(), String> {
        use serde_json::Value;
        match v {
            Value::Object(o) if o.contains_key("states") || o.contains_key("services") => {
                for key in ["states", "services"] {
                    if let Some(x) = o.get(key) {
                        self.absorb(x)?;
                    }
                }
                Ok(())
            }
            Value::Array(items) => {
                for item in items {
                    if let Some(id) = item.get("entity_id").and_then(Value::as_str) {
                        self.entities.insert(id.to_string());
                        self.has_entities = true;
                    } else if let Some(domain) = item.get("domain").and_then(Value::as_str) {
                        self.has_services = true;
                        if let Some(Value::Object(svcs)) = item.get("services") {
                            for name in svcs.keys() {
                                self.services.insert(format!("{domain}.{name}"));
                            }
                        }
                    }
                }
                if items.is_empty() {
                    return Err("empty list: neither states nor services".into());
                }
                Ok(())
            }
            _ => Err("expected the output of /api/states or /api/services".into()),
        }
    }

    /// Adds another snapshot (a states file and a services file).
    pub fn merge(&mut self, other: StatesSnapshot) {
        self.entities.extend(other.entities);
        self.services.extend(other.services);
        self.has_entities |= other.has_entities;
        self.has_services |= other.has_services;
    }

    /// Fetches `/api/states` and `/api/services` from a running HA (`base` like
    /// `http://homeassistant.local:8123` or `http://supervisor/core`).
    pub async fn fetch(base: &str, token: &str) -> Result<StatesSnapshot, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/api").unwrap_or(base);
        let mut snap = StatesSnapshot::default();
        for path in ["states", "services"] {
            let url = format!("{base}/api/{path}");
            let resp = client
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!(
                    "GET {url}: HTTP {status} (is the token a valid long-lived access token?)"
                ));
            }
            let text = resp.text().await.map_err(|e| format!("GET {url}: {e}"))?;
            snap.merge(StatesSnapshot::from_json(&text).map_err(|e| format!("GET {url}: {e}"))?);
        }
        Ok(snap)
    }
}

/// What the configuration defines.
#[derive(Debug, Default)]
pub struct Defined {
    pub entities: HashSet<String>,
    /// Script keys; `None` when the script configuration is incomplete (failed include).
    pub scripts: Option<HashSet<String>>,
    pub shell_commands: Option<HashSet<String>>,
    pub rest_commands: Option<HashSet<String>>,
    /// `python_scripts/*.py` names when `python_script:` is configured.
    pub python_scripts: Option<HashSet<String>>,
}

/// Integrations configured as `{key: config}` whose keys are object ids of their domain.
const KEYED_ENTITY_DOMAINS: &[&str] = &[
    "input_boolean",
    "input_number",
    "input_select",
    "input_text",
    "input_datetime",
    "input_button",
    "counter",
    "timer",
    "schedule",
    "group",
    "script",
    "alert",
    "plant",
    "proximity",
];

/// Entity domains of the modern `template:` integration.
const TEMPLATE_ENTITY_DOMAINS: &[&str] = &[
    "alarm_control_panel",
    "binary_sensor",
    "button",
    "cover",
    "event",
    "fan",
    "image",
    "light",
    "lock",
    "number",
    "select",
    "sensor",
    "switch",
    "update",
    "vacuum",
    "weather",
];

impl Defined {
    /// Collects definitions from the merged configuration.
    pub fn from_config(config: &Node, root: &Path) -> Defined {
        let mut d = Defined::default();
        d.entities.insert("sun.sun".into());
        d.entities.insert("zone.home".into());
        let Some(top) = config.as_map() else { return d };
        // Domains may appear under several keys (`automation manual:`, `automation ui:`).
        let mut complete: HashMap<&str, bool> = HashMap::new();
        let mut keyed: HashMap<&str, HashSet<String>> = HashMap::new();
        for (k, v) in top {
            let key = k.key_text().unwrap_or_default();
            let Some(domain) = domains::domain_key(&key) else {
                continue;
            };
            let domain: &str = domains::builtin()
                .get_key_value(domain)
                .map_or("", |(k, _)| k);
            if domain.is_empty() {
                continue;
            }
            *complete.entry(domain).or_insert(true) &= !v.has_unknown();
            match domain {
                _ if KEYED_ENTITY_DOMAINS.contains(&domain) => {
                    // HA builds the entity id from the slugified key (`group: Kitchen Lights:`
                    // is `group.kitchen_lights`); actions (`script.<key>`) use the key itself.
                    for (name, _) in v.as_map().unwrap_or_default() {
                        if let Some(n) = name.key_text() {
                            d.entities.insert(format!("{domain}.{}", slugify(&n)));
                            keyed.entry(domain).or_default().insert(n.into_owned());
                        }
                    }
                }
                "shell_command" | "rest_command" => {
                    for (name, _) in v.as_map().unwrap_or_default() {
                        if let Some(n) = name.key_text() {
                            keyed.entry(domain).or_default().insert(n.into_owned());
                        }
                    }
                }
                "utility_meter" => {
                    for (name, _) in v.as_map().unwrap_or_default() {
                        if let Some(n) = name.key_text() {
                            d.entities.insert(format!("sensor.{n}"));
                            d.entities.insert(format!("select.{n}"));
                        }
                    }
                }
                "automation" => {
                    for a in v.as_seq().unwrap_or_default() {
                        if let Some(alias) = a.get("alias").and_then(Node::as_str) {
                            d.entities.insert(format!("automation.{}", slugify(alias)));
                        }
                        if let Some(id) = a.get("id").and_then(Node::key_text) {
                            d.entities.insert(format!("automation.{}", slugify(&id)));
                        }
                    }
                }
                "scene" | "zone" | "person" => {
                    for a in v.as_seq().unwrap_or_default() {
                        if let Some(name) = a.get("name").and_then(Node::as_str) {
                            d.entities.insert(format!("{domain}.{}", slugify(name)));
                        }
                        if let Some(id) = a.get("id").and_then(Node::key_text) {
                            d.entities.insert(format!("{domain}.{}", slugify(&id)));
                        }
                    }
                }
                "template" => {
                    for block in v.as_seq().unwrap_or_default() {
                        for (ek, ev) in block.as_map().unwrap_or_default() {
                            let Some(ed) =
                                ek.as_str().filter(|s| TEMPLATE_ENTITY_DOMAINS.contains(s))
                            else {
                                continue;
                            };
                            let list: Vec<&Node> = match &ev.kind {
                                Kind::Seq(s) => s.iter().collect(),
                                Kind::Map(_) => vec![ev],
                                _ => Vec::new(),
                            };
                            for e in list {
                                entity_from_conf(e, ed, &mut d.entities);
                            }
                        }
                    }
                }
                _ => collect_platform_entities(
                    v,
                    domains::is_entity_domain(domain).then_some(domain),
                    &mut d.entities,
                    0,
                ),
            }
        }
        let known =
            |dom: &str, keyed: &mut HashMap<&str, HashSet<String>>| -> Option<HashSet<String>> {
                match complete.get(dom) {
                    Some(true) => Some(keyed.remove(dom).unwrap_or_default()),
                    // Incomplete (a failed include), or not configured here at all: a
                    // partial configuration or one checked piecewise; do not guess.
                    Some(false) | None => None,
                }
            };
        d.scripts = known("script", &mut keyed);
        d.shell_commands = known("shell_command", &mut keyed);
        d.rest_commands = known("rest_command", &mut keyed);
        if complete.contains_key("python_script") {
            let mut names = HashSet::new();
            if let Ok(rd) = std::fs::read_dir(root.join("python_scripts")) {
                for e in rd.filter_map(Result::ok) {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "py")
                        && let Some(stem) = p.file_stem()
                    {
                        names.insert(stem.to_string_lossy().into_owned());
                    }
                }
            }
            d.python_scripts = Some(names);
        }
        d
    }
}

/// An entity's id from its configuration: `default_entity_id`, `object_id`, or its name.
fn entity_from_conf(e: &Node, domain: &str, out: &mut HashSet<String>) {
    if let Some(id) = e.get("default_entity_id").and_then(Node::as_str) {
        out.insert(id.to_string());
    }
    if let Some(oid) = e.get("object_id").and_then(Node::as_str) {
        out.insert(format!("{domain}.{oid}"));
    }
    if let Some(name) = e.get("name").and_then(Node::as_str)
        && !is_template(name)
    {
        out.insert(format!("{domain}.{}", slugify(name)));
    }
}

/// Platform and integration entities: a mapping with `name:` under an entity-domain key,
/// and the keys of legacy `sensors:`/`switches:`… mappings.
fn collect_platform_entities(
    n: &Node,
    domain: Option<&str>,
    out: &mut HashSet<String>,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    match &n.kind {
        Kind::Seq(items) => items
            .iter()
            .for_each(|i| collect_platform_entities(i, domain, out, depth + 1)),
        Kind::Map(entries) => {
            if let Some(d) = domain {
                entity_from_conf(n, d, out);
            }
            // time_date creates one sensor per display option: sensor.time, sensor.date…
            if n.get("platform").and_then(Node::as_str) == Some("time_date") {
                for opt in n
                    .get("display_options")
                    .and_then(Node::as_seq)
                    .unwrap_or_default()
                {
                    if let Some(o) = opt.as_str() {
                        out.insert(format!("sensor.{o}"));
                    }
                }
            }
            for (k, v) in entries {
                let Some(key) = k.as_str() else { continue };
                if let Some(d) = domain
                    && matches!(
                        key,
                        "sensors"
                            | "switches"
                            | "covers"
                            | "lights"
                            | "fans"
                            | "locks"
                            | "vacuums"
                            | "panels"
                            | "binary_sensors"
                    )
                {
                    for (name, _) in v.as_map().unwrap_or_default() {
                        if let Some(n) = name.key_text() {
                            out.insert(format!("{d}.{n}"));
                        }
                    }
                    continue;
                }
                let next = if domains::is_entity_domain(key) {
                    Some(key)
                } else {
                    None
                };
                if next.is_some() || matches!(v.kind, Kind::Seq(_)) {
                    collect_platform_entities(v, next.or(domain), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// `*` and `?` wildcards over the whole text.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Two ids that differ only in digits (`sensor.temp_1`/`sensor.temp_2`) are both likely
/// real; never suggest one for the other.
fn differ_only_in_digits(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        s.chars()
            .filter(|c| !c.is_ascii_digit())
            .collect::<String>()
    };
    strip(a) == strip(b)
}

/// A defined id one or two edits away from `id` that is plausibly what was meant.
/// Numbered siblings (`light.lamp_1`/`light.lamp_2`) and prefixes (`light.lamp` /
/// `light.lamps`) are usually distinct real entities, so they are never suggested.
fn near_miss(id: &str, candidates: &[&str]) -> Option<String> {
    if id.len() < 8 {
        return None;
    }
    let numbered = |s: &str| {
        s.rsplit('_')
            .next()
            .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
    };
    candidates
        .iter()
        .copied()
        // the bounded distance first: it rejects almost every candidate cheaply
        .filter_map(|c| distance_within(c, id, 2).map(|d| (d, c)))
        .filter(|(_, c)| !differ_only_in_digits(c, id) && !numbered(c) && !numbered(id))
        .filter(|(_, c)| !c.starts_with(id) && !id.starts_with(c))
        .filter(|(_, c)| looks_like_typo(c, id))
        .min()
        .map(|(_, c)| c.to_string())
}

/// Word-level view of a near miss: one word misspelt (`pation`/`patio`), or two words
/// run together (`appletv`/`apple_tv`). A different word (`right`/`lights`) is a
/// different entity.
fn looks_like_typo(a: &str, b: &str) -> bool {
    let ta: Vec<&str> = a.split(['.', '_']).collect();
    let tb: Vec<&str> = b.split(['.', '_']).collect();
    if ta.len() != tb.len() {
        return distance_within(a, b, 1).is_some();
    }
    let diff: Vec<(&str, &str)> = ta
        .iter()
        .zip(&tb)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (*x, *y))
        .collect();
    match diff.as_slice() {
        [(x, y)] => {
            let d = distance_within(x, y, 2);
            d == Some(1) && x.len().min(y.len()) >= 4 || d == Some(2) && x.len().min(y.len()) >= 8
        }
        _ => false,
    }
}

/// Checks the references; findings go to the loader's sink.
pub fn check(
    refs: &[Ref],
    defined: &Defined,
    snapshot: Option<&StatesSnapshot>,
    custom: &CustomComponents,
    ignore: &[String],
    config_rel: &str,
    loader: &mut Loader,
) {
    let ignored = |id: &str| ignore.iter().any(|p| glob(p, id));
    let runtime_groups = refs
        .iter()
        .any(|r| r.kind == RefKind::Action && r.id == "group.set");
    let runtime_scenes = refs
        .iter()
        .any(|r| r.kind == RefKind::Action && r.id == "scene.create");
    let mut unverified_entities: HashSet<&str> = HashSet::new();
    let mut unverified_actions: HashSet<&str> = HashSet::new();
    let mut near_cache: HashMap<&str, Option<String>> = HashMap::new();
    let by_domain: HashMap<&str, Vec<&str>> =
        defined.entities.iter().fold(HashMap::new(), |mut m, id| {
            if let Some((d, _)) = id.split_once('.') {
                m.entry(d).or_default().push(id.as_str());
            }
            m
        });
    for r in refs {
        if ignored(&r.id) {
            continue;
        }
        match r.kind {
            RefKind::Entity => {
                if defined.entities.contains(&r.id) {
                    continue;
                }
                let domain = r.id.split_once('.').map_or("", |(d, _)| d);
                match snapshot {
                    Some(s) if s.has_entities => {
                        if s.entities.contains(&r.id)
                            || (domain == "group" && runtime_groups)
                            || (domain == "scene" && runtime_scenes)
                            || domain == "persistent_notification"
                        {
                            continue;
                        }
                        let same: Vec<&str> = s
                            .entities
                            .iter()
                            .chain(defined.entities.iter())
                            .map(String::as_str)
                            .filter(|c| c.starts_with(domain) && !differ_only_in_digits(c, &r.id))
                            .collect();
                        let hint = suggest(&r.id, same).map(|c| format!("did you mean `{c}`?"));
                        let mut d = loader.at(
                            Code::EntityMissing,
                            r.pos,
                            format!("entity {} does not exist", r.id),
                        );
                        d.hint = hint.or_else(|| Some("not in the supplied states nor defined in the configuration; add it to the ignore list if it is created at run time".into()));
                        loader.push(d);
                    }
                    _ => {
                        let near = near_cache
                            .entry(r.id.as_str())
                            .or_insert_with(|| {
                                near_miss(
                                    &r.id,
                                    by_domain.get(domain).map(Vec::as_slice).unwrap_or_default(),
                                )
                            })
                            .clone();
                        match near {
                            Some(c) => {
                                let d = loader
                                    .at(Code::EntityUnknown, r.pos, format!("entity {} is not defined in the configuration", r.id))
                                    .with_hint(format!("did you mean `{c}`? (it may also come from an integration; check with --states)"));
                                loader.push(d);
                            }
                            _ => {
                                unverified_entities.insert(&r.id);
                            }
                        }
                    }
                }
            }
            RefKind::Action => {
                let Some((domain, service)) = r.id.split_once('.') else {
                    continue;
                };
                if yaml_defined_action(defined, domain, service) == Some(true) {
                    continue;
                }
                match snapshot {
                    Some(s) if s.has_services => {
                        if s.services.contains(&r.id) {
                            continue;
                        }
                        let hint = suggest(&r.id, s.services.iter().map(String::as_str))
                            .map(|c| format!("did you mean `{c}`?"));
                        let mut d = loader.at(
                            Code::ActionMissing,
                            r.pos,
                            format!("action {} does not exist", r.id),
                        );
                        d.hint = hint.or_else(|| {
                            Some(
                                "not in the supplied services nor defined in the configuration"
                                    .into(),
                            )
                        });
                        loader.push(d);
                    }
                    _ => {
                        if let Some(false) = yaml_defined_action(defined, domain, service) {
                            let kind = match domain {
                                "script" => "script",
                                "shell_command" => "shell command",
                                "rest_command" => "REST command",
                                _ => "python script",
                            };
                            let pool: Vec<String> = match domain {
                                "script" => defined.scripts.iter().flatten().cloned().collect(),
                                "shell_command" => {
                                    defined.shell_commands.iter().flatten().cloned().collect()
                                }
                                "rest_command" => {
                                    defined.rest_commands.iter().flatten().cloned().collect()
                                }
                                _ => defined.python_scripts.iter().flatten().cloned().collect(),
                            };
                            let hint = suggest(service, pool.iter().map(String::as_str))
                                .map(|c| format!("did you mean `{domain}.{c}`?"))
                                .unwrap_or_else(|| {
                                    format!("no {kind} `{service}` is defined in the configuration")
                                });
                            let d = loader
                                .at(
                                    Code::ActionUnknown,
                                    r.pos,
                                    format!("action {}: {kind} `{service}` is not defined", r.id),
                                )
                                .with_hint(hint);
                            loader.push(d);
                            continue;
                        }
                        match domains::builtin().get(domain) {
                            Some(i)
                                if !DYNAMIC_ACTION_DOMAINS.contains(&domain)
                                    && !custom.domains.contains(domain) =>
                            {
                                if i.services.contains(service) {
                                    continue;
                                }
                                let version = domains::table_version();
                                // A near miss of a real action is a typo; anything else may
                                // be a removed action or one a custom integration adds.
                                if let Some(c) = suggest(service, i.services.iter().copied()) {
                                    let d = loader
                                        .at(
                                            Code::ActionUnknown,
                                            r.pos,
                                            format!("action {} does not exist", r.id),
                                        )
                                        .with_hint(format!("did you mean `{domain}.{c}`?"));
                                    loader.push(d);
                                } else if let Some(moved) = moved_action(domain, service) {
                                    let d = loader
                                        .at(
                                            Code::ActionMoved,
                                            r.pos,
                                            format!("action {} no longer exists in Home Assistant {version}: the integration's action is now `{moved}`", r.id),
                                        )
                                        .with_hint(format!("use `action: {moved}` (the entity stays in `target:`)"));
                                    loader.push(d);
                                } else {
                                    let mut v: Vec<&str> = i.services.iter().copied().collect();
                                    v.sort_unstable();
                                    let known = if v.is_empty() {
                                        format!("the built-in {domain} integration has no actions")
                                    } else {
                                        format!("built-in {domain} actions: {}", v.join(", "))
                                    };
                                    let d = loader
                                        .at(
                                            Code::ActionNotInCore,
                                            r.pos,
                                            format!("action {} is not an action of Home Assistant {version}", r.id),
                                        )
                                        .with_hint(format!("{known}; it was removed, or a custom integration (Spook, a custom platform) adds it"));
                                    loader.push(d);
                                }
                            }
                            _ => {
                                unverified_actions.insert(&r.id);
                            }
                        }
                    }
                }
            }
        }
    }
    if !unverified_entities.is_empty() || !unverified_actions.is_empty() {
        let d = crate::validate::walk::file_level(
            Code::ReferencesUnverified,
            config_rel,
            format!(
                "{} entity ids and {} actions are referenced but not defined in the configuration; offline they cannot be verified (integrations, the UI and devices create them)",
                unverified_entities.len(),
                unverified_actions.len()
            ),
        )
        .with_hint("pass `--states URL` (a running Home Assistant and a token) or `--states FILE` (output of /api/states and /api/services) to check them");
        loader.push(d);
    }
}

/// `Some(true)` defined in YAML, `Some(false)` certainly not defined, `None` not a
/// YAML-defined kind of action or the configuration is incomplete.
fn yaml_defined_action(d: &Defined, domain: &str, service: &str) -> Option<bool> {
    let (set, fixed): (&Option<HashSet<String>>, &[&str]) = match domain {
        "script" => (&d.scripts, &["turn_on", "turn_off", "toggle", "reload"]),
        "shell_command" => (&d.shell_commands, &["reload"]),
        "rest_command" => (&d.rest_commands, &["reload"]),
        "python_script" => (&d.python_scripts, &["reload"]),
        _ => return None,
    };
    if fixed.contains(&service) {
        return Some(true);
    }
    set.as_ref().map(|s| s.contains(service))
}

/// Integrations moved their entity-platform actions into their own domain
/// (`media_player.kodi_call_method` became `kodi.call_method`). When `<domain>.<service>`
/// is gone and `<service>` is `<integration>_<action>` for an integration whose own table
/// lists `<action>`, that is the replacement.
fn moved_action(domain: &str, service: &str) -> Option<String> {
    let table = domains::builtin();
    service.match_indices('_').find_map(|(at, _)| {
        let (integration, action) = (&service[..at], &service[at + 1..]);
        let moved = integration != domain
            && table
                .get(integration)
                .is_some_and(|i| i.services.contains(action));
        moved.then(|| format!("{integration}.{action}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("sensor.*", "sensor.x"));
        assert!(glob("*.*_ble", "sensor.phone_ble"));
        assert!(!glob("*.*_ble", "sensor.phone_ble2"));
        assert!(glob("light.?", "light.a"));
        assert!(glob("*", ""));
        assert!(!glob("a", "b"));
    }

    #[test]
    fn snapshots() {
        let s = StatesSnapshot::from_json(r#"[{"entity_id":"light.a","state":"on"}]"#).unwrap();
        assert!(s.has_entities && s.entities.contains("light.a") && !s.has_services);
        let s =
            StatesSnapshot::from_json(r#"[{"domain":"light","services":{"turn_on":{}}}]"#).unwrap();
        assert!(s.services.contains("light.turn_on"));
        let s = StatesSnapshot::from_json(
            r#"{"states":[{"entity_id":"a.b"}],"services":[{"domain":"x","services":{"y":{}}}]}"#,
        )
        .unwrap();
        assert!(s.has_entities && s.has_services);
        assert!(StatesSnapshot::from_json("{}").is_err());
        assert!(StatesSnapshot::from_json("nope").is_err());
    }
}
