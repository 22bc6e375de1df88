//! The dashboard: one HTML page and its script and styles, embedded in the binary (no build
//! step).
//!
//! It works under any path prefix with no help from the proxy in front: HA ingress
//! (`/api/hassio_ingress/<token>/`) or a reverse proxy that mounts the bridge at `/gitops/`
//! and strips the prefix. Behind such a proxy the bridge sees `/` and cannot know the prefix,
//! so it never writes one into the page: every URL in the page and its script is relative
//! (`assets/app.js`, `api/repos`), with no `<base>`, and resolves under whatever address the
//! browser shows. An inline script in the page adds the missing trailing slash to the address
//! (`/gitops` → `/gitops/`) first, since relative URLs resolve against the last `/`.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// `GET /`: the page. The same bytes whatever the request says; see the module doc.
pub async fn index() -> Response {
    let page = INDEX.replace("%VERSION%", env!("CARGO_PKG_VERSION"));
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
