//! The daemon under test, wired to a real Mosquitto (with a password), the fake GitHub and an
//! MQTT probe: what the command, GitHub-error and API tests share. Each test file adds the
//! helpers it needs in its own `impl Rig` block, and waits for the state it starts from.

use fake_github::{FakeGitHub, World};

use super::{Config, Daemon, Mosquitto, Probe};

pub struct Rig {
    pub broker: Mosquitto,
    pub gh: FakeGitHub,
    /// Subscribed before the daemon starts, so it sees every message.
    pub probe: Probe,
    pub daemon: Option<Daemon>,
    pub cfg: Config,
    /// The daemon's HTTP base URL, when started with HTTP.
    pub url: String,
    pub http: reqwest::Client,
}

impl Rig {
    /// Starts the broker, the fake GitHub serving `world`, a probe on `probe_filter`, and the
    /// daemon watching `repositories` (settings YAML lines). `edit` may rewrite the settings
    /// file first; with `http`, the daemon serves HTTP on a free port.
    pub async fn launch(
        world: World,
        repositories: &str,
        probe_filter: &str,
        edit: impl FnOnce(String) -> String,
        http: bool,
    ) -> Rig {
        let broker = Mosquitto::start();
        let gh = FakeGitHub::start(world).await;
        let cfg = Config::write(&gh.url(), &gh.token(), broker.port, repositories, "");
        let text = std::fs::read_to_string(&cfg.path).unwrap();
        std::fs::write(&cfg.path, edit(text)).unwrap();
        let probe = Probe::connect(broker.port, probe_filter).await;
        let (daemon, url) = if http {
            Daemon::start_with_http(cfg.settings()).await
        } else {
            (Daemon::start(cfg.settings()), String::new())
        };
        Rig {
            broker,
            gh,
            probe,
            daemon: Some(daemon),
            cfg,
            url,
            http: reqwest::Client::new(),
        }
    }

    /// Stops the daemon cleanly; a daemon that died during the test fails it here.
    pub async fn stop(mut self) {
        self.daemon
            .take()
            .unwrap()
            .stop()
            .await
            .expect("the daemon kept running and stops cleanly");
    }
}
