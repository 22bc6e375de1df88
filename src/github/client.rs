//! The GitHub REST transport: auth, API version, conditional GETs, rate-limit accounting,
//! error classification, and POSTs that are never retried.
//!
//! Built on reqwest rather than octocrab: we need the headers of every response (ETag,
//! `x-ratelimit-*`, `Link`), to see a 304 as "unchanged" instead of a cached 200, and full
//! control over retries, which octocrab's typed paths hide (docs/github.md §3.5, §3.6).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, ETAG, HeaderMap, IF_NONE_MATCH, LINK, RETRY_AFTER, USER_AGENT,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::models::ApiError;
use crate::model::RateLimit;
use crate::settings::{GitHubSettings, Secret};

/// REST API version we speak (sent as `X-GitHub-Api-Version`).
pub const API_VERSION: &str = "2022-11-28";

/// Why a GitHub request failed, worded for the person reading the log or the bridge entity.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum GitHubError {
    #[error("GitHub rejected the token (401 {message}); check `github.token`")]
    Unauthorized { message: String },
    #[error("GitHub refused access to {url} (403 {message}); the token may lack a permission")]
    Forbidden { url: String, message: String },
    #[error("GitHub rate limit reached ({kind}); waiting until {until}")]
    RateLimited {
        until: DateTime<Utc>,
        kind: &'static str,
    },
    #[error("not found on GitHub: {url} (deleted, renamed, or not visible to this token)")]
    NotFound { url: String },
    #[error("GitHub reports a conflict at {url} (409 {message})")]
    Conflict { url: String, message: String },
    #[error("GitHub refused the request to {url} (422 {message})")]
    Unprocessable { url: String, message: String },
    #[error("GitHub failed at {url} ({status} {message}); will try again")]
    Server {
        url: String,
        status: u16,
        message: String,
    },
    #[error("GitHub answered {status} at {url}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("GitHub did not answer {url} within {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error("cannot reach GitHub at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("GitHub sent something unexpected from {url}: {message}")]
    Malformed { url: String, message: String },
}

impl GitHubError {
    /// The request never reached a GitHub that answered.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            GitHubError::Timeout { .. } | GitHubError::Connect { .. }
        )
    }
}

/// A conditional GET's answer.
#[derive(Debug)]
pub enum Fetched<T> {
    /// 200: the body, its validator, and the next page if there is one.
    Modified {
        value: T,
        etag: Option<String>,
        next: Option<String>,
    },
    /// 304: unchanged since the ETag we sent; free of charge.
    NotModified,
}

/// What the client knows about the budget; shared by clones, updated on every response.
#[derive(Debug, Default)]
struct Budget {
    rate: Option<RateLimit>,
    /// No request leaves before this instant (primary exhausted or secondary limit).
    blocked_until: Option<DateTime<Utc>>,
    /// Requests that counted against the primary limit (everything but 304s).
    counted: u64,
}

/// Cloneable GitHub REST client.
#[derive(Clone)]
pub struct GitHubClient {
    http: reqwest::Client,
    /// API root with a trailing slash, so relative paths join under it (GHES `/api/v3/`).
    base: Url,
    token: Secret,
    timeout: Duration,
    /// Short critical sections, never held across `.await`.
    budget: Arc<Mutex<Budget>>,
}

impl GitHubClient {
    pub fn new(settings: &GitHubSettings) -> Result<GitHubClient, GitHubError> {
        let mut base = settings.api_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            "application/vnd.github+json"
                .parse()
                .expect("static header"),
        );
        headers.insert(
            "x-github-api-version",
            API_VERSION.parse().expect("static header"),
        );
        headers.insert(
            USER_AGENT,
            concat!("gitops-bridge/", env!("CARGO_PKG_VERSION"))
                .parse()
                .expect("static header"),
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .timeout(settings.request_timeout)
            .build()
            .map_err(|e| GitHubError::Connect {
                url: base.to_string(),
                message: e.to_string(),
            })?;
        Ok(GitHubClient {
            http,
            base,
            token: settings.token.clone(),
            timeout: settings.request_timeout,
            budget: Arc::default(),
        })
    }

    /// Absolute URL of an API path like `repos/o/r/actions/runs?per_page=30`.
    pub fn url(&self, path: &str) -> String {
        match self.base.join(path.trim_start_matches('/')) {
            Ok(u) => u.to_string(),
            Err(_) => format!("{}{}", self.base, path.trim_start_matches('/')),
        }
    }

    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.budget.lock().expect("budget lock").rate
    }

    pub fn blocked_until(&self) -> Option<DateTime<Utc>> {
        let b = self.budget.lock().expect("budget lock");
        b.blocked_until.filter(|t| *t > Utc::now())
    }

    /// Requests so far that counted against the primary limit.
    pub fn counted_requests(&self) -> u64 {
        self.budget.lock().expect("budget lock").counted
    }

    /// Conditional GET of JSON. `etag` is sent as `If-None-Match`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        etag: Option<&str>,
    ) -> Result<Fetched<T>, GitHubError> {
        let mut request = self.request(Method::GET, url)?;
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let response = self.send(request, url).await?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        let etag = header_str(response.headers(), ETAG.as_str());
        let next = header_str(response.headers(), LINK.as_str()).and_then(|l| next_link(&l));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let value = serde_json::from_slice(&bytes).map_err(|e| GitHubError::Malformed {
            url: url.to_string(),
            message: format!("{e} (HTTP {status}, {} bytes)", bytes.len()),
        })?;
        Ok(Fetched::Modified { value, etag, next })
    }

    /// Unconditional GET of JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, GitHubError> {
        match self.get(url, None).await? {
            Fetched::Modified { value, .. } => Ok(value),
            Fetched::NotModified => Err(GitHubError::Malformed {
                url: url.to_string(),
                message: "304 without a conditional request".into(),
            }),
        }
    }

    fn request(&self, method: Method, url: &str) -> Result<reqwest::RequestBuilder, GitHubError> {
        if let Some(until) = self.blocked_until() {
            return Err(GitHubError::RateLimited {
                until,
                kind: "still waiting",
            });
        }
        Ok(self
            .http
            .request(method, url)
            .header(AUTHORIZATION, format!("Bearer {}", self.token.expose())))
    }

    /// Sends, records the budget, and turns every non-success status into a `GitHubError`.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, GitHubError> {
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let status = response.status();
        self.record(response.headers(), status);
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        let message = serde_json::from_slice::<ApiError>(&body)
            .map(|e| e.message)
            .unwrap_or_default();
        let message = if message.is_empty() {
            status.canonical_reason().unwrap_or("").to_string()
        } else {
            message
        };
        Err(self.classify(url, status, &headers, message))
    }

    fn classify(
        &self,
        url: &str,
        status: StatusCode,
        headers: &HeaderMap,
        message: String,
    ) -> GitHubError {
        let url = url.to_string();
        let code = status.as_u16();
        if (code == 403 || code == 429)
            && let Some(limited) = self.rate_limited(headers, code, &message)
        {
            return limited;
        }
        match code {
            401 => GitHubError::Unauthorized { message },
            403 => GitHubError::Forbidden { url, message },
            404 => GitHubError::NotFound { url },
            409 => GitHubError::Conflict { url, message },
            422 => GitHubError::Unprocessable { url, message },
            500..=599 => GitHubError::Server {
                url,
                status: code,
                message,
            },
            _ => GitHubError::Status {
                url,
                status: code,
                message,
            },
        }
    }

    /// GitHub's rules (docs/github.md §2.3): `retry-after` means a secondary limit; remaining 0
    /// means the primary limit until `x-ratelimit-reset`; a bare 429 or a 403 that says
    /// "rate limit" waits a minute.
    fn rate_limited(&self, headers: &HeaderMap, code: u16, message: &str) -> Option<GitHubError> {
        let now = Utc::now();
        let (until, kind) = if let Some(secs) =
            header_str(headers, RETRY_AFTER.as_str()).and_then(|v| v.trim().parse::<i64>().ok())
        {
            (
                now + chrono::Duration::seconds(secs.clamp(1, 3600)),
                "secondary",
            )
        } else if header_u64(headers, "x-ratelimit-remaining") == Some(0) {
            let reset = header_u64(headers, "x-ratelimit-reset")
                .and_then(|s| Utc.timestamp_opt(s as i64, 0).single())
                .filter(|t| *t > now)
                .unwrap_or(now + chrono::Duration::seconds(60));
            (reset, "primary")
        } else if code == 429 || message.to_ascii_lowercase().contains("rate limit") {
            (now + chrono::Duration::seconds(60), "secondary")
        } else {
            return None;
        };
        self.budget.lock().expect("budget lock").blocked_until = Some(until);
        Some(GitHubError::RateLimited { until, kind })
    }

    fn record(&self, headers: &HeaderMap, status: StatusCode) {
        let mut b = self.budget.lock().expect("budget lock");
        if status != StatusCode::NOT_MODIFIED {
            b.counted += 1;
        }
        let resource = header_str(headers, "x-ratelimit-resource");
        if resource.as_deref().is_some_and(|r| r != "core") {
            return;
        }
        if let (Some(limit), Some(remaining), Some(reset)) = (
            header_u64(headers, "x-ratelimit-limit"),
            header_u64(headers, "x-ratelimit-remaining"),
            header_u64(headers, "x-ratelimit-reset"),
        ) {
            // GitHub sends seconds; recorded fixtures carry milliseconds. Accept both.
            let reset = if reset > 100_000_000_000 {
                reset / 1000
            } else {
                reset
            };
            if let Some(reset) = Utc.timestamp_opt(reset as i64, 0).single() {
                b.rate = Some(RateLimit {
                    limit: limit.min(u32::MAX as u64) as u32,
                    remaining: remaining.min(u32::MAX as u64) as u32,
                    reset,
                });
            }
        }
    }

    fn transport_error(&self, url: &str, e: reqwest::Error) -> GitHubError {
        if e.is_timeout() {
            GitHubError::Timeout {
                url: url.to_string(),
                secs: self.timeout.as_secs(),
            }
        } else if e.is_decode() || e.is_body() {
            GitHubError::Malformed {
                url: url.to_string(),
                message: e.to_string(),
            }
        } else {
            // reqwest's Display may include the URL; never the Authorization header.
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            GitHubError::Connect {
                url: url.to_string(),
                message,
            }
        }
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name)?.trim().parse().ok()
}

/// The only way to change anything on GitHub. Built only by [`crate::commands`] (its
/// constructor takes a [`crate::commands::WriteAccess`], which nothing else can make), so
/// every write goes through the one executor: allow-list, dedupe, audit, pacing. Shares the
/// reader's connection pool and rate-limit budget.
pub struct GitHubWriter {
    client: GitHubClient,
}

impl GitHubWriter {
    pub fn new(client: &GitHubClient, _access: crate::commands::WriteAccess) -> GitHubWriter {
        GitHubWriter {
            client: client.clone(),
        }
    }

    /// Sends one mutating request built by [`super::api`]. Sent once: never retried here,
    /// whatever happens, because GitHub's POSTs (re-run, dispatch, cancel) are not
    /// idempotent. Returns the JSON body, if any.
    pub async fn send(
        &self,
        write: super::api::Write,
    ) -> Result<Option<serde_json::Value>, GitHubError> {
        let client = &self.client;
        let url = client.url(&write.path);
        let request = client.request(write.method, &url)?.json(&write.body);
        let response = client.send(request, &url).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| client.transport_error(&url, e))?;
        Ok(if bytes.is_empty() {
            None
        } else {
            serde_json::from_slice(&bytes).ok()
        })
    }
}

/// The `rel="next"` target of a `Link` header (`<url>; rel="next", <url>; rel="last"`).
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\"") || p.trim() == "rel=next");
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found_among_others() {
        let l = r#"<https://api.github.com/orgs/x/repos?page=2&per_page=100>; rel="next", <https://api.github.com/orgs/x/repos?page=5&per_page=100>; rel="last""#;
        assert_eq!(
            next_link(l).as_deref(),
            Some("https://api.github.com/orgs/x/repos?page=2&per_page=100")
        );
        let last_page = r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=1>; rel="first""#;
        assert_eq!(next_link(last_page), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn urls_join_under_a_ghes_path_prefix() {
        let settings = test_settings("https://ghe.example.com/api/v3");
        let c = GitHubClient::new(&settings).unwrap();
        assert_eq!(
            c.url("repos/o/r"),
            "https://ghe.example.com/api/v3/repos/o/r"
        );
        assert_eq!(c.url("/user"), "https://ghe.example.com/api/v3/user");
    }

    #[test]
    fn rate_limit_classification_follows_githubs_rules() {
        let c = GitHubClient::new(&test_settings("https://api.github.com")).unwrap();
        let mut h = HeaderMap::new();
        h.insert("retry-after", "30".parse().unwrap());
        let e = c.classify(
            "u",
            StatusCode::FORBIDDEN,
            &h,
            "You have exceeded a secondary rate limit".into(),
        );
        assert!(
            matches!(
                e,
                GitHubError::RateLimited {
                    kind: "secondary",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(c.blocked_until().is_some());

        let c = GitHubClient::new(&test_settings("https://api.github.com")).unwrap();
        let e = c.classify(
            "u",
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            "Resource not accessible by integration".into(),
        );
        assert!(matches!(e, GitHubError::Forbidden { .. }), "{e:?}");
        assert!(c.blocked_until().is_none());

        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        let reset = (Utc::now() + chrono::Duration::minutes(10)).timestamp();
        h.insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
        let e = c.classify(
            "u",
            StatusCode::FORBIDDEN,
            &h,
            "API rate limit exceeded".into(),
        );
        match e {
            GitHubError::RateLimited { until, kind } => {
                assert_eq!(kind, "primary");
                assert_eq!(until.timestamp(), reset);
            }
            other => panic!("{other:?}"),
        }
    }

    fn test_settings(url: &str) -> GitHubSettings {
        GitHubSettings {
            token: Secret::new("t"),
            api_url: Url::parse(url).unwrap(),
            repositories: vec![],
            poll_interval: Duration::from_secs(60),
            discovery_interval: Duration::from_secs(600),
            webhook_secret: None,
            allow_unsigned_webhooks: false,
            include_archived: false,
            include_forks: true,
            request_timeout: Duration::from_secs(5),
            rate_limit_reserve: 100,
        }
    }
}
