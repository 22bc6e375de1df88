//! The main job on bundled example data, with nothing to install.
//!
//! Starts the bundled fake GitHub (a believable homelab: `homelab-demo/*` and `homelab-org/*`
//! with a week of workflow runs, served in GitHub's real payload shapes), then
//!
//! - by default: polls it once and prints every MQTT message the daemon would publish to
//!   Home Assistant (exactly what `gitops-bridge discovery` prints);
//! - with `--serve`: runs the daemon against it and an MQTT broker (settings from
//!   `examples/demo.yaml`, overridable with `GITOPS_BRIDGE__MQTT__HOST` and friends), until
//!   Ctrl-C. Point it at the broker your Home Assistant uses and the devices appear.
//!
//! ```sh
//! cargo run --example demo
//! GITOPS_BRIDGE__MQTT__USERNAME=me GITOPS_BRIDGE__MQTT__PASSWORD=… cargo run --example demo -- --serve
//! ```

use std::path::PathBuf;

use fake_github::{FakeGitHub, World};
use gitops_bridge::settings::{Settings, Sources};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let serve = std::env::args().any(|a| a == "--serve");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(if serve { "info" } else { "warn" })
            }),
        )
        .with_writer(std::io::stderr)
        .init();

    let github = FakeGitHub::start(World::demo(chrono::Utc::now())).await;
    eprintln!("fake GitHub serving the demo homelab at {}", github.url());

    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with(gitops_bridge::settings::ENV_PREFIX))
        .collect();
    env.push(("GITOPS_BRIDGE__GITHUB__API_URL".into(), github.url()));
    env.push(("GITOPS_BRIDGE__GITHUB__TOKEN".into(), github.token()));
    let store = std::env::temp_dir().join(format!("gitops-bridge-demo-{}.db", std::process::id()));
    env.push((
        "GITOPS_BRIDGE__STORE__PATH".into(),
        store.display().to_string(),
    ));
    let settings = Settings::load(&Sources {
        file: Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/demo.yaml"
        ))),
        addon_options: None,
        env,
    })?;

    if serve {
        eprintln!(
            "publishing to MQTT {}:{} as base topic `{}`; Ctrl-C to stop",
            settings.mqtt.host, settings.mqtt.port, settings.mqtt.base_topic
        );
        gitops_bridge::app::serve(settings, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    } else {
        gitops_bridge::app::discovery(settings, &mut std::io::stdout().lock()).await?;
    }
    let _ = std::fs::remove_file(&store);
    Ok(())
}
