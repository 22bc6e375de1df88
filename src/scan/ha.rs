//! Home Assistant settings audit on the configuration as HA loads it: `configuration.yaml`
//! with its includes and packages, through `check`'s loader (so `http: !include http.yaml`
//! and a package's `shell_command:` are seen where they are written).
//!
//! Sources: HA's `http` integration docs (<https://www.home-assistant.io/integrations/http/>),
//! auth providers (<https://www.home-assistant.io/docs/authentication/providers/>),
//! `homeassistant:` basic settings (<https://www.home-assistant.io/integrations/homeassistant/>),
//! `shell_command` (<https://www.home-assistant.io/integrations/shell_command/>),
//! webhook triggers (<https://www.home-assistant.io/docs/automation/trigger/#webhook-trigger>).

use std::net::IpAddr;
use std::path::Path;

use super::Finding;
use crate::validate::loader::{FileRole, Loaded, Loader};
use crate::validate::yaml::{Kind, Node};
use crate::validate::{Code, LoadedConfig, SecretsMode, config_folder, domains, packages};

/// Where findings go, with paths relative to the scan root.
struct Audit<'a> {
    ld: &'a Loader,
    prefix: Option<String>,
    out: &'a mut Vec<Finding>,
}

impl Audit<'_> {
    fn push(&mut self, code: Code, at: &Node, message: String, hint: &str, subject: &str) {
        let rel = self.ld.sources.get(at.pos.file).rel.clone();
        let file = match &self.prefix {
            Some(p) => format!("{p}/{rel}"),
            None => rel,
        };
        self.out.push(Finding::new(
            code,
            &file,
            at.pos.line,
            at.pos.col,
            message,
            hint,
            subject,
        ));
    }
}

/// Audits the configuration under `root` (or the one sub-folder holding it), loading it
/// with `check`'s loader. Returns the number of files loaded.
pub fn audit(root: &Path, out: &mut Vec<Finding>) -> usize {
    let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let (dir, prefix) = match config_folder(&abs) {
        Ok(Some(sub)) => (abs.join(&sub), Some(sub)),
        Ok(None) => (abs, None),
        Err(_) => return 0,
    };
    let mut ld = Loader::new(&dir, SecretsMode::Placeholder);
    let custom = domains::CustomComponents::scan(&dir);
    let Loaded::Ok(Some(mut config)) = ld.load(&dir.join("configuration.yaml"), FileRole::Config)
    else {
        return ld.loaded.len();
    };
    packages::merge(&mut config, &mut ld, &custom);
    audit_loaded(
        &LoadedConfig {
            config: &config,
            loader: &ld,
            prefix: prefix.as_deref(),
        },
        out,
    );
    ld.loaded.len()
}

/// Audits a configuration `check` has loaded already (one load for both passes).
pub fn audit_loaded(loaded: &LoadedConfig, out: &mut Vec<Finding>) {
    let config = loaded.config;
    let mut a = Audit {
        ld: loaded.loader,
        prefix: loaded.prefix.map(str::to_string),
        out,
    };
    if let Some(http) = config.get("http") {
        http_rules(http, &mut a);
    }
    if let Some(ha) = config.get("homeassistant") {
        homeassistant_rules(ha, &mut a);
    }
    for (k, v) in config.as_map().unwrap_or(&[]) {
        let key = k.key_text().unwrap_or_default();
        let domain = key.split_whitespace().next().unwrap_or("");
        if domain == "shell_command" {
            for (_, cmd) in v.as_map().unwrap_or(&[]) {
                command(cmd, "shell_command", &mut a);
            }
        }
        if domain == "command_line" {
            command_line(v, &mut a);
        }
    }
    webhooks(config, &mut a);
}

fn truthy(n: &Node) -> Option<bool> {
    match &n.kind {
        Kind::Bool(b) => Some(*b),
        _ => None,
    }
}

fn strings(n: &Node) -> Vec<&Node> {
    match &n.kind {
        Kind::Str(..) => vec![n],
        Kind::Seq(items) => items.iter().filter(|i| i.as_str().is_some()).collect(),
        _ => Vec::new(),
    }
}

/// A network (`10.0.0.0/8`, `::/0`, a bare address) that covers everything or any public
/// address. Private, loopback and link-local ranges are fine.
fn wide(net: &str) -> bool {
    let (addr, len) = match net.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok()),
        None => (net, None),
    };
    let Ok(ip) = addr.trim().parse::<IpAddr>() else {
        return false;
    };
    match ip {
        IpAddr::V4(v4) => {
            let len = len.unwrap_or(32);
            let private = v4.is_private() || v4.is_loopback() || v4.is_link_local()
                // 100.64.0.0/10 carrier-grade NAT, used by Tailscale
                || (v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]));
            // A range wider than the private block it starts in leaves it.
            let min_len = match v4.octets()[0] {
                10 => 8,
                172 => 12,
                192 => 16,
                127 => 8,
                169 => 16,
                100 => 10,
                _ => 33,
            };
            !private || len < min_len
        }
        IpAddr::V6(v6) => {
            let len = len.unwrap_or(128);
            let seg = v6.segments()[0];
            let local = v6.is_loopback()
                || (seg & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg & 0xffc0) == 0xfe80; // link local
            !local || len < 7
        }
    }
}

fn http_rules(http: &Node, a: &mut Audit) {
    let forwarded = http.get("use_x_forwarded_for");
    let proxies = http.get("trusted_proxies");
    if let Some(f) = forwarded
        && truthy(f) == Some(true)
        && proxies.is_none()
    {
        a.push(
            Code::HttpForwardedWithoutProxies,
            f,
            "`use_x_forwarded_for: true` without `trusted_proxies`".into(),
            "list your reverse proxy's address under `trusted_proxies` (HA requires both together; only listed proxies may set X-Forwarded-For)",
            "use_x_forwarded_for",
        );
    }
    if let Some(p) = proxies {
        for n in strings(p) {
            let s = n.as_str().unwrap_or("");
            if wide(s) {
                a.push(
                    Code::HttpTrustedProxiesAll,
                    n,
                    format!("`trusted_proxies` includes `{s}`: any client in it can claim any source address"),
                    "list only the reverse proxy's own address (e.g. 172.30.33.0/24 for an add-on proxy)",
                    s,
                );
            }
        }
    }
    if let Some(c) = http.get("cors_allowed_origins") {
        for n in strings(c) {
            if n.as_str() == Some("*") {
                a.push(
                    Code::HttpCorsWildcard,
                    n,
                    "`cors_allowed_origins` contains `*`: every web site may call the API from a visitor's browser".into(),
                    "list the exact origins that need the API (`https://my.app.example`)",
                    "*",
                );
            }
        }
    }
    if let Some(b) = http.get("ip_ban_enabled")
        && truthy(b) == Some(false)
    {
        a.push(
            Code::HttpIpBanDisabled,
            b,
            "`ip_ban_enabled: false`: failed logins never ban the client".into(),
            "remove the line (bans are on by default) and set `login_attempts_threshold` to a small number such as 5",
            "ip_ban_enabled",
        );
    }
    if let Some(t) = http.get("login_attempts_threshold")
        && matches!(t.kind, Kind::Int(-1))
    {
        a.push(
            Code::HttpIpBanDisabled,
            t,
            "`login_attempts_threshold: -1`: unlimited login attempts (no automatic ban)".into(),
            "set `login_attempts_threshold` to a small number such as 5",
            "login_attempts_threshold",
        );
    }
    if let Some(p) = http.get("api_password") {
        a.push(
            Code::HttpApiPassword,
            p,
            "`http: api_password`: removed in HA 0.90, and a password in the configuration".into(),
            "remove it; use long-lived access tokens for API clients",
            "api_password",
        );
    }
    let cert = http.get("ssl_certificate");
    let key = http.get("ssl_key");
    if let (Some(c), None) | (None, Some(c)) = (cert, key) {
        let (have, missing) = if cert.is_some() {
            ("ssl_certificate", "ssl_key")
        } else {
            ("ssl_key", "ssl_certificate")
        };
        a.push(
            Code::HttpSslIncomplete,
            c,
            format!("`{have}` without `{missing}`: HA cannot start its HTTPS server"),
            "set both `ssl_certificate` and `ssl_key` (or neither, behind a TLS-terminating proxy)",
            have,
        );
    }
}

fn homeassistant_rules(ha: &Node, a: &mut Audit) {
    for key in ["allowlist_external_dirs", "whitelist_external_dirs"] {
        if let Some(dirs) = ha.get(key) {
            for n in strings(dirs) {
                if n.as_str().map(|s| s.trim_end_matches('/')) == Some("") {
                    a.push(
                        Code::HaAllowlistRoot,
                        n,
                        format!("`{key}` contains `/`: integrations may read and send any file, secrets.yaml and .storage included"),
                        "list only the folders integrations need (`/config/www/snapshots`)",
                        key,
                    );
                }
            }
        }
    }
    let Some(providers) = ha.get("auth_providers").and_then(Node::as_seq) else {
        return;
    };
    for p in providers {
        match p.get("type").and_then(Node::as_str) {
            Some("legacy_api_password") => a.push(
                Code::HttpApiPassword,
                p,
                "`legacy_api_password` auth provider: removed in HA 2024.6, and a password in the configuration".into(),
                "remove the provider; use long-lived access tokens for API clients",
                "legacy_api_password",
            ),
            Some("trusted_networks") => {
                let bypass = p.get("allow_bypass_login").and_then(truthy) == Some(true);
                for n in p.get("trusted_networks").map(strings).unwrap_or_default() {
                    let s = n.as_str().unwrap_or("");
                    if wide(s) {
                        let extra = if bypass {
                            " and `allow_bypass_login` skips even the login page"
                        } else {
                            ""
                        };
                        a.push(
                            Code::AuthTrustedNetworksWide,
                            n,
                            format!("`trusted_networks` includes `{s}`: anyone there logs in without a password{extra}"),
                            "list only your LAN (`192.168.1.0/24`), never public ranges or 0.0.0.0/0; drop `allow_bypass_login`",
                            s,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// Template names whose values come from outside: the caller's data, states people can
/// set, trigger payloads.
fn untrusted_template(cmd: &str) -> bool {
    let Some(i) = cmd.find("{{").or_else(|| cmd.find("{%")) else {
        return false;
    };
    let t = &cmd[i..];
    // Any template variable is data from the action call (`data:`), a trigger or a state;
    // constants-only templates (`{{ 5 }}`) are rare and harmless.
    t.chars().any(|c| c.is_ascii_alphabetic())
}

fn command(cmd: &Node, domain: &str, a: &mut Audit) {
    let Some(s) = cmd.as_str() else { return };
    if !untrusted_template(s) {
        return;
    }
    let shell = ["sh -c", "bash -c", "ash -c", "zsh -c", "eval "]
        .iter()
        .any(|m| s.contains(m));
    let how = if shell {
        "and passes it to a shell (`-c`): a value with `;` or `$(…)` runs its own command"
    } else {
        "as arguments: a value can add options or paths the command did not expect"
    };
    a.push(
        Code::HaCommandTemplate,
        cmd,
        format!("`{domain}` renders a template into the command line {how}"),
        "pass only values you control; validate them first (a `choose` on allowed values), and never build a shell string from trigger, webhook or input_text data",
        s,
    );
}

fn command_line(v: &Node, a: &mut Audit) {
    for item in v.as_seq().unwrap_or(&[]) {
        for (_, ent) in item.as_map().unwrap_or(&[]) {
            if let Some(c) = ent.get("command") {
                command(c, "command_line", a);
            }
        }
    }
}

/// Webhook triggers with `local_only: false`, anywhere in the configuration.
fn webhooks(n: &Node, a: &mut Audit) {
    match &n.kind {
        Kind::Map(entries) => {
            let kind = n
                .get("trigger")
                .or_else(|| n.get("platform"))
                .and_then(Node::as_str);
            if kind == Some("webhook")
                && let Some(l) = n.get("local_only")
                && truthy(l) == Some(false)
            {
                a.push(
                    Code::HaWebhookPublic,
                    l,
                    "webhook trigger with `local_only: false`: anyone on the internet who knows the id can fire it".into(),
                    "keep `local_only: true` unless an outside service must call it; then use a long random `webhook_id` from `!secret` and check the payload",
                    n.get("webhook_id").and_then(Node::as_str).unwrap_or("webhook"),
                );
            }
            for (_, v) in entries {
                webhooks(v, a);
            }
        }
        Kind::Seq(items) => {
            for i in items {
                webhooks(i, a);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_networks() {
        for w in ["0.0.0.0/0", "::/0", "8.8.8.8", "10.0.0.0/7", "1.2.3.0/24"] {
            assert!(wide(w), "{w}");
        }
        for n in [
            "192.168.1.0/24",
            "10.0.0.0/8",
            "172.30.33.0/24",
            "127.0.0.1",
            "fd00::/8",
            "100.64.0.0/10",
        ] {
            assert!(!wide(n), "{n}");
        }
    }
}
