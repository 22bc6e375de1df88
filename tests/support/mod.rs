//! Test harness: a real Mosquitto broker with a password file on a free loopback port, an MQTT
//! probe that records what a subscriber sees, and helpers to run the daemon in process or as
//! a child process against the fake GitHub.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio::task::JoinHandle;

pub const MQTT_USER: &str = "bridge";
pub const MQTT_PASS: &str = "s3cret-mqtt-pass";

/// The `gitops-bridge` binary, with no Supervisor token or `RUST_LOG` leaking in from the
/// environment that runs the tests.
pub fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-bridge"));
    c.env_remove("SUPERVISOR_TOKEN").env_remove("RUST_LOG");
    c
}

/// `git -C dir args…` with a fixed author, its trimmed standard output; a failure fails the
/// test with git's error.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `gitops-bridge VERB --config SETTINGS`'s standard output, run off the test's runtime (a
/// fake GitHub on that runtime must answer it); a failure fails the test with its stderr.
pub async fn cli_stdout(verb: &'static str, settings: &Path) -> String {
    let settings = settings.to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .arg(verb)
            .arg("--config")
            .arg(settings)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{verb} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A free TCP port on loopback (bound and released; the race is acceptable in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mosquitto_bin() -> PathBuf {
    for candidate in [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("mosquitto is not installed: run `apt-get install mosquitto` (see .ci/run)");
}

/// A real Mosquitto broker that requires a username and password.
pub struct Mosquitto {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// A private CA and a server certificate for 127.0.0.1, made with the `openssl` CLI.
pub struct TestCa {
    pub dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl is needed for TLS tests");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=gitops-bridge test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        std::fs::write(dir.path().join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n").unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        TestCa { dir }
    }
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

impl Mosquitto {
    /// A broker that speaks only TLS, with a certificate from `ca`.
    pub fn start_tls(ca: &TestCa) -> Mosquitto {
        let m = Mosquitto::start();
        let conf = m.dir.path().join("mosquitto.conf");
        let text = std::fs::read_to_string(&conf).unwrap();
        let d = ca.dir.path();
        let text = format!(
            "{text}cafile {}\ncertfile {}\nkeyfile {}\n",
            d.join("ca.pem").display(),
            d.join("server.pem").display(),
            d.join("server.key").display()
        );
        std::fs::write(&conf, text).unwrap();
        let mut m = m;
        m.restart();
        m
    }

    pub fn start() -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let passwd = dir.path().join("passwd");
        let status = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args([MQTT_USER, MQTT_PASS])
            .status()
            .expect("mosquitto_passwd (package mosquitto) is needed");
        assert!(status.success());
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence true\npersistence_location {}/\nuser root\nlog_dest stderr\n",
                passwd.display(),
                dir.path().display()
            ),
        )
        .unwrap();
        let mut m = Mosquitto {
            port,
            dir,
            child: None,
        };
        m.launch();
        m
    }

    fn launch(&mut self) {
        let child = Command::new(mosquitto_bin())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker (SIGKILL: no chance to save anything it had not saved).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restarts on the same port, like a broker add-on restart.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as a subscriber saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub at: Instant,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| {
            panic!(
                "{} is not JSON ({e}): {}",
                self.topic,
                String::from_utf8_lossy(&self.payload)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// A subscriber on `#` that records everything, like `mosquitto_sub -v -t '#'`.
pub struct Probe {
    pub client: AsyncClient,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Probe {
    pub async fn connect(port: u16, filter: &str) -> Probe {
        let mut options = MqttOptions::new(format!("probe-{}", rand_id()), "127.0.0.1", port);
        options.set_credentials(MQTT_USER, MQTT_PASS);
        // Large enough to send a command over the old 1 MiB limit.
        options.set_max_packet_size(4 << 20, 4 << 20);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready = Some(ready_tx);
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => sink.lock().unwrap().push(Seen {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                        retain: p.retain,
                        at: Instant::now(),
                    }),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .expect("probe subscription")
            .unwrap();
        Probe { client, seen, task }
    }

    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }

    /// The last message on each topic (what a new subscriber would get, for retained ones).
    pub fn latest(&self) -> HashMap<String, Seen> {
        let mut out = HashMap::new();
        for s in self.all() {
            out.insert(s.topic.clone(), s);
        }
        out
    }

    /// The discovery config of `device` (`gitops_bridge_repo_1`, `gitops_bridge_bridge`)
    /// once it is published, as JSON.
    pub async fn device_config(&self, device: &str) -> serde_json::Value {
        self.wait_for(
            &format!("homeassistant/device/{device}/config"),
            Duration::from_secs(20),
            |_| true,
        )
        .await
        .json()
    }

    /// Waits until a message on `topic` satisfies `pred`; returns it.
    pub async fn wait_for(
        &self,
        topic: &str,
        timeout: Duration,
        pred: impl Fn(&Seen) -> bool,
    ) -> Seen {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self
                .all()
                .into_iter()
                .rev()
                .find(|s| s.topic == topic && pred(s))
            {
                return s;
            }
            if Instant::now() > deadline {
                let topics: Vec<String> = self
                    .all()
                    .iter()
                    .map(|s| format!("{} {}", s.topic, s.text()))
                    .collect();
                panic!(
                    "no matching message on {topic} within {timeout:?}; seen:\n{}",
                    topics.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.into())
            .await
            .unwrap();
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.task.abort();
    }
}

/// Retained messages currently on the broker for `filter` (a fresh subscriber's view).
pub async fn retained(port: u16, filter: &str) -> HashMap<String, Seen> {
    let probe = Probe::connect(port, filter).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = probe
        .all()
        .into_iter()
        .filter(|s| s.retain)
        .map(|s| (s.topic.clone(), s))
        .collect();
    probe.disconnect().await;
    out
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    std::process::id() as u64 * 1000 + N.fetch_add(1, Ordering::Relaxed)
}

/// Settings YAML for the daemon against a fake GitHub and a broker.
pub struct Config {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Config {
    /// `repositories` and any `extra` YAML (appended under the top level) as given.
    pub fn write(
        github_url: &str,
        token: &str,
        mqtt_port: u16,
        repositories: &str,
        extra: &str,
    ) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.yaml");
        let yaml = format!(
            "github:\n  token: {token}\n  api_url: {github_url}\n  poll_interval: 1s\n  request_timeout: 3s\n  repositories:\n{repositories}\nmqtt:\n  host: 127.0.0.1\n  port: {mqtt_port}\n  username: {MQTT_USER}\n  password: {MQTT_PASS}\n  client_id: bridge-under-test-{}\nstore:\n  path: {}\nhttp:\n  listen: \"\"\n{extra}",
            rand_id(),
            dir.path().join("store.db").display()
        );
        std::fs::write(&path, yaml).unwrap();
        Config { dir, path }
    }

    pub fn settings(&self) -> gitops_bridge::settings::Settings {
        gitops_bridge::settings::Settings::load(&gitops_bridge::settings::Sources {
            file: Some(self.path.clone()),
            addon_options: None,
            env: vec![],
        })
        .unwrap()
    }
}

/// The daemon running inside the test process.
pub struct Daemon {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Daemon {
    pub fn start(settings: gitops_bridge::settings::Settings) -> Daemon {
        Daemon::spawn(settings, None)
    }

    /// With the HTTP server on a free loopback port; returns its base URL.
    pub async fn start_with_http(settings: gitops_bridge::settings::Settings) -> (Daemon, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        (Daemon::spawn(settings, Some(listener)), url)
    }

    fn spawn(
        settings: gitops_bridge::settings::Settings,
        listener: Option<tokio::net::TcpListener>,
    ) -> Daemon {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        // `TEST_LOG=gitops_bridge=debug cargo test …` shows the daemon's log with the test's output.
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(gitops_bridge::app::serve_with(
            settings,
            listener,
            async move {
                let _ = rx.await;
            },
        ));
        Daemon {
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Clean shutdown; returns what `serve` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(15), self.task.take().unwrap())
            .await
            .expect("the daemon shuts down within 15 s")
            .unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// The daemon as a child process (`gitops-bridge serve`), for kill -9 tests.
pub struct DaemonProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl DaemonProcess {
    /// With debug logs of our own crate (in the `.log` beside `config`), for tests.
    pub fn start(config: &Path) -> DaemonProcess {
        DaemonProcess::spawn(config, Some("gitops_bridge=debug"))
    }

    /// Logging as the settings' `log_level` says, as a user runs it (the benchmarks).
    pub fn start_as_configured(config: &Path) -> DaemonProcess {
        DaemonProcess::spawn(config, None)
    }

    /// `DAEMON_WRAPPER` (say `valgrind --tool=massif`) runs the daemon under a profiler.
    fn spawn(config: &Path, rust_log: Option<&str>) -> DaemonProcess {
        let log = config.with_extension("log");
        let wrapper = std::env::var("DAEMON_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut command = match words.next() {
            Some(tool) => {
                let mut c = Command::new(tool);
                c.args(words).arg(env!("CARGO_BIN_EXE_gitops-bridge"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_gitops-bridge")),
        };
        match rust_log {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
        let child = command
            .args(["serve", "--config"])
            .arg(config)
            .env_remove("SUPERVISOR_TOKEN")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        DaemonProcess { child, log }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe_free_sigterm(self.child.id());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn unsafe_free_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

pub mod lovelace;
pub mod rig;
pub mod webhook_load;
pub mod world;
