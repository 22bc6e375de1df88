//! `gitops-bridge templates list | render | plan | deploy | status | rollback`.
//!
//! `list` and `render` need nothing but the library. The others read the settings (token,
//! `templates.targets`); `plan` and `status` only read GitHub, `deploy` and `rollback` submit
//! one command per repository to the same executor the daemon uses, so the repository's
//! `allow:` list, the audit trail in the store and write pacing apply to them too.
//!
//! Exit status: 0 done, 1 some repository failed (or, for `plan --detailed-exitcode`,
//! something would change), 2 the command could not start (settings, library, arguments).

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::library::Library;
use super::plan::{self, Change, RepoPlan};
use super::remote::{self, TargetRepo};
use super::render;
use super::status::TemplateReport;
use super::targets::TemplateSettings;
use super::waves;
use crate::commands::{self, Action, Command, CommandResult, CommandSource, Params};
use crate::github::GitHubClient;
use crate::github::api::Repo;
use crate::settings::{Settings, Sources};
use crate::state::{RepoView, StateHandle};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct TemplatesArgs {
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
pub enum Verb {
    /// The library's templates: id, version, description, variables.
    List(LibraryArgs),
    /// Print a template's files rendered with its defaults and `--var`s (no GitHub).
    Render(RenderArgs),
    /// What a deploy would change in each target repository, with diffs. Writes nothing.
    Plan(PlanArgs),
    /// Deploy the templates: one atomic commit or pull request per repository.
    Deploy(DeployArgs),
    /// Installed and latest version of every template in every target, and drift.
    Status(RemoteArgs),
    /// Restore the files from before the last template deploy.
    Rollback(RollbackArgs),
}

#[derive(Debug, clap::Args)]
pub struct LibraryArgs {
    /// A library folder (with templates.yaml); default: the library of this build.
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The template's id (see `templates list`).
    pub id: String,
    /// A variable, `name=value` (YAML: `true`, `3`, `[a, b]` are typed). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Write the files under DIR (at their paths in a repository) instead of printing them.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// Settings file (YAML) with `github.token` and `templates.targets`.
    #[arg(long, short, env = "GITOPS_BRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Only these repositories (`owner/name`, repeatable); default: every target.
    #[arg(long = "repo", value_name = "OWNER/NAME")]
    pub repos: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Show a unified diff of every file that would change.
    #[arg(long)]
    pub diff: bool,
    /// Exit 1 when something would change (for CI), 0 when all is up to date.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Only this template (default: every template a repository gets).
    #[arg(long, value_name = "ID")]
    pub template: Option<String>,
    /// Overwrite files edited by hand since our last deploy.
    #[arg(long)]
    pub force: bool,
    /// Ignore `templates.waves`: deploy everywhere without waiting between waves.
    #[arg(long)]
    pub all_at_once: bool,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Discard edits made since our last deploy.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

pub fn run(args: &TemplatesArgs) -> ExitCode {
    let outcome = match &args.verb {
        Verb::List(a) => list(a),
        Verb::Render(a) => render_cmd(a),
        Verb::Plan(a) => remote(&a.remote, |ctx, rt| rt.block_on(plan_cmd(ctx, a))),
        Verb::Deploy(a) => remote(&a.remote, |ctx, rt| {
            rt.block_on(execute_cmd(
                ctx,
                Action::DeployTemplate,
                a.template.clone(),
                a.force,
                !a.all_at_once,
            ))
        }),
        Verb::Status(a) => remote(a, |ctx, rt| rt.block_on(status_cmd(ctx))),
        Verb::Rollback(a) if a.remote.repos.is_empty() => {
            Err("say which repositories to roll back: --repo OWNER/NAME".to_string())
        }
        Verb::Rollback(a) => remote(&a.remote, |ctx, rt| {
            rt.block_on(execute_cmd(
                ctx,
                Action::RollbackTemplate,
                None,
                a.force,
                false,
            ))
        }),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gitops-bridge templates: {e}");
            ExitCode::from(2)
        }
    }
}

fn library(dir: &Option<PathBuf>) -> Result<Library, String> {
    match dir {
        Some(d) => Library::load(d).map_err(|e| e.to_string()),
        None => Ok(Library::bundled()),
    }
}

fn list(a: &LibraryArgs) -> Result<ExitCode, String> {
    let lib = library(&a.library)?;
    let mut out = std::io::stdout().lock();
    match a.format {
        OutputFormat::Json => {
            let items: Vec<Value> = lib
                .templates
                .iter()
                .map(|t| {
                    json!({
                        "id": t.id,
                        "version": t.version.to_string(),
                        "description": t.description,
                        "variables": t.variables,
                        "files": t.files.iter().map(|f| &f.path).collect::<Vec<_>>(),
                        "changelog": t.changelog,
                    })
                })
                .collect();
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&items).unwrap_or_default()
            );
        }
        OutputFormat::Text => {
            for t in &lib.templates {
                let _ = writeln!(out, "{} {}\n  {}", t.id, t.version, t.description);
                for (name, v) in &t.variables {
                    let _ = writeln!(
                        out,
                        "  --var {name}=…  {} (default {}): {}",
                        v.kind.name(),
                        v.default,
                        v.description
                    );
                }
                for f in &t.files {
                    let _ = writeln!(out, "  writes {}", f.path);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render_cmd(a: &RenderArgs) -> Result<ExitCode, String> {
    let lib = library(&a.library)?;
    let t = lib
        .get(&a.id)
        .ok_or_else(|| format!("no template `{}`; the library has: {}", a.id, lib.ids()))?;
    let mut given = Map::new();
    for v in &a.vars {
        let (name, value) = v
            .split_once('=')
            .ok_or_else(|| format!("--var {v}: write it as NAME=VALUE"))?;
        let value: Value =
            serde_yaml_ng::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
        // An empty value is YAML null; a string variable then means "".
        let value = if value.is_null() {
            Value::String(String::new())
        } else {
            value
        };
        given.insert(name.trim().to_string(), value);
    }
    let files = render::render(&lib, t, &given).map_err(|e| e.to_string())?;
    match &a.output {
        Some(dir) => {
            for f in &files {
                let path = dir.join(&f.path);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("creating {}: {e}", parent.display()))?;
                }
                std::fs::write(&path, &f.content)
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                println!("wrote {}", path.display());
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            for (i, f) in files.iter().enumerate() {
                if files.len() > 1 {
                    let _ = writeln!(out, "{}# ==> {} <==", if i > 0 { "\n" } else { "" }, f.path);
                }
                let _ = out.write_all(f.content.as_bytes());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the remote verbs share: settings, client, the repositories to act on.
struct Ctx {
    settings: Settings,
    templates: Arc<TemplateSettings>,
    gh: GitHubClient,
    repos: Vec<TargetRepo>,
    format: OutputFormat,
}

/// Loads the settings, resolves the targets, and runs `verb` on a current-thread runtime.
fn remote(
    a: &RemoteArgs,
    verb: impl FnOnce(&Ctx, &tokio::runtime::Runtime) -> Result<ExitCode, String>,
) -> Result<ExitCode, String> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let settings =
        Settings::load(&Sources::from_process(a.config.clone())).map_err(|e| e.to_string())?;
    let templates = settings
        .templates
        .clone()
        .filter(|t| !t.targets.is_empty())
        .ok_or("the settings have no `templates.targets`; see docs/templates.md")?;
    let gh = GitHubClient::new(&settings.github).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let mut repos = runtime
        .block_on(remote::resolve(&gh, &settings.github, &templates))
        .map_err(|e| format!("listing the target repositories: {e}"))?;
    if !a.repos.is_empty() {
        for wanted in &a.repos {
            if !repos
                .iter()
                .any(|r| r.full_name().eq_ignore_ascii_case(wanted))
            {
                return Err(format!("{wanted} is not a target of `templates.targets`"));
            }
        }
        repos.retain(|r| {
            a.repos
                .iter()
                .any(|w| w.eq_ignore_ascii_case(&r.full_name()))
        });
    }
    let ctx = Ctx {
        settings,
        templates,
        gh,
        repos,
        format: a.format,
    };
    verb(&ctx, &runtime)
}

/// Progress on stderr, only for a person watching a long run.
fn progress(i: usize, total: usize, what: &str, repo: &str) {
    if total > 1 && std::io::stderr().is_terminal() {
        eprintln!("[{}/{total}] {what} {repo}", i + 1);
    }
}

#[derive(Serialize)]
struct PlannedRepo {
    repo: String,
    branch: String,
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    plan: Option<RepoPlan>,
    /// Installed, latest and drift per template (what `status` shows).
    #[serde(skip)]
    report: Option<TemplateReport>,
}

async fn plan_one(ctx: &Ctx, r: &TargetRepo, diffs: bool) -> PlannedRepo {
    let assignment = ctx.templates.assignment(&r.owner, &r.name);
    let (branch, mode) = match &assignment {
        Ok(Some(a)) => (a.branch.clone(), a.mode),
        _ => (None, super::DeployMode::Pr),
    };
    let shown_branch = branch
        .clone()
        .or_else(|| r.meta.as_ref().map(|m| m.default_branch.clone()))
        .unwrap_or_else(|| "default branch".into());
    let mut out = PlannedRepo {
        repo: r.full_name(),
        branch: shown_branch,
        mode: mode.as_str(),
        error: None,
        plan: None,
        report: None,
    };
    let assignment = match assignment {
        Ok(Some(a)) => a,
        Ok(None) => return out,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let repo = Repo::new(&r.owner, &r.name);
    let rev = branch.unwrap_or_else(|| "HEAD".into());
    match plan::read_target(&ctx.gh, repo, &rev).await {
        Ok(state) => {
            let mut p = plan::plan(&state, &assignment.templates, None);
            if diffs && let Err(e) = plan::with_diffs(&ctx.gh, repo, &mut p).await {
                out.error = Some(format!("reading files for the diff: {e}"));
            }
            out.report = Some(TemplateReport::of(&out.branch, &p, &assignment));
            out.plan = Some(p);
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

async fn plan_cmd(ctx: &Ctx, a: &PlanArgs) -> Result<ExitCode, String> {
    let before = ctx.gh.counted_requests();
    let mut planned = Vec::new();
    for (i, r) in ctx.repos.iter().enumerate() {
        progress(i, ctx.repos.len(), "planning", &r.full_name());
        planned.push(plan_one(ctx, r, a.diff).await);
    }
    let requests = ctx.gh.counted_requests() - before;
    let failed = planned.iter().filter(|p| p.error.is_some()).count();
    let changing = planned
        .iter()
        .filter(|p| p.plan.as_ref().is_some_and(RepoPlan::has_changes))
        .count();
    let mut out = std::io::stdout().lock();
    match ctx.format {
        OutputFormat::Json => {
            let doc = json!({"repositories": planned, "github_requests": requests});
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            );
        }
        OutputFormat::Text => {
            for p in &planned {
                write_plan_text(&mut out, p, a.diff);
            }
            let drifted = planned
                .iter()
                .filter(|p| p.plan.as_ref().is_some_and(|x| !x.drifted().is_empty()))
                .count();
            let _ = writeln!(
                out,
                "{} repositor{}: {changing} to change, {} up to date, {drifted} with drift, {failed} failed; {requests} GitHub requests",
                planned.len(),
                if planned.len() == 1 { "y" } else { "ies" },
                planned.len() - changing - failed,
            );
        }
    }
    Ok(if failed > 0 || (a.detailed_exitcode && changing > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_plan_text(out: &mut impl std::io::Write, p: &PlannedRepo, diffs: bool) {
    let _ = writeln!(out, "{} ({}, {})", p.repo, p.branch, p.mode);
    if let Some(e) = &p.error {
        let _ = writeln!(out, "  error: {e}");
    }
    let Some(plan) = &p.plan else { return };
    for t in &plan.templates {
        let movement = match (&t.installed, &t.target) {
            (None, Some(v)) => format!("{v} (new)"),
            (Some(a), Some(b)) if a == b => format!("{b} (installed)"),
            (Some(a), Some(b)) => format!("{a} → {b}"),
            (Some(a), None) => format!("{a} → removed"),
            (None, None) => String::new(),
        };
        let _ = writeln!(out, "  {} {movement}", t.id);
        for f in plan.files.iter().filter(|f| f.template == t.id) {
            let note = if f.change == Change::Drifted {
                "  (edited since our deploy: --force overwrites)"
            } else {
                ""
            };
            let _ = writeln!(out, "    {:<9} {}{note}", f.change.as_str(), f.path);
            if diffs && let Some(d) = &f.diff {
                for line in d.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
}

async fn status_cmd(ctx: &Ctx) -> Result<ExitCode, String> {
    let mut rows = Vec::new();
    for (i, r) in ctx.repos.iter().enumerate() {
        progress(i, ctx.repos.len(), "reading", &r.full_name());
        rows.push(plan_one(ctx, r, false).await);
    }
    let failed = rows.iter().any(|r| r.error.is_some());
    let mut out = std::io::stdout().lock();
    match ctx.format {
        OutputFormat::Json => {
            let items: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let templates: Vec<Value> = r
                        .report
                        .iter()
                        .flat_map(|p| &p.templates)
                        .map(|t| {
                            json!({"id": t.id, "installed": t.installed, "latest": t.latest, "state": t.state().as_str(), "drifted": t.drifted, "changes": t.changes})
                        })
                        .collect();
                    json!({"repo": r.repo, "branch": r.branch, "error": r.error, "templates": templates})
                })
                .collect();
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&items).unwrap_or_default()
            );
        }
        OutputFormat::Text => {
            let _ = writeln!(
                out,
                "{:<40} {:<28} {:<10} {:<10} STATE",
                "REPOSITORY", "TEMPLATE", "INSTALLED", "LATEST"
            );
            for r in &rows {
                if let Some(e) = &r.error {
                    let _ = writeln!(out, "{:<40} error: {e}", r.repo);
                    continue;
                }
                for t in r.report.iter().flat_map(|p| &p.templates) {
                    let _ = writeln!(
                        out,
                        "{:<40} {:<28} {:<10} {:<10} {}",
                        r.repo,
                        t.id,
                        t.installed.as_deref().unwrap_or("-"),
                        t.latest.as_deref().unwrap_or("removed"),
                        t.state().as_str(),
                    );
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Deploy or roll back: one command per repository through the one executor. With
/// `waves` and `templates.waves` set, a deploy goes wave by wave: the next wave starts once
/// every run the previous wave's commits triggered passed; a failed wave is rolled back
/// and the rollout stops.
async fn execute_cmd(
    ctx: &Ctx,
    action: Action,
    template: Option<String>,
    force: bool,
    waves: bool,
) -> Result<ExitCode, String> {
    // The repositories as GitHub describes them (id, default branch, archived), with the
    // policy the settings give each: `allow:` decides, as for HA's buttons.
    let mut views = Vec::new();
    let mut results: Vec<CommandResult> = Vec::new();
    for (i, r) in ctx.repos.iter().enumerate() {
        progress(i, ctx.repos.len(), "reading", &r.full_name());
        let meta = match &r.meta {
            Some(m) => Ok(m.clone()),
            None => remote::repository(&ctx.gh, &r.owner, &r.name).await,
        };
        match meta {
            Ok(repo) => {
                let policy = ctx
                    .settings
                    .github
                    .policy_for(&repo.owner, &repo.name)
                    .cloned()
                    .unwrap_or_default();
                views.push(RepoView::bare(repo, policy));
            }
            Err(e) => results.push(CommandResult::rejected(
                None,
                r.full_name(),
                action.to_string(),
                e.to_string(),
            )),
        }
    }
    let (store, worker) = Store::open(&ctx.settings.store.path).map_err(|e| {
        format!(
            "opening the store {}: {e}",
            ctx.settings.store.path.display()
        )
    })?;
    let worker = worker
        .spawn()
        .map_err(|e| format!("starting the store: {e}"))?;
    let names: Vec<(String, String)> = views
        .iter()
        .map(|v| (v.repo.owner.clone(), v.repo.name.clone()))
        .collect();
    let (results_tx, mut results_rx) = tokio::sync::mpsc::channel(names.len().max(1) + 1);
    let (mut executor, _handle) = commands::executor(
        ctx.gh.clone(),
        store,
        StateHandle::fixed(views),
        Arc::new(tokio::sync::Notify::new()),
        results_tx,
    );
    executor = executor.with_templates(Some(ctx.templates.clone()), None);
    let targets: Vec<TargetRepo> = names
        .iter()
        .map(|(owner, name)| TargetRepo {
            owner: owner.clone(),
            name: name.clone(),
            meta: None,
        })
        .collect();
    let no_waves: &[super::targets::Wave] = &[];
    let plan = waves::group(
        targets,
        if waves {
            &ctx.templates.waves
        } else {
            no_waves
        },
    );
    let gated = plan.len() > 1;
    // Repositories in the order they are deployed (wave by wave).
    let order: Vec<String> = plan
        .iter()
        .flat_map(|(_, m)| m.iter().map(TargetRepo::full_name))
        .collect();
    let total = names.len();
    let mut done = 0;
    let mut stopped_at = None;
    let mut wave_log: Vec<WaveOutcome> = Vec::new();
    let mut stopped_wave: Option<usize> = None;
    let command = |owner: &str, name: &str, action: Action| Command {
        source: CommandSource::Cli,
        owner: owner.to_string(),
        name: name.to_string(),
        action,
        params: Params {
            template: if action == Action::DeployTemplate {
                template.clone()
            } else {
                None
            },
            force: force.then_some(true),
            ..Params::default()
        },
    };
    'waves: for (wi, (wave_name, members)) in plan.iter().enumerate() {
        if gated {
            eprintln!("wave {}/{}: {wave_name}", wi + 1, plan.len());
        }
        let mut outcome = WaveOutcome {
            name: wave_name.clone(),
            repositories: members.iter().map(TargetRepo::full_name).collect(),
            gate: None,
            rolled_back: Vec::new(),
        };
        let first = results.len();
        for r in members {
            progress(done, total, action.as_str(), &r.full_name());
            done += 1;
            let result = executor.execute(command(&r.owner, &r.name, action)).await;
            while results_rx.try_recv().is_ok() {}
            results.push(result);
            // A rate limit mid-rollout stops cleanly: what is done is done (and a rerun finds
            // it up to date), the rest waits for the next run.
            if let Some(until) = ctx.gh.blocked_until() {
                stopped_at = Some((done, until));
                wave_log.push(outcome);
                break 'waves;
            }
        }
        // The last wave has nobody waiting on it.
        if !gated || wi + 1 == plan.len() {
            wave_log.push(outcome);
            continue;
        }
        eprintln!("waiting for the runs of wave {wave_name}");
        let verdict = waves::gate_wave(
            &ctx.gh,
            &results[first..],
            ctx.templates.wave_timeout,
            waves::gate_every(ctx.settings.github.poll_interval),
        )
        .await;
        let failed = matches!(verdict, waves::Gate::Failed(_));
        if failed {
            eprintln!("wave {wave_name} failed; rolling it back");
            let deployed: Vec<(String, String)> = results[first..]
                .iter()
                .filter(|r| r.ok && r.commit.is_some())
                .filter_map(|r| {
                    r.repo
                        .split_once('/')
                        .map(|(o, n)| (o.to_string(), n.to_string()))
                })
                .collect();
            for (owner, name) in deployed {
                let undo = executor
                    .execute(command(&owner, &name, Action::RollbackTemplate))
                    .await;
                while results_rx.try_recv().is_ok() {}
                outcome.rolled_back.push(undo);
            }
        }
        outcome.gate = Some(verdict);
        wave_log.push(outcome);
        if failed {
            stopped_wave = Some(wi + 1);
            break;
        }
    }
    drop(executor);
    let _ = worker.join();
    let failed = results.iter().filter(|r| !r.ok).count();
    let mut out = std::io::stdout().lock();
    match ctx.format {
        OutputFormat::Json => {
            let doc = json!({
                "results": results,
                "waves": if gated { json!(wave_log) } else { Value::Null },
                "stopped": stopped_at.map(|(done, until)| json!({
                    "reason": "GitHub rate limit",
                    "until": until,
                    "remaining": order[done..],
                })),
            });
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            );
        }
        OutputFormat::Text => {
            for r in &results {
                let mark = if r.ok { "ok    " } else { "FAILED" };
                let _ = writeln!(out, "{mark} {}: {}", r.repo, r.message);
                if let Some(url) = &r.url {
                    let _ = writeln!(out, "       {url}");
                }
            }
            if gated {
                for w in &wave_log {
                    let gate = match &w.gate {
                        Some(waves::Gate::Passed(m)) => format!("passed: {m}"),
                        Some(waves::Gate::Failed(m)) => format!("FAILED: {m}"),
                        None => "no gate (last wave)".into(),
                    };
                    let _ = writeln!(
                        out,
                        "wave {} ({}): {gate}",
                        w.name,
                        w.repositories.join(", ")
                    );
                    for r in &w.rolled_back {
                        let mark = if r.ok {
                            "rolled back"
                        } else {
                            "ROLLBACK FAILED"
                        };
                        let _ = writeln!(out, "  {mark} {}: {}", r.repo, r.message);
                    }
                }
                if let Some(n) = stopped_wave {
                    let rest: Vec<String> = plan[n..]
                        .iter()
                        .flat_map(|(_, m)| m.iter().map(TargetRepo::full_name))
                        .collect();
                    let _ = writeln!(
                        out,
                        "stopped: a wave failed; not started: {}",
                        if rest.is_empty() {
                            "nothing".to_string()
                        } else {
                            rest.join(", ")
                        }
                    );
                }
            }
            if let Some((done, until)) = stopped_at {
                let _ = writeln!(
                    out,
                    "stopped: GitHub's rate limit is reached until {}; not started: {}. Run the same command again then: finished repositories are skipped as up to date.",
                    until.format("%H:%M:%S UTC"),
                    order[done..].join(", ")
                );
            }
        }
    }
    Ok(
        if failed > 0 || stopped_at.is_some() || stopped_wave.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// What one wave did, for the report.
#[derive(Debug, Serialize)]
struct WaveOutcome {
    name: String,
    repositories: Vec<String>,
    /// `None` for the last wave (nothing waits on it) or a rollout stopped by the rate limit.
    #[serde(serialize_with = "gate_json")]
    gate: Option<waves::Gate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rolled_back: Vec<CommandResult>,
}

fn gate_json<S: serde::Serializer>(g: &Option<waves::Gate>, s: S) -> Result<S::Ok, S::Error> {
    match g {
        Some(waves::Gate::Passed(m)) => json!({"passed": true, "message": m}).serialize(s),
        Some(waves::Gate::Failed(m)) => json!({"passed": false, "message": m}).serialize(s),
        None => s.serialize_none(),
    }
}
