//! `--format sarif`: SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`).
//! Every code is a rule, so code scanning can filter and dismiss by code.

use std::path::Path;

use serde_json::{Value, json};

use super::display_path;
use crate::validate::codes::{Code, Severity};
use crate::validate::diagnostic::Report;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

pub fn render(report: &Report, min: Severity, root: &Path) -> String {
    // Check's codes, then scan's: one rule table serves both verbs.
    let rules: Vec<Value> = Code::ALL
        .iter()
        .chain(Code::SCAN)
        .map(|c| {
            json!({
                "id": c.name(),
                "shortDescription": { "text": c.summary() },
                "helpUri": format!("https://github.com/gitops-bridge/gitops-bridge/blob/main/{}#{}", c.doc_page(), c.name()),
                "defaultConfiguration": { "level": level(c.severity()) },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity >= min)
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(h) = &d.hint {
                text.push_str(" (hint: ");
                text.push_str(h);
                text.push(')');
            }
            let mut phys = json!({
                "artifactLocation": { "uri": display_path(root, &d.file), "uriBaseId": "%SRCROOT%" },
            });
            if d.line > 0 {
                phys["region"] = json!({ "startLine": d.line, "startColumn": d.column.max(1) });
            }
            json!({
                "ruleId": d.code.name(),
                "ruleIndex": Code::ALL.iter().chain(Code::SCAN).position(|c| *c == d.code).unwrap_or(0),
                "level": level(d.severity),
                "message": { "text": text },
                "locations": [ { "physicalLocation": phys } ],
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [ {
            "tool": { "driver": {
                "name": "gitops-bridge",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/gitops-bridge/gitops-bridge",
                "rules": rules,
            } },
            "results": results,
        } ],
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
