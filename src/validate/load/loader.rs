//! Loading files the way HA does: `!include` and the four directory includes, `!secret`,
//! `!env_var`, `!input`, with cycle detection and the silent cases HA has.
//!
//! Semantics follow `annotatedyaml/loader.py` (HA 2026.x):
//! - paths are relative to the directory of the *including* file;
//! - directory includes walk recursively (`os.walk`), skip names starting with `.`, take
//!   only `*.yaml` (not `.yml`), skip `secrets.yaml`, sort files within each directory and
//!   visit sub-directories in file-system order (as `os.walk` does);
//! - `!include` of a missing file fails the whole configuration; a missing directory
//!   silently gives an empty value; an empty file gives `{}` for `!include` and
//!   `!include_dir_named`, and is dropped by `!include_dir_list`;
//! - `!include_dir_merge_list` ignores files whose top level is not a list and
//!   `!include_dir_merge_named` those that are not a mapping, silently (we warn).
//!
//! Resolved trees keep the positions of the file each node came from, so later checks
//! report into the included file. Every file loaded here is "reachable".

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use crate::validate::codes::Code;
use crate::validate::diagnostic::{Diagnostic, Diagnostics};
use crate::validate::secrets::{Lookup, SecretKeys, SecretStore, SecretsMode};
use crate::validate::source::{FileId, Pos, Sources};
use crate::validate::yaml::{self, HaTag, Kind, Node, Placeholder};

/// What kind of HA file is being loaded; decides which tags make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// Reached from `configuration.yaml` (or a dashboard): `!input` is wrong here.
    Config,
    /// Under `blueprints/`: `!input` is the point.
    Blueprint,
    /// A secrets file: loaded without secret support.
    Secrets,
}

/// Files included inside each other beyond this depth are refused (real configurations
/// nest a handful; this bounds recursion on adversarial input).
const MAX_INCLUDE_DEPTH: usize = 64;

/// The result of loading one file.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// The file does not exist.
    Missing,
    /// It exists but HA cannot use it (unreadable, encoding, syntax); already reported.
    Failed,
    /// Loaded; `None` for an empty document.
    Ok(Option<Node>),
}

/// Loads and resolves files; owns the source table and collects findings.
pub struct Loader {
    pub root: PathBuf,
    pub sources: Sources,
    pub diags: Diagnostics,
    /// Every file loaded as HA configuration (for the unreachable-file report).
    pub loaded: HashSet<PathBuf>,
    cache: HashMap<(PathBuf, bool), Loaded>,
    stack: Vec<PathBuf>,
    secrets: SecretStore,
    /// Secret names already reported as unresolved (reported once each).
    unresolved_secrets: HashSet<String>,
    stand_ins: Vec<String>,
    /// Number of files that failed; an include that failed makes content unknown.
    pub failed_files: usize,
}

impl Loader {
    pub fn new(root: &Path, mode: SecretsMode) -> Self {
        Loader {
            root: root.to_path_buf(),
            sources: Sources::new(root),
            diags: Diagnostics::default(),
            loaded: HashSet::new(),
            cache: HashMap::new(),
            stack: Vec::new(),
            secrets: SecretStore::new(root, mode),
            unresolved_secrets: HashSet::new(),
            stand_ins: crate::validate::secrets::stand_in_candidates(root),
            failed_files: 0,
        }
    }

    /// A finding at a position.
    pub fn at(&self, code: Code, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(
            code,
            self.sources.get(pos.file).rel.clone(),
            pos.line,
            pos.col,
            message,
        )
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Loads a file and resolves its tags.
    pub fn load(&mut self, path: &Path, role: FileRole) -> Loaded {
        let path = normalize(path);
        let blueprint = role == FileRole::Blueprint;
        if let Some(l) = self.cache.get(&(path.clone(), blueprint)) {
            return l.clone();
        }
        let text = match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let valid = e.utf8_error().valid_up_to();
                    let bytes = e.into_bytes();
                    let before = String::from_utf8_lossy(&bytes[..valid]).into_owned();
                    let line = before.matches('\n').count() as u32 + 1;
                    let col =
                        before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
                    let id = self
                        .sources
                        .add(&path, String::from_utf8_lossy(&bytes).into_owned());
                    self.loaded.insert(path.clone());
                    self.failed_files += 1;
                    let d = self
                        .at(
                            Code::YamlEncoding,
                            Pos {
                                file: id,
                                line,
                                col,
                            },
                            "unable to read file: not valid UTF-8",
                        )
                        .with_hint("save the file as UTF-8");
                    self.push(d);
                    return self.remember(path, blueprint, Loaded::Failed);
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
            Err(_) => {
                self.failed_files += 1;
                return Loaded::Failed;
            }
        };
        let id = self.sources.add(&path, text);
        self.loaded.insert(path.clone());
        let parsed = yaml::parse(&self.sources.get(id).text, id);
        for i in parsed.issues {
            let mut d = Diagnostic::new(
                i.code,
                self.sources.get(id).rel.clone(),
                i.line,
                i.col,
                i.message,
            );
            d.hint = i.hint;
            self.push(d);
        }
        if parsed.failed {
            self.failed_files += 1;
            return self.remember(path, blueprint, Loaded::Failed);
        }
        let Some(mut root) = parsed.root else {
            return self.remember(path, blueprint, Loaded::Ok(None));
        };
        self.stack.push(path.clone());
        self.resolve(&mut root, &path, role);
        self.stack.pop();
        self.remember(path, blueprint, Loaded::Ok(Some(root)))
    }

    /// Remembers failures and empty files; a loaded tree is handed over without a copy
    /// (a file included a second time is read again, and its findings are deduplicated).
    fn remember(&mut self, path: PathBuf, blueprint: bool, l: Loaded) -> Loaded {
        if !matches!(l, Loaded::Ok(Some(_))) {
            self.cache.insert((path, blueprint), l.clone());
        }
        l
    }

    /// Replaces every HA tag in the tree by its content.
    fn resolve(&mut self, node: &mut Node, file: &Path, role: FileRole) {
        match &mut node.kind {
            Kind::Tagged(tag, arg) => {
                let (tag, arg) = (*tag, std::mem::take(arg));
                *node = self.resolve_tag(tag, &arg, node.pos, file, role);
            }
            Kind::Seq(items) => {
                for item in items {
                    self.resolve(item, file, role);
                }
            }
            Kind::Map(entries) => {
                for (k, v) in entries {
                    self.resolve(k, file, role);
                    self.resolve(v, file, role);
                }
            }
            _ => {}
        }
    }

    fn resolve_tag(
        &mut self,
        tag: HaTag,
        arg: &str,
        pos: Pos,
        file: &Path,
        role: FileRole,
    ) -> Node {
        let dir = file.parent().unwrap_or(Path::new("."));
        match tag {
            HaTag::Include => {
                let target = self.target(dir, arg);
                self.include(&target, pos, role)
            }
            HaTag::IncludeDirList
            | HaTag::IncludeDirNamed
            | HaTag::IncludeDirMergeList
            | HaTag::IncludeDirMergeNamed => {
                let target = self.target(dir, arg);
                self.include_dir(tag, &target, arg, pos, role)
            }
            HaTag::Secret => self.secret(arg, pos, file, role),
            HaTag::EnvVar => {
                let mut words = arg.split_whitespace();
                let name = words.next().unwrap_or_default().to_string();
                if words.next().is_none() && std::env::var_os(&name).is_none() {
                    let d = self
                        .at(Code::EnvVarMissing, pos, format!("environment variable {name} is not set and has no default"))
                        .with_hint(format!("Home Assistant fails to load unless {name} is set where it runs; add a default: `!env_var {name} value`"));
                    self.push(d);
                }
                Node::new(pos, Kind::Placeholder(Placeholder::EnvVar(name)))
            }
            HaTag::Input => {
                if role != FileRole::Blueprint {
                    let d = self
                        .at(
                            Code::InputOutsideBlueprint,
                            pos,
                            format!("`!input {arg}` outside a blueprint"),
                        )
                        .with_hint("`!input` is only substituted in files under blueprints/");
                    self.push(d);
                }
                Node::new(pos, Kind::Placeholder(Placeholder::Input(arg.to_string())))
            }
        }
    }

    /// `dir/arg`, except that absolute paths into HA's own configuration directory
    /// (`/config/…` in HA OS and containers, `/homeassistant/…` in add-ons) that do not
    /// exist here are read from the root, where the repository has them.
    fn target(&self, dir: &Path, arg: &str) -> PathBuf {
        let joined = dir.join(arg);
        if joined.exists() {
            return joined;
        }
        for prefix in ["/config/", "/homeassistant/"] {
            if let Some(rest) = arg.strip_prefix(prefix) {
                return self.root.join(rest);
            }
        }
        joined
    }

    /// Reports an include cycle when `target` is being loaded already (HA would recurse
    /// until Python's recursion limit).
    fn is_cycle(&mut self, target: &Path, pos: Pos) -> bool {
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            let d = self
                .at(Code::IncludeCycle, pos, format!("includes nested deeper than {MAX_INCLUDE_DEPTH} files"))
                .with_hint("Home Assistant fails with a recursion error long before this; flatten the includes");
            self.push(d);
            return true;
        }
        let Some(i) = self.stack.iter().position(|p| p == target) else {
            return false;
        };
        let chain: Vec<String> = self.stack[i..]
            .iter()
            .map(PathBuf::as_path)
            .chain(std::iter::once(target))
            .map(|p| self.sources.relative(p))
            .collect();
        let d = self
            .at(
                Code::IncludeCycle,
                pos,
                format!("include cycle: {}", chain.join(" -> ")),
            )
            .with_hint("Home Assistant recurses until it fails: break the cycle");
        self.push(d);
        true
    }

    fn include(&mut self, target: &Path, pos: Pos, role: FileRole) -> Node {
        let target = normalize(target);
        if self.is_cycle(&target, pos) {
            return Node::new(pos, Kind::Unknown);
        }
        let child_role = if role == FileRole::Secrets {
            FileRole::Config
        } else {
            role
        };
        match self.load(&target, child_role) {
            Loaded::Missing => {
                let rel = self.sources.relative(&target);
                let d = self
                    .at(Code::IncludeMissing, pos, format!("unable to read file {rel}"))
                    .with_hint("Home Assistant refuses the whole configuration when an !include target is missing (is it git-ignored?)");
                self.push(d);
                Node::new(pos, Kind::Unknown)
            }
            Loaded::Failed => {
                if target.is_dir() {
                    let rel = self.sources.relative(&target);
                    let d = self
                        .at(
                            Code::IncludeMissing,
                            pos,
                            format!("unable to read file {rel}: it is a directory"),
                        )
                        .with_hint("use one of the !include_dir_* tags for directories");
                    self.push(d);
                }
                Node::new(pos, Kind::Unknown)
            }
            // `!include` of an empty file gives an empty mapping.
            Loaded::Ok(None) => Node::new(pos, Kind::Map(Vec::new())),
            Loaded::Ok(Some(n)) => n,
        }
    }

    fn include_dir(&mut self, tag: HaTag, dir: &Path, arg: &str, pos: Pos, role: FileRole) -> Node {
        let dir = normalize(dir);
        let (files, skipped) = find_files(&dir);
        if !dir.is_dir() {
            let d = self
                .at(
                    Code::IncludeDirMissing,
                    pos,
                    format!("{} {arg}: directory does not exist", tag.as_str()),
                )
                .with_hint(
                    "Home Assistant silently uses an empty value (is the directory git-ignored?)",
                );
            self.push(d);
        }
        for s in skipped {
            let rel = self.sources.relative(&s);
            self.push(
                Diagnostic::new(
                    Code::IncludeDirIgnoredFile,
                    rel.clone(),
                    0,
                    0,
                    format!(
                        "{rel} is not loaded by `{} {arg}`: only *.yaml files are",
                        tag.as_str()
                    ),
                )
                .with_hint("rename it to .yaml"),
            );
        }
        let mut items: Vec<Node> = Vec::new();
        let mut entries: Vec<(Node, Node)> = Vec::new();
        // key -> (file it came from, position)
        let mut origin: HashMap<String, (PathBuf, Pos)> = HashMap::new();
        for f in files {
            let child_role = if role == FileRole::Secrets {
                FileRole::Config
            } else {
                role
            };
            let loaded = if self.is_cycle(&normalize(&f), pos) {
                Loaded::Failed
            } else {
                self.load(&f, child_role)
            };
            let file_pos = self.sources.lookup(&normalize(&f)).map(|id| Pos {
                file: id,
                line: 1,
                col: 1,
            });
            match tag {
                HaTag::IncludeDirList => match loaded {
                    Loaded::Ok(Some(n)) => items.push(n),
                    Loaded::Ok(None) | Loaded::Missing => {}
                    Loaded::Failed => items.push(Node::new(pos, Kind::Unknown)),
                },
                HaTag::IncludeDirNamed => {
                    let stem = f
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let kpos = file_pos.unwrap_or(pos);
                    let value = match loaded {
                        Loaded::Ok(Some(n)) => n,
                        Loaded::Ok(None) => Node::new(kpos, Kind::Map(Vec::new())),
                        Loaded::Failed | Loaded::Missing => Node::new(kpos, Kind::Unknown),
                    };
                    if let Some((prev, _)) = origin.get(&stem) {
                        let d = self
                            .at(
                                Code::IncludeDirDuplicate,
                                kpos,
                                format!("`{} {arg}` gets key `{stem}` from two files; this one replaces {}", tag.as_str(), self.sources.relative(prev)),
                            )
                            .with_hint("rename one of the files");
                        self.push(d);
                        entries.retain(|(k, _)| k.as_str() != Some(stem.as_str()));
                    }
                    origin.insert(stem.clone(), (f.clone(), kpos));
                    entries.push((Node::new(kpos, Kind::Str(stem, yaml::Style::Plain)), value));
                }
                HaTag::IncludeDirMergeList => match loaded {
                    Loaded::Ok(Some(Node {
                        kind: Kind::Seq(s), ..
                    })) => items.extend(s),
                    Loaded::Ok(Some(other)) => self.ignored_file(tag, arg, &other),
                    Loaded::Ok(None) | Loaded::Missing => {}
                    Loaded::Failed => items.push(Node::new(pos, Kind::Unknown)),
                },
                HaTag::IncludeDirMergeNamed => match loaded {
                    Loaded::Ok(Some(Node {
                        kind: Kind::Map(m), ..
                    })) => {
                        for (k, v) in m {
                            let key = k.key_text().map(|s| s.into_owned()).unwrap_or_default();
                            if let Some((prev, ppos)) = origin.get(&key) {
                                let d = self
                                    .at(
                                        Code::IncludeDirDuplicate,
                                        k.pos,
                                        format!("key `{key}` is also defined in {}:{}; `{}` keeps this later one", self.sources.relative(prev), ppos.line, tag.as_str()),
                                    )
                                    .with_hint("rename one of them: the earlier definition is silently dropped");
                                self.push(d);
                                entries.retain(|(ek, _)| {
                                    ek.key_text().as_deref() != Some(key.as_str())
                                });
                            }
                            origin.insert(key, (f.clone(), k.pos));
                            entries.push((k, v));
                        }
                    }
                    Loaded::Ok(Some(other)) => self.ignored_file(tag, arg, &other),
                    Loaded::Ok(None) | Loaded::Missing => {}
                    Loaded::Failed => {
                        entries.push((Node::new(pos, Kind::Unknown), Node::new(pos, Kind::Unknown)))
                    }
                },
                _ => {}
            }
        }
        match tag {
            HaTag::IncludeDirList | HaTag::IncludeDirMergeList => Node::new(pos, Kind::Seq(items)),
            _ => Node::new(pos, Kind::Map(entries)),
        }
    }

    fn ignored_file(&mut self, tag: HaTag, arg: &str, top: &Node) {
        let want = if tag == HaTag::IncludeDirMergeList {
            "a list"
        } else {
            "a mapping"
        };
        let d = self
            .at(
                Code::IncludeDirIgnoredFile,
                top.pos,
                format!(
                    "`{} {arg}` ignores this file: its top level is a {}, not {want}",
                    tag.as_str(),
                    top.type_name()
                ),
            )
            .with_hint(format!(
                "make the top level {want}, or include the file another way"
            ));
        self.push(d);
    }

    fn secret(&mut self, name: &str, pos: Pos, file: &Path, role: FileRole) -> Node {
        let placeholder = Node::new(
            pos,
            Kind::Placeholder(Placeholder::Secret(name.to_string())),
        );
        if role == FileRole::Secrets {
            let d = self.at(
                Code::SecretFileInvalid,
                pos,
                "secrets not supported in this YAML file (a secrets file cannot use !secret)",
            );
            self.push(d);
            return placeholder;
        }
        for (ha_path, read) in self.secrets.candidates(file) {
            if !self.secrets.knows(&read) {
                let keys = self.load_secrets_file(&read, &ha_path);
                self.secrets.register(&read, keys);
            }
        }
        match self.secrets.lookup(file, name) {
            Lookup::Found(_) => {}
            Lookup::Missing { searched } => {
                let list: Vec<String> = searched.iter().map(|p| self.sources.relative(p)).collect();
                let d = self
                    .at(
                        Code::SecretMissing,
                        pos,
                        format!("secret {name} is not defined"),
                    )
                    .with_hint(format!("add `{name}` to {}", list.join(" or ")));
                self.push(d);
            }
            Lookup::Unresolved => {
                if self.unresolved_secrets.insert(name.to_string()) {
                    let hint = match (self.secrets.mode(), self.stand_ins.first()) {
                        (SecretsMode::Auto, Some(f)) => {
                            format!("no secrets.yaml in the repository; to check names run with `--secrets {f}`")
                        }
                        _ => "no secrets.yaml in the repository; pass `--secrets FILE` to check names".to_string(),
                    };
                    let d = self
                        .at(
                            Code::SecretUnresolved,
                            pos,
                            format!("secret {name} could not be checked (placeholder used)"),
                        )
                        .with_hint(hint);
                    self.push(d);
                }
            }
        }
        placeholder
    }

    /// Loads a secrets file and returns its keys (never its values).
    fn load_secrets_file(&mut self, read: &Path, ha_path: &Path) -> Option<SecretKeys> {
        match self.load(read, FileRole::Secrets) {
            Loaded::Missing | Loaded::Failed => None,
            Loaded::Ok(None) => Some(SecretKeys::default()),
            Loaded::Ok(Some(n)) => match &n.kind {
                Kind::Map(m) => Some(SecretKeys {
                    keys: m
                        .iter()
                        .filter_map(|(k, _)| k.key_text().map(|s| s.into_owned()))
                        .filter(|k| k != "logger")
                        .collect(),
                }),
                _ => {
                    let d = self.at(
                        Code::SecretFileInvalid,
                        n.pos,
                        format!(
                            "{} is not a mapping (secrets is not a dictionary)",
                            self.sources.relative(ha_path)
                        ),
                    );
                    self.push(d);
                    None
                }
            },
        }
    }

    /// The id of a loaded file.
    pub fn file_id(&self, path: &Path) -> Option<FileId> {
        self.sources.lookup(&normalize(path))
    }
}

/// HA's `_find_files(directory, "*.yaml")` (plus the names it silently skips for not
/// ending in `.yaml`, which we report). `secrets.yaml` is left out, as every directory
/// include does.
pub fn find_files(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    walk(dir, &mut files, &mut skipped, 0);
    (files, skipped)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, skipped: &mut Vec<PathBuf>, depth: usize) {
    if depth > 64 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(ft) = e.file_type() else { continue };
        let path = e.path();
        // os.walk lists symlinks to directories as directories but does not descend.
        let is_dir = ft.is_dir() || (ft.is_symlink() && path.is_dir());
        if is_dir {
            if ft.is_dir() {
                dirs.push(path);
            }
        } else {
            names.push((name, path));
        }
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, path) in names {
        if name.ends_with(".yaml") {
            if name != "secrets.yaml" {
                files.push(path);
            }
        } else if name.ends_with(".yml") || name.to_lowercase().ends_with(".yaml") {
            skipped.push(path);
        }
    }
    for d in dirs {
        walk(&d, files, skipped, depth + 1);
    }
}

/// Lexical normalisation (`a/./b/../c` -> `a/c`); no file-system access.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
