//! `fake-github` binary: serves `World::demo(now)` (or an empty world) for the README
//! demo and end-to-end tests, until SIGTERM or Ctrl-C. Arguments are parsed by hand to
//! keep the tool light.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use chrono::Utc;
use fake_github::{FakeGitHub, World};

const USAGE: &str = "\
usage: fake-github [--listen ADDR] [--token TOKEN] [--scenario demo|empty]

  --listen ADDR      address to serve on (default 127.0.0.1:8787; port 0 = any free port)
  --token TOKEN      token to accept (default: the demo token, printed on start)
  --scenario NAME    demo (default): the homelab-demo world as of now; empty: no repos
";

struct Args {
    listen: SocketAddr,
    token: Option<String>,
    scenario: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        listen: ([127, 0, 0, 1], 8787).into(),
        token: None,
        scenario: "demo".into(),
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                out.listen = v
                    .parse()
                    .map_err(|_| format!("--listen: not an address: {v}"))?;
            }
            "--token" => out.token = Some(value("--token")?),
            "--scenario" => out.scenario = value("--scenario")?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("fake-github: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut world = match args.scenario.as_str() {
        "demo" => World::demo(Utc::now()),
        "empty" => World::with_user("homelab-demo"),
        other => {
            eprintln!("fake-github: unknown scenario {other:?} (known: demo, empty)");
            return ExitCode::from(2);
        }
    };
    if let Some(t) = args.token {
        world.token = t;
    }
    let gh = match FakeGitHub::start_on(world, args.listen).await {
        Ok(gh) => gh,
        Err(e) => {
            eprintln!("fake-github: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("fake-github listening on {} token={}", gh.url(), gh.token());
    let _ = std::io::stdout().flush();

    wait_for_signal().await;
    gh.shutdown();
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
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
