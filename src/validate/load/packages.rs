//! `homeassistant: packages:` merged into the configuration the way HA merges them
//! (`homeassistant/config.py: merge_packages_config`, `_recursive_merge`).
//!
//! Per integration key of each package: list-type integrations (platform-based ones,
//! `automation`, `template`, …) are concatenated with falsy entries removed; the others are
//! merged as mappings, recursively, and a scalar key that is already set is a conflict:
//! HA logs a package error and stops merging that integration of that package. The
//! list-or-dict decision comes from the integration table (HA decides it by importing the
//! integration); for custom integrations we go by the shape of the value.

use crate::validate::codes::Code;
use crate::validate::diagnostic::Diagnostic;
use crate::validate::domains::{self, CustomComponents, Merge};
use crate::validate::loader::Loader;
use crate::validate::source::Pos;
use crate::validate::yaml::{Kind, Node, Style};

/// Merges the packages of `config` into it and removes them from the tree.
pub fn merge(config: &mut Node, loader: &mut Loader, custom: &CustomComponents) {
    let Some(packages) = take_packages(config) else {
        return;
    };
    let entries = match packages.kind {
        Kind::Map(m) => m,
        Kind::Null | Kind::Unknown | Kind::Placeholder(_) => return,
        _ => {
            let d = loader.at(
                Code::PackageInvalid,
                packages.pos,
                format!(
                    "packages must be a mapping of name to package, not a {}",
                    packages.type_name()
                ),
            );
            loader.push(d);
            return;
        }
    };
    let Kind::Map(main) = &mut config.kind else {
        return;
    };
    for (name_node, pack) in entries {
        let name = name_node
            .key_text()
            .map(|s| s.into_owned())
            .unwrap_or_default();
        if !is_slug(&name) {
            let d = loader
                .at(
                    Code::PackageInvalid,
                    name_node.pos,
                    format!("invalid package definition '{name}': the name must be a slug"),
                )
                .with_hint(format!("rename it to `{}`", slugify(&name)));
            loader.push(d);
            continue;
        }
        let comps = match pack.kind {
            Kind::Map(m) => m,
            Kind::Null => Vec::new(),
            Kind::Unknown | Kind::Placeholder(_) => continue,
            _ => {
                let d = loader.at(Code::PackageInvalid, pack.pos, format!("invalid package definition '{name}': expected a mapping of integrations, got a {}", pack.type_name()));
                loader.push(d);
                continue;
            }
        };
        if let Some((k, v)) = comps.iter().find(|(_, v)| {
            !matches!(
                v.kind,
                Kind::Map(_) | Kind::Seq(_) | Kind::Null | Kind::Unknown | Kind::Placeholder(_)
            )
        }) {
            let key = k.key_text().unwrap_or_default().into_owned();
            let d = loader.at(
                Code::PackageInvalid,
                v.pos,
                format!("invalid package definition '{name}': `{key}` must be a mapping, a list or empty, not a {}", v.type_name()),
            );
            loader.push(d);
            continue;
        }
        for (comp_key, comp_conf) in comps {
            let comp_name = comp_key.key_text().unwrap_or_default().into_owned();
            if comp_name == "homeassistant" {
                continue;
            }
            let Some(domain) = domains::domain_key(&comp_name) else {
                let d = loader.at(
                    Code::PackageInvalid,
                    comp_key.pos,
                    format!("package '{name}': invalid domain '{comp_name}'"),
                );
                loader.push(d);
                continue;
            };
            let merge = match domains::builtin().get(domain) {
                Some(i) => i.merge,
                None if custom.domains.contains(domain) => {
                    if matches!(comp_conf.kind, Kind::Seq(_)) {
                        Merge::List
                    } else {
                        Merge::Dict
                    }
                }
                None => {
                    let d = loader
                        .at(Code::ConfigUnknownIntegration, comp_key.pos, format!("package '{name}': integration '{domain}' not found"))
                        .with_hint("Home Assistant skips this part of the package; is the custom integration missing from custom_components/?");
                    loader.push(d);
                    continue;
                }
            };
            merge_component(main, &name, comp_key, comp_conf, merge, loader);
        }
    }
}

fn take_packages(config: &mut Node) -> Option<Node> {
    let Kind::Map(top) = &mut config.kind else {
        return None;
    };
    let (_, core) = top
        .iter_mut()
        .find(|(k, _)| k.as_str() == Some("homeassistant"))?;
    let Kind::Map(core) = &mut core.kind else {
        return None;
    };
    let idx = core
        .iter()
        .position(|(k, _)| k.as_str() == Some("packages"))?;
    Some(core.remove(idx).1)
}

fn merge_component(
    main: &mut Vec<(Node, Node)>,
    pack: &str,
    comp_key: Node,
    conf: Node,
    merge: Merge,
    loader: &mut Loader,
) {
    let comp_name = comp_key.key_text().unwrap_or_default().into_owned();
    let idx = main
        .iter()
        .position(|(k, _)| k.key_text().as_deref() == Some(comp_name.as_str()));
    match merge {
        Merge::List => {
            let mut items = match idx {
                Some(i) => ensure_list(std::mem::replace(
                    &mut main[i].1,
                    Node::new(comp_key.pos, Kind::Null),
                )),
                None => Vec::new(),
            };
            items.extend(ensure_list(conf));
            items.retain(Node::is_truthy);
            let pos = idx.map_or(comp_key.pos, |i| main[i].1.pos);
            let node = Node::new(pos, Kind::Seq(items));
            match idx {
                Some(i) => main[i].1 = node,
                None => main.push((comp_key, node)),
            }
        }
        Merge::Dict => {
            let conf = match conf.kind {
                Kind::Null => Node::new(conf.pos, Kind::Map(Vec::new())),
                Kind::Map(_) => conf,
                Kind::Unknown | Kind::Placeholder(_) => return,
                _ => {
                    let d = loader.at(Code::PackageConflict, conf.pos, format!("package '{pack}': integration '{comp_name}' cannot be merged, expected a dict"));
                    loader.push(d);
                    return;
                }
            };
            let i = match idx {
                Some(i) => i,
                None => {
                    main.push((
                        comp_key.clone(),
                        Node::new(comp_key.pos, Kind::Map(Vec::new())),
                    ));
                    main.len() - 1
                }
            };
            if matches!(main[i].1.kind, Kind::Null) {
                main[i].1 = Node::new(main[i].1.pos, Kind::Map(Vec::new()));
            }
            if !matches!(main[i].1.kind, Kind::Map(_) | Kind::Unknown) {
                let d = loader.at(
                    Code::PackageConflict,
                    comp_key.pos,
                    format!("package '{pack}': integration '{comp_name}' cannot be merged, dict expected in main config"),
                );
                loader.push(d);
                return;
            }
            if let Kind::Map(pm) = conf.kind {
                recursive_merge(&mut main[i].1, pm, pack, &comp_name, loader);
            }
        }
    }
}

/// `_recursive_merge`; returns false when a conflict stopped the merge.
fn recursive_merge(
    target: &mut Node,
    package: Vec<(Node, Node)>,
    pack: &str,
    comp: &str,
    loader: &mut Loader,
) -> bool {
    let Kind::Map(conf) = &mut target.kind else {
        return true;
    };
    for (key, value) in package {
        let kt = key.key_text().unwrap_or_default().into_owned();
        let idx = conf
            .iter()
            .position(|(k, _)| k.key_text().as_deref() == Some(kt.as_str()));
        match value.kind {
            Kind::Map(m) => {
                if m.is_empty() {
                    continue;
                }
                let i = match idx {
                    Some(i) => i,
                    None => {
                        conf.push((key.clone(), Node::new(value.pos, Kind::Map(Vec::new()))));
                        conf.len() - 1
                    }
                };
                if !matches!(conf[i].1.kind, Kind::Map(_)) {
                    conflict(loader, key.pos, pack, comp, &kt, conf[i].0.pos);
                    return false;
                }
                if !recursive_merge(&mut conf[i].1, m, pack, comp, loader) {
                    // HA overwrites this result with the next key's; the value stays unmerged.
                    continue;
                }
            }
            Kind::Seq(_) => {
                let mut items = match idx {
                    Some(i) => ensure_list(std::mem::replace(
                        &mut conf[i].1,
                        Node::new(value.pos, Kind::Null),
                    )),
                    None => Vec::new(),
                };
                items.extend(ensure_list(value));
                items.retain(Node::is_truthy);
                match idx {
                    Some(i) => conf[i].1 = Node::new(key.pos, Kind::Seq(items)),
                    None => conf.push((key.clone(), Node::new(key.pos, Kind::Seq(items)))),
                }
            }
            _ => {
                if let Some(i) = idx
                    && !matches!(conf[i].1.kind, Kind::Null)
                {
                    // HA stops here either way; an identical value loses nothing.
                    if !same_scalar(&conf[i].1, &value) {
                        conflict(loader, key.pos, pack, comp, &kt, conf[i].0.pos);
                    }
                    return false;
                }
                match idx {
                    Some(i) => conf[i].1 = value,
                    None => conf.push((key, value)),
                }
            }
        }
    }
    true
}

fn conflict(loader: &mut Loader, at: Pos, pack: &str, comp: &str, key: &str, first: Pos) {
    let first_at = format!("{}:{}", loader.sources.get(first.file).rel, first.line);
    let d: Diagnostic = loader
        .at(Code::PackageConflict, at, format!("package '{pack}': integration '{comp}' has duplicate key '{key}' (already set at {first_at})"))
        .with_hint(format!("Home Assistant keeps the first value and drops the rest of this part of package '{pack}'; define '{key}' once"));
    loader.push(d);
}

/// Same scalar value (secrets compare by name).
fn same_scalar(a: &Node, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Str(x, _), Kind::Str(y, _)) => x == y,
        (Kind::Int(x), Kind::Int(y)) => x == y,
        (Kind::Float(x), Kind::Float(y)) => x == y,
        (Kind::Bool(x), Kind::Bool(y)) => x == y,
        (Kind::Date(x), Kind::Date(y)) => x == y,
        (Kind::Placeholder(x), Kind::Placeholder(y)) => x == y,
        _ => false,
    }
}

/// `vol.EnsureList`: None -> [], a list stays, anything else -> [x].
fn ensure_list(n: Node) -> Vec<Node> {
    match n.kind {
        Kind::Null => Vec::new(),
        Kind::Seq(s) => s,
        _ => vec![n],
    }
}

/// `cv.slug`: the name must equal its own slugification.
fn is_slug(s: &str) -> bool {
    !s.is_empty() && slugify(s) == s
}

/// HA's `slugify` for ASCII names (lowercase, runs of other characters become one `_`,
/// no leading or trailing `_`).
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    let mut pending = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if pending && !out.is_empty() {
                out.push('_');
            }
            pending = false;
            out.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            // Non-ASCII letters are transliterated by HA; keep them rather than guess.
            if pending && !out.is_empty() {
                out.push('_');
            }
            pending = false;
            out.extend(c.to_lowercase());
        } else {
            pending = true;
        }
    }
    out
}

/// A mapping key node (for building merged trees in tests and elsewhere).
pub fn key(pos: Pos, s: &str) -> Node {
    Node::new(pos, Kind::Str(s.to_string(), Style::Plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(is_slug("ups_monitor"));
        assert!(!is_slug("UPS"));
        assert!(!is_slug("a-b"));
        assert_eq!(slugify("Living Room Lamp"), "living_room_lamp");
        assert_eq!(slugify("a--b"), "a_b");
        assert_eq!(slugify("_x_"), "x");
    }
}
