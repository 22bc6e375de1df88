//! Secrets: token shapes in every text file, credentials written inline in YAML where HA
//! offers `!secret`, and `secrets.yaml` committed to git.
//!
//! The shapes follow gitleaks' rules (<https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml>);
//! each rule below names its source. A value is never kept in a finding: only
//! [`redact`]ed, plus a [`fingerprint`]. Placeholders (`changeme`, `<your token>`, `xxx`,
//! templates, `${VAR}`) are not findings, so a public configuration with good habits
//! scans clean.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::{Finding, TextFile, redact};
use crate::validate::Code;
use crate::validate::source::FileId;
use crate::validate::yaml::{self, Kind, Node};

/// A token shape.
struct Rule {
    code: Code,
    /// What it is, for the message.
    what: &'static str,
    /// Capture group 1 (or the whole match) is the secret.
    re: Regex,
    /// Literals one of which every match contains: a cheap test before the regex.
    anchors: &'static [&'static str],
    /// Characters of the secret that may be shown (a fixed, public prefix).
    keep: usize,
    /// Minimum Shannon entropy (bits per character) of the secret; gitleaks' thresholds.
    entropy: f64,
    hint: &'static str,
}

const ROTATE: &str = "revoke the token where it was issued (it is public now), then keep the new one in secrets.yaml and write `!secret name`";

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let r = |code, what, re: &str, keep, entropy, hint| Rule {
        code,
        what,
        re: Regex::new(re).unwrap_or_else(|e| panic!("built-in pattern {re}: {e}")),
        anchors: anchors(code, re),
        keep,
        entropy,
        hint,
    };
    vec![
        // gitleaks github-pat, github-fine-grained-pat, github-oauth, github-app-token,
        // github-refresh-token (config/gitleaks.toml, v8.30).
        r(
            Code::SecretGithubToken,
            "GitHub token",
            r"(?-u:\b)((?:ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36}|github_pat_[0-9A-Za-z_]{82})(?-u:\b)",
            4,
            3.0,
            "revoke it at https://github.com/settings/tokens (GitHub also revokes tokens it finds in public repositories), then use a repository or Actions secret",
        ),
        // gitleaks jwt; HA's access token shape: homeassistant/auth/__init__.py
        // async_create_access_token (HS256, claims iss/iat/exp).
        r(
            Code::SecretJwt,
            "JSON Web Token",
            r"(?-u:\b)(ey[A-Za-z0-9]{17,}\.ey[A-Za-z0-9/\\_-]{17,}\.[A-Za-z0-9/\\_-]{10,}={0,2})",
            3,
            3.0,
            ROTATE,
        ),
        // gitleaks aws-access-token.
        r(
            Code::SecretAwsKey,
            "AWS access key id",
            r"(?-u:\b)((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?-u:\b)",
            4,
            3.0,
            "deactivate the key in AWS IAM and create a new one; keep it out of the repository",
        ),
        // gitleaks gcp-api-key.
        r(
            Code::SecretGoogleApiKey,
            "Google API key",
            r"(?-u:\b)(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)",
            4,
            3.0,
            "delete the key in the Google Cloud console (APIs & Services > Credentials) and restrict the new one",
        ),
        // gitleaks azure-ad-client-secret.
        r(
            Code::SecretAzureKey,
            "Azure AD client secret",
            r#"(?:^|[\\'"`\s>=:(,)])([a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34})(?:$|[\\'"`\s<),])"#,
            0,
            3.0,
            "delete the client secret in the Azure app registration and create a new one",
        ),
        // Azure storage connection string (AccountKey is 64 bytes, base64).
        r(
            Code::SecretAzureKey,
            "Azure storage account key",
            r"AccountKey=([A-Za-z0-9+/]{86}==)",
            0,
            3.0,
            "rotate the storage account key in the Azure portal",
        ),
        // gitleaks slack-webhook-url.
        r(
            Code::SecretSlack,
            "Slack webhook URL",
            r"((?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56})",
            23,
            3.0,
            "remove the webhook in Slack's app settings and create a new one",
        ),
        // gitleaks slack-bot-token / slack-user-token / slack-app-token (shape simplified).
        r(
            Code::SecretSlack,
            "Slack token",
            r"(?-u:\b)(xox[baprse]-[0-9]{10,13}-[0-9A-Za-z-]{20,})",
            5,
            3.0,
            "revoke the token in Slack's app settings",
        ),
        // gitleaks discord-api-token family; webhook URL shape of discord.com/developers/docs/resources/webhook.
        r(
            Code::SecretDiscordWebhook,
            "Discord webhook URL",
            r"(https://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,68})",
            33,
            3.0,
            "delete the webhook in the Discord channel's integrations and create a new one",
        ),
        // gitleaks telegram-bot-api-token (without its keyword requirement: the shape is specific).
        r(
            Code::SecretTelegramBotToken,
            "Telegram bot token",
            r"(?-u:\b)([0-9]{5,16}:A[a-zA-Z0-9_-]{34})(?:[^a-zA-Z0-9_-]|$)",
            0,
            3.0,
            "send /revoke to @BotFather for this bot, then keep the new token in secrets.yaml",
        ),
    ]
});

/// The literals of [`Rule::anchors`], by rule.
fn anchors(code: Code, re: &str) -> &'static [&'static str] {
    match code {
        Code::SecretGithubToken => &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        // A JWT header is base64 of `{"`: it starts with `eyJ`.
        Code::SecretJwt => &["eyJ"],
        Code::SecretAwsKey => &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        Code::SecretGoogleApiKey => &["AIza"],
        Code::SecretAzureKey if re.contains("AccountKey") => &["AccountKey="],
        Code::SecretAzureKey => &["Q~"],
        Code::SecretSlack if re.contains("hooks") => &["hooks.slack.com"],
        Code::SecretSlack => &["xox"],
        Code::SecretDiscordWebhook => &["/api/webhooks/"],
        Code::SecretTelegramBotToken => &[":A"],
        _ => &[""],
    }
}

/// `scheme://user:password@host`. The password must not be a placeholder.
static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?-u:\b)([a-zA-Z][a-zA-Z0-9+.-]{1,15})://([^\s:/@'"`<>{}]+):([^\s/@'"`]+)@([A-Za-z0-9.\-\[\]]+)"#)
        .unwrap_or_else(|e| panic!("built-in pattern: {e}"))
});

/// `http://host/path?password=…` / `&token=…`: a credential in a plain-HTTP query string.
static HTTP_QUERY_CREDENTIAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?-u:\b)http://([A-Za-z0-9.\-]+)[^\s'"`]*[?&](?i:password|passwd|pwd|pass|token|access_token|api_key|apikey|key|secret)=([^&\s'"`#]+)"#)
        .unwrap_or_else(|e| panic!("built-in pattern: {e}"))
});

/// `-----BEGIN … PRIVATE KEY-----` (gitleaks private-key).
static PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----")
        .unwrap_or_else(|e| panic!("built-in pattern: {e}"))
});

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut n = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n as f64;
            -p * p.log2()
        })
        .sum()
}

/// Words that mark a value as a stand-in, not a credential.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "example",
    "placeholder",
    "your",
    "redacted",
    "dummy",
    "fake",
    "sample",
    "replace",
    "insert",
    "todo",
    "fixme",
    "xxxx",
    "****",
    "secret_here",
    "token_here",
    "notreal",
    "not_real",
    "mypassword",
    "my_password",
];

/// Whole values that are stand-ins.
const PLACEHOLDER_VALUES: &[&str] = &[
    "password", "passwd", "pass", "secret", "token", "apikey", "api_key", "none", "null", "true",
    "false", "test", "demo", "admin", "user", "username", "string", "value", "key", "hunter2",
    "required", "optional", "tbd",
];

/// A value written by someone who did not mean to publish a secret: empty, a template, an
/// environment reference, `<…>`, repeated characters, a placeholder word, or an ALL_CAPS
/// name (`GITHUB_KEY`, the convention of fake secrets files).
pub fn is_placeholder(v: &str) -> bool {
    let t = v.trim().trim_matches(|c| c == '"' || c == '\'');
    if t.is_empty() {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    if [
        "{{", "{%", "${", "$(", "%(", "!secret", "!env_var", "!input",
    ]
    .iter()
    .any(|m| t.contains(m))
        || t.starts_with('$')
        || (t.starts_with('<') && t.ends_with('>'))
        || (t.starts_with('[') && t.ends_with(']'))
    {
        return true;
    }
    let mut chars = t.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return true;
    }
    if PLACEHOLDER_VALUES.contains(&lower.as_str())
        || PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w))
    {
        return true;
    }
    // ALL_CAPS identifiers (`GITHUB_KEY`, `MQTT_PASSWORD`).
    t.len() <= 40
        && t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && t.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && (t.contains('_') || t.chars().all(|c| c.is_ascii_uppercase()))
}

/// Files that are stand-ins for `secrets.yaml` by name (`secrets.fake.yaml`,
/// `travis_secrets.yaml`, `secrets.yaml.example`…): their values are expected to be fake.
pub fn is_fake_secrets_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel).to_ascii_lowercase();
    name.contains("secret")
        && name != "secrets.yaml"
        && [
            "fake",
            "example",
            "sample",
            "dummy",
            "template",
            "travis",
            "github_action",
            "test",
            "dist",
        ]
        .iter()
        .any(|w| name.contains(w))
}

/// Decodes unpadded base64url (JWT segments); `None` on anything else.
fn b64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// What a JWT is: HA's long-lived token (HS256, `iss` of 32 hex, `iat`, `exp`), another
/// token, or the jwt.io sample (a placeholder).
fn classify_jwt(token: &str) -> Option<Code> {
    let mut parts = token.split('.');
    let header = parts.next().and_then(b64url)?;
    let payload = parts.next().and_then(b64url)?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    let payload: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    if payload.get("sub").and_then(|v| v.as_str()) == Some("1234567890") {
        return None; // the jwt.io example token, printed in countless docs
    }
    let iss_hex = payload
        .get("iss")
        .and_then(|v| v.as_str())
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    let ha = header.get("alg").and_then(|v| v.as_str()) == Some("HS256")
        && iss_hex
        && payload.get("iat").is_some_and(|v| v.is_number())
        && payload.get("exp").is_some_and(|v| v.is_number());
    Some(if ha {
        Code::SecretHaToken
    } else {
        Code::SecretJwt
    })
}

/// Pattern rules over every line of every text file, then the YAML inline rule.
pub fn scan_files(files: &[TextFile], out: &mut Vec<Finding>) {
    for f in files {
        // `secrets.yaml` is where HA wants the values: a leak only when git tracks it,
        // which `tracked_secrets_files` reports as an error of its own.
        if f.rel.rsplit('/').next() == Some("secrets.yaml") {
            continue;
        }
        let before = out.len();
        scan_text(&f.rel, &f.text, out);
        let pattern_lines: Vec<u32> = out[before..].iter().map(|x| x.diag.line).collect();
        let lower = f.rel.to_ascii_lowercase();
        if (lower.ends_with(".yaml") || lower.ends_with(".yml")) && !is_fake_secrets_file(&f.rel) {
            inline(&f.rel, &f.text, &pattern_lines, out);
        }
    }
}

/// Which rules can match somewhere in a text: a rule whose literal anchors the text lacks
/// cannot match any of its lines, so most files skip every pattern.
struct Prefilter {
    rules: Vec<bool>,
    private_key: bool,
    url: bool,
}

impl Prefilter {
    fn of(text: &str) -> Prefilter {
        Prefilter {
            rules: RULES
                .iter()
                .map(|r| r.anchors.iter().any(|a| text.contains(a)))
                .collect(),
            private_key: text.contains("PRIVATE KEY"),
            url: text.contains("://"),
        }
    }
}

/// Token shapes, private keys and URL passwords in one text.
pub fn scan_text(rel: &str, text: &str, out: &mut Vec<Finding>) {
    let pf = Prefilter::of(text);
    if !pf.private_key && !pf.url && !pf.rules.iter().any(|r| *r) {
        return;
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        scan_line_with(rel, n, line, lines.get(i + 1).copied(), &pf, out);
    }
}

/// One line; `next` is the following line (a private key's body). For history lines.
pub fn scan_line(rel: &str, n: u32, line: &str, next: Option<&str>, out: &mut Vec<Finding>) {
    scan_line_with(rel, n, line, next, &Prefilter::of(line), out);
}

fn scan_line_with(
    rel: &str,
    n: u32,
    line: &str,
    next: Option<&str>,
    pf: &Prefilter,
    out: &mut Vec<Finding>,
) {
    for (rule, _) in RULES.iter().zip(&pf.rules).filter(|(_, on)| **on) {
        if !rule.anchors.iter().any(|a| line.contains(a)) {
            continue;
        }
        for cap in rule.re.captures_iter(line) {
            let Some(m) = cap.get(1).or_else(|| cap.get(0)) else {
                continue;
            };
            let secret = m.as_str();
            let lower = secret.to_ascii_lowercase();
            if entropy(secret) < rule.entropy
                || lower.contains("example")
                || lower.contains("xxxxx")
                || lower.contains("placeholder")
            {
                continue;
            }
            let code = if rule.code == Code::SecretJwt {
                match classify_jwt(secret) {
                    Some(c) => c,
                    None => continue,
                }
            } else {
                rule.code
            };
            let what = if code == Code::SecretHaToken {
                "Home Assistant long-lived access token"
            } else {
                rule.what
            };
            let hint = if code == Code::SecretHaToken {
                "delete the token in your HA user profile (Security > Long-lived access tokens), create a new one and keep it in secrets.yaml"
            } else {
                rule.hint
            };
            out.push(Finding::new(
                code,
                rel,
                n,
                col(line, m.start()),
                format!("{what} `{}`", redact(secret, rule.keep)),
                hint,
                secret,
            ));
        }
    }
    if let Some(m) = (pf.private_key && line.contains("PRIVATE KEY"))
        .then(|| PRIVATE_KEY.find(line))
        .flatten()
    {
        // A real key's body follows: a long base64 line, not `...` or `<key>`.
        let body = next.unwrap_or("").trim();
        let real = body.len() >= 40
            && body.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'"' | b'\\')
            })
            && entropy(body) > 4.0;
        if real {
            out.push(Finding::new(
                Code::SecretPrivateKey,
                rel,
                n,
                col(line, m.start()),
                format!("{} with its key material", m.as_str()),
                "the key is compromised: replace it (new key pair, new certificate) and keep the file out of git (.gitignore)",
                body,
            ));
        }
    }
    // Documentation of a URL's shape (`example: rtsp://user:pass@192.168.1.2/…` in a
    // services.yaml) is not a credential.
    let key = line
        .trim_start()
        .trim_start_matches("- ")
        .split(':')
        .next()
        .unwrap_or("")
        .trim();
    // A stand-in secrets file's URLs are stand-ins too; token shapes above still count.
    let has_url = pf.url && line.contains("://");
    let documentation = !has_url
        || is_fake_secrets_file(rel)
        || matches!(
            key,
            "example" | "examples" | "description" | "placeholder" | "help" | "hint"
        );
    if !documentation && line.contains("http://") && line.contains('=') {
        for cap in HTTP_QUERY_CREDENTIAL.captures_iter(line) {
            let (Some(host), Some(value)) = (cap.get(1), cap.get(2)) else {
                continue;
            };
            if is_placeholder(value.as_str()) || value.as_str().len() < 6 {
                continue;
            }
            out.push(Finding::new(
                Code::HaPlaintextCredentials,
                rel,
                n,
                col(line, value.start()),
                format!(
                    "credential in the query of a plain http:// URL to {}: `{}`",
                    host.as_str(),
                    redact(value.as_str(), 0)
                ),
                "use https://, and keep the URL in secrets.yaml (`!secret name`); change the credential",
                value.as_str(),
            ));
        }
    }
    let candidate = !documentation && line.contains("://") && line.contains('@');
    for cap in URL_PASSWORD.captures_iter(line).filter(|_| candidate) {
        let (Some(scheme), Some(user), Some(pass), Some(host)) =
            (cap.get(1), cap.get(2), cap.get(3), cap.get(4))
        else {
            continue;
        };
        let host_l = host.as_str().to_ascii_lowercase();
        if is_placeholder(pass.as_str())
            || is_placeholder(user.as_str()) && pass.as_str().len() < 6
            || PLACEHOLDER_WORDS.iter().any(|w| host_l.contains(w))
            || host_l.ends_with(".invalid")
            || host_l.ends_with(".test")
        {
            continue;
        }
        let scheme_s = scheme.as_str().to_ascii_lowercase();
        out.push(Finding::new(
            Code::SecretUrlPassword,
            rel,
            n,
            col(line, pass.start()),
            format!(
                "password in a {scheme_s}:// URL to {}: `{}:{}@…`",
                host.as_str(),
                user.as_str(),
                redact(pass.as_str(), 0)
            ),
            "put the whole URL (or the password) in secrets.yaml and write `!secret name`; change the password",
            pass.as_str(),
        ));
        if scheme_s == "http" || scheme_s == "ws" || scheme_s == "ftp" {
            out.push(Finding::new(
                Code::HaPlaintextCredentials,
                rel,
                n,
                col(line, scheme.start()),
                format!(
                    "credentials sent in clear text ({scheme_s}://) to {}",
                    host.as_str()
                ),
                "use https:// (or wss://) so the password is not readable on the network",
                pass.as_str(),
            ));
        }
    }
}

/// 1-based character column of a byte offset.
fn col(line: &str, byte: usize) -> u32 {
    u32::try_from(line.get(..byte).map(|s| s.chars().count()).unwrap_or(0) + 1).unwrap_or(u32::MAX)
}

/// Keys whose value is a credential (matched whole, or as a `_suffix`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "api_key",
    "apikey",
    "api_token",
    "token",
    "access_token",
    "auth_token",
    "bearer_token",
    "refresh_token",
    "client_secret",
    "secret",
    "secret_key",
    "access_key",
    "private_key",
    "app_secret",
    "app_key",
    "webhook_id",
    "api_secret",
];

fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    // `password` or `<anything>_password`; no allocation per key and name (hot: every key
    // of every YAML file).
    SECRET_KEYS.iter().any(|s| {
        k.strip_suffix(s)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('_'))
    })
}

/// Literal values under secret-like keys in one YAML file.
fn inline(rel: &str, text: &str, pattern_lines: &[u32], out: &mut Vec<Finding>) {
    // Parsing is most of a scan's time; a file that names no secret-like key anywhere
    // cannot have a value under one.
    let lower = text.to_ascii_lowercase();
    if !SECRET_KEYS.iter().any(|k| lower.contains(k)) {
        return;
    }
    let parsed = yaml::parse(text, FileId(0));
    let Some(root) = parsed.root else { return };
    walk(&root, rel, pattern_lines, false, out);
}

/// `in_pushover`: a key above this node names pushover (its keys have their own shape).
fn walk(node: &Node, rel: &str, pattern_lines: &[u32], in_pushover: bool, out: &mut Vec<Finding>) {
    match &node.kind {
        Kind::Map(entries) => {
            let pushover = in_pushover
                || node
                    .get("platform")
                    .and_then(Node::as_str)
                    .is_some_and(|p| p == "pushover");
            for (k, v) in entries {
                let key = k.key_text().unwrap_or_default();
                if secret_key(&key)
                    && let Kind::Str(val, _) = &v.kind
                    && !pattern_lines.contains(&v.pos.line)
                {
                    inline_value(&key, val, v, rel, pushover, out);
                }
                let below = pushover || key.to_ascii_lowercase().contains("pushover");
                walk(v, rel, pattern_lines, below, out);
            }
        }
        Kind::Seq(items) => {
            for i in items {
                walk(i, rel, pattern_lines, in_pushover, out);
            }
        }
        _ => {}
    }
}

fn inline_value(key: &str, val: &str, v: &Node, rel: &str, pushover: bool, out: &mut Vec<Finding>) {
    // A credential has no spaces and some length; prose ("Enter your password") and
    // entity ids (`input_text.alarm_code`) are not one.
    let looks_like_entity = val.contains('.')
        && val.split_once('.').is_some_and(|(d, o)| {
            !d.is_empty()
                && !o.is_empty()
                && d.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && o.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if val.chars().count() < 6
        || val.contains(char::is_whitespace)
        || is_placeholder(val)
        || looks_like_entity
        || val.starts_with("http://")
        || val.starts_with("https://")
        || val.starts_with('/')
    {
        return;
    }
    let k = key.to_ascii_lowercase();
    let code = if k == "webhook_id" || k.ends_with("_webhook_id") {
        Code::SecretInlineWebhookId
    } else if pushover
        && (k == "api_key" || k == "user_key")
        && val.len() == 30
        && val.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        Code::SecretPushoverKey
    } else {
        // Low-entropy words are names, not credentials (`token: long_lived`).
        if entropy(val) < 2.5 {
            return;
        }
        Code::SecretInline
    };
    let hint = match code {
        Code::SecretInlineWebhookId => {
            "use a long random id (HA's UI generates one) kept in secrets.yaml as `!secret`, and keep `local_only: true` unless the internet must reach it"
        }
        Code::SecretPushoverKey => {
            "regenerate the key on pushover.net and keep the new one in secrets.yaml (`!secret name`)"
        }
        _ => {
            "move the value to secrets.yaml and write `!secret name` (HA, ESPHome); change it if this repository is or was public"
        }
    };
    out.push(Finding::new(
        code,
        rel,
        v.pos.line,
        v.pos.col,
        format!("`{key}` written inline: `{}`", redact(val, 0)),
        hint,
        val,
    ));
}

/// `secrets.yaml` tracked by git (an error), or neither tracked nor ignored (a warning).
/// Needs the `git` CLI; outside a repository (or without git) there is nothing to say.
pub fn tracked_secrets_files(root: &Path, out: &mut Vec<Finding>) {
    let is_secrets = |p: &str| p.rsplit('/').next() == Some("secrets.yaml");
    let list = |args: &[&str]| -> Vec<String> {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split('\0')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    for p in list(&["ls-files", "-z", "--full-name", "--", "."]) {
        if is_secrets(&p) {
            out.push(Finding::new(
                Code::SecretFileTracked,
                &rel_to_root(root, &p),
                0,
                0,
                "secrets.yaml is tracked by git: every secret in it is in the repository".into(),
                "`git rm --cached secrets.yaml`, add `secrets.yaml` to .gitignore, and change every secret it held (they stay in the history)",
                &p,
            ));
        }
    }
    for p in list(&[
        "ls-files",
        "-z",
        "--full-name",
        "--others",
        "--exclude-standard",
        "--",
        ".",
    ]) {
        if is_secrets(&p) {
            out.push(Finding::new(
                Code::SecretFileUnignored,
                &rel_to_root(root, &p),
                0,
                0,
                "secrets.yaml is not ignored by git: `git add .` would commit it".into(),
                "add `secrets.yaml` to .gitignore",
                &p,
            ));
        }
    }
}

/// `--full-name` paths are relative to the repository top; findings are relative to `root`.
fn rel_to_root(root: &Path, full: &str) -> String {
    let prefix = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--show-prefix"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    full.strip_prefix(&prefix).unwrap_or(full).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        for p in [
            "changeme",
            "<your token>",
            "xxx",
            "${MQTT_PASS}",
            "{{ states('x') }}",
            "GITHUB_KEY",
            "!secret x",
            "YOUR_API_KEY",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for s in ["s3cr3tPa55!", "hV8wq2LmZ0"] {
            assert!(!is_placeholder(s), "{s}");
        }
    }

    #[test]
    fn fake_secrets_files() {
        assert!(is_fake_secrets_file("config/travis_secrets.yaml"));
        assert!(is_fake_secrets_file("secrets.fake.yaml"));
        assert!(!is_fake_secrets_file("secrets.yaml"));
        assert!(!is_fake_secrets_file("packages/alarm.yaml"));
    }
}
