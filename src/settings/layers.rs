//! Layering: built-in defaults < the YAML file < the add-on's `/data/options.json` <
//! `GITOPS_BRIDGE__*` environment variables, merged key by key as JSON values and
//! deserialised once, so every error names its full key.

use std::path::PathBuf;

use serde_json::Value;

use super::{ADDON_OPTIONS_PATH, ENV_PREFIX, RawSettings, SettingsError, invalid};

/// Where settings come from; tests and the add-on point these elsewhere.
#[derive(Debug, Clone)]
pub struct Sources {
    pub file: Option<PathBuf>,
    pub addon_options: Option<PathBuf>,
    /// Environment variables to consider (normally `std::env::vars()`).
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// The real sources: the given file, `/data/options.json` if present, the process env.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Sources {
            file,
            addon_options: Some(PathBuf::from(ADDON_OPTIONS_PATH)),
            env: std::env::vars().collect(),
        }
    }
}

pub(super) fn load_raw(sources: &Sources) -> Result<RawSettings, SettingsError> {
    let mut merged = Value::Object(Default::default());
    if let Some(path) = &sources.file {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.clone(),
            source,
        })?;
        let value: Value = if text.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| SettingsError::Syntax {
                path: path.clone(),
                message: e.to_string(),
            })?
        };
        if !value.is_object() {
            return Err(SettingsError::Syntax {
                path: path.clone(),
                message: "the top level must be a mapping of settings".into(),
            });
        }
        merge(&mut merged, value);
    }
    if let Some(path) = &sources.addon_options
        && path.is_file()
    {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.clone(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| SettingsError::Syntax {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut options = addon_options_to_settings(value);
        union_repositories(&merged, &mut options);
        merge(&mut merged, options);
    }
    for (name, value) in &sources.env {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(|k| k.to_lowercase()).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(invalid(
                name,
                "empty key segment in environment variable name",
            ));
        }
        let mut overlay = env_value(value);
        for key in keys.iter().rev() {
            let mut map = serde_json::Map::new();
            map.insert(key.clone(), overlay);
            overlay = Value::Object(map);
        }
        merge(&mut merged, overlay);
    }
    serde_path_to_error::deserialize(merged).map_err(|e| {
        let key = e.path().to_string();
        invalid(
            if key == "." { "(top level)" } else { &key },
            e.inner().to_string(),
        )
    })
}

/// An environment value: YAML flow syntax for lists/maps/numbers/bools, else a plain string.
fn env_value(text: &str) -> Value {
    let trimmed = text.trim();
    if (trimmed.starts_with('[') || trimmed.starts_with('{'))
        && let Ok(v) = serde_yaml_ng::from_str::<Value>(trimmed)
    {
        return v;
    }
    match trimmed {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => trimmed
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// The add-on's options use the same keys as the file; empty strings and nulls mean "not set"
/// (the Supervisor writes every optional key), so they are dropped before merging.
fn addon_options_to_settings(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| {
                    let v = addon_options_to_settings(v);
                    match &v {
                        Value::Null => None,
                        Value::String(s) if s.is_empty() => None,
                        Value::Array(a) if a.is_empty() => None,
                        _ => Some((k, v)),
                    }
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(addon_options_to_settings).collect())
        }
        other => other,
    }
}

/// The add-on's Repositories option adds to the settings file's list instead of replacing
/// it, so per-repository policy written in the file is not lost; a name listed in both keeps
/// the file's entry (which may carry `allow` and friends).
fn union_repositories(file: &Value, options: &mut Value) {
    let Some(from_file) = file
        .pointer("/github/repositories")
        .and_then(Value::as_array)
    else {
        return;
    };
    let Some(from_options) = options
        .pointer_mut("/github/repositories")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let name = |v: &Value| {
        v.as_str()
            .or_else(|| v.get("name").and_then(Value::as_str))
            .map(|s| s.trim().to_ascii_lowercase())
    };
    let mut merged = from_file.clone();
    for entry in from_options.drain(..) {
        if !from_file
            .iter()
            .any(|f| name(f).is_some() && name(f) == name(&entry))
        {
            merged.push(entry);
        }
    }
    *from_options = merged;
}

/// Deep merge: maps merge key by key, anything else is replaced.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}
