//! Which repositories the targets name: exact `owner/name` entries as written, `owner/*`
//! listed from GitHub (archived repositories and forks as `github.include_*` say).

use crate::github::api::{self, Repo};
use crate::github::models::{ApiOwner, ApiRepository};
use crate::github::{Fetched, GitHubClient, GitHubError};
use crate::model::Repository;
use crate::settings::GitHubSettings;

use super::targets::TemplateSettings;

/// A repository a target names. `meta` is known when a listing found it.
#[derive(Debug, Clone)]
pub struct TargetRepo {
    pub owner: String,
    pub name: String,
    pub meta: Option<Repository>,
}

impl TargetRepo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// Every repository the targets name, once each, in the order written.
pub async fn resolve(
    gh: &GitHubClient,
    github: &GitHubSettings,
    templates: &TemplateSettings,
) -> Result<Vec<TargetRepo>, GitHubError> {
    let mut out: Vec<TargetRepo> = Vec::new();
    let push = |r: TargetRepo, out: &mut Vec<TargetRepo>| {
        if !out
            .iter()
            .any(|x| x.owner.eq_ignore_ascii_case(&r.owner) && x.name.eq_ignore_ascii_case(&r.name))
        {
            out.push(r);
        }
    };
    for target in &templates.targets {
        for p in &target.repositories {
            match &p.name {
                Some(name) => push(
                    TargetRepo {
                        owner: p.owner.clone(),
                        name: name.clone(),
                        meta: None,
                    },
                    &mut out,
                ),
                None => {
                    for r in owner_repositories(gh, &p.owner).await? {
                        if (r.archived && !github.include_archived)
                            || (r.fork && !github.include_forks)
                        {
                            continue;
                        }
                        let meta = r.into_model();
                        push(
                            TargetRepo {
                                owner: meta.owner.clone(),
                                name: meta.name.clone(),
                                meta: Some(meta),
                            },
                            &mut out,
                        );
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A repository's metadata (default branch, archived), for the commands.
pub async fn repository(
    gh: &GitHubClient,
    owner: &str,
    name: &str,
) -> Result<Repository, GitHubError> {
    let url = gh.url(&api::repos::repository(Repo::new(owner, name)));
    Ok(gh.get_json::<ApiRepository>(&url).await?.into_model())
}

async fn owner_repositories(
    gh: &GitHubClient,
    owner: &str,
) -> Result<Vec<ApiRepository>, GitHubError> {
    let account: ApiOwner = gh.get_json(&gh.url(&api::repos::account(owner))).await?;
    let first = if account.kind.as_deref() == Some("Organization") {
        api::repos::organisation_repositories(owner)
    } else {
        let me: ApiOwner = gh
            .get_json(&gh.url(&api::repos::authenticated_user()))
            .await?;
        if me.login.eq_ignore_ascii_case(owner) {
            api::repos::own_repositories()
        } else {
            api::repos::user_repositories(owner)
        }
    };
    let mut repos = Vec::new();
    let mut next = Some(gh.url(&first));
    let mut pages = 0;
    while let Some(url) = next.take() {
        match gh.get::<Vec<ApiRepository>>(&url, None).await? {
            Fetched::Modified { value, next: n, .. } => {
                repos.extend(
                    value
                        .into_iter()
                        .filter(|r| r.owner.login.eq_ignore_ascii_case(owner)),
                );
                next = n;
            }
            Fetched::NotModified => break,
        }
        pages += 1;
        if pages >= 100 {
            break;
        }
    }
    Ok(repos)
}
