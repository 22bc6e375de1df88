//! `--format github`: workflow commands that GitHub Actions turns into annotations
//! (`::error file=…,line=…,col=…,title=…::message`).

use std::fmt::Write;
use std::path::Path;

use super::display_path;
use crate::validate::codes::Severity;
use crate::validate::diagnostic::Report;

/// Escaping of workflow command data.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of workflow command properties.
fn prop(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(report: &Report, min: Severity, root: &Path) -> String {
    let mut out = String::new();
    for d in report.diagnostics.iter().filter(|d| d.severity >= min) {
        let cmd = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = format!("file={}", prop(&display_path(root, &d.file)));
        if d.line > 0 {
            let _ = write!(props, ",line={}", d.line);
            if d.column > 0 {
                let _ = write!(props, ",col={}", d.column);
            }
        }
        let _ = write!(props, ",title={}", prop(d.code.name()));
        let mut msg = d.message.clone();
        if let Some(h) = &d.hint {
            msg.push_str("\nhint: ");
            msg.push_str(h);
        }
        let _ = writeln!(out, "::{cmd} {props}::{}", data(&msg));
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "gitops-bridge check: {} errors, {} warnings, {} info in {} files, {} templates ({} ms)",
        s.errors, s.warnings, s.info, s.files, s.templates, s.elapsed_ms
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(prop("a:b,c"), "a%3Ab%2Cc");
    }
}
