//! Validation of Home Assistant configuration directories (`gitops-bridge check`).
//!
//! A fast, offline check of what HA's own `check_config` misses: HA's YAML dialect with
//! positions, includes, secrets and packages, Jinja templates walked name by name,
//! entity and action references, removed and deprecated syntax, custom integration
//! manifests. The library entry point is [`check`]; the CLI verb is [`run`].
//!
//! Modules, in the order a run uses them:
//! - [`yaml`]: PyYAML-compatible (YAML 1.1) node tree with file:line:column;
//! - [`loader`] and [`secrets`]: `!include*`, `!secret`, `!env_var`, `!input` with HA's
//!   semantics; [`packages`]: `homeassistant: packages:` merged as HA merges them;
//! - [`domains`]: HA's integrations (generated table) and `custom_components/`;
//!   [`blueprints`]: `blueprints/` and `use_blueprint:`;
//! - [`structure`]: top-level keys and integrations; [`walk`]: finds templates and
//!   references where HA reads them; [`templates`] (with [`names`] and [`position`]),
//!   [`references`], [`legacy`], [`components`], [`files`];
//! - [`codes`] and [`diagnostic`]: the stable finding codes and the report;
//!   [`report`]: text, JSON, GitHub annotations and SARIF output.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

// One folder per concern; the modules are also re-exported at their old flat paths so
// callers (and `scan`, next) name them by role: `validate::loader`, `validate::yaml`.
pub mod checks;
pub mod codes;
pub mod diagnostic;
pub mod load;
pub mod references;
pub mod report;
pub mod templates;
pub mod yaml;

pub use checks::{files, legacy, structure, walk};
pub use load::{blueprints, loader, packages, secrets};
pub use references::{components, domains};
pub use templates::names;
pub use yaml::{position, source};

pub use codes::{Code, Severity};
pub use diagnostic::{Diagnostic, Report, Summary};
pub use references::StatesSnapshot;
pub use report::Format;
pub use secrets::SecretsMode;

use loader::{FileRole, Loaded, Loader};
use yaml::{Kind, Node};

/// Why a check could not run at all (exit code 2). Everything wrong *inside* the
/// configuration is a [`Diagnostic`] instead.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}: no such directory")]
    RootMissing(PathBuf),
    #[error("{}: no configuration.yaml here{}", .root.display(), found_elsewhere(.candidates))]
    NoConfiguration {
        root: PathBuf,
        /// Sub-folders that do hold one (more than one, so none was picked).
        candidates: Vec<String>,
    },
    #[error("secrets file {0}: no such file")]
    SecretsFile(PathBuf),
    #[error("settings file {path}: {reason}")]
    Settings { path: PathBuf, reason: String },
    #[error("--states {source_name}: {reason}")]
    States { source_name: String, reason: String },
    /// A bug in the checker (reported, never a panic in the caller).
    #[error("internal error: {0}")]
    Internal(String),
}

/// What to check and how.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The configuration directory (holds `configuration.yaml`).
    pub root: PathBuf,
    pub secrets: SecretsMode,
    /// Entities and actions of a running HA; `None` checks references offline.
    pub states: Option<StatesSnapshot>,
    /// What is never reported.
    pub ignored: IgnoreLists,
}

impl CheckOptions {
    /// Defaults: HA's secret lookup with placeholders, offline references, nothing ignored.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        CheckOptions {
            root: root.into(),
            secrets: SecretsMode::Auto,
            states: None,
            ignored: IgnoreLists::default(),
        }
    }

    /// Adds the ignore lists of a settings file.
    pub fn with_settings(mut self, s: CheckSettings) -> Self {
        self.ignored.extend(s);
        self
    }
}

/// What a check never reports. The one shape of the ignore lists wherever they are given:
/// the daemon's `validate:` settings, a `.gitops-bridge.yaml` file's `check:` section,
/// `--ignore` and the library's [`CheckOptions`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreLists {
    /// Entity ids and actions never reported (wildcards `*` and `?`: `sensor.*_ble`).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Codes never reported (`file-unreachable`).
    #[serde(default)]
    pub ignore_codes: Vec<String>,
    /// Files never reported, relative to the configuration root, with wildcards (`www/*`).
    #[serde(default)]
    pub ignore_files: Vec<String>,
}

impl IgnoreLists {
    /// Adds another layer's lists to these.
    pub fn extend(&mut self, other: IgnoreLists) {
        self.ignore.extend(other.ignore);
        self.ignore_codes.extend(other.ignore_codes);
        self.ignore_files.extend(other.ignore_files);
    }
}

/// The ignore lists of a settings file (`.gitops-bridge.yaml` in the configuration root, or
/// the daemon's settings file); see [`load_settings`].
pub type CheckSettings = IgnoreLists;

/// Reads the ignore lists of a YAML settings file: its `validate:` section, the very one
/// the daemon's settings file has (checked the same way; `path` and `watch` are the
/// daemon's and unused here), so one file serves both. A `check:` section, the older name
/// that only `.gitops-bridge.yaml` files use (the daemon refuses it), is still read and
/// added. Other sections are not read. Neither section gives the defaults.
pub fn load_settings(path: &Path) -> Result<CheckSettings, CheckError> {
    let err = |reason: String| CheckError::Settings {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| err(e.to_string()))?;
    let section = |name: &str| doc.get(name).filter(|v| !v.is_null()).cloned();
    let mut settings = CheckSettings::default();
    if let Some(v) = section("validate") {
        let v: crate::settings::RawValidate =
            serde_yaml_ng::from_value(v).map_err(|e| err(format!("validate: {e}")))?;
        settings.extend(v.ignore_lists());
    }
    if let Some(c) = section("check") {
        let c: CheckSettings =
            serde_yaml_ng::from_value(c).map_err(|e| err(format!("check: {e}")))?;
        settings.extend(c);
    }
    Ok(settings)
}

/// Checks a configuration directory. Never panics on input and never prints; only an
/// unusable root is an error.
pub fn check(opts: &CheckOptions) -> Result<Report, CheckError> {
    check_with(opts, &mut |_| {})
}

/// The configuration as `check` loaded it (includes and packages merged), for another pass
/// over the same tree: `scan` audits HA's settings here instead of loading everything twice.
/// `!secret` values are never in it, only their names.
pub struct LoadedConfig<'a> {
    pub config: &'a Node,
    pub loader: &'a Loader,
    /// The sub-folder holding `configuration.yaml` (`config`), when it is not the root.
    pub prefix: Option<&'a str>,
}

/// [`check`], handing the loaded configuration to `audit` on the way.
pub fn check_with(
    opts: &CheckOptions,
    audit: &mut (dyn FnMut(&LoadedConfig) + Send),
) -> Result<Report, CheckError> {
    guarded("check", || check_on_this_thread(opts, audit))
        .unwrap_or_else(|e| Err(CheckError::Internal(e)))
}

/// Runs `work` on a thread with a large stack and turns its panic into an error.
///
/// The passes are recursive over the (include-expanded) tree; a thread with a large stack
/// keeps deep but legal input from overflowing the caller's stack, and a bug that panics
/// becomes an error instead of taking the add-on down.
pub fn guarded<T: Send>(what: &str, work: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name(format!("gitops-bridge-{what}"))
            .stack_size(CHECK_STACK)
            .spawn_scoped(s, work)
            .map_err(|e| format!("cannot start the {what} thread: {e}"))?
            .join()
            .map_err(|p| {
                let why = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                format!("the {what} failed unexpectedly: {why}")
            })
    })
}

/// Stack of the check thread (address space only; pages are committed as used).
const CHECK_STACK: usize = 256 * 1024 * 1024;

fn check_on_this_thread(
    opts: &CheckOptions,
    audit: &mut (dyn FnMut(&LoadedConfig) + Send),
) -> Result<Report, CheckError> {
    let started = Instant::now();
    let root =
        loader::normalize(&std::path::absolute(&opts.root).unwrap_or_else(|_| opts.root.clone()));
    if !root.is_dir() {
        return Err(CheckError::RootMissing(opts.root.clone()));
    }
    // A repository often keeps the configuration in a sub-folder (`config/`): check it there
    // and show paths from the folder the user named.
    let (root, prefix) = match config_folder(&root) {
        Ok(Some(sub)) => (root.join(&sub), Some(sub)),
        Ok(None) => (root, None),
        Err(candidates) => {
            return Err(CheckError::NoConfiguration {
                root: opts.root.clone(),
                candidates,
            });
        }
    };
    let config_path = root.join("configuration.yaml");
    let secrets = match &opts.secrets {
        SecretsMode::File(f) => {
            let abs = loader::normalize(&std::path::absolute(f).unwrap_or_else(|_| f.clone()));
            if !abs.is_file() {
                return Err(CheckError::SecretsFile(f.clone()));
            }
            SecretsMode::File(abs)
        }
        other => other.clone(),
    };
    let mut ld = Loader::new(&root, secrets);
    let custom = domains::CustomComponents::scan(&root);

    // configuration.yaml and everything it includes
    let here = |ld: &mut Loader| {
        let id = ld.sources.add(&config_path, String::new());
        source::Pos {
            file: id,
            line: 1,
            col: 1,
        }
    };
    let mut config = match ld.load(&config_path, FileRole::Config) {
        Loaded::Ok(Some(n)) => n,
        Loaded::Ok(None) => Node::new(here(&mut ld), Kind::Map(Vec::new())),
        Loaded::Failed | Loaded::Missing => Node::new(here(&mut ld), Kind::Unknown),
    };
    packages::merge(&mut config, &mut ld, &custom);
    audit(&LoadedConfig {
        config: &config,
        loader: &ld,
        prefix: prefix.as_deref(),
    });
    structure::check(&config, &mut ld, &custom);

    // files HA loads by other routes: dashboards, blueprints, custom templates
    let dashboards = load_dashboards(&config, &root, &mut ld);
    let blueprints = blueprints::load_all(&root, &mut ld);
    blueprints::check_uses(&config, &root, &mut ld);
    let (custom_templates, _) = walk::custom_templates(&mut ld, &root);

    let mut declared = HashSet::new();
    walk::declared_names(&config, &mut declared);
    for b in &blueprints {
        walk::declared_names(b, &mut declared);
    }

    let mut w = walk::Walker {
        loader: &mut ld,
        custom: &custom_templates,
        declared: &declared,
        refs: Vec::new(),
        templates: 0,
    };
    w.config(&config);
    for d in &dashboards {
        w.dashboard(d);
    }
    for b in &blueprints {
        w.blueprint(b);
    }
    let (refs, template_count) = (std::mem::take(&mut w.refs), w.templates);

    let defined = references::Defined::from_config(&config, &root);
    let config_rel = ld.sources.relative(&config_path);
    references::check(
        &refs,
        &defined,
        opts.states.as_ref(),
        &custom,
        &opts.ignored.ignore,
        &config_rel,
        &mut ld,
    );
    components::check(&root, &mut ld.diags);
    files::unreachable(&root, &ld.loaded, &mut ld.diags);

    let yaml_files = ld
        .loaded
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .count();
    let mut diagnostics: Vec<Diagnostic> = std::mem::take(&mut ld.diags)
        .into_sorted()
        .into_iter()
        .filter(|d| !opts.ignored.ignore_codes.iter().any(|c| c == d.code.name()))
        .filter(|d| {
            !opts
                .ignored
                .ignore_files
                .iter()
                .any(|g| references::glob(g, &d.file))
        })
        .collect();
    let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    let summary = Summary {
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        info: count(Severity::Info),
        files: yaml_files,
        templates: template_count,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    if let Some(prefix) = &prefix {
        for d in &mut diagnostics {
            d.file = format!("{prefix}/{}", d.file);
        }
    }
    Ok(Report {
        root: opts.root.display().to_string(),
        summary,
        diagnostics,
    })
}

/// Where `configuration.yaml` is: `Ok(None)` in `root` itself, `Ok(Some("config"))` in the
/// one sub-folder (up to two levels down) that holds it, `Err` with every candidate when
/// there are none or several.
pub fn config_folder(root: &Path) -> Result<Option<String>, Vec<String>> {
    if root.join("configuration.yaml").is_file() {
        return Ok(None);
    }
    let mut found = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((dir, rel, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || matches!(name.as_str(), "node_modules" | "target") {
                continue;
            }
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let sub = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.path().join("configuration.yaml").is_file() {
                found.push(sub);
            } else if depth < 1 {
                dirs.push((e.path(), sub, depth + 1));
            }
        }
    }
    found.sort();
    match found.as_slice() {
        [one] => Ok(Some(one.clone())),
        _ => Err(found),
    }
}

/// The tail of the "no configuration.yaml" error: what to pass instead.
fn found_elsewhere(candidates: &[String]) -> String {
    if candidates.is_empty() {
        " or in a sub-folder (is this the Home Assistant configuration directory?)".into()
    } else {
        format!(
            "; found in {}: pass the one to check",
            candidates
                .iter()
                .map(|c| format!("{c}/"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// YAML-mode dashboards: `lovelace: mode: yaml` (`ui-lovelace.yaml`) and
/// `lovelace: dashboards: <url>: {mode: yaml, filename: …}`.
fn load_dashboards(config: &Node, root: &Path, ld: &mut Loader) -> Vec<Node> {
    let mut out = Vec::new();
    let Some(lovelace) = config.get("lovelace") else {
        return out;
    };
    let mut files: Vec<PathBuf> = Vec::new();
    if lovelace.get("mode").and_then(Node::as_str) == Some("yaml") {
        files.push(root.join("ui-lovelace.yaml"));
    }
    if let Some(dash) = lovelace.get("dashboards").and_then(Node::as_map) {
        for (_, d) in dash {
            if let Some(f) = d.get("filename").and_then(Node::as_str) {
                files.push(root.join(f));
            }
        }
    }
    for f in files {
        if let Loaded::Ok(Some(n)) = ld.load(&f, FileRole::Config) {
            out.push(n);
        }
    }
    out
}

// --- command line --------------------------------------------------------------------------

/// Arguments of `gitops-bridge check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The Home Assistant configuration directory (the one holding `configuration.yaml`).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Use this file as `<DIR>/secrets.yaml` (a stand-in such as secrets.fake.yaml);
    /// secrets missing from it are errors.
    #[arg(long, value_name = "FILE", conflicts_with = "placeholder_secrets")]
    pub secrets: Option<PathBuf>,
    /// Never fail on secrets: names found in no secrets file are reported once as info.
    #[arg(long)]
    pub placeholder_secrets: bool,
    /// Entities and actions of a running Home Assistant: a URL (with --token), or a JSON
    /// file saved from /api/states or /api/services (repeatable).
    #[arg(long, value_name = "FILE|URL")]
    pub states: Vec<String>,
    /// Long-lived access token for --states URL.
    #[arg(long, env = "HA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Entity ids or actions never reported, with wildcards (repeatable): `sensor.*_ble`.
    #[arg(long, value_name = "PATTERN")]
    pub ignore: Vec<String>,
    /// Settings file whose `validate:` section's ignore lists apply, e.g. the daemon's
    /// (default: DIR/.gitops-bridge.yaml if present).
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Exit 1 when a finding of this severity or worse exists.
    #[arg(long, value_enum, default_value = "error")]
    pub fail_on: FailOn,
    /// Show findings of this severity or worse (default: warning for text and github,
    /// info for json and sarif).
    #[arg(long, value_enum)]
    pub min_severity: Option<MinSeverity>,
    /// Also run the security scan (`gitops-bridge scan`, offline) in the same pass over
    /// the files, and report both together.
    #[arg(long)]
    pub security: bool,
}

/// `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

/// `--min-severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MinSeverity {
    Info,
    Warning,
    Error,
}

/// Runs `check` and returns the process exit code (0 clean, 1 findings at or above
/// `--fail-on`, 2 usage or I/O error).
pub fn run(args: &CheckArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gitops-bridge check: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &CheckArgs) -> Result<ExitCode, CheckError> {
    let opts = options(args)?;
    let report = check(&opts)?;
    Ok(emit(&report, args))
}

/// The check's options as `args` give them (settings file, ignores, `--states`).
pub fn options(args: &CheckArgs) -> Result<CheckOptions, CheckError> {
    let mut opts = CheckOptions::new(&args.dir);
    opts.secrets = match (&args.secrets, args.placeholder_secrets) {
        (Some(f), _) => SecretsMode::File(f.clone()),
        (None, true) => SecretsMode::Placeholder,
        (None, false) => SecretsMode::Auto,
    };
    let settings_path = args.settings.clone().or_else(|| {
        let p = args.dir.join(".gitops-bridge.yaml");
        p.is_file().then_some(p)
    });
    if let Some(p) = settings_path {
        opts = opts.with_settings(load_settings(&p)?);
    }
    opts.ignored.ignore.extend(args.ignore.iter().cloned());
    if !args.states.is_empty() {
        opts.states = Some(load_states(&args.states, args.token.as_deref())?);
    }
    Ok(opts)
}

/// Writes `report` as `args` ask and answers the exit code: 0 clean, 1 findings at or above
/// `--fail-on`, 2 the report could not be written.
pub fn emit(report: &Report, args: &CheckArgs) -> ExitCode {
    let min = match (args.min_severity, args.format) {
        (Some(MinSeverity::Info), _) => Severity::Info,
        (Some(MinSeverity::Warning), _) => Severity::Warning,
        (Some(MinSeverity::Error), _) => Severity::Error,
        (None, Format::Text | Format::Github) => Severity::Warning,
        (None, Format::Json | Format::Sarif) => Severity::Info,
    };
    let out = report::render(report, args.format, min, &args.dir);
    let written = match &args.output {
        Some(p) => std::fs::write(p, out.as_bytes()),
        None => std::io::stdout().lock().write_all(out.as_bytes()),
    };
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("gitops-bridge check: writing the report: {e}");
        return ExitCode::from(2);
    }
    let threshold = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
    };
    if report.worst().is_some_and(|w| w >= threshold) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Reads `--states` values: files, or URLs fetched with the token.
pub fn load_states(sources: &[String], token: Option<&str>) -> Result<StatesSnapshot, CheckError> {
    let mut snap = StatesSnapshot::default();
    for s in sources {
        let err = |reason: String| CheckError::States {
            source_name: s.clone(),
            reason,
        };
        if s.starts_with("http://") || s.starts_with("https://") {
            let token = token
                .map(str::to_string)
                .or_else(|| std::env::var("SUPERVISOR_TOKEN").ok())
                .ok_or_else(
                    || err("a URL needs --token (or HA_TOKEN / SUPERVISOR_TOKEN)".into()),
                )?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| err(e.to_string()))?;
            snap.merge(rt.block_on(StatesSnapshot::fetch(s, &token)).map_err(err)?);
        } else {
            let text = std::fs::read_to_string(s).map_err(|e| err(e.to_string()))?;
            snap.merge(StatesSnapshot::from_json(&text).map_err(err)?);
        }
    }
    Ok(snap)
}
