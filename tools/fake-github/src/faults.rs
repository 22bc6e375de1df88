//! Fault injection and GitHub's error bodies. A `Fault` matches requests by method and
//! path prefix and replaces (or delays) the normal answer, so tests can exercise the
//! daemon's retry, backoff and error paths with the exact shapes GitHub sends.

use std::time::Duration;

use serde_json::{Value, json};

/// `documentation_url` GitHub puts in generic errors.
pub const DOCS_REST: &str = "https://docs.github.com/rest";
pub const DOCS_RATE_LIMITS: &str =
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
pub const DOCS_SECONDARY: &str = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";

#[derive(Debug, Clone)]
pub struct Fault {
    /// Only requests with this method (case-insensitive); `None` = any method.
    pub method: Option<String>,
    /// Matches when the request path (without query) starts with this.
    pub path_prefix: String,
    pub kind: FaultKind,
    /// How many matching requests it applies to; `None` = until `clear_faults`.
    pub times: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status and JSON body (rate headers as usual; counts as a request).
    Status { status: u16, body: Value },
    /// Wait, then serve normally (for client timeouts).
    Delay(Duration),
    /// 200 with the normal body cut in half (invalid JSON).
    MalformedJson,
    /// 403 with `x-ratelimit-remaining: 0` and reset in 60 s, GitHub's primary message.
    /// Only that response says so; the fake's own counters are not changed (use
    /// `FakeGitHub::set_rate_limit` for a lasting exhaustion).
    PrimaryRateLimit,
    /// 403 with `retry-after` and GitHub's secondary rate limit message.
    SecondaryRateLimit { retry_after_secs: u64 },
    /// 429 with `retry-after` (GitHub's other way to signal a secondary limit).
    TooManyRequests { retry_after_secs: u64 },
    /// Change the world just before the request is served normally: someone else pushing
    /// to the branch between a client's read and its write, say.
    Hook(WorldHook),
}

/// A change to the world that a [`FaultKind::Hook`] makes.
#[derive(Clone)]
pub struct WorldHook(pub std::sync::Arc<dyn Fn(&mut crate::World) + Send + Sync>);

impl WorldHook {
    pub fn new(f: impl Fn(&mut crate::World) + Send + Sync + 'static) -> WorldHook {
        WorldHook(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for WorldHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorldHook")
    }
}

impl Fault {
    /// Any method, until cleared.
    pub fn new(path_prefix: impl Into<String>, kind: FaultKind) -> Fault {
        Fault {
            method: None,
            path_prefix: path_prefix.into(),
            kind,
            times: None,
        }
    }
    pub fn method(mut self, method: impl Into<String>) -> Fault {
        self.method = Some(method.into());
        self
    }
    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path.starts_with(&self.path_prefix)
            && self.times != Some(0)
    }
}

impl FaultKind {
    /// 404 `Not Found`.
    pub fn not_found() -> FaultKind {
        FaultKind::Status {
            status: 404,
            body: error_body("Not Found", DOCS_REST, 404),
        }
    }
    /// 500 with GitHub's generic server error body.
    pub fn server_error() -> FaultKind {
        FaultKind::Status {
            status: 500,
            body: error_body("Server Error", DOCS_REST, 500),
        }
    }
    /// 422 "Validation Failed" with one `errors[]` entry carrying `msg`
    /// (shape of errors/422-validation-failed.json; `code: custom` carries a message).
    pub fn unprocessable(msg: impl Into<String>) -> FaultKind {
        FaultKind::Status {
            status: 422,
            body: validation_failed(msg.into()),
        }
    }
    /// 403 with `msg`, e.g. "Resource not accessible by personal access token".
    pub fn forbidden(msg: impl Into<String>) -> FaultKind {
        FaultKind::Status {
            status: 403,
            body: error_body(&msg.into(), DOCS_REST, 403),
        }
    }
}

/// GitHub's basic-error shape: `{message, documentation_url, status}` (status is a string).
pub fn error_body(message: &str, documentation_url: &str, status: u16) -> Value {
    json!({ "message": message, "documentation_url": documentation_url, "status": status.to_string() })
}

/// 422 "Validation Failed" with a custom-coded entry in `errors[]`.
pub fn validation_failed(message: String) -> Value {
    json!({
        "message": "Validation Failed",
        "errors": [ { "resource": "Request", "code": "custom", "field": "", "message": message } ],
        "documentation_url": DOCS_REST,
        "status": "422"
    })
}

/// 422 "Validation Failed" for an invalid query/body field (`code: invalid`).
pub fn invalid_field(resource: &str, field: &str) -> Value {
    json!({
        "message": "Validation Failed",
        "errors": [ { "resource": resource, "code": "invalid", "field": field } ],
        "documentation_url": DOCS_REST,
        "status": "422"
    })
}

/// 422 "Validation Failed" for a body field a model validation refused (`code: custom`
/// with GitHub's message, e.g. `state is not included in the list` for commit statuses).
pub fn custom_field_error(resource: &str, field: &str, message: &str) -> Value {
    json!({
        "message": "Validation Failed",
        "errors": [ { "resource": resource, "code": "custom", "field": field, "message": message } ],
        "documentation_url": DOCS_REST,
        "status": "422"
    })
}

/// 422 "Validation Failed" for a required body field that was not sent (`code: missing_field`).
pub fn missing_field(resource: &str, field: &str) -> Value {
    json!({
        "message": "Validation Failed",
        "errors": [ { "resource": resource, "code": "missing_field", "field": field } ],
        "documentation_url": DOCS_REST,
        "status": "422"
    })
}

pub fn primary_rate_limit_body(
    user_id: u64,
    request_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let message = format!(
        "API rate limit exceeded for user ID {user_id}. If you reach out to GitHub Support for help, please include the request ID {request_id} and timestamp {}.",
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    error_body(&message, DOCS_RATE_LIMITS, 403)
}

pub fn secondary_rate_limit_body(request_id: &str, status: u16) -> Value {
    let message = format!(
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID {request_id}."
    );
    error_body(&message, DOCS_SECONDARY, status)
}
