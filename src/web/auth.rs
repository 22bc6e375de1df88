//! Who may call mutating endpoints: HA ingress (the Supervisor's proxy, which has already
//! authenticated the HA user), or anyone presenting `http.api_token` as a bearer token.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::WebContext;

/// The Supervisor's ingress proxy; only requests from it may claim to come through ingress.
pub const INGRESS_PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(172, 30, 32, 2));

/// An authorised caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// Through HA ingress; the HA user's name when the proxy said it.
    Ingress { user: Option<String> },
    /// With the API token.
    Token,
    /// From a network `http.mcp_trusted_networks` lets use the MCP server without a token.
    TrustedNetwork,
}

impl Caller {
    pub fn user(&self) -> Option<String> {
        match self {
            Caller::Ingress { user } => user.clone(),
            Caller::Token | Caller::TrustedNetwork => None,
        }
    }
}

/// The ingress path prefix, when the request really comes through ingress.
pub fn ingress_path(headers: &HeaderMap, peer: SocketAddr) -> Option<String> {
    if peer.ip() != INGRESS_PROXY {
        return None;
    }
    headers
        .get("x-ingress-path")
        .and_then(|v| v.to_str().ok())
        .map(|p| p.trim_end_matches('/').to_string())
}

pub fn authorize(
    ctx: &WebContext,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Caller, Box<Response>> {
    if ingress_path(headers, peer).is_some() {
        let user = headers
            .get("x-remote-user-name")
            .or_else(|| headers.get("x-remote-user-display-name"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        return Ok(Caller::Ingress { user });
    }
    let Some(token) = &ctx.api_token else {
        return Err(denied(
            StatusCode::FORBIDDEN,
            "commands over HTTP need HA ingress or `http.api_token`; none is set",
        ));
    };
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(presented.as_bytes(), token.expose().as_bytes()) {
        Ok(Caller::Token)
    } else {
        Err(denied(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (`http.api_token`)",
        ))
    }
}

fn denied(status: StatusCode, message: &str) -> Box<Response> {
    Box::new((status, Json(json!({ "error": message }))).into_response())
}

/// Compares without an early exit, so timing tells nothing about how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_supervisor_may_claim_ingress() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ingress-path",
            "/api/hassio_ingress/abc/".parse().unwrap(),
        );
        let proxy = SocketAddr::new(INGRESS_PROXY, 40000);
        let other: SocketAddr = "192.168.1.5:40000".parse().unwrap();
        assert_eq!(
            ingress_path(&h, proxy).as_deref(),
            Some("/api/hassio_ingress/abc")
        );
        assert_eq!(ingress_path(&h, other), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
