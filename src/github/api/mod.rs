//! GitHub's REST endpoints, typed: one function per endpoint we call, grouped by area, so no
//! URL is formatted anywhere else.
//!
//! Reads return a path for [`super::GitHubClient::url`] (the poller keys its ETags by the
//! resulting URL). Writes return a [`Write`], whose fields only this module can set: the
//! [`super::GitHubWriter`] sends nothing else, so every mutation we can make is listed here.

pub mod actions;
pub mod git;
pub mod repos;

use crate::model::Repository;

/// `owner/name` of a repository, as GitHub's paths take it.
#[derive(Debug, Clone, Copy)]
pub struct Repo<'a> {
    pub owner: &'a str,
    pub name: &'a str,
}

impl<'a> Repo<'a> {
    pub fn new(owner: &'a str, name: &'a str) -> Self {
        Repo { owner, name }
    }

    /// `repos/{owner}/{name}/{rest}`.
    fn path(self, rest: &str) -> String {
        if rest.is_empty() {
            format!("repos/{}/{}", self.owner, self.name)
        } else {
            format!("repos/{}/{}/{rest}", self.owner, self.name)
        }
    }
}

impl<'a> From<&'a Repository> for Repo<'a> {
    fn from(r: &'a Repository) -> Self {
        Repo::new(&r.owner, &r.name)
    }
}

/// One mutating request: its method, API path and JSON body. Only the endpoint functions of
/// this module build one.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub(super) method: reqwest::Method,
    pub(super) path: String,
    pub(super) body: serde_json::Value,
}

impl Write {
    fn post(path: String, body: serde_json::Value) -> Write {
        Write {
            method: reqwest::Method::POST,
            path,
            body,
        }
    }

    fn patch(path: String, body: serde_json::Value) -> Write {
        Write {
            method: reqwest::Method::PATCH,
            path,
            body,
        }
    }

    /// The HTTP method, for logs.
    pub fn method(&self) -> &reqwest::Method {
        &self.method
    }

    /// The API path, for logs and tests.
    pub fn path(&self) -> &str {
        &self.path
    }
}
