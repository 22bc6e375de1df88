//! Walks the loaded configuration the way HA reads it and hands each part to its checker:
//! template strings to `templates.rs`, entity and action references to `references.rs`,
//! removed and deprecated syntax to `legacy.rs`.
//!
//! Which strings are templates follows HA's own rule (`is_template_string`) applied where
//! HA renders strings, minus the places it never renders (docs §3.7): dashboards (custom
//! cards use their own syntaxes), `description:`/`alias:` texts, blueprint metadata, and
//! integrations whose options are never templates (`homeassistant:`, `frontend:`,
//! `recorder:`…). Limited templates are `trigger_variables` and an MQTT trigger's `topic`
//! and `payload`.

use std::collections::HashSet;

use crate::validate::codes::Code;
use crate::validate::diagnostic::Diagnostic;
use crate::validate::domains;
use crate::validate::legacy;
use crate::validate::loader::Loader;
use crate::validate::position;
use crate::validate::source::Pos;
use crate::validate::templates::{self, Context, CustomTemplates};
use crate::validate::yaml::{Kind, Node, Style};

/// Which kind of file a tree came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Reached from `configuration.yaml`.
    Config,
    /// A YAML-mode dashboard: references only.
    Dashboard,
    /// A blueprint under `blueprints/`.
    Blueprint,
}

/// What a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    Entity,
    Action,
}

/// One reference to an entity or an action.
#[derive(Debug, Clone)]
pub struct Ref {
    pub kind: RefKind,
    pub id: String,
    pub pos: Pos,
}

/// Integrations whose options are never rendered as templates.
const NO_TEMPLATE_DOMAINS: &[&str] = &[
    "homeassistant",
    "frontend",
    "lovelace",
    "logger",
    "recorder",
    "http",
    "panel_custom",
    "panel_iframe",
    "logbook",
    "history",
];

/// Integrations whose entity lists are filters (stale ids there are harmless).
const NO_REFERENCE_DOMAINS: &[&str] = &[
    "homeassistant",
    "recorder",
    "logbook",
    "history",
    "homekit",
    "alexa",
    "google_assistant",
    "prometheus",
    "influxdb",
    "emulated_hue",
    "cloud",
    "logger",
    "frontend",
    "lovelace",
    "zha",
    "conversation",
    "mqtt_statestream",
];

/// Keys whose strings HA never renders.
const NO_TEMPLATE_KEYS: &[&str] = &["description", "alias"];

/// Keys whose subtree is a filter of entities, not a use.
const FILTER_KEYS: &[&str] = &[
    "include_entities",
    "exclude_entities",
    "entity_globs",
    "include",
    "exclude",
    "filter",
    "customize",
    "customize_glob",
];

/// Walk state that changes on the way down.
#[derive(Debug, Clone, Copy)]
struct Ctx<'k> {
    area: Area,
    templates: bool,
    references: bool,
    limited: bool,
    /// Direct items of a `trigger:`/`triggers:` list are triggers.
    trigger_list: bool,
    /// The key this value sits under.
    key: Option<&'k str>,
    /// Inside an automation, script or other action/trigger-bearing part.
    actions: bool,
}

/// The walker; findings go to the loader's sink.
pub struct Walker<'a> {
    pub loader: &'a mut Loader,
    pub custom: &'a CustomTemplates,
    pub declared: &'a HashSet<String>,
    pub refs: Vec<Ref>,
    pub templates: usize,
}

impl Walker<'_> {
    /// Walks the merged configuration.
    pub fn config(&mut self, config: &Node) {
        let Some(top) = config.as_map() else { return };
        for (k, v) in top {
            let key = k.key_text().unwrap_or_default();
            let Some(domain) = domains::domain_key(&key) else {
                continue;
            };
            legacy::top_level(self.loader, domain, v);
            let ctx = Ctx {
                area: Area::Config,
                templates: !NO_TEMPLATE_DOMAINS.contains(&domain),
                references: !NO_REFERENCE_DOMAINS.contains(&domain),
                limited: false,
                trigger_list: false,
                key: None,
                actions: !NO_TEMPLATE_DOMAINS.contains(&domain),
            };
            self.node(v, ctx);
        }
    }

    /// Walks a dashboard (references only).
    pub fn dashboard(&mut self, root: &Node) {
        let ctx = Ctx {
            area: Area::Dashboard,
            templates: false,
            references: true,
            limited: false,
            trigger_list: false,
            key: None,
            actions: false,
        };
        self.node(root, ctx);
    }

    /// Walks a blueprint; its `blueprint:` metadata is skipped.
    pub fn blueprint(&mut self, root: &Node) {
        let Some(top) = root.as_map() else { return };
        for (k, v) in top {
            if k.as_str() == Some("blueprint") {
                continue;
            }
            let key = k.as_str();
            let ctx = Ctx {
                area: Area::Blueprint,
                templates: true,
                references: true,
                limited: key == Some("trigger_variables"),
                trigger_list: matches!(key, Some("trigger" | "triggers")),
                key,
                actions: true,
            };
            self.node(v, ctx);
        }
    }

    fn node(&mut self, n: &Node, ctx: Ctx<'_>) {
        match &n.kind {
            Kind::Str(s, style) => self.string(n, s, *style, ctx),
            Kind::Seq(items) => {
                for item in items {
                    self.node(item, ctx);
                }
            }
            Kind::Map(entries) => self.map(n, entries, ctx),
            _ => {}
        }
    }

    fn map(&mut self, n: &Node, entries: &[(Node, Node)], ctx: Ctx<'_>) {
        if ctx.area != Area::Dashboard && ctx.actions {
            legacy::mapping(self.loader, n, ctx.trigger_list);
        }
        let mqtt_trigger = ctx.trigger_list
            && ["platform", "trigger"]
                .iter()
                .any(|k| n.get(k).and_then(Node::as_str) == Some("mqtt"));
        let in_entities_map = ctx.key == Some("entities");
        for (k, v) in entries {
            let key = k.as_str();
            if in_entities_map
                && ctx.references
                && let Some(id) = key
            {
                // scene `entities:` maps entity ids to states
                self.entity_ref(id, k.pos);
            }
            let mut c = ctx;
            c.key = key;
            c.trigger_list = matches!(key, Some("trigger" | "triggers" | "wait_for_trigger"));
            match key {
                Some("trigger_variables") => c.limited = true,
                Some("topic" | "payload") if mqtt_trigger => c.limited = true,
                Some(k) if NO_TEMPLATE_KEYS.contains(&k) => c.templates = false,
                Some(k) if FILTER_KEYS.contains(&k) => c.references = false,
                _ => {}
            }
            self.node(v, c);
        }
    }

    fn string(&mut self, n: &Node, s: &str, style: Style, ctx: Ctx<'_>) {
        if templates::is_template(s) {
            if ctx.templates {
                self.template(n, s, style, ctx.limited);
            }
            return;
        }
        if !ctx.references {
            return;
        }
        match ctx.key {
            Some("entity_id" | "entity" | "entities") => {
                for part in s.split(',') {
                    let part = part.trim();
                    if !part.is_empty() {
                        self.entity_ref(part, n.pos);
                    }
                }
            }
            Some("zone") if s.starts_with("zone.") => self.entity_ref(s, n.pos),
            Some("action" | "service" | "perform_action") => {
                if let Some((d, svc)) = s.split_once('.')
                    && domains::is_slug_domain(d)
                    && !svc.is_empty()
                    && svc
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
                {
                    self.refs.push(Ref {
                        kind: RefKind::Action,
                        id: s.to_string(),
                        pos: n.pos,
                    });
                }
            }
            _ => {}
        }
    }

    fn entity_ref(&mut self, id: &str, pos: Pos) {
        if matches!(id, "all" | "none") || !domains::is_entity_id(id) {
            return;
        }
        let (d, _) = id.split_once('.').unwrap_or_default();
        if !domains::is_entity_domain(d) {
            return;
        }
        self.refs.push(Ref {
            kind: RefKind::Entity,
            id: id.to_string(),
            pos,
        });
    }

    fn template(&mut self, n: &Node, s: &str, style: Style, limited: bool) {
        self.templates += 1;
        let ctx = Context {
            limited,
            declared: Some(self.declared),
        };
        let out = templates::check(s, ctx, self.custom);
        if out.findings.is_empty() && out.entities.is_empty() {
            return;
        }
        let file = self.loader.sources.get(n.pos.file);
        let offsets: Vec<usize> = out
            .findings
            .iter()
            .map(|f| f.offset)
            .chain(out.entities.iter().map(|e| e.offset))
            .collect();
        let positions = position::locate_many(file, n.pos.line, n.pos.col, style, s, &offsets);
        let (fpos, epos) = positions.split_at(out.findings.len());
        let rel = file.rel.clone();
        for (f, &(line, col)) in out.findings.into_iter().zip(fpos) {
            let mut d = Diagnostic::new(f.code, rel.clone(), line, col, f.message);
            d.hint = f.hint;
            self.loader.push(d);
        }
        let refs = out
            .entities
            .into_iter()
            .zip(epos)
            .map(|(e, &(line, col))| Ref {
                kind: RefKind::Entity,
                id: e.id,
                pos: Pos {
                    file: n.pos.file,
                    line,
                    col,
                },
            });
        self.refs.extend(refs);
    }
}

/// Names the configuration declares as template variables: keys of `variables:`,
/// `trigger_variables:`, `fields:`, script `data:` and blueprint inputs, and
/// `response_variable:` values. Used so a user's variable is never taken for a typo.
pub fn declared_names(root: &Node, out: &mut HashSet<String>) {
    fn walk(n: &Node, parent: Option<&str>, out: &mut HashSet<String>) {
        match &n.kind {
            Kind::Map(entries) => {
                let declaring = matches!(
                    parent,
                    Some("variables" | "trigger_variables" | "fields" | "data" | "input")
                );
                for (k, v) in entries {
                    let key = k.key_text();
                    if declaring && let Some(key) = &key {
                        out.insert(key.to_string());
                    }
                    if key.as_deref() == Some("response_variable")
                        && let Some(s) = v.as_str()
                    {
                        out.insert(s.to_string());
                    }
                    walk(v, key.as_deref(), out);
                }
            }
            Kind::Seq(items) => items.iter().for_each(|i| walk(i, parent, out)),
            _ => {}
        }
    }
    walk(root, None, out);
}

/// Checks the templates of `custom_templates/**/*.jinja`; returns what each exports.
pub fn custom_templates(loader: &mut Loader, root: &std::path::Path) -> (CustomTemplates, usize) {
    let dir = root.join("custom_templates");
    let mut files = Vec::new();
    collect_jinja(&dir, &mut files, 0);
    files.sort();
    let mut custom = CustomTemplates::default();
    let mut texts = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        // HA's loader skips files over 5 MiB.
        if text.len() > 5 * 1024 * 1024 {
            continue;
        }
        let rel = crate::validate::source::relative_to(&dir, &f);
        let out = templates::check(&text, Context::default(), &custom);
        custom.files.insert(rel.clone(), out.exported);
        texts.push((f, text));
    }
    let n = texts.len();
    for (f, text) in texts {
        let id = loader.sources.add(&f, text);
        loader.loaded.insert(f.clone());
        let text = loader.sources.get(id).text.clone();
        let out = templates::check(&text, Context::default(), &custom);
        for fnd in out.findings {
            let file = loader.sources.get(id);
            let (line, col) = position::locate(file, 1, 1, Style::Literal, &text, fnd.offset);
            let mut d = Diagnostic::new(fnd.code, file.rel.clone(), line, col, fnd.message);
            d.hint = fnd.hint;
            loader.push(d);
        }
    }
    (custom, n)
}

fn collect_jinja(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>, depth: usize) {
    if depth > 32 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            collect_jinja(&p, out, depth + 1);
        } else if p.extension().is_some_and(|x| x == "jinja") {
            out.push(p);
        }
    }
}

/// A diagnostic for a whole file (line 0).
pub fn file_level(code: Code, rel: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(code, rel, 0, 0, message)
}
