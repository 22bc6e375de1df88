//! GitHub workflow audit (`.github/workflows/*.yml`).
//!
//! Rules and sources: GitHub's "Security hardening for GitHub Actions"
//! (<https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions>),
//! GitHub Security Lab "Preventing pwn requests"
//! (<https://securitylab.github.com/resources/github-actions-preventing-pwn-requests/>) and
//! "Untrusted input" (<https://securitylab.github.com/resources/github-actions-untrusted-input/>),
//! and zizmor's audits (<https://docs.zizmor.sh/audits/>): template-injection,
//! dangerous-triggers, unpinned-uses, excessive-permissions, secrets-inherit, artipacked,
//! self-hosted-runner.

use std::sync::LazyLock;

use regex::Regex;

use super::{Finding, TextFile};
use crate::validate::Code;
use crate::validate::source::FileId;
use crate::validate::yaml::{self, Kind, Node};

/// An action reference found in a workflow, for the dependency check.
pub struct UsesRef {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// As written: `owner/repo@ref`, `owner/repo/path@ref`.
    pub uses: String,
}

/// Expressions an outsider controls (GitHub Security Lab's list, zizmor template-injection;
/// `client_payload` is whatever the `repository_dispatch` sender put there).
static UNTRUSTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?-u:\b)(github\.event\.(?:",
        r"issue\.(?:title|body)|pull_request\.(?:title|body|head\.ref|head\.label|head\.repo\.default_branch)",
        r"|comment\.body|review\.body|review_comment\.body|discussion\.(?:title|body)",
        r"|pages\.[^.\s]+\.page_name|commits\.[^.\s]+\.(?:message|author\.(?:email|name))",
        r"|head_commit\.(?:message|author\.(?:email|name))",
        r"|workflow_run\.(?:head_branch|display_title|head_commit\.(?:message|author\.(?:email|name)))",
        r"|inputs\.[A-Za-z0-9_-]+|client_payload\.[A-Za-z0-9_.-]+)",
        r"|github\.head_ref|inputs\.[A-Za-z0-9_-]+)"
    ))
    .unwrap_or_else(|e| panic!("built-in pattern: {e}"))
});

static EXPR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{\{(.*?)\}\}").unwrap_or_else(|e| panic!("built-in pattern: {e}"))
});

fn is_workflow(rel: &str) -> bool {
    rel.starts_with(".github/workflows/") && (rel.ends_with(".yml") || rel.ends_with(".yaml"))
}

/// `on:` is `True` to a YAML 1.1 reader; GitHub reads YAML 1.2. Accept both.
fn on_key(doc: &Node) -> Option<&Node> {
    doc.as_map()?.iter().find_map(|(k, v)| {
        matches!(k.key_text().as_deref(), Some("on") | Some("True")).then_some(v)
    })
}

fn triggers(doc: &Node) -> Vec<String> {
    match on_key(doc).map(|n| &n.kind) {
        Some(Kind::Str(s, _)) => vec![s.clone()],
        Some(Kind::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Kind::Map(entries)) => entries
            .iter()
            .filter_map(|(k, _)| k.key_text().map(|c| c.into_owned()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The line of `needle` in the file, searching from `from` (block scalars start a line
/// before their text).
fn line_of(f: &TextFile, from: u32, needle: &str) -> u32 {
    f.lines()
        .skip(from.saturating_sub(1) as usize)
        .find(|(_, l)| l.contains(needle))
        .map(|(n, _)| n)
        .unwrap_or(from)
}

struct Ctx<'a> {
    f: &'a TextFile,
    out: &'a mut Vec<Finding>,
}

impl Ctx<'_> {
    fn push(
        &mut self,
        code: Code,
        line: u32,
        col: u32,
        message: String,
        hint: &str,
        subject: &str,
    ) {
        self.out.push(Finding::new(
            code,
            &self.f.rel,
            line,
            col,
            message,
            hint,
            subject,
        ));
    }
}

/// Audits every workflow file; returns the action references for [`super::deps`].
pub fn audit(files: &[TextFile], allow: &[String], out: &mut Vec<Finding>) -> Vec<UsesRef> {
    let mut refs = Vec::new();
    for f in files.iter().filter(|f| is_workflow(&f.rel)) {
        let parsed = yaml::parse(&f.text, FileId(0));
        let Some(doc) = parsed.root else { continue };
        let mut c = Ctx { f, out };
        workflow(&doc, allow, &mut c, &mut refs);
    }
    refs
}

fn workflow(doc: &Node, allow: &[String], c: &mut Ctx, refs: &mut Vec<UsesRef>) {
    let on = triggers(doc);
    let privileged = on
        .iter()
        .any(|t| t == "pull_request_target" || t == "workflow_run");
    let pr = on
        .iter()
        .any(|t| t == "pull_request" || t == "pull_request_target");
    let top_perms = doc.get("permissions");
    if let Some(p) = top_perms {
        write_all(p, "the workflow", c);
    }
    let Some(jobs) = doc.get("jobs").and_then(Node::as_map) else {
        return;
    };
    for (name_node, job) in jobs {
        let name = name_node.key_text().unwrap_or_default().into_owned();
        match job.get("permissions") {
            Some(p) => write_all(p, &format!("job `{name}`"), c),
            None if top_perms.is_none() => c.push(
                Code::WorkflowPermissionsMissing,
                name_node.pos.line,
                name_node.pos.col,
                format!("job `{name}` has no `permissions:` (nor has the workflow): its token gets the repository default, often read-write"),
                "add `permissions: contents: read` at the top of the workflow and grant more per job only where needed",
                &name,
            ),
            None => {}
        }
        if let Some(s) = job.get("secrets")
            && s.as_str() == Some("inherit")
        {
            c.push(
                Code::WorkflowSecretsInherit,
                s.pos.line,
                s.pos.col,
                format!("job `{name}` passes every secret to the reusable workflow (`secrets: inherit`)"),
                "pass only the secrets the called workflow needs, by name (`secrets: { token: ${{ secrets.X }} }`)",
                &name,
            );
        }
        if let Some(u) = job.get("uses") {
            uses(u, allow, c, refs);
        }
        if pr && let Some(r) = job.get("runs-on") {
            let labels: Vec<&str> = match &r.kind {
                Kind::Str(s, _) => vec![s.as_str()],
                Kind::Seq(items) => items.iter().filter_map(Node::as_str).collect(),
                _ => r
                    .get("labels")
                    .map(|l| match &l.kind {
                        Kind::Str(s, _) => vec![s.as_str()],
                        Kind::Seq(items) => items.iter().filter_map(Node::as_str).collect(),
                        _ => Vec::new(),
                    })
                    .unwrap_or_default(),
            };
            if labels.contains(&"self-hosted") {
                c.push(
                    Code::WorkflowSelfHostedPr,
                    r.pos.line,
                    r.pos.col,
                    format!("job `{name}` runs pull request code on a self-hosted runner: on a public repository any fork can run commands on that machine"),
                    "use GitHub-hosted runners for pull requests, or require approval for fork workflows (Settings > Actions) and use ephemeral runners",
                    &name,
                );
            }
        }
        let steps = job.get("steps").and_then(Node::as_seq).unwrap_or(&[]);
        let mut checkouts: Vec<&Node> = Vec::new();
        let mut uploads = false;
        for step in steps {
            let action = step.get("uses").and_then(Node::as_str).unwrap_or("");
            let action_name = action.split('@').next().unwrap_or("").to_ascii_lowercase();
            if let Some(u) = step.get("uses") {
                uses(u, allow, c, refs);
            }
            if let Some(run) = step.get("run") {
                injection(run, "run:", c);
            }
            if action_name == "actions/github-script"
                && let Some(script) = step.get("with").and_then(|w| w.get("script"))
            {
                injection(script, "script:", c);
            }
            if action_name == "actions/upload-artifact" {
                uploads = true;
            }
            if action_name == "actions/checkout" {
                let with = step.get("with");
                if privileged
                    && let Some(r) = with.and_then(|w| w.get("ref"))
                    && let Some(rs) = r.as_str()
                    && [
                        "pull_request.head",
                        "github.head_ref",
                        "workflow_run.head",
                        "refs/pull/",
                    ]
                    .iter()
                    .any(|m| rs.contains(m))
                {
                    c.push(
                        Code::WorkflowPrTargetCheckout,
                        r.pos.line,
                        r.pos.col,
                        format!("job `{name}` checks out the pull request's code (`ref: {rs}`) under `{}`, which runs with secrets and a write token", on.iter().find(|t| *t == "pull_request_target" || *t == "workflow_run").map(String::as_str).unwrap_or("pull_request_target")),
                        "use `pull_request` for anything that builds or runs the PR's code; if you need `pull_request_target`, never check out or run the head",
                        rs,
                    );
                }
                let persist_off =
                    with.and_then(|w| w.get("persist-credentials"))
                        .is_some_and(|p| {
                            matches!(p.kind, Kind::Bool(false)) || p.as_str() == Some("false")
                        });
                if !persist_off && let Some(u) = step.get("uses") {
                    checkouts.push(u);
                }
            }
        }
        if uploads {
            for u in checkouts {
                c.push(
                    Code::WorkflowCheckoutCredentials,
                    u.pos.line,
                    u.pos.col,
                    format!("job `{name}` uploads artifacts after `actions/checkout` left the token in .git/config; an artifact of the workspace carries it"),
                    "add `with: persist-credentials: false` to the checkout step",
                    &name,
                );
            }
        }
    }
}

fn write_all(p: &Node, what: &str, c: &mut Ctx) {
    if p.as_str() == Some("write-all") {
        c.push(
            Code::WorkflowPermissionsWriteAll,
            p.pos.line,
            p.pos.col,
            format!("{what} has `permissions: write-all`: every step can push code, releases and packages"),
            "grant only what the job needs (`permissions: contents: read`, plus e.g. `pull-requests: write`)",
            what,
        );
    }
}

fn injection(script: &Node, key: &str, c: &mut Ctx) {
    let Some(s) = script.as_str() else { return };
    // Expressions come in order: each is on the line of the previous one or later.
    let mut from = script.pos.line;
    for m in EXPR.captures_iter(s) {
        let (Some(all), Some(inner)) = (m.get(0), m.get(1)) else {
            continue;
        };
        let Some(u) = UNTRUSTED.find(inner.as_str()) else {
            continue;
        };
        let line = line_of(c.f, from, all.as_str());
        from = line;
        let col =
            c.f.lines()
                .find(|(n, _)| *n == line)
                .and_then(|(_, l)| l.find(all.as_str()).map(|b| l[..b].chars().count() + 1))
                .unwrap_or(script.pos.col as usize);
        c.push(
            Code::WorkflowTemplateInjection,
            line,
            u32::try_from(col).unwrap_or(0),
            format!("`{}` is expanded into `{key}` before it runs: a crafted title, branch name or input runs its own commands", u.as_str()),
            "pass it through `env:` (`env: TITLE: ${{ github.event.issue.title }}`) and use \"$TITLE\" in the script",
            u.as_str(),
        );
    }
}

fn uses(u: &Node, allow: &[String], c: &mut Ctx, refs: &mut Vec<UsesRef>) {
    let Some(s) = u.as_str() else { return };
    if s.starts_with("./") || s.starts_with("docker://") {
        return;
    }
    refs.push(UsesRef {
        file: c.f.rel.clone(),
        line: u.pos.line,
        column: u.pos.col,
        uses: s.to_string(),
    });
    let Some((path, r)) = s.split_once('@') else {
        return;
    };
    let mut parts = path.split('/');
    let owner = parts.next().unwrap_or("").to_ascii_lowercase();
    let repo = parts.next().unwrap_or("").to_ascii_lowercase();
    let full_sha = r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit());
    let allowed = allow.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == owner || a == format!("{owner}/{repo}")
    });
    if !full_sha && !allowed {
        c.push(
            Code::WorkflowUnpinnedAction,
            u.pos.line,
            u.pos.col,
            format!("`uses: {s}`: `{r}` is a tag or branch its owner (or a thief of their account) can move to other code"),
            "pin the full commit SHA and keep the version as a comment (`uses: owner/repo@<sha> # v4.1.0`); Dependabot and Renovate update such pins",
            s,
        );
    }
}
