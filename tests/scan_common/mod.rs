//! Helpers for the `scan_*` tests: a planted repository with one case per scan code (each
//! line marked `plant:<code>[,<code>]`), its clean twin with the safe form of each case,
//! and generated secrets (random, so no real-looking secret is committed to this repository
//! and every run plants new values).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// A deterministic generator of secret-shaped strings (xorshift; seeded per test run).
pub struct Gen(u64);

impl Gen {
    pub fn new() -> Gen {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Gen(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// `n` characters drawn from `alphabet`.
    pub fn from(&mut self, alphabet: &str, n: usize) -> String {
        let a: Vec<char> = alphabet.chars().collect();
        (0..n)
            .map(|_| a[(self.next() % a.len() as u64) as usize])
            .collect()
    }

    pub fn alnum(&mut self, n: usize) -> String {
        self.from(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            n,
        )
    }
}

/// Unpadded base64url (JWT segments).
pub fn b64url(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The secrets planted in the repository, by name.
pub struct Secrets {
    pub values: Vec<(&'static str, String)>,
}

impl Secrets {
    pub fn new() -> Secrets {
        let mut g = Gen::new();
        let hex = "0123456789abcdef";
        let ha_payload = format!(
            r#"{{"iss":"{}","iat":1700000000,"exp":2015360000}}"#,
            g.from(hex, 32)
        );
        let ha_jwt = format!(
            "{}.{}.{}",
            b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64url(ha_payload.as_bytes()),
            g.from(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
                43
            )
        );
        let other_payload = format!(r#"{{"sub":"{}","aud":"api"}}"#, g.alnum(12));
        let other_jwt = format!(
            "{}.{}.{}",
            b64url(br#"{"alg":"RS256","typ":"JWT"}"#),
            b64url(other_payload.as_bytes()),
            g.from(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
                86
            )
        );
        let b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let key_body = g.from(b64, 70);
        let values = vec![
            ("ghp", format!("ghp_{}", g.alnum(36))),
            ("fine", format!("github_pat_{}", g.alnum(82))),
            ("ha_jwt", ha_jwt),
            ("other_jwt", other_jwt),
            (
                "aws",
                format!("AKIA{}", g.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
            ),
            (
                "google",
                format!(
                    "AIza{}",
                    g.from(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
                        35
                    )
                ),
            ),
            (
                "azure",
                format!(
                    "{}{}Q~{}",
                    g.alnum(3),
                    g.from("0123456789", 1),
                    g.from(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_~.-",
                        34
                    )
                ),
            ),
            (
                "slack",
                format!(
                    "T{}/B{}/{}",
                    g.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
                    g.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
                    g.alnum(24)
                ),
            ),
            (
                "discord",
                format!(
                    "{}/{}",
                    g.from("0123456789", 18),
                    g.from(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
                        68
                    )
                ),
            ),
            (
                "telegram",
                format!(
                    "{}:AA{}",
                    g.from("0123456789", 10),
                    g.from(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
                        33
                    )
                ),
            ),
            (
                "pushover",
                g.from("abcdefghijklmnopqrstuvwxyz0123456789", 30),
            ),
            ("url_pw", g.alnum(16)),
            ("http_pw", g.alnum(14)),
            ("query_pw", g.alnum(15)),
            ("inline_pw", g.alnum(14)),
            ("webhook", g.alnum(20)),
            ("key_body", key_body),
            ("secrets_yaml", g.alnum(18)),
            ("history", format!("ghp_{}", g.alnum(36))),
        ];
        Secrets { values }
    }

    pub fn get(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no planted secret {name}"))
    }

    /// Replaces `{name}` by the planted value.
    pub fn fill(&self, template: &str) -> String {
        let mut s = template.to_string();
        for (n, v) in &self.values {
            s = s.replace(&format!("{{{n}}}"), v);
        }
        s
    }
}

pub fn write(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, content).expect("write");
}

pub fn git(root: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "user.name=t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The planted repository (one case per code, each marked) at `root`.
pub fn planted(root: &Path, s: &Secrets) {
    let files: &[(&str, &str)] = &[
        (
            "configuration.yaml",
            r#"homeassistant:
  name: Test
  allowlist_external_dirs:
    - /   # plant:ha-allowlist-root
  auth_providers:
    - type: homeassistant
    - type: trusted_networks
      trusted_networks:
        - 0.0.0.0/0   # plant:auth-trusted-networks-wide
      allow_bypass_login: true
    - type: legacy_api_password   # plant:http-api-password
http: !include http.yaml
recorder:
  db_url: mysql://hass:{url_pw}@db.lan/ha   # plant:secret-url-password
shell_command: !include shell.yaml
automation: !include automations.yaml
command_line:
  - sensor:
      command: "bash -c 'echo {{ states(\"input_text.x\") }}'"   # plant:ha-command-template
notify:
  - platform: pushover
    api_key: {pushover}   # plant:secret-pushover-key
    user_key: !secret pushover_user
telegram_bot:
  - platform: polling
    api_key: "{telegram}"   # plant:secret-telegram-bot-token
rest_command:
  gh:
    url: https://api.github.com/user
    headers:
      authorization: "token {ghp}"   # plant:secret-github-token
  fine:
    url: https://api.github.com/user
    headers:
      authorization: "Bearer {fine}"   # plant:secret-github-token
  ha:
    url: https://ha.lan/api/states
    headers:
      authorization: "Bearer {ha_jwt}"   # plant:secret-ha-token
  other:
    url: https://api.example.org/
    headers:
      authorization: "Bearer {other_jwt}"   # plant:secret-jwt
  cam:
    url: http://admin:{http_pw}@cam.lan/snapshot.jpg   # plant:secret-url-password,ha-plaintext-credentials
  panel:
    url: "http://panel.lan:2323/?cmd=start&password={query_pw}"   # plant:ha-plaintext-credentials
sensor:
  - platform: aws_thing
    access_key: {aws}   # plant:secret-aws-key
  - platform: google_thing
    api_key: {google}   # plant:secret-google-api-key
  - platform: azure_thing
    client_secret: "{azure}"   # plant:secret-azure-key
  - platform: mqtt_thing
    password: {inline_pw}   # plant:secret-inline
"#,
        ),
        (
            "http.yaml",
            r#"use_x_forwarded_for: true   # plant:http-forwarded-without-proxies
cors_allowed_origins:
  - "*"   # plant:http-cors-wildcard
ip_ban_enabled: false   # plant:http-ip-ban-disabled
login_attempts_threshold: -1   # plant:http-ip-ban-disabled
ssl_certificate: /ssl/fullchain.pem   # plant:http-ssl-incomplete
"#,
        ),
        (
            "shell.yaml",
            "open_gate: \"curl -s https://gate.lan/open --data {{ code }}\"   # plant:ha-command-template\n",
        ),
        (
            "automations.yaml",
            r#"- alias: hook
  trigger:
    - platform: webhook
      webhook_id: {webhook}   # plant:secret-inline-webhook-id
      local_only: false   # plant:ha-webhook-public
  action: []
"#,
        ),
        (
            "notes.md",
            r#"# Notes
Slack: https://hooks.slack.com/services/{slack} <!-- plant:secret-slack -->
Discord: https://discord.com/api/webhooks/{discord} <!-- plant:secret-discord-webhook -->
"#,
        ),
        (
            "ssh/id_ed25519",
            "-----BEGIN OPENSSH PRIVATE KEY----- plant:secret-private-key\n{key_body}\n{key_body}\n-----END OPENSSH PRIVATE KEY-----\n",
        ),
        (
            "proxy/configuration.yaml.txt",
            "not scanned as HA: a text file\n",
        ),
        (
            ".github/workflows/ci.yml",
            r#"name: ci
on:
  pull_request_target:
  issues:
permissions: write-all   # plant:workflow-permissions-write-all
jobs:
  build:
    runs-on: [self-hosted, linux]   # plant:workflow-self-hosted-pr
    steps:
      - uses: actions/checkout@v4   # plant:workflow-checkout-credentials
        with:
          ref: ${{ github.event.pull_request.head.sha }}   # plant:workflow-pr-target-checkout
      - uses: tj-actions/changed-files@v45   # plant:workflow-unpinned-action,dependency-compromised
      - run: |
          echo "${{ github.event.issue.title }}"   # plant:workflow-template-injection
      - uses: actions/github-script@v7
        with:
          script: |
            console.log("${{ github.head_ref }}")   // plant:workflow-template-injection
      - run: git checkout "${{ github.event.client_payload.branch }}"   # plant:workflow-template-injection
      - uses: actions/upload-artifact@v4
  call:
    uses: someone/workflows/.github/workflows/x.yml@main   # plant:workflow-unpinned-action
    secrets: inherit   # plant:workflow-secrets-inherit
"#,
        ),
        (
            ".github/workflows/nightly.yml",
            r#"name: nightly
on: push
jobs:
  lint:   # plant:workflow-permissions-missing
    runs-on: ubuntu-latest
    steps:
      - run: echo ok
"#,
        ),
    ];
    for (rel, content) in files {
        write(root, rel, &s.fill(content));
    }
}

/// The second planted repository: the cases that exclude one in the first
/// (`trusted_proxies` present), `secrets.yaml` committed, and the git history.
pub fn planted_git(root: &Path, s: &Secrets) {
    write(
        root,
        "configuration.yaml",
        r#"http:
  use_x_forwarded_for: true
  trusted_proxies:
    - 0.0.0.0/0   # plant:http-trusted-proxies-all
  api_password: !secret api_password   # plant:http-api-password
"#,
    );
    write(
        root,
        "secrets.yaml",
        &s.fill("api_password: {secrets_yaml}\n"),
    );
    write(root, "old.yaml", &s.fill("token: {history}\n"));
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-qm", "first"]);
    git(root, &["rm", "-q", "old.yaml"]);
    git(root, &["commit", "-qm", "remove the token"]);
    write(root, "sub/secrets.yaml", "x: 1\n");
}

/// The clean twin: each planted case in its safe or placeholder form.
pub fn clean(root: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "configuration.yaml",
            r#"homeassistant:
  name: Test
  allowlist_external_dirs:
    - /config/www/snapshots
  auth_providers:
    - type: homeassistant
    - type: trusted_networks
      trusted_networks:
        - 192.168.1.0/24
        - fd00::/8
      allow_bypass_login: true
http: !include http.yaml
recorder:
  db_url: !secret db_url
mqtt_example:
  url: mqtt://user:${MQTT_PASSWORD}@broker.lan
  other: mqtt://ha:{{ states('input_text.pw') }}@broker.lan
  doc: https://user:password@example.com/
shell_command: !include shell.yaml
automation: !include automations.yaml
command_line:
  - sensor:
      command: "cat /sys/class/thermal/thermal_zone0/temp"
notify:
  - platform: pushover
    api_key: !secret pushover_api
    user_key: YOUR_USER_KEY
telegram_bot:
  - platform: polling
    api_key: !secret telegram_token
rest_command:
  gh:
    url: https://api.github.com/user
    headers:
      authorization: "token ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
  ha:
    url: https://ha.lan/api/states
    headers:
      authorization: "Bearer <your long-lived access token>"
  jwtio:
    headers:
      authorization: "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
  panel:
    url: "http://panel.lan:2323/?cmd=start&password=REDACTED"
  cam:
    url: https://cam.lan/snapshot.jpg
    username: admin
    password: !secret cam_password
sensor:
  - platform: aws_thing
    access_key: AKIAIOSFODNN7EXAMPLE
  - platform: google_thing
    api_key: "{{ states('input_text.key') }}"
  - platform: azure_thing
    client_secret: !env_var AZURE_SECRET
  - platform: mqtt_thing
    password: changeme
    token: <your token>
    api_key: xxx
    secret: SECRET
    client_secret: !secret client_secret
"#,
        ),
        (
            "http.yaml",
            r#"use_x_forwarded_for: true
trusted_proxies:
  - 172.30.33.0/24
  - 127.0.0.1
cors_allowed_origins:
  - https://my.app.example
login_attempts_threshold: 5
ssl_certificate: /ssl/fullchain.pem
ssl_key: /ssl/privkey.pem
"#,
        ),
        (
            "shell.yaml",
            "restart_thing: \"curl -s https://thing.lan/restart\"\n",
        ),
        (
            "automations.yaml",
            r#"- alias: hook
  trigger:
    - platform: webhook
      webhook_id: !secret hook_id
      local_only: true
  action: []
"#,
        ),
        (
            "notes.md",
            "# Notes\nSlack: https://hooks.slack.com/services/YOUR/WEBHOOK/URL\nDiscord: https://discord.com/api/webhooks/<id>/<token>\n",
        ),
        (
            "ssh/README",
            "-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n",
        ),
        (
            "custom_components/cam/services.yaml",
            "snap:\n  fields:\n    url:\n      example: rtsp://rtsp:12345678@192.168.1.123:554/av\n",
        ),
        (".gitignore", "secrets.yaml\n"),
        (
            "secrets.yaml",
            "db_url: sqlite:////config/home-assistant_v2.db\n",
        ),
        (
            "secrets.fake.yaml",
            "db_url: mysql://user:FAKE_PASSWORD@db.lan/ha\ncam_password: hunter2hunter\n",
        ),
        (
            ".github/workflows/ci.yml",
            r#"name: ci
on:
  pull_request:
  issues:
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: tj-actions/changed-files@2f7c5bfce28377bc069a65ba478de0a74aa0ca32 # v46.0.1
      - run: echo "$TITLE"
        env:
          TITLE: ${{ github.event.issue.title }}
      - run: git checkout "$BRANCH"
        env:
          BRANCH: ${{ github.event.client_payload.branch }}
      - uses: actions/github-script@v7
        with:
          script: console.log(process.env.REF)
      - uses: actions/upload-artifact@v4
  call:
    uses: someone/workflows/.github/workflows/x.yml@8f4b7f84864484a7bf31766abe9204da3cbe65b3 # v1
    secrets:
      token: ${{ secrets.TOKEN }}
"#,
        ),
    ];
    for (rel, content) in files {
        write(root, rel, content);
    }
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-qm", "clean"]);
}

/// `(file, line, code)` for every `plant:` marker under `root`.
pub fn markers(root: &Path) -> Vec<(String, u32, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            for (i, line) in text.lines().enumerate() {
                if let Some(idx) = line.find("plant:") {
                    let codes = line[idx + 6..]
                        .split(|c: char| c.is_whitespace())
                        .next()
                        .unwrap_or("");
                    for c in codes.split(',') {
                        out.push((rel.clone(), i as u32 + 1, c.to_string()));
                    }
                }
            }
        }
    }
    out.sort();
    out
}
