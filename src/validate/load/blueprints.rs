//! Blueprints: the files under `blueprints/` (loaded with `!input` allowed) and the
//! `use_blueprint:` references of automations, scripts and template entities.
//!
//! HA resolves `use_blueprint: path: x/y.yaml` to `blueprints/<domain>/x/y.yaml`; when the
//! file is missing it only logs "Failed to generate automation from blueprint … Unable to
//! find" and the automation does not exist — `check_config` still passes.

use std::path::Path;

use crate::validate::codes::Code;
use crate::validate::loader::{self, FileRole, Loaded, Loader};
use crate::validate::yaml::{Kind, Node};

/// Loads every `blueprints/**/*.yaml`.
pub fn load_all(root: &Path, ld: &mut Loader) -> Vec<Node> {
    let (files, _) = loader::find_files(&root.join("blueprints"));
    let mut out = Vec::new();
    for f in files {
        if let Loaded::Ok(Some(n)) = ld.load(&f, FileRole::Blueprint) {
            out.push(n);
        }
    }
    out
}

/// Checks that every `use_blueprint` of the merged configuration names an existing file.
pub fn check_uses(config: &Node, root: &Path, ld: &mut Loader) {
    let Some(top) = config.as_map() else { return };
    for (k, v) in top {
        let key = k.key_text().unwrap_or_default();
        let domain = key.split(' ').next().unwrap_or_default();
        let items: Vec<&Node> = match (domain, &v.kind) {
            ("automation" | "template", Kind::Seq(s)) => s.iter().collect(),
            ("script", Kind::Map(m)) => m.iter().map(|(_, v)| v).collect(),
            _ => continue,
        };
        for item in items {
            let Some(path_node) = item.get("use_blueprint").and_then(|u| u.get("path")) else {
                continue;
            };
            let Some(path) = path_node.as_str() else {
                continue;
            };
            let file = root.join("blueprints").join(domain).join(path);
            if !file.is_file() {
                let d = ld
                    .at(
                        Code::BlueprintMissing,
                        path_node.pos,
                        format!("blueprint {path} not found in blueprints/{domain}/"),
                    )
                    .with_hint(format!(
                        "Home Assistant logs \"Failed to generate {domain} from blueprint\" and the {domain} does not exist; import the blueprint or fix the path"
                    ));
                ld.push(d);
            }
        }
    }
}
