//! Security scanning of a Home Assistant configuration repository (`gitops-bridge scan`).
//!
//! What general scanners miss for an HA user: HA long-lived tokens and inline credentials
//! where HA offers `!secret`, HA's risky `http:`/auth settings, and GitHub workflow
//! injection. Findings reuse `check`'s [`Diagnostic`]/[`Report`] and renderers, so the
//! formats, exit codes and `--fail-on` are the same; the codes are [`Code::SCAN`],
//! documented in `docs/scan.md` with the source of each rule.
//!
//! Modules, in the order a run uses them:
//! - [`secrets`]: token shapes in every text file, inline credentials in YAML,
//!   `secrets.yaml` tracked by git; values are only ever shown redacted ([`redact`]);
//! - [`ha`]: HA settings audit on the include-resolved configuration (check's loader);
//! - [`workflows`]: `.github/workflows/*.yml` audit;
//! - [`deps`]: action references against known-compromised actions; [`osv`]: manifest
//!   requirements and actions against OSV.dev (only when asked, with an on-disk cache);
//! - [`history`]: `--history`, secrets in earlier commits through the `git` CLI;
//! - here: options, the file walk, inline ignores and the baseline, the CLI verb.
//!
//! The library entry point is [`scan`]; it never prints, and needs the network only when
//! [`ScanOptions::osv`] is set and not offline.

pub mod deps;
mod files;
pub mod ha;
pub mod history;
pub mod osv;
pub mod secrets;
pub mod workflows;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::validate::{Code, Diagnostic, Format, Report, Severity, Summary, report};

/// Why a scan could not run at all (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}: no such directory")]
    RootMissing(PathBuf),
    #[error("baseline file {path}: {reason}")]
    Baseline { path: PathBuf, reason: String },
    #[error("git history of {path}: {reason}")]
    History { path: PathBuf, reason: String },
    /// A bug in the scanner (reported, never a panic in the caller).
    #[error("internal error: {0}")]
    Internal(String),
}

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The repository (or configuration) directory.
    pub root: PathBuf,
    /// Also scan every commit reachable from any ref (needs `git`).
    pub history: bool,
    /// Owners (or `owner/repo`) whose actions need no SHA pin (`actions`, `github`).
    pub allow_unpinned: Vec<String>,
    /// Fingerprints of accepted findings, never reported.
    pub baseline: HashSet<String>,
    /// Codes never reported.
    pub ignore_codes: Vec<String>,
    /// Look dependencies up in OSV; `None` (the default) skips it.
    pub osv: Option<osv::OsvConfig>,
}

impl ScanOptions {
    /// Defaults: working tree only, GitHub's own `actions/*` and `github/*` allowed unpinned.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ScanOptions {
            root: root.into(),
            history: false,
            allow_unpinned: vec!["actions".into(), "github".into()],
            baseline: HashSet::new(),
            ignore_codes: Vec::new(),
            osv: None,
        }
    }
}

pub use files::{TextFile, listing};

/// A stable id of a finding: the first 12 hex digits of SHA-256 over the code, the file and
/// the normalised subject (the secret itself, or what the rule is about). Stable across
/// runs and line moves, and one-way, so it can be published in a baseline.
pub fn fingerprint(code: Code, file: &str, subject: &str) -> String {
    let mut h = Sha256::new();
    h.update(code.name().as_bytes());
    h.update([0]);
    h.update(file.as_bytes());
    h.update([0]);
    h.update(subject.trim().as_bytes());
    hex::encode(&h.finalize()[..6])
}

/// How a secret is shown: a known, non-secret prefix (`ghp_`) and the length, nothing else.
pub fn redact(secret: &str, keep: usize) -> String {
    let n = secret.chars().count();
    let keep = keep.min(n / 4);
    let head: String = secret.chars().take(keep).collect();
    format!("{head}…({n} chars)")
}

/// A finding plus the fingerprint it is suppressed by.
pub struct Finding {
    pub diag: Diagnostic,
    pub fingerprint: String,
}

impl Finding {
    /// A finding whose message ends with its fingerprint (the baseline's key).
    pub fn new(
        code: Code,
        file: &str,
        line: u32,
        column: u32,
        message: String,
        hint: &str,
        subject: &str,
    ) -> Self {
        let fp = fingerprint(code, file, subject);
        let d = Diagnostic::new(code, file, line, column, format!("{message} [{fp}]"))
            .with_hint(hint.to_string());
        Finding {
            diag: d,
            fingerprint: fp,
        }
    }
}

/// `# gitops-bridge: ignore[code, other-code]` on the finding's line or the line above.
fn ignored_inline(files: &[TextFile], d: &Diagnostic) -> bool {
    if d.line == 0 {
        return false;
    }
    let Some(f) = files.iter().find(|f| f.rel == d.file) else {
        return false;
    };
    let want = d.line as usize;
    f.text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i + 1 == want || *i + 2 == want)
        .any(|(_, l)| ignore_comment_codes(l).any(|c| c == d.code.name() || c == "all"))
}

/// The codes of an inline ignore comment on a line.
fn ignore_comment_codes(line: &str) -> impl Iterator<Item = &str> {
    let inner = line
        .find("gitops-bridge: ignore[")
        .and_then(|i| {
            let rest = &line[i + "gitops-bridge: ignore[".len()..];
            rest.find(']').map(|j| &rest[..j])
        })
        .unwrap_or("");
    inner.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Reads a baseline: one fingerprint per line (the first word); `#` starts a comment.
pub fn load_baseline(path: &Path) -> Result<HashSet<String>, ScanError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScanError::Baseline {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(text
        .lines()
        .filter_map(|l| l.split('#').next())
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Scans a repository. Never prints, never uses the network; only an unusable root or a
/// failing `git` (with `history`) is an error.
pub fn scan(opts: &ScanOptions) -> Result<Report, ScanError> {
    Ok(scan_findings(opts)?.0)
}

/// [`scan`] plus the fingerprints of what it reported (for `--write-baseline`).
pub fn scan_findings(opts: &ScanOptions) -> Result<(Report, Vec<Finding>), ScanError> {
    guarded(|| findings(opts, None))
}

/// `check` and `scan` of the same directory in one load of the configuration: the HA
/// settings audit runs on the tree `check` builds. The add-on runs both on every change.
pub struct CheckAndScan {
    pub check: Result<Report, crate::validate::CheckError>,
    pub scan: Result<Report, ScanError>,
}

/// Runs `check` with `check_opts` and `scan` with `scan_opts` (both of the same root),
/// loading the configuration once. A check that cannot run leaves the scan to load on its own.
pub fn check_and_scan(
    check_opts: &crate::validate::CheckOptions,
    scan_opts: &ScanOptions,
) -> CheckAndScan {
    let mut ha_findings = Vec::new();
    let mut ha_files = 0;
    let check = crate::validate::check_with(check_opts, &mut |loaded| {
        ha::audit_loaded(loaded, &mut ha_findings);
        ha_files = loaded.loader.loaded.len();
    });
    let audited = check.is_ok().then_some((ha_findings, ha_files));
    let scan = guarded(|| findings(scan_opts, audited)).map(|(report, _)| report);
    CheckAndScan { check, scan }
}

/// `gitops-bridge check --security`: the check and the offline scan in one pass over the
/// configuration, as one report (the codes share one list).
pub fn check_cli(args: &crate::validate::CheckArgs) -> std::process::ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("gitops-bridge check: {e}");
        std::process::ExitCode::from(2)
    };
    let opts = match crate::validate::options(args) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let both = check_and_scan(&opts, &ScanOptions::new(&args.dir));
    let (mut report, scanned) = match (both.check, both.scan) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(e), _) => return fail(&e),
        (_, Err(e)) => return fail(&e),
    };
    let mut merged = crate::validate::diagnostic::Diagnostics::default();
    for d in report.diagnostics.drain(..).chain(scanned.diagnostics) {
        merged.push(d);
    }
    report.diagnostics = merged.into_sorted();
    let s = &mut report.summary;
    (s.errors, s.warnings, s.info) = severity_counts(&report.diagnostics);
    s.files = s.files.max(scanned.summary.files);
    s.elapsed_ms += scanned.summary.elapsed_ms;
    crate::validate::emit(&report, args)
}

/// Errors, warnings and info among `diagnostics`.
fn severity_counts(diagnostics: &[Diagnostic]) -> (usize, usize, usize) {
    let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    )
}

fn guarded<T: Send>(work: impl FnOnce() -> Result<T, ScanError> + Send) -> Result<T, ScanError> {
    crate::validate::guarded("scan", work).unwrap_or_else(|e| Err(ScanError::Internal(e)))
}

/// The scan, with the HA audit's findings and file count given when `check` ran it already.
fn findings(
    opts: &ScanOptions,
    ha_audited: Option<(Vec<Finding>, usize)>,
) -> Result<(Report, Vec<Finding>), ScanError> {
    let started = Instant::now();
    if !opts.root.is_dir() {
        return Err(ScanError::RootMissing(opts.root.clone()));
    }
    let (files, in_git) = listing(&opts.root);
    let mut found: Vec<Finding> = Vec::new();
    secrets::scan_files(&files, &mut found);
    if in_git {
        secrets::tracked_secrets_files(&opts.root, &mut found);
    }
    let yaml_files = match ha_audited {
        Some((ha_findings, n)) => {
            found.extend(ha_findings);
            n
        }
        None => ha::audit(&opts.root, &mut found),
    };
    let uses = workflows::audit(&files, &opts.allow_unpinned, &mut found);
    deps::audit(&uses, &mut found);
    if let Some(cfg) = &opts.osv {
        osv::audit(&files, &uses, cfg, &mut found);
    }
    if opts.history {
        history::scan(&opts.root, &files, &mut found)?;
    }

    let mut seen = HashSet::new();
    let mut kept: Vec<Finding> = found
        .into_iter()
        .filter(|f| {
            seen.insert((
                f.diag.code,
                f.diag.file.clone(),
                f.diag.line,
                f.fingerprint.clone(),
            ))
        })
        .filter(|f| !opts.baseline.contains(&f.fingerprint))
        .filter(|f| !opts.ignore_codes.iter().any(|c| c == f.diag.code.name()))
        .filter(|f| !ignored_inline(&files, &f.diag))
        .collect();
    kept.sort_by(|a, b| {
        (&a.diag.file, a.diag.line, a.diag.column, a.diag.code).cmp(&(
            &b.diag.file,
            b.diag.line,
            b.diag.column,
            b.diag.code,
        ))
    });
    let diagnostics: Vec<Diagnostic> = kept.iter().map(|f| f.diag.clone()).collect();
    let (errors, warnings, info) = severity_counts(&diagnostics);
    let summary = Summary {
        errors,
        warnings,
        info,
        files: files.len().max(yaml_files),
        templates: 0,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    Ok((
        Report {
            root: opts.root.display().to_string(),
            summary,
            diagnostics,
        },
        kept,
    ))
}

// --- command line --------------------------------------------------------------------------

/// Arguments of `gitops-bridge scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The repository or Home Assistant configuration directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Also scan the git history (every commit of every ref) with the `git` CLI.
    #[arg(long)]
    pub history: bool,
    /// Accepted findings: a file of fingerprints, one per line.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write the fingerprints of every finding to FILE (a new baseline) and exit 0.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Action owners (or owner/repo) allowed without a SHA pin (repeatable; replaces the
    /// default `actions`, `github`; `--allow-unpinned none` allows none).
    #[arg(long, value_name = "OWNER")]
    pub allow_unpinned: Vec<String>,
    /// Codes never reported (repeatable).
    #[arg(long, value_name = "CODE")]
    pub ignore_code: Vec<String>,
    /// Never use the network: OSV answers come from the cache only.
    #[arg(long)]
    pub offline: bool,
    /// OSV API base URL.
    #[arg(long, value_name = "URL", default_value = osv::DEFAULT_URL)]
    pub osv_url: String,
    /// Skip the OSV lookup altogether.
    #[arg(long)]
    pub no_osv: bool,
    /// Cache directory for OSV answers (default: $XDG_CACHE_HOME/gitops-bridge or
    /// ~/.cache/gitops-bridge).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Exit 1 when a finding of this severity or worse exists.
    #[arg(long, value_enum, default_value = "error")]
    pub fail_on: crate::validate::FailOn,
    /// Show findings of this severity or worse (default: warning for text and github,
    /// info for json and sarif).
    #[arg(long, value_enum)]
    pub min_severity: Option<crate::validate::MinSeverity>,
}

/// Runs `scan` and returns the exit code (0 clean, 1 findings at or above `--fail-on`,
/// 2 could not run).
pub fn run(args: &ScanArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gitops-bridge scan: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &ScanArgs) -> Result<ExitCode, ScanError> {
    use crate::validate::{FailOn, MinSeverity};
    let mut opts = ScanOptions::new(&args.dir);
    opts.history = args.history;
    if !args.allow_unpinned.is_empty() {
        opts.allow_unpinned = args
            .allow_unpinned
            .iter()
            .filter(|a| a.as_str() != "none")
            .cloned()
            .collect();
    }
    opts.ignore_codes = args.ignore_code.clone();
    if !args.no_osv {
        let cache_dir = args.cache_dir.clone().or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|d| d.join("gitops-bridge"))
        });
        opts.osv = Some(osv::OsvConfig {
            url: args.osv_url.clone(),
            cache_dir,
            offline: args.offline,
        });
    }
    if let Some(b) = &args.baseline {
        opts.baseline = load_baseline(b)?;
    }
    let (report, findings) = scan_findings(&opts)?;
    if let Some(path) = &args.write_baseline {
        let mut text = String::from("# gitops-bridge scan baseline: accepted findings\n");
        for f in &findings {
            text.push_str(&format!(
                "{}  {}  {}\n",
                f.fingerprint, f.diag.code, f.diag.file
            ));
        }
        std::fs::write(path, text).map_err(|e| ScanError::Baseline {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let min = match (args.min_severity, args.format) {
        (Some(MinSeverity::Info), _) => Severity::Info,
        (Some(MinSeverity::Warning), _) => Severity::Warning,
        (Some(MinSeverity::Error), _) => Severity::Error,
        (None, Format::Text | Format::Github) => Severity::Warning,
        (None, Format::Json | Format::Sarif) => Severity::Info,
    };
    let out = report::render(&report, args.format, min, &args.dir);
    let written = match &args.output {
        Some(p) => std::fs::write(p, out.as_bytes()),
        None => std::io::stdout().lock().write_all(out.as_bytes()),
    };
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("gitops-bridge scan: writing the report: {e}");
        return Ok(ExitCode::from(2));
    }
    let threshold = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
    };
    Ok(if report.worst().is_some_and(|w| w >= threshold) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_prefix_and_length() {
        assert_eq!(
            redact("ghp_abcdefghijklmnopqrstuvwxyz0123456789", 4),
            "ghp_…(40 chars)"
        );
        assert_eq!(redact("short", 4), "s…(5 chars)");
    }

    #[test]
    fn ignore_comment_lists_codes() {
        let codes: Vec<_> =
            ignore_comment_codes("x: 1 # gitops-bridge: ignore[secret-inline, http-cors-wildcard]")
                .collect();
        assert_eq!(codes, ["secret-inline", "http-cors-wildcard"]);
        assert_eq!(ignore_comment_codes("x: 1 # nothing").count(), 0);
    }
}
