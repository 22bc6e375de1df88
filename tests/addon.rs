//! The Home Assistant add-on in `ha-addon/` against the rules the Supervisor and the add-on
//! linter (frenck/action-addon-linter) enforce, and against our own settings: every option
//! must land on a real settings key when gitops-bridge reads `/data/options.json`.
//!
//! Sources of the rules: `docs/apps/configuration.md` of the HA developer docs,
//! `supervisor/addons/{validate,options}.py`, the linter's `config.schema.json` and `lint.py`
//! (summarised in the shared `ha-mqtt.md` §3).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gitops_bridge::settings::{Action, RepoSelector, Settings, Sources};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Reading the add-on.

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn addon() -> PathBuf {
    root().join("ha-addon")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config() -> Map<String, Value> {
    match yaml(&addon().join("config.yaml")) {
        Value::Object(m) => m,
        other => panic!("config.yaml is not a mapping: {other}"),
    }
}

fn object<'a>(v: &'a Value, what: &str) -> &'a Map<String, Value> {
    v.as_object()
        .unwrap_or_else(|| panic!("{what} is not a mapping: {v}"))
}

fn schema() -> Map<String, Value> {
    object(&config()["schema"], "schema").clone()
}

fn options() -> Map<String, Value> {
    object(&config()["options"], "options").clone()
}

/// Fails with every problem at once, so one run shows all that is wrong.
fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------------------------
// config.yaml: the manifest.

/// Every key the linter's JSON schema knows (`additionalProperties: false`).
const KNOWN_KEYS: &[&str] = &[
    "advanced",
    "apparmor",
    "arch",
    "audio",
    "auth_api",
    "auto_uart",
    "backup",
    "backup_exclude",
    "backup_post",
    "backup_pre",
    "boot",
    "breaking_versions",
    "codenotary",
    "description",
    "devices",
    "devicetree",
    "discovery",
    "docker_api",
    "environment",
    "full_access",
    "gpio",
    "hassio_api",
    "hassio_role",
    "homeassistant",
    "homeassistant_api",
    "host_dbus",
    "host_ipc",
    "host_network",
    "host_pid",
    "host_uts",
    "image",
    "ingress",
    "ingress_entry",
    "ingress_port",
    "ingress_stream",
    "init",
    "journald",
    "kernel_modules",
    "legacy",
    "machine",
    "map",
    "name",
    "options",
    "panel_admin",
    "panel_icon",
    "panel_title",
    "ports",
    "ports_description",
    "privileged",
    "realtime",
    "schema",
    "services",
    "slug",
    "stage",
    "startup",
    "stdin",
    "timeout",
    "tmpfs",
    "uart",
    "udev",
    "ulimits",
    "url",
    "usb",
    "version",
    "video",
    "watchdog",
    "webui",
];

/// Documented defaults (the docs' table of optional keys; the linter's schema has the same).
/// The linter reports a key set to its default as an error.
fn documented_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("advanced", json!(false)),
        ("apparmor", json!(true)),
        ("audio", json!(false)),
        ("auth_api", json!(false)),
        ("backup", json!("hot")),
        ("boot", json!("auto")),
        ("devicetree", json!(false)),
        ("docker_api", json!(false)),
        ("full_access", json!(false)),
        ("gpio", json!(false)),
        ("hassio_api", json!(false)),
        ("hassio_role", json!("default")),
        ("homeassistant_api", json!(false)),
        ("host_dbus", json!(false)),
        ("host_ipc", json!(false)),
        ("host_network", json!(false)),
        ("host_pid", json!(false)),
        ("host_uts", json!(false)),
        ("ingress", json!(false)),
        ("ingress_entry", json!("/")),
        ("ingress_port", json!(8099)),
        ("ingress_stream", json!(false)),
        ("init", json!(true)),
        ("journald", json!(false)),
        ("kernel_modules", json!(false)),
        ("legacy", json!(false)),
        ("options", json!({})),
        ("panel_admin", json!(true)),
        ("panel_icon", json!("mdi:puzzle")),
        ("realtime", json!(false)),
        ("schema", json!({})),
        ("stage", json!("stable")),
        ("startup", json!("application")),
        ("stdin", json!(false)),
        ("timeout", json!(10)),
        ("tmpfs", json!(false)),
        ("uart", json!(false)),
        ("udev", json!(false)),
        ("ulimits", json!({})),
        ("usb", json!(false)),
        ("video", json!(false)),
    ]
}

fn default_of(key: &str) -> Option<Value> {
    documented_defaults()
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

#[test]
fn required_keys_and_identity() {
    let c = config();
    let mut problems = Vec::new();
    for key in ["name", "version", "slug", "description"] {
        match c.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            other => problems.push(format!("`{key}` must be a non-empty string, is {other:?}")),
        }
    }
    let slug = c["slug"].as_str().unwrap_or_default();
    // Supervisor: RE_SLUG `[-_.A-Za-z0-9]+`; URI-friendly means lower case too.
    if slug.is_empty()
        || !slug
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
    {
        problems.push(format!("slug `{slug}` is not URI-friendly ([a-z0-9_])"));
    }
    // The image tag is the version, and the image is built from this crate.
    if c["version"] != json!(env!("CARGO_PKG_VERSION")) {
        problems.push(format!(
            "version {} differs from Cargo.toml's {}",
            c["version"],
            env!("CARGO_PKG_VERSION")
        ));
    }
    let arch: BTreeSet<&str> = c["arch"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if arch != BTreeSet::from(["aarch64", "amd64"]) {
        problems.push(format!(
            "arch must be exactly aarch64 and amd64 (32-bit is gone since HA 2025.12), is {arch:?}"
        ));
    }
    if let Some(url) = c.get("url").and_then(Value::as_str) {
        if !url.starts_with("https://") {
            problems.push(format!("url `{url}` is not an https URL"));
        }
    } else {
        problems.push("url is missing".into());
    }
    assert_none(problems);
}

#[test]
fn keys_are_known_and_none_is_set_to_its_default() {
    let c = config();
    let mut problems = Vec::new();
    for (key, value) in &c {
        if !KNOWN_KEYS.contains(&key.as_str()) {
            problems.push(format!("unknown key `{key}`"));
        }
        if default_of(key).as_ref() == Some(value) {
            problems.push(format!("`{key}: {value}` is the default; remove it"));
        }
    }
    // Errors in lint.py beyond the schema.
    for obsolete in ["watchdog", "codenotary", "auto_uart"] {
        if c.contains_key(obsolete) {
            problems.push(format!(
                "`{obsolete}` is obsolete (use the Docker HEALTHCHECK)"
            ));
        }
    }
    if c.get("ingress") == Some(&json!(true)) {
        if c.contains_key("webui") {
            problems.push("`webui` with ingress".into());
        }
        if c.get("ingress_port") == Some(&json!(0)) && c.get("host_network") != Some(&json!(true)) {
            problems.push("`ingress_port: 0` without host network".into());
        }
    }
    if c.contains_key("full_access") {
        problems.push("`full_access` is not needed".into());
    }
    if c.get("homeassistant").and_then(Value::as_str) != Some("2025.10.0") {
        problems.push(
            "`homeassistant` must be \"2025.10.0\" (default_entity_id in MQTT discovery)".into(),
        );
    }
    // The s6-overlay v3 base image brings its own init; Docker's must be off.
    if c.get("init") != Some(&json!(false)) {
        problems.push("`init: false` is required with the s6-overlay v3 base image".into());
    }
    assert_none(problems);
}

#[test]
fn services_need_mqtt() {
    let c = config();
    let services: Vec<&str> = c["services"]
        .as_array()
        .expect("services is a list")
        .iter()
        .map(|s| s.as_str().expect("services are strings"))
        .collect();
    for s in &services {
        let ok = s.split_once(':').is_some_and(|(service, rights)| {
            ["mqtt", "mysql"].contains(&service) && ["provide", "want", "need"].contains(&rights)
        });
        assert!(
            ok,
            "service `{s}` is not `(mqtt|mysql):(provide|want|need)`"
        );
    }
    assert!(services.contains(&"mqtt:need"), "{services:?}");
}

/// `map` entries as `(type, read_only, path)`, from the short (`type:rw`) or the object form.
fn maps() -> Vec<(String, bool, Option<String>)> {
    config()["map"]
        .as_array()
        .expect("map is a list")
        .iter()
        .map(|entry| match entry {
            Value::String(s) => {
                let (kind, mode) = s.split_once(':').unwrap_or((s, "ro"));
                assert!(
                    ["ro", "rw"].contains(&mode),
                    "map `{s}`: mode must be ro or rw"
                );
                (kind.to_string(), mode != "rw", None)
            }
            Value::Object(o) => (
                o["type"].as_str().expect("map type").to_string(),
                o.get("read_only").and_then(Value::as_bool).unwrap_or(true),
                o.get("path").and_then(Value::as_str).map(str::to_string),
            ),
            other => panic!("map entry {other}"),
        })
        .collect()
}

#[test]
fn maps_are_current_and_the_ha_config_is_writable_only_for_config_deploy() {
    let maps = maps();
    let valid = [
        "data",
        "ssl",
        "addons",
        "backup",
        "share",
        "media",
        "homeassistant_config",
        "all_addon_configs",
        "addon_config",
    ];
    for (kind, _, _) in &maps {
        assert_ne!(
            kind, "config",
            "`map: config` is legacy; use homeassistant_config"
        );
        assert!(valid.contains(&kind.as_str()), "unknown map type `{kind}`");
    }
    let ha = maps
        .iter()
        .find(|m| m.0 == "homeassistant_config")
        .expect("homeassistant_config is mapped (the validator reads it)");
    // Read-write for `config_deploy`, the one part that writes there; the manifest says so
    // where it maps it, and DOCS.md where the feature is described.
    assert!(!ha.1, "homeassistant_config is writable for config_deploy");
    let manifest = read(&addon().join("config.yaml"));
    assert!(manifest.contains("written only when `config_deploy`"));
    assert!(read(&addon().join("DOCS.md")).contains("written only by `config_deploy`"));
    assert_eq!(ha.2, None, "mounted at the default /homeassistant");
    let own = maps
        .iter()
        .find(|m| m.0 == "addon_config")
        .expect("addon_config is mapped (the advanced settings file)");
    assert_eq!(
        own.2, None,
        "mounted at the default /config (the run script reads it)"
    );
}

#[test]
fn no_build_file() {
    for name in ["build.yaml", "build.yml", "build.json"] {
        assert!(
            !addon().join(name).exists(),
            "{name}: gone since Supervisor 2026.04; FROM, ARG and LABEL live in the Dockerfile"
        );
    }
}

#[test]
fn image_is_the_generic_multi_arch_name() {
    let c = config();
    let image = c["image"]
        .as_str()
        .expect("image is set (pre-built images)");
    let last = image.rsplit('/').next().unwrap();
    assert!(
        !last.contains(':'),
        "`{image}`: no tag; `version` is the tag"
    );
    assert!(image.contains('/'), "`{image}`: registry/owner/name");
    assert_eq!(image, image.to_lowercase(), "image names are lower case");
    let without_placeholder = image.replace("{arch}", "");
    for arch in ["aarch64", "amd64", "armhf", "armv7", "i386"] {
        assert!(
            !without_placeholder.contains(arch),
            "`{image}` names an architecture; use the generic name (or `{{arch}}`)"
        );
    }
    assert!(
        !without_placeholder.contains(['{', '}']),
        "`{image}`: `{{arch}}` is the only placeholder"
    );
}

#[test]
fn ports_are_valid_and_described() {
    let c = config();
    let ports = object(&c["ports"], "ports");
    let descriptions = object(&c["ports_description"], "ports_description");
    let translations = yaml(&addon().join("translations/en.yaml"));
    let network = object(&translations["network"], "network translations");
    for (port, host) in ports {
        let (number, proto) = port
            .split_once('/')
            .unwrap_or_else(|| panic!("port `{port}`"));
        assert!(number.parse::<u16>().is_ok_and(|n| n > 0), "port `{port}`");
        assert!(["tcp", "udp"].contains(&proto), "port `{port}`");
        assert!(
            host.is_null() || host.as_u64().is_some_and(|h| (1..=65535).contains(&h)),
            "port `{port}`: host port {host}"
        );
        assert!(
            descriptions.contains_key(port),
            "no ports_description for {port}"
        );
        assert!(
            network.contains_key(port),
            "no network translation for {port}"
        );
    }
    // Webhooks and the API share the ingress port; it stays closed until the user maps it.
    let ingress_port = c
        .get("ingress_port")
        .cloned()
        .or_else(|| default_of("ingress_port"))
        .unwrap();
    let key = format!("{ingress_port}/tcp");
    assert_eq!(
        ports.get(&key),
        Some(&Value::Null),
        "{key} declared, disabled"
    );
}

// ---------------------------------------------------------------------------------------------
// options and schema.

/// One schema type against the Supervisor's grammar (`RE_SCHEMA_ELEMENT`):
/// `str`, `str(min,max)`, `password(..)`, `int(..)`, `float(..)`, `bool`, `email`, `url`,
/// `port`, `match(REGEX)`, `list(a|b|…)`, `device(subsystem=…)`, each with an optional `?`.
fn schema_type_ok(t: &str) -> bool {
    let t = t.strip_suffix('?').unwrap_or(t);
    let (name, args) = match t.find('(') {
        Some(i) if t.ends_with(')') => (&t[..i], Some(&t[i + 1..t.len() - 1])),
        Some(_) => return false,
        None => (t, None),
    };
    let range = |a: &str, float: bool| {
        a.split_once(',').is_some_and(|(lo, hi)| {
            [lo, hi]
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_digit() || (float && c == '.')))
        })
    };
    match (name, args) {
        (
            "str" | "password" | "int" | "float" | "bool" | "email" | "url" | "port" | "device",
            None,
        ) => true,
        ("str" | "password" | "int", Some(a)) => range(a, false),
        ("float", Some(a)) => range(a, true),
        ("match", Some(_)) => true,
        ("list", Some(a)) => !a.is_empty() && a.split('|').all(|v| !v.is_empty()),
        ("device", Some(a)) => a
            .strip_prefix("subsystem=")
            .is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase())),
        _ => false,
    }
}

/// A scalar leaf of the schema: its dotted key, type, whether it is a list of that type.
#[derive(Debug, Clone)]
struct Leaf {
    ty: String,
    list: bool,
}

impl Leaf {
    fn optional(&self) -> bool {
        self.ty.ends_with('?')
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Walks the schema: valid types, lists of exactly one element type, no list directly in a
/// list, nesting at most two deep. Collects the leaves by dotted key.
fn walk_schema(
    prefix: &str,
    schema: &Map<String, Value>,
    depth: usize,
    leaves: &mut BTreeMap<String, Leaf>,
    problems: &mut Vec<String>,
) {
    for (k, v) in schema {
        let key = join(prefix, k);
        match v {
            Value::String(t) => {
                if !schema_type_ok(t) {
                    problems.push(format!("{key}: `{t}` is not a schema type"));
                }
                leaves.insert(
                    key,
                    Leaf {
                        ty: t.clone(),
                        list: false,
                    },
                );
            }
            Value::Array(items) => {
                if depth + 1 > 2 {
                    problems.push(format!("{key}: nested deeper than two levels"));
                }
                match items.as_slice() {
                    [Value::String(t)] => {
                        if !schema_type_ok(t) {
                            problems.push(format!("{key}: `[{t}]` is not a schema type"));
                        }
                        leaves.insert(
                            key,
                            Leaf {
                                ty: t.clone(),
                                list: true,
                            },
                        );
                    }
                    // A list of mappings: the mappings are one level deeper than the list.
                    [Value::Object(o)] => {
                        if depth + 2 > 2 {
                            problems.push(format!("{key}: nested deeper than two levels"));
                        }
                        walk_schema(&key, o, depth + 2, leaves, problems)
                    }
                    _ => problems.push(format!("{key}: a list schema has one element type")),
                }
            }
            Value::Object(o) => {
                if depth + 1 > 2 {
                    problems.push(format!("{key}: nested deeper than two levels"));
                }
                walk_schema(&key, o, depth + 1, leaves, problems);
            }
            other => problems.push(format!("{key}: `{other}` is not a schema type")),
        }
    }
}

fn schema_leaves() -> BTreeMap<String, Leaf> {
    let mut leaves = BTreeMap::new();
    let mut problems = Vec::new();
    walk_schema("", &schema(), 0, &mut leaves, &mut problems);
    assert_none(problems);
    leaves
}

/// Whether a default value fits a scalar schema type (`null` = mandatory, no default).
fn fits(ty: &str, v: &Value) -> bool {
    let ty = ty.trim_end_matches('?');
    let name = ty.split('(').next().unwrap();
    match name {
        "bool" => v.is_boolean(),
        "int" => v.is_i64(),
        "float" => v.is_number(),
        "port" => v.as_u64().is_some_and(|p| (1..=65535).contains(&p)),
        "list" => {
            let allowed = &ty[5..ty.len() - 1];
            v.as_str()
                .is_some_and(|s| allowed.split('|').any(|a| a == s))
        }
        _ => v.is_string(),
    }
}

#[test]
fn schema_types_are_valid_and_nesting_is_shallow() {
    let leaves = schema_leaves();
    assert!(!leaves.is_empty());
    // The checker itself: what the Supervisor accepts and refuses.
    for ok in [
        "str",
        "str?",
        "str(1,)",
        "password(,64)",
        "int(15,3600)",
        "float(0.5,2)",
        "bool?",
        "email",
        "url?",
        "port",
        "match(^\\w+$)",
        "list(a|b)?",
        "device(subsystem=tty)",
    ] {
        assert!(schema_type_ok(ok), "{ok}");
    }
    for bad in [
        "string",
        "int(-1,5)",
        "list()",
        "str(a,b)",
        "bool??",
        "match(x",
    ] {
        assert!(!schema_type_ok(bad), "{bad}");
    }
    let mut problems = Vec::new();
    let deep = json!({
        "ok": {"list": ["str"], "dict": {"leaf": "str"}},
        "logins": [{"username": "str"}],
        "a": {"b": {"c": {"d": "str"}}},
        "x": {"y": [{"z": "str"}]},
        "l": [["str"]],
    });
    walk_schema(
        "",
        object(&deep, "deep"),
        0,
        &mut BTreeMap::new(),
        &mut problems,
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
}

/// Options against the schema: every option has a schema entry; every mandatory schema key
/// and every dict has an option entry (else the Supervisor refuses to start the add-on);
/// optional (`?`) keys have no default (a default makes them mandatory); defaults fit types.
fn check_options(
    prefix: &str,
    options: &Map<String, Value>,
    schema: &Map<String, Value>,
    problems: &mut Vec<String>,
) {
    for (k, v) in options {
        let key = join(prefix, k);
        match (schema.get(k), v) {
            (None, _) => problems.push(format!("option {key} has no schema entry")),
            (Some(Value::Object(s)), Value::Object(o)) => check_options(&key, o, s, problems),
            (Some(Value::Object(_)), _) => problems.push(format!("option {key} must be a mapping")),
            (Some(Value::String(t)), v) => {
                if t.ends_with('?') {
                    problems.push(format!("{key} is optional (`{t}`) but has a default"));
                } else if !v.is_null() && !fits(t, v) {
                    problems.push(format!("{key}: default {v} is not a `{t}`"));
                }
            }
            (Some(Value::Array(items)), v) => match (items.first(), v) {
                (Some(Value::String(t)), Value::Array(values)) => {
                    if t.ends_with('?') {
                        problems.push(format!("{key} is optional (`[{t}]`) but has a default"));
                    }
                    for item in values {
                        if !fits(t, item) {
                            problems.push(format!("{key}: default {item} is not a `{t}`"));
                        }
                    }
                }
                (_, Value::Array(_)) => {}
                _ => problems.push(format!("option {key} must be a list")),
            },
            (Some(other), _) => problems.push(format!("{key}: schema {other}")),
        }
    }
    for (k, s) in schema {
        let key = join(prefix, k);
        let mandatory = match s {
            Value::String(t) => !t.ends_with('?'),
            Value::Array(items) => {
                !matches!(items.first(), Some(Value::String(t)) if t.ends_with('?'))
            }
            _ => true,
        };
        if mandatory && !options.contains_key(k) {
            problems.push(format!(
                "{key} is mandatory in the schema but has no option entry (use null or a default)"
            ));
        }
    }
}

#[test]
fn options_and_schema_match() {
    let mut problems = Vec::new();
    check_options("", &options(), &schema(), &mut problems);
    assert_none(problems);
    // The checker itself.
    let mut problems = Vec::new();
    check_options(
        "",
        object(&json!({"a": "x", "b": 1, "stray": true}), "o"),
        object(
            &json!({"a": "str?", "b": "str", "c": "bool", "d": {"e": "str?"}}),
            "s",
        ),
        &mut problems,
    );
    assert_eq!(problems.len(), 5, "{problems:?}");
}

#[test]
fn required_options_are_the_token_and_the_repositories() {
    let mandatory: BTreeSet<String> = schema_leaves()
        .into_iter()
        .filter(|(_, leaf)| !leaf.optional())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        mandatory,
        BTreeSet::from([
            "github.token".to_string(),
            "github.repositories".to_string(),
            "validate.path".to_string(),
        ]),
        "mandatory schema keys (token: null must be set by the user; repositories may stay \
         empty when the advanced file lists them; validate.path has a default)"
    );
    let o = options();
    assert_eq!(
        o["github"]["token"],
        Value::Null,
        "the user must set the token"
    );
    assert_eq!(o["github"]["repositories"], json!([]));
    assert_eq!(schema()["github"]["token"], json!("password"));
}

#[test]
fn translations_cover_every_option() {
    let translations = yaml(&addon().join("translations/en.yaml"));
    let configuration = object(&translations["configuration"], "configuration");
    let mut problems = Vec::new();
    let named = |t: &Value, key: &str, problems: &mut Vec<String>| {
        for field in ["name", "description"] {
            let text = t.get(field).and_then(Value::as_str).unwrap_or_default();
            if text.trim().is_empty() {
                problems.push(format!("translation of {key} has no {field}"));
            }
        }
    };
    let schema = schema();
    for (k, s) in &schema {
        let Some(t) = configuration.get(k) else {
            problems.push(format!("no translation for {k}"));
            continue;
        };
        named(t, k, &mut problems);
        let children = match s {
            Value::Object(o) => Some(o),
            Value::Array(items) => items.first().and_then(Value::as_object),
            _ => None,
        };
        if let Some(children) = children {
            let fields = t.get("fields").and_then(Value::as_object);
            for c in children.keys() {
                let key = format!("{k}.{c}");
                match fields.and_then(|f| f.get(c)) {
                    Some(ft) => named(ft, &key, &mut problems),
                    None => problems.push(format!("no translation for {key}")),
                }
            }
            for c in fields
                .map(|f| f.keys().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                if !children.contains_key(c) {
                    problems.push(format!("translation for {k}.{c}, which is not an option"));
                }
            }
        }
    }
    for k in configuration.keys() {
        if !schema.contains_key(k) {
            problems.push(format!("translation for {k}, which is not an option"));
        }
    }
    assert_none(problems);
}

#[test]
fn docs_describe_every_option() {
    let docs = read(&addon().join("DOCS.md"));
    let missing: Vec<String> = schema_leaves()
        .into_keys()
        .filter(|k| !docs.contains(&format!("`{k}`")))
        .collect();
    assert!(missing.is_empty(), "DOCS.md does not describe {missing:?}");
}

// ---------------------------------------------------------------------------------------------
// Options → settings: what gitops-bridge makes of /data/options.json.

/// Loads settings as the add-on does: the optional advanced file, options.json, and the
/// container's environment.
fn load(
    options: &Value,
    advanced: Option<&str>,
    env: &[(String, String)],
) -> Result<Settings, String> {
    let dir = tempfile::tempdir().unwrap();
    let opts = dir.path().join("options.json");
    std::fs::write(&opts, serde_json::to_vec(options).unwrap()).unwrap();
    let file = advanced.map(|text| {
        let p = dir.path().join("gitops-bridge.yaml");
        std::fs::write(&p, text).unwrap();
        p
    });
    Settings::load(&Sources {
        file,
        addon_options: Some(opts),
        env: env.to_vec(),
    })
    .map_err(|e| e.to_string())
}

/// DOCS.md's advanced settings file with `options`. `/homeassistant` exists only in the
/// add-on, and so does the Supervisor's token `config_deploy` reaches HA with: a stand-in
/// folder and the token's variables.
fn load_advanced(options: &Value, ha_config: &Path) -> Settings {
    let advanced = docs_yaml_after("## Advanced settings")
        .replace("/homeassistant", &ha_config.display().to_string());
    let env = [
        (
            "GITOPS_BRIDGE__CONFIG_DEPLOY__HOME_ASSISTANT__TOKEN".to_string(),
            "supervisor-token".to_string(),
        ),
        (
            "GITOPS_BRIDGE__CONFIG_DEPLOY__HOME_ASSISTANT__URL".to_string(),
            "http://supervisor/core".to_string(),
        ),
    ];
    load(options, Some(&advanced), &env).unwrap()
}

/// `/homeassistant` exists only inside the add-on; the tests validate a stand-in folder.
fn ha_config_stand_in() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("configuration.yaml"), "homeassistant:\n").unwrap();
    dir
}

/// options.json as the Supervisor writes it from the defaults once the user has set the
/// token and one repository (the validated options: optional keys the user left alone are
/// absent).
fn supervisor_options(ha_config: &Path) -> Value {
    let mut o = Value::Object(options());
    assert_eq!(
        o["validate"]["path"],
        json!("/homeassistant"),
        "the validator defaults to the homeassistant_config mount"
    );
    o["validate"]["path"] = json!(ha_config);
    o["github"]["token"] = json!("ghp_addontest");
    o["github"]["repositories"] = json!(["octo-org/api"]);
    o
}

#[test]
fn default_options_land_on_the_intended_settings() {
    let ha = ha_config_stand_in();
    let s = load(&supervisor_options(ha.path()), None, &[]).unwrap();
    assert_eq!(s.github.token.expose(), "ghp_addontest");
    assert_eq!(s.github.repositories.len(), 1);
    assert!(matches!(
        &s.github.repositories[0],
        RepoSelector::Exact { owner, name, .. } if owner == "octo-org" && name == "api"
    ));
    assert_eq!(s.github.poll_interval, Duration::from_secs(60));
    assert_eq!(s.github.api_url.as_str(), "https://api.github.com/");
    assert!(s.github.webhook_secret.is_none());
    // MQTT untouched: the broker and login come from the Supervisor.
    assert!(!s.mqtt.host_set_by_user);
    assert_eq!(s.mqtt.base_topic, "gitops-bridge");
    assert_eq!(s.mqtt.discovery_prefix, "homeassistant");
    // The HTTP server listens where ingress, the port mapping and the health check expect.
    let port = default_of("ingress_port").unwrap();
    assert_eq!(
        s.http.listen.as_deref(),
        Some(format!("0.0.0.0:{port}").as_str())
    );
    assert!(s.http.api_token.is_none());
    assert_eq!(s.validate.path.as_deref(), Some(ha.path()));
    assert!(s.validate.watch);
    assert!(s.validate.security, "the security scan is on by default");
    assert!(s.validate.ignored.ignore.is_empty());
    assert_eq!(s.log_level, "info");
}

/// Every option key with a sample value; a key that is no settings key fails to load
/// (`deny_unknown_fields`).
fn every_option(ha_config: &Path) -> Value {
    json!({
        "github": {
            "token": "ghp_every",
            "repositories": ["octo-org/api", "octo-org/*"],
            "poll_interval": "2m",
            "webhook_secret": "hook-secret",
            "api_url": "https://ghe.example.com/api/v3"
        },
        "mqtt": {
            "host": "broker.lan",
            "port": 8883,
            "username": "bridge",
            "password": "mqtt-secret",
            "tls": true,
            "base_topic": "gitops",
            "discovery_prefix": "ha"
        },
        "http": {"api_token": "api-secret", "mcp_trusted_networks": ["172.30.32.1", "fd00::/8"]},
        "validate": {
            "path": ha_config,
            "watch": false,
            "security": false,
            "ignore": ["sensor.*_battery"]
        },
        "log_level": "debug"
    })
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    if let Value::Object(m) = v {
        for (k, v) in m {
            let key = join(prefix, k);
            if v.is_object() {
                flatten(&key, v, out);
            } else {
                out.insert(key);
            }
        }
    }
}

#[test]
fn every_option_lands_on_its_setting() {
    let ha = ha_config_stand_in();
    let sample = every_option(ha.path());
    let mut keys = BTreeSet::new();
    flatten("", &sample, &mut keys);
    let schema_keys: BTreeSet<String> = schema_leaves().into_keys().collect();
    assert_eq!(keys, schema_keys, "the sample must cover every option");

    let s = load(&sample, None, &[]).unwrap();
    assert_eq!(s.github.token.expose(), "ghp_every");
    assert_eq!(s.github.repositories.len(), 2);
    assert!(matches!(
        &s.github.repositories[1],
        RepoSelector::Owner { owner, .. } if owner == "octo-org"
    ));
    assert_eq!(s.github.poll_interval, Duration::from_secs(120));
    assert_eq!(
        s.github.webhook_secret.as_ref().map(|x| x.expose()),
        Some("hook-secret")
    );
    assert_eq!(s.github.api_url.as_str(), "https://ghe.example.com/api/v3");
    assert_eq!(s.mqtt.host, "broker.lan");
    assert!(
        s.mqtt.host_set_by_user,
        "a host set by hand beats the Supervisor's"
    );
    assert_eq!(s.mqtt.port, 8883);
    assert_eq!(s.mqtt.username.as_deref(), Some("bridge"));
    assert_eq!(
        s.mqtt.password.as_ref().map(|x| x.expose()),
        Some("mqtt-secret")
    );
    assert!(s.mqtt.tls);
    assert_eq!(s.mqtt.base_topic, "gitops");
    assert_eq!(s.mqtt.discovery_prefix, "ha");
    assert_eq!(
        s.http.api_token.as_ref().map(|x| x.expose()),
        Some("api-secret")
    );
    let trusted: Vec<String> = s
        .http
        .mcp_trusted_networks
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        trusted,
        ["172.30.32.1/32", "fd00::/8"],
        "an address is its own network"
    );
    assert_eq!(s.validate.path.as_deref(), Some(ha.path()));
    assert!(!s.validate.watch);
    assert!(!s.validate.security);
    assert_eq!(s.validate.ignored.ignore, ["sensor.*_battery"]);
    assert_eq!(s.log_level, "debug");
}

#[test]
fn every_log_level_choice_is_accepted() {
    let ha = ha_config_stand_in();
    let ty = schema_leaves()["log_level"].ty.clone();
    let choices = ty
        .trim_end_matches('?')
        .strip_prefix("list(")
        .and_then(|t| t.strip_suffix(')'))
        .expect("log_level is a list(…)");
    for level in choices.split('|') {
        let mut o = supervisor_options(ha.path());
        o["log_level"] = json!(level);
        let s = load(&o, None, &[]).unwrap_or_else(|e| panic!("{level}: {e}"));
        assert_eq!(s.log_level, level);
    }
}

#[test]
fn blank_options_mean_not_set() {
    // The UI may send cleared fields as empty strings.
    let ha = ha_config_stand_in();
    let mut o = every_option(ha.path());
    for (key, leaf) in schema_leaves() {
        if !leaf.optional() && key != "validate.path" {
            continue;
        }
        let (section, field) = key.split_once('.').unwrap_or(("", key.as_str()));
        let slot = if section.is_empty() {
            &mut o[field]
        } else {
            &mut o[section][field]
        };
        *slot = if leaf.list { json!([]) } else { json!("") };
    }
    let s = load(&o, None, &[]).unwrap();
    assert_eq!(s.github.poll_interval, Duration::from_secs(60));
    assert!(s.github.webhook_secret.is_none());
    assert_eq!(s.github.api_url.as_str(), "https://api.github.com/");
    assert!(!s.mqtt.host_set_by_user);
    assert_eq!(s.mqtt.port, 1883);
    assert!(s.mqtt.username.is_none() && s.mqtt.password.is_none());
    assert!(!s.mqtt.tls);
    assert_eq!(s.mqtt.base_topic, "gitops-bridge");
    assert!(s.http.api_token.is_none());
    assert_eq!(
        s.validate.path, None,
        "a cleared path turns the validator off"
    );
    assert!(s.validate.watch);
    assert_eq!(s.log_level, "info");
}

#[test]
fn a_missing_token_is_named() {
    let ha = ha_config_stand_in();
    let mut o = supervisor_options(ha.path());
    o["github"]["token"] = Value::Null;
    let err = load(&o, None, &[]).unwrap_err();
    assert!(err.contains("github.token"), "{err}");
}

/// The fenced YAML block that follows `heading` in DOCS.md.
fn docs_yaml_after(heading: &str) -> String {
    let docs = read(&addon().join("DOCS.md"));
    let start = docs
        .find(heading)
        .unwrap_or_else(|| panic!("DOCS.md has no `{heading}`"));
    let rest = &docs[start..];
    let open = rest.find("```yaml\n").expect("a ```yaml block") + "```yaml\n".len();
    let close = rest[open..].find("```").expect("closing ```");
    rest[open..open + close].to_string()
}

#[test]
fn the_options_example_in_the_docs_matches_the_schema() {
    let example: Value = serde_yaml_ng::from_str(&docs_yaml_after("## Configuration")).unwrap();
    let mut problems = Vec::new();
    check_options("", object(&example, "example"), &schema(), &mut problems);
    // The example shows optional keys with values, which is what a user's options look like.
    problems.retain(|p| !p.contains("but has a default"));
    assert_none(problems);
}

#[test]
fn the_advanced_file_in_the_docs_loads_with_the_options() {
    let ha = ha_config_stand_in();
    // As documented: the Repositories option stays empty when the file lists them.
    let mut o = supervisor_options(ha.path());
    o["github"]["repositories"] = json!([]);
    let s = load_advanced(&o, ha.path());
    let cd = s
        .config_deploy
        .as_ref()
        .expect("the example deploys the configuration");
    assert_eq!(cd.repository(), "my-user/ha-config");
    assert_eq!(cd.ha_url, "http://supervisor/core");
    assert_eq!(s.github.repositories.len(), 2);
    let p = s.github.policy_for("my-user", "ha-config").unwrap();
    assert_eq!(p.allow.len(), Action::ALL.len());
    assert_eq!(p.dispatch, ["deploy.yml"]);
    assert_eq!(p.deploy_workflow.as_deref(), Some("deploy.yml"));
    assert_eq!(
        p.rollback
            .as_ref()
            .map(|r| (r.workflow.as_str(), r.input.as_str())),
        Some(("rollback.yml", "rollback_to"))
    );
    assert!(
        s.github
            .policy_for("my-user", "other")
            .unwrap()
            .allow
            .is_empty()
    );
    assert_eq!(s.github.discovery_interval, Duration::from_secs(30 * 60));
    assert!(!s.github.include_forks);
    assert_eq!(s.metrics_window, Duration::from_secs(14 * 86_400));
    assert_eq!(s.store.retention, Duration::from_secs(180 * 86_400));
    // The options still win over the file key by key.
    assert_eq!(s.github.token.expose(), "ghp_addontest");
}

#[test]
fn a_repositories_option_adds_to_the_files_list() {
    // DOCS.md describes this: the file's entries (with their policy) stay, the option's
    // names are added, and a name in both keeps the file's entry.
    let ha = ha_config_stand_in();
    let s = load_advanced(&supervisor_options(ha.path()), ha.path());
    assert!(
        s.github.repositories.len() > 1,
        "{:?}",
        s.github.repositories
    );
    assert!(
        s.github
            .policy_for("my-user", "ha-config")
            .is_some_and(|p| !p.allow.is_empty())
    );
}

// ---------------------------------------------------------------------------------------------
// Dockerfile and the s6 service.

/// Dockerfile instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let text = read(&addon().join("Dockerfile"));
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (op, args) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((op.to_uppercase(), args.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

fn instructions(op: &str) -> Vec<String> {
    dockerfile()
        .into_iter()
        .filter(|(o, _)| o == op)
        .map(|(_, a)| a)
        .collect()
}

#[test]
fn dockerfile_builds_a_release_binary_onto_a_pinned_ha_base() {
    let froms = instructions("FROM");
    assert!(froms.len() >= 2, "multi-stage: build, then run");
    for from in &froms {
        let image = from
            .split_whitespace()
            .find(|w| !w.starts_with("--"))
            .unwrap();
        assert!(
            !image.contains('$'),
            "FROM {image}: name the image (no BUILD_FROM)"
        );
        let tag = image
            .rsplit('/')
            .next()
            .unwrap()
            .split_once(':')
            .map(|t| t.1);
        assert!(
            tag.is_some_and(|t| !t.is_empty() && t != "latest"),
            "FROM {image}: pin a tag"
        );
    }
    let runtime = froms.last().unwrap();
    assert!(
        runtime.starts_with("ghcr.io/home-assistant/base:"),
        "the run stage is HA's base image (s6-overlay, bashio): {runtime}"
    );
    assert!(
        instructions("ARG")
            .iter()
            .all(|a| !a.contains("BUILD_FROM")),
        "Supervisor 2026.04 no longer passes BUILD_FROM"
    );
    let build = instructions("RUN")
        .into_iter()
        .find(|r| r.contains("cargo build"))
        .expect("a RUN with cargo build");
    assert!(
        build.contains("--release") && build.contains("--locked"),
        "{build}"
    );
    let health = instructions("HEALTHCHECK");
    assert_eq!(
        health.len(),
        1,
        "one HEALTHCHECK (the linter forbids `watchdog`)"
    );
    assert!(
        health[0].contains("CMD") && health[0].contains("gitops-bridge\", \"healthcheck"),
        "{}",
        health[0]
    );
}

#[test]
fn dockerfile_labels_and_build_args() {
    let last_from = dockerfile()
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .unwrap();
    let run_stage: Vec<(String, String)> = dockerfile().split_off(last_from);
    let args: Vec<&str> = run_stage
        .iter()
        .filter(|(op, _)| op == "ARG")
        .map(|(_, a)| a.as_str())
        .collect();
    for arg in ["BUILD_VERSION", "BUILD_ARCH"] {
        assert!(args.contains(&arg), "ARG {arg} in the run stage: {args:?}");
    }
    let labels = run_stage
        .iter()
        .filter(|(op, _)| op == "LABEL")
        .map(|(_, a)| a.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    for label in [
        "io.hass.type=\"app\"",
        "io.hass.version=\"${BUILD_VERSION}\"",
        "io.hass.arch=\"${BUILD_ARCH}\"",
        "io.hass.name=",
        "io.hass.description=",
        "io.hass.url=",
        "org.opencontainers.image.source=",
    ] {
        assert!(labels.contains(label), "label {label} missing: {labels}");
    }
    let copies = instructions("COPY");
    assert!(
        copies.iter().any(|c| c == "ha-addon/rootfs /"),
        "{copies:?}"
    );
    let ignore = read(&addon().join("Dockerfile.dockerignore"));
    assert!(ignore.lines().any(|l| l.trim() == "**/target"), "{ignore}");
}

#[test]
fn the_container_environment_fixes_the_store_path() {
    let env: Vec<(String, String)> = instructions("ENV")
        .iter()
        .flat_map(|e| e.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    assert!(
        env.iter()
            .any(|(k, v)| k == "GITOPS_BRIDGE__STORE__PATH" && v == "/data/gitops-bridge.db"),
        "{env:?}"
    );
    // The environment wins over the advanced file too: history stays in /data.
    let ha = ha_config_stand_in();
    let s = load(
        &supervisor_options(ha.path()),
        Some("store:\n  path: /tmp/elsewhere.db\n"),
        &env,
    )
    .unwrap();
    assert_eq!(s.store.path, Path::new("/data/gitops-bridge.db"));
}

#[test]
fn the_service_runs_the_daemon_with_the_optional_advanced_file() {
    use std::os::unix::fs::PermissionsExt;
    let service = addon().join("rootfs/etc/services.d/gitops-bridge");
    for script in ["run", "finish"] {
        let path = service.join(script);
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "{script} must be executable");
        assert!(
            read(&path).starts_with("#!/usr/bin/with-contenv bashio\n"),
            "{script}: with-contenv passes the container environment (store path, \
             SUPERVISOR_TOKEN) to the service"
        );
    }
    let run = read(&service.join("run"));
    assert!(run.contains("/config/gitops-bridge.yaml"), "{run}");
    assert!(run.contains("exec /usr/bin/gitops-bridge"), "{run}");
    assert!(
        run.contains("args=(serve)"),
        "serve without --config reads options.json"
    );
}

#[test]
fn the_health_check_asks_the_port_the_add_on_listens_on() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-bridge"))
        .args(["healthcheck", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let port = default_of("ingress_port").unwrap();
    assert!(
        help.contains(&format!("http://127.0.0.1:{port}/healthz")),
        "the HEALTHCHECK relies on the default URL: {help}"
    );
}

// ---------------------------------------------------------------------------------------------
// The repository as an add-on repository, and the store presentation.

#[test]
fn repository_yaml_names_the_repository() {
    let repo = yaml(&root().join("repository.yaml"));
    for key in ["name", "url", "maintainer"] {
        assert!(
            repo[key].as_str().is_some_and(|s| !s.trim().is_empty()),
            "repository.yaml: {key}"
        );
    }
    assert_eq!(repo["url"], config()["url"]);
}

/// The Supervisor takes every `config.{json,yaml,yml}` in the repository for an add-on
/// (skipping hidden folders and `rootfs`); ours must be the only one.
#[test]
fn the_add_on_manifest_is_the_only_config_file() {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let path = entry.path();
            if name.starts_with('.') || name == "rootfs" || name == "target" {
                continue;
            }
            if path.is_dir() {
                walk(&path, found);
            } else if ["config.json", "config.yaml", "config.yml"].contains(&name.as_str()) {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root(), &mut found);
    assert_eq!(
        found,
        [addon().join("config.yaml")],
        "the Supervisor would take each of these files for an add-on manifest; rename the others"
    );
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn store_files_are_present() {
    assert_eq!(png_size(&addon().join("icon.png")), (128, 128));
    assert_eq!(png_size(&addon().join("logo.png")), (250, 100));
    for doc in ["README.md", "DOCS.md", "CHANGELOG.md"] {
        assert!(!read(&addon().join(doc)).trim().is_empty(), "{doc}");
    }
    let changelog = read(&addon().join("CHANGELOG.md"));
    let version = config()["version"].as_str().unwrap().to_string();
    assert!(
        changelog.contains(&format!("## [{version}]")),
        "CHANGELOG.md has no entry for {version}"
    );
}

#[test]
fn the_run_stage_has_git_for_config_deploy() {
    let last_from = dockerfile()
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .unwrap();
    let run_stage = dockerfile().split_off(last_from);
    assert!(
        run_stage.iter().any(|(op, a)| op == "RUN"
            && a.contains("apk add")
            && a.split_whitespace().any(|w| w == "git")),
        "config_deploy runs the git command line: the image must install it"
    );
}
