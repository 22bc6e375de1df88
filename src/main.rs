//! The `gitops-bridge` command line: parse, set up logging, call into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gitops_bridge::settings::{self, Settings, Sources};

#[derive(Debug, Parser)]
#[command(
    name = "gitops-bridge",
    version,
    about = "GitHub Actions in Home Assistant, over MQTT"
)]
struct Cli {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// Settings file (YAML). Add-on options and GITOPS_BRIDGE__* variables override it.
    #[arg(long, short, env = "GITOPS_BRIDGE_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Run the daemon: watch GitHub, publish to Home Assistant over MQTT.
    Serve(ConfigArg),
    /// Poll GitHub once and print every MQTT message the daemon would publish.
    Discovery(ConfigArg),
    /// Poll GitHub once and print a Lovelace dashboard (YAML) for these repositories.
    Dashboard(DashboardArgs),
    /// Validate a Home Assistant configuration directory.
    Check(gitops_bridge::validate::CheckArgs),
    /// Scan a repository for leaked secrets, risky HA settings and unsafe workflows.
    Scan(gitops_bridge::scan::ScanArgs),
    /// Workflow templates: list, render, plan, deploy, status, rollback.
    Templates(gitops_bridge::deploy::TemplatesArgs),
    /// Deploy the Home Assistant configuration from its repository once (`config_deploy:`).
    DeployConfig(DeployConfigArgs),
    /// Exit 0 when the daemon's HTTP server answers `/healthz` (for Docker's HEALTHCHECK).
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, clap::Args)]
struct DashboardArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The dashboard's title (and its view's).
    #[arg(long, default_value = "GitOps")]
    title: String,
}

#[derive(Debug, clap::Args)]
struct DeployConfigArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Deploy exactly this commit (default: the branch head).
    #[arg(long)]
    commit: Option<String>,
}

/// What `daemon` runs once the settings are loaded.
enum Job {
    Serve,
    Discovery,
    Dashboard { title: String },
    DeployConfig { commit: Option<String> },
}

#[derive(Debug, clap::Args)]
struct HealthcheckArgs {
    /// The health endpoint to ask.
    #[arg(long, default_value = "http://127.0.0.1:8099/healthz")]
    url: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.verb {
        Verb::Serve(args) => daemon(args, Job::Serve),
        Verb::Discovery(args) => daemon(args, Job::Discovery),
        Verb::Dashboard(args) => daemon(args.config, Job::Dashboard { title: args.title }),
        Verb::DeployConfig(args) => daemon(
            args.config,
            Job::DeployConfig {
                commit: args.commit,
            },
        ),
        Verb::Check(args) if args.security => gitops_bridge::scan::check_cli(&args),
        Verb::Check(args) => gitops_bridge::validate::run(&args),
        Verb::Scan(args) => gitops_bridge::scan::run(&args),
        Verb::Templates(args) => gitops_bridge::deploy::run(&args),
        Verb::Healthcheck(args) => healthcheck(&args.url),
    }
}

/// Liveness only: a broker or GitHub outage must not make Docker restart the container.
fn healthcheck(url: &str) -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(1);
    };
    let result = runtime.block_on(async {
        reqwest::Client::new()
            .get(url)
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
    });
    match result {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("gitops-bridge healthcheck: {url} answered {}", r.status());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("gitops-bridge healthcheck: {url}: {e}");
            ExitCode::from(1)
        }
    }
}

/// Loads settings and runs `serve`, `discovery` or `dashboard`.
fn daemon(args: ConfigArg, job: Job) -> ExitCode {
    // reqwest and rumqttc both use rustls: install one process-wide crypto provider up front.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let settings = match Settings::load(&Sources::from_process(args.config)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gitops-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings.log_level);
    gitops_bridge::memory::limit_arenas();
    // Two workers whatever the host's core count: the daemon waits on the network, and each
    // worker costs a stack and an allocator arena.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gitops-bridge: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        let mut settings = settings;
        let token = std::env::var("SUPERVISOR_TOKEN").ok();
        if settings::apply_supervisor_mqtt(
            &mut settings.mqtt,
            "http://supervisor",
            token.as_deref(),
        )
        .await?
        {
            tracing::info!(
                "MQTT broker from the Supervisor: {}:{}",
                settings.mqtt.host,
                settings.mqtt.port
            );
        }
        match job {
            Job::Serve => gitops_bridge::app::serve(settings, shutdown_signal()).await,
            Job::Discovery => {
                gitops_bridge::app::discovery(settings, &mut std::io::stdout().lock()).await
            }
            Job::Dashboard { title } => {
                let polled = gitops_bridge::app::poll_once(&settings).await?;
                let repos: Vec<_> = polled.repos.iter().map(|(v, c)| (v, c)).collect();
                let dashboard = gitops_bridge::lovelace::dashboard(&title, &polled.bridge, &repos);
                print!("{}", gitops_bridge::lovelace::to_yaml(&dashboard));
                Ok(())
            }
            Job::DeployConfig { commit } => {
                match gitops_bridge::config_deploy::cli::run(&settings, commit.as_deref()).await? {
                    true => Ok(()),
                    false => Err(NotDeployed.into()),
                }
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<NotDeployed>() => ExitCode::from(1),
        Err(e) => {
            eprintln!("gitops-bridge: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `deploy-config` ran, and the deployment did not succeed (its line says why): exit 1.
#[derive(Debug)]
struct NotDeployed;

impl std::fmt::Display for NotDeployed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not deployed")
    }
}

impl std::error::Error for NotDeployed {}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colour only for a person at a terminal: files, pipes and the add-on log get plain text.
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

/// Completes on SIGTERM (Docker, the Supervisor) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
