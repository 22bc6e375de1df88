//! The MCP server: the daemon's repositories, runs, metrics, configuration check and
//! commands as Model Context Protocol tools, for assistants (HA's Assist through HA's `mcp`
//! integration, a desktop client). Served on the HTTP port at `/mcp` with the Streamable
//! HTTP transport of the official SDK (`rmcp`).
//!
//! The whole endpoint is behind the API's own rule ([`crate::web::auth`]): HA ingress or
//! the `http.api_token` bearer token, even for reading — an assistant that can read can ask
//! for commands, so there is no anonymous half. The one exception is opt-in:
//! `http.mcp_trusted_networks`, for Home Assistant's own MCP integration, which can send no
//! static token. Commands go through the one executor with
//! [`CommandSource::Mcp`](crate::commands::CommandSource), so the allow-list, dedupe,
//! audit and pacing are the same as for a button in HA.

mod tools;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::web::{WebContext, auth};

pub use tools::Bridge;

/// Where the server answers on the daemon's HTTP port.
pub const PATH: &str = "/mcp";

/// The `/mcp` routes, ready to merge into the daemon's router.
pub fn router(ctx: Arc<WebContext>) -> Router {
    let config = StreamableHttpServerConfig::default()
        // Stateless: every request stands alone, so nothing is kept per client and a
        // daemon restart loses no session. Tool calls answer as plain JSON.
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        // HA reaches the add-on by its host name, not loopback; the bearer token (which a
        // DNS-rebinding page cannot know) is what keeps other callers out.
        .disable_allowed_hosts()
        .with_cancellation_token(ctx.shutdown.child_token());
    let factory_ctx = ctx.clone();
    let service = StreamableHttpService::new(
        move || Ok(Bridge::new(factory_ctx.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service(PATH, service)
        .layer(middleware::from_fn_with_state(ctx, require_caller))
}

/// Lets only authorised callers through, and hands the tools who they are. A trusted
/// network (opt-in, for HA's own MCP integration) needs no token.
async fn require_caller(
    State(ctx): State<Arc<WebContext>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    // A dual-stack listener shows IPv4 callers as `::ffff:a.b.c.d`.
    let ip = peer.ip().to_canonical();
    let caller = if ctx.mcp_trusted.iter().any(|n| n.contains(&ip)) {
        Ok(auth::Caller::TrustedNetwork)
    } else {
        auth::authorize(&ctx, request.headers(), peer)
    };
    match caller {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(denied) => *denied,
    }
}
