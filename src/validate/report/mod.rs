//! Output formats of a [`Report`]: `text` for people, `json` as
//! in DESIGN.md, `github` workflow annotations, `sarif` for GitHub code scanning.

mod github;
mod sarif;
mod text;

use std::path::Path;

use super::codes::Severity;
use super::diagnostic::Report;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Github,
    Sarif,
}

/// Renders `report`, showing findings of at least `min` severity. `root` is the
/// configuration root as given on the command line: annotations and SARIF locations need
/// paths relative to the repository (the working directory), not to the root.
pub fn render(report: &Report, format: Format, min: Severity, root: &Path) -> String {
    match format {
        Format::Text => text::render(report, min, root),
        Format::Json => {
            let mut r = report.clone();
            r.diagnostics.retain(|d| d.severity >= min);
            let mut s = serde_json::to_string_pretty(&r)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
            s.push('\n');
            s
        }
        Format::Github => github::render(report, min, root),
        Format::Sarif => sarif::render(report, min, root),
    }
}

/// `root/file` without a leading `./`, `/`-separated: what editors and GitHub resolve.
pub fn display_path(root: &Path, file: &str) -> String {
    let r = root.to_string_lossy().replace('\\', "/");
    let r = r.trim_end_matches('/');
    let joined = if r.is_empty() || r == "." {
        file.to_string()
    } else {
        format!("{r}/{file}")
    };
    joined.strip_prefix("./").unwrap_or(&joined).to_string()
}
