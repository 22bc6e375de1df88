//! `--format text`: `path:line:column: severity[code]: message`, an indented hint, and a
//! summary line.

use std::fmt::Write;
use std::path::Path;

use super::display_path;
use crate::validate::codes::Severity;
use crate::validate::diagnostic::Report;

pub fn render(report: &Report, min: Severity, root: &Path) -> String {
    let mut out = String::new();
    let mut hidden = 0;
    for d in &report.diagnostics {
        if d.severity < min {
            hidden += 1;
            continue;
        }
        let path = display_path(root, &d.file);
        let loc = match (d.line, d.column) {
            (0, _) => path,
            (l, 0) => format!("{path}:{l}"),
            (l, c) => format!("{path}:{l}:{c}"),
        };
        let _ = writeln!(out, "{loc}: {}[{}]: {}", d.severity, d.code, d.message);
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "    hint: {h}");
        }
    }
    let s = &report.summary;
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let _ = write!(
        out,
        "{}, {}, {} in {}, {} ({} ms)",
        plural(s.errors, "error", "errors"),
        plural(s.warnings, "warning", "warnings"),
        plural(s.info, "info", "info"),
        plural(s.files, "file", "files"),
        plural(s.templates, "template", "templates"),
        s.elapsed_ms
    );
    if hidden > 0 {
        let _ = write!(out, "; {hidden} below --min-severity {min} not shown");
    }
    out.push('\n');
    out
}
