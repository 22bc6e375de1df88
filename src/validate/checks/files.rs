//! YAML files in the configuration directory that Home Assistant never loads.
//!
//! They are reported as information and not checked as HA configuration (a file that is
//! not reached may be an old copy, a template, or another tool's file). Two kinds get their
//! own note because they are not HA YAML at all: ESPHome device configurations (their own
//! dialect: `!lambda`, `<<: !include`, substitutions) and YAML that is itself a Jinja
//! template (dwains_dashboard, lovelace_gen), which is not YAML until rendered. A directory
//! whose YAML files are all unreachable is reported once.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::validate::codes::Code;
use crate::validate::diagnostic::{Diagnostic, Diagnostics};
use crate::validate::source::{FileId, relative_to};
use crate::validate::yaml;

/// Directories never searched: not HA configuration.
const SKIP_DIRS: &[&str] = &[
    "custom_components",
    "node_modules",
    "deps",
    "tts",
    "backups",
    "tmp",
    "venv",
    "__pycache__",
];

/// How an unreached YAML file looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Esphome,
    Jinja,
    /// Not valid YAML, and no Jinja structure: a broken file (an old automations file).
    Broken,
    Plain,
}

/// Reports every YAML file under `root` that is not in `loaded`.
pub fn unreachable(root: &Path, loaded: &HashSet<PathBuf>, diags: &mut Diagnostics) {
    let mut all: Vec<PathBuf> = Vec::new();
    collect(root, &mut all, 0);
    all.sort();
    // Directory (relative) -> (yaml files, unreached files by class)
    let mut per_dir: BTreeMap<PathBuf, (usize, Vec<(PathBuf, Class)>)> = BTreeMap::new();
    for f in &all {
        let reached = loaded.contains(f);
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        // secrets files and stand-ins are read on demand, not configuration
        let ignorable =
            name.contains("secret") || name == "known_devices.yaml" || name == "ip_bans.yaml";
        let dir = f.parent().unwrap_or(root).to_path_buf();
        for anc in dir.ancestors() {
            if !anc.starts_with(root) {
                break;
            }
            per_dir.entry(anc.to_path_buf()).or_default().0 += 1;
        }
        if reached || ignorable {
            continue;
        }
        let class = classify(f);
        per_dir.entry(dir).or_default().1.push((f.clone(), class));
    }
    // Collapse: the highest directory (below root) whose YAML files are all unreached.
    let unreached_in = |d: &Path| -> usize {
        per_dir
            .iter()
            .filter(|(k, _)| k.starts_with(d))
            .map(|(_, v)| v.1.len())
            .sum()
    };
    let mut reported_dirs: Vec<PathBuf> = Vec::new();
    let mut by_class: BTreeMap<(Class, PathBuf), Vec<PathBuf>> = BTreeMap::new();
    for (dir, (_, files)) in &per_dir {
        for (f, class) in files {
            let mut top = None;
            for anc in dir.ancestors() {
                if anc == root || !anc.starts_with(root) {
                    break;
                }
                let total = per_dir.get(anc).map_or(0, |v| v.0);
                if total >= 2 && unreached_in(anc) == total {
                    top = Some(anc.to_path_buf());
                }
            }
            match top {
                Some(t) => {
                    if !reported_dirs.contains(&t) {
                        reported_dirs.push(t.clone());
                    }
                    by_class.entry((*class, t)).or_default().push(f.clone());
                }
                None => by_class
                    .entry((*class, f.clone()))
                    .or_default()
                    .push(f.clone()),
            }
        }
    }
    // One finding per directory and kind of file (a dwains_dashboard folder holds Jinja
    // files and plain ones).
    let mut entries: Vec<((Class, PathBuf), Vec<PathBuf>)> = by_class.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for ((class, target), files) in entries {
        let is_dir = reported_dirs.contains(&target);
        let count = files.len();
        let what_files = if count == 1 {
            "1 YAML file".to_string()
        } else {
            format!("{count} YAML files")
        };
        let rel = relative_to(root, &target);
        let (shown, what) = if is_dir {
            (
                format!("{rel}/"),
                format!(
                    "{what_files} in {rel}/ {}",
                    if count == 1 { "is" } else { "are" }
                ),
            )
        } else {
            (rel.clone(), format!("{rel} is"))
        };
        let d = match class {
            Class::Esphome => Diagnostic::new(
                Code::FileEsphome,
                shown,
                0,
                0,
                format!("{what} ESPHome configuration (a different YAML dialect): skipped"),
            ),
            Class::Jinja => Diagnostic::new(
                Code::FileJinjaYaml,
                shown,
                0,
                0,
                format!("{what} YAML preprocessed by Jinja (not YAML until rendered): skipped"),
            ),
            Class::Broken => Diagnostic::new(
                Code::FileUnreachable,
                shown,
                0,
                0,
                format!("{what} not reachable from configuration.yaml, and not valid YAML: not checked"),
            )
            .with_hint("Home Assistant could not load it either: fix or delete it, or include it to see the error"),
            Class::Plain => Diagnostic::new(
                Code::FileUnreachable,
                shown,
                0,
                0,
                format!("{what} not reachable from configuration.yaml: not checked"),
            )
            .with_hint("include it (`!include`, a package, a dashboard) or delete it"),
        };
        diags.push(d);
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 32 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        if ft.is_dir() {
            if depth == 0 && name == "blueprints" {
                // loaded as blueprints
                continue;
            }
            if !SKIP_DIRS.contains(&name.as_str()) {
                collect(&p, out, depth + 1);
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(crate::validate::loader::normalize(&p));
        }
    }
}

fn classify(f: &Path) -> Class {
    if f.components().any(|c| {
        c.as_os_str()
            .to_string_lossy()
            .to_lowercase()
            .contains("esphome")
    }) {
        return Class::Esphome;
    }
    let Ok(text) = std::fs::read_to_string(f) else {
        return Class::Plain;
    };
    if text.lines().any(|l| l.starts_with("esphome:")) {
        return Class::Esphome;
    }
    if !yaml::parse(&text, FileId(u32::MAX)).failed {
        return Class::Plain;
    }
    // Templates in values are ordinary HA YAML, so a broken automations file full of
    // `{{ }}` is still just broken. Jinja-preprocessed YAML (lovelace_gen, dwains_dashboard)
    // has Jinja structure: statements or comments on lines of their own, or the marker.
    let jinja_structure = text.starts_with("# lovelace_gen")
        || text.lines().any(|l| {
            let t = l.trim_start();
            t.starts_with("{%") || t.starts_with("{#")
        });
    if jinja_structure {
        Class::Jinja
    } else {
        Class::Broken
    }
}
