//! Findings and the report that carries them (the JSON shape of DESIGN.md).
//!
//! Checkers push [`Diagnostic`]s into a [`Diagnostics`] sink; [`Report`] is what `check`
//! returns and what every output format renders.

use std::collections::HashSet;

use serde::Serialize;

use crate::validate::codes::{Code, Severity};

/// One finding at one place of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code from [`Code`].
    pub code: Code,
    /// Always `code.severity()`; stored so consumers need not know the table.
    pub severity: Severity,
    /// Path relative to the configuration root, `/`-separated.
    pub file: String,
    /// 1-based line; 0 when the finding is about a whole file or directory.
    pub line: u32,
    /// 1-based column in characters; 0 when not applicable.
    pub column: u32,
    /// What is wrong. Never contains a secret value.
    pub message: String,
    /// What to do about it, when we know.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A finding with the code's own severity.
    pub fn new(
        code: Code,
        file: impl Into<String>,
        line: u32,
        column: u32,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            file: file.into(),
            line,
            column,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Counts shown at the end of every report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    /// YAML files loaded as Home Assistant configuration (reachable, dashboards, blueprints).
    pub files: usize,
    /// Template strings parsed.
    pub templates: usize,
    pub elapsed_ms: u64,
}

/// The result of one `check` run; serialises to DESIGN.md's report JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The configuration root as given (displayed, not canonicalised).
    pub root: String,
    pub summary: Summary,
    /// Sorted by file, line, column, code.
    pub diagnostics: Vec<Diagnostic>,
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Report", 5)?;
        st.serialize_field("version", &1)?;
        st.serialize_field("tool", "gitops-bridge")?;
        st.serialize_field("root", &self.root)?;
        st.serialize_field("summary", &self.summary)?;
        st.serialize_field("diagnostics", &self.diagnostics)?;
        st.end()
    }
}

impl Report {
    /// The worst severity present, if any finding exists.
    pub fn worst(&self) -> Option<Severity> {
        self.diagnostics.iter().map(|d| d.severity).max()
    }

    /// Diagnostics with a given code (handy in tests and for the add-on).
    pub fn with_code(&self, code: Code) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(move |d| d.code == code)
    }
}

/// Collects findings; drops exact duplicates (a file included twice is checked twice).
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    seen: HashSet<(Code, String, u32, u32, String)>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        let key = (d.code, d.file.clone(), d.line, d.column, d.message.clone());
        if self.seen.insert(key) {
            self.items.push(d);
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sorted findings.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| {
            (&a.file, a.line, a.column, a.code).cmp(&(&b.file, b.line, b.column, b.code))
        });
        self.items
    }
}
