//! Checks of the settings that tie repositories together or judge them: `slo:`,
//! `quality_gate:`, `needs:` with `on_upstream:` (upstreams watched, no cycle), and
//! `coordinated_deployments:` (every step a watched repository that may dispatch it).

use std::collections::BTreeSet;
use std::time::Duration;

use super::schema::{RawCoordinated, RawNeed, RawOnUpstream, RawQualityGate, RawSlo};
use super::{Action, RepoSelector, SettingsError, invalid};
use crate::recovery::coordinate::{CoordinatedDeployment, Step};
use crate::recovery::{DownstreamPolicy, GatePolicy, Need, SloTargets};

/// A repository's `slo:`: a success rate in percent, two durations.
pub(super) fn slo_targets(key: &str, raw: Option<RawSlo>) -> Result<SloTargets, SettingsError> {
    let defaults = SloTargets::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let min_success_rate = raw.success_rate.unwrap_or(defaults.min_success_rate);
    if !(0.0..=100.0).contains(&min_success_rate) {
        return Err(invalid(
            &format!("{key}.slo.success_rate"),
            format!("{min_success_rate} is not a percentage (0 to 100)"),
        ));
    }
    let positive = |d: Option<super::HumanDuration>, default: Duration, field: &str| {
        let d = d.map_or(default, |d| d.0);
        if d.is_zero() {
            return Err(invalid(
                &format!("{key}.slo.{field}"),
                "must be more than 0s",
            ));
        }
        Ok(d)
    };
    Ok(SloTargets {
        min_success_rate,
        max_p95_duration: positive(raw.p95_duration, defaults.max_p95_duration, "p95_duration")?,
        max_mttr: positive(raw.mttr, defaults.max_mttr, "mttr")?,
    })
}

/// A repository's `quality_gate:`, defaults filled.
pub(super) fn gate_policy(raw: Option<RawQualityGate>) -> Option<GatePolicy> {
    let raw = raw?;
    let defaults = GatePolicy::default();
    Some(GatePolicy {
        publish: raw.publish.unwrap_or(defaults.publish),
        health: raw.health.unwrap_or(defaults.health),
        upstream: raw.upstream.unwrap_or(defaults.upstream),
        config_check: raw.config_check.unwrap_or(defaults.config_check),
    })
}

/// A repository's `needs:` and `on_upstream:`: both or neither, the workflow offered for
/// dispatch here. Whether the upstreams are watched is checked by [`check_graph`].
pub(super) fn downstream_policy(
    key: &str,
    needs: Vec<RawNeed>,
    on_upstream: Option<RawOnUpstream>,
    allow: &BTreeSet<Action>,
    dispatch: &[String],
) -> Result<Option<DownstreamPolicy>, SettingsError> {
    let on_upstream = match (needs.is_empty(), on_upstream) {
        (true, None) => return Ok(None),
        (true, Some(_)) => {
            return Err(invalid(
                &format!("{key}.on_upstream"),
                "is set but `needs` lists no upstream workflow",
            ));
        }
        (false, None) => {
            return Err(invalid(
                &format!("{key}.needs"),
                "lists upstream workflows but `on_upstream.workflow` says nothing to run here",
            ));
        }
        (false, Some(o)) => o,
    };
    let mut parsed = Vec::new();
    for (j, need) in needs.into_iter().enumerate() {
        let at = format!("{key}.needs[{j}]");
        let Some((owner, name)) = need
            .repository
            .trim()
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && *n != "*")
        else {
            return Err(invalid(
                &format!("{at}.repository"),
                format!("`{}` is not `owner/name`", need.repository),
            ));
        };
        if !crate::model::is_workflow_file(&need.workflow) {
            return Err(invalid(
                &format!("{at}.workflow"),
                format!(
                    "`{}` is not a workflow file name like `release.yml`",
                    need.workflow
                ),
            ));
        }
        parsed.push(Need {
            owner: owner.to_string(),
            name: name.to_string(),
            workflow: need.workflow,
        });
    }
    let workflow = on_upstream.workflow;
    if !allow.contains(&Action::Dispatch) || !dispatch.contains(&workflow) {
        return Err(invalid(
            &format!("{key}.on_upstream.workflow"),
            format!(
                "`{workflow}` is dispatched through `dispatch`: allow `dispatch` and list `{workflow}` in `dispatch`"
            ),
        ));
    }
    let sha_input = match on_upstream.sha_input {
        None => Some("upstream_sha".to_string()),
        Some(s) if s.trim().is_empty() => None,
        Some(s) => Some(s.trim().to_string()),
    };
    Ok(Some(DownstreamPolicy {
        needs: parsed,
        workflow,
        sha_input,
    }))
}

/// Whether `owner/name` is watched by an entry: exactly or through `owner/*`.
fn watched(repositories: &[RepoSelector], owner: &str, name: &str) -> bool {
    repositories.iter().any(|s| match s {
        RepoSelector::Exact {
            owner: o, name: n, ..
        } => o.eq_ignore_ascii_case(owner) && n.eq_ignore_ascii_case(name),
        RepoSelector::Owner { owner: o, .. } => o.eq_ignore_ascii_case(owner),
    })
}

/// The dependency graph: `needs` only on an exact entry, every upstream watched (else its
/// runs would never be seen), and no cycle (it would dispatch for ever).
pub(super) fn check_graph(repositories: &[RepoSelector]) -> Result<(), SettingsError> {
    let mut nodes = Vec::new();
    for (i, selector) in repositories.iter().enumerate() {
        let Some(policy) = &selector.policy().downstream else {
            continue;
        };
        let key = format!("github.repositories[{i}].needs");
        let RepoSelector::Exact { owner, name, .. } = selector else {
            return Err(invalid(
                &key,
                "is set on an `owner/*` entry; set it on the entry of the repository whose workflow it runs",
            ));
        };
        for (j, need) in policy.needs.iter().enumerate() {
            if !watched(repositories, &need.owner, &need.name) {
                return Err(invalid(
                    &format!("{key}[{j}].repository"),
                    format!(
                        "`{}/{}` is not watched; add it to `github.repositories` so its runs are seen",
                        need.owner, need.name
                    ),
                ));
            }
        }
        nodes.push((format!("{owner}/{name}"), policy));
    }
    let named: Vec<(&str, &DownstreamPolicy)> =
        nodes.iter().map(|(repo, p)| (repo.as_str(), *p)).collect();
    if let Some(cycle) = crate::recovery::downstream::find_cycle(named) {
        return Err(invalid(
            "github.repositories",
            format!("`needs` forms a cycle, which would dispatch for ever: {cycle}"),
        ));
    }
    Ok(())
}

/// `coordinated_deployments:`: unique names, at least one step, each step a watched exact
/// repository that allows `dispatch` of the step's workflow.
pub(super) fn coordinated(
    raw: Vec<RawCoordinated>,
    repositories: &[RepoSelector],
) -> Result<Vec<CoordinatedDeployment>, SettingsError> {
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for (i, d) in raw.into_iter().enumerate() {
        let key = format!("coordinated_deployments[{i}]");
        let name = d.name.trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(invalid(
                &format!("{key}.name"),
                format!("`{name}` is not a name of letters, digits, `-` and `_`"),
            ));
        }
        // HA's entities and the bridge state key each deployment by the slug of its name.
        if !names.insert(crate::text::slug(&name)) {
            return Err(invalid(
                &format!("{key}.name"),
                format!(
                    "`{name}` is used twice (names are compared as Home Assistant ids: case, `-` and `_` do not count)"
                ),
            ));
        }
        if d.steps.is_empty() {
            return Err(invalid(&format!("{key}.steps"), "lists no repository"));
        }
        let mut steps = Vec::new();
        for (j, step) in d.steps.into_iter().enumerate() {
            let at = format!("{key}.steps[{j}]");
            let policy = step.repository.trim().split_once('/').and_then(|(o, n)| {
                repositories.iter().find_map(|s| match s {
                    RepoSelector::Exact {
                        owner,
                        name,
                        policy,
                    } if owner.eq_ignore_ascii_case(o) && name.eq_ignore_ascii_case(n) => {
                        Some((owner, name, policy))
                    }
                    _ => None,
                })
            });
            let Some((owner, repo, policy)) = policy else {
                return Err(invalid(
                    &format!("{at}.repository"),
                    format!(
                        "`{}` has no entry of its own in `github.repositories`",
                        step.repository
                    ),
                ));
            };
            let Some(workflow) = step.workflow.or_else(|| policy.deploy_workflow.clone()) else {
                return Err(invalid(
                    &format!("{at}.workflow"),
                    "is not set and the repository has no `deploy_workflow`",
                ));
            };
            if !policy.allow.contains(&Action::Dispatch) || !policy.dispatch.contains(&workflow) {
                return Err(invalid(
                    &format!("{at}.workflow"),
                    format!(
                        "`{workflow}` is dispatched through `dispatch`: allow `dispatch` for {owner}/{repo} and list `{workflow}` in its `dispatch`"
                    ),
                ));
            }
            steps.push(Step {
                owner: owner.clone(),
                name: repo.clone(),
                workflow,
            });
        }
        let step_timeout = d.step_timeout.map_or(Duration::from_secs(3600), |t| t.0);
        if step_timeout < Duration::from_secs(10) {
            return Err(invalid(
                &format!("{key}.step_timeout"),
                "must be at least 10s",
            ));
        }
        out.push(CoordinatedDeployment {
            name,
            steps,
            step_timeout,
        });
    }
    Ok(out)
}
