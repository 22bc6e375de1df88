//! `GET /metrics`: Prometheus text exposition of the current snapshot.
//!
//! Labels are only `repository`, `workflow` and `conclusion`: bounded sets. SHAs, run ids and
//! run numbers would give every run its own series (the cardinality trap of other exporters).

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::WebContext;
use crate::metrics::Health;
use crate::state::Snapshot;

/// Escapes a label value per the text format: backslash, double quote, newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
        }
    }
}

/// Per-health gauges, emitted for repositories and workflows alike.
type Gauge = (&'static str, &'static str, fn(&Health) -> Option<f64>);

const GAUGES: &[Gauge] = &[
    ("health_score", "Health score 0-100.", |h| {
        h.score.map(f64::from)
    }),
    (
        "success_rate_percent",
        "Success rate over the metrics window.",
        |h| h.success_rate,
    ),
    (
        "failing",
        "1 when the latest decisive run on the default branch failed.",
        |h| Some(f64::from(u8::from(h.failing))),
    ),
    ("running", "1 while a run is queued or in progress.", |h| {
        Some(f64::from(u8::from(h.running)))
    }),
    (
        "failure_streak",
        "Failing completions since the last pass.",
        |h| Some(f64::from(h.failure_streak)),
    ),
    (
        "duration_p50_seconds",
        "Median run duration over the window.",
        |h| h.duration_p50_s,
    ),
    (
        "duration_p95_seconds",
        "95th percentile run duration over the window.",
        |h| h.duration_p95_s,
    ),
    (
        "queue_p50_seconds",
        "Median queue time over the window.",
        |h| h.queue_p50_s,
    ),
    (
        "mttr_seconds",
        "Mean time to recovery over the window.",
        |h| h.mttr_s,
    ),
    (
        "runs_per_day",
        "Runs created per day over the window.",
        |h| Some(h.runs_per_day),
    ),
];

/// Workflows are labelled by file (`workflow=".github/workflows/ci.yml"`), which GitHub keeps
/// unique in a repository; names are not unique (two files may both be called `CI`), so the
/// name rides along as `workflow_name` but never identifies a series.
pub fn render(snapshot: &Snapshot, ctx: Option<&WebContext>) -> String {
    let series_key = |w: &crate::model::Workflow| {
        // Runs of a workflow GitHub no longer lists may carry no file; its id is unique too.
        if w.path.is_empty() {
            format!("workflow {}", w.id)
        } else {
            w.path.clone()
        }
    };
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    for (suffix, help, get) in GAUGES {
        let name = format!("gitops_bridge_repository_{suffix}");
        f.header(&name, "gauge", help);
        for v in snapshot.repos.values() {
            if let Some(value) = get(&v.health) {
                f.sample(&name, &[("repository", &v.repo.full_name())], value);
            }
        }
        let name = format!("gitops_bridge_workflow_{suffix}");
        f.header(&name, "gauge", help);
        for v in snapshot.repos.values() {
            for w in &v.workflows {
                if let Some(value) = get(&w.health) {
                    f.sample(
                        &name,
                        &[
                            ("repository", &v.repo.full_name()),
                            ("workflow", &series_key(&w.workflow)),
                            ("workflow_name", &w.workflow.name),
                        ],
                        value,
                    );
                }
            }
        }
    }
    f.header(
        "gitops_bridge_workflow_last_conclusion",
        "gauge",
        "1 for the conclusion (or status) of the workflow's latest run.",
    );
    for v in snapshot.repos.values() {
        for w in &v.workflows {
            if let Some(run) = &w.last_run {
                f.sample(
                    "gitops_bridge_workflow_last_conclusion",
                    &[
                        ("repository", &v.repo.full_name()),
                        ("workflow", &series_key(&w.workflow)),
                        ("workflow_name", &w.workflow.name),
                        ("conclusion", run.status.as_str()),
                    ],
                    1.0,
                );
            }
        }
    }
    f.header(
        "gitops_bridge_repository_available",
        "gauge",
        "1 when GitHub shows the repository.",
    );
    for v in snapshot.repos.values() {
        f.sample(
            "gitops_bridge_repository_available",
            &[("repository", &v.repo.full_name())],
            f64::from(u8::from(v.available)),
        );
    }
    f.header(
        "gitops_bridge_github_up",
        "gauge",
        "1 when GitHub answered the last poll.",
    );
    f.sample(
        "gitops_bridge_github_up",
        &[],
        f64::from(u8::from(snapshot.github.reachable)),
    );
    if let Some(rate) = snapshot.github.rate_limit {
        f.header(
            "gitops_bridge_github_rate_limit_remaining",
            "gauge",
            "Requests left in GitHub's hourly budget.",
        );
        f.sample(
            "gitops_bridge_github_rate_limit_remaining",
            &[],
            f64::from(rate.remaining),
        );
    }
    f.header(
        "gitops_bridge_repositories",
        "gauge",
        "Watched repositories.",
    );
    f.sample(
        "gitops_bridge_repositories",
        &[],
        snapshot.repos.len() as f64,
    );
    if let Some(ctx) = ctx {
        let s = &ctx.webhook_stats;
        for (name, help, value) in [
            (
                "gitops_bridge_webhook_deliveries_received_total",
                "Webhook deliveries received.",
                &s.received,
            ),
            (
                "gitops_bridge_webhook_deliveries_rejected_total",
                "Webhook deliveries refused (signature, headers, JSON).",
                &s.rejected,
            ),
            (
                "gitops_bridge_webhook_deliveries_duplicate_total",
                "Redeliveries of deliveries already recorded.",
                &s.duplicates,
            ),
            (
                "gitops_bridge_webhook_deliveries_processed_total",
                "Webhook deliveries processed.",
                &s.processed,
            ),
        ] {
            f.header(name, "counter", help);
            f.sample(name, &[], value.load(Ordering::Relaxed) as f64);
        }
    }
    out
}

pub async fn metrics(State(ctx): State<Arc<WebContext>>) -> Response {
    let body = render(&ctx.state.snapshot(), Some(&ctx));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn an_empty_snapshot_renders_valid_text() {
        let text = render(&Snapshot::default(), None);
        assert!(text.contains("gitops_bridge_github_up 0"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(line.split(' ').count(), 2, "{line}");
        }
    }
}
