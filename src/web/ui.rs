//! The dashboard: one HTML page and its script and styles, embedded in the binary (no build
//! step). It works under HA ingress: the page's `<base href>` is the ingress path the
//! Supervisor's proxy sends, and every URL in the page is relative to it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::auth;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `GET /`: the page, with `<base href>` set for ingress (or `/` when opened directly).
pub async fn index(ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    let base = format!(
        "{}/",
        auth::ingress_path(&headers, peer).unwrap_or_default()
    );
    let page = INDEX
        .replace("%BASE%", &html_escape(&base))
        .replace("%VERSION%", env!("CARGO_PKG_VERSION"));
    ([(header::CACHE_CONTROL, "no-cache")], Html(page)).into_response()
}

/// `GET /assets/{file}`
pub async fn asset(Path(file): Path<String>) -> Response {
    let (content_type, body) = match file.as_str() {
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "app.css" => ("text/css; charset=utf-8", APP_CSS),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
