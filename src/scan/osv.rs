//! Known vulnerabilities of dependencies from OSV.dev (<https://google.github.io/osv.dev/post-v1-querybatch/>).
//!
//! Two kinds of dependency are looked up: `custom_components/*/manifest.json`
//! `requirements` pinned with `==` (ecosystem `PyPI`) and workflow `uses:` references with a
//! version tag (ecosystem `GitHub Actions`). One `POST /v1/querybatch` asks for all of them;
//! answers are cached on disk (one JSON file) so a later run, or `--offline`, needs no
//! network. Nothing here runs unless the caller sets [`OsvConfig`]: the library default
//! stays offline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::workflows::UsesRef;
use super::{Finding, TextFile};
use crate::validate::Code;

/// The public OSV API.
pub const DEFAULT_URL: &str = "https://api.osv.dev";

/// Cached answers older than this are asked again (when online).
const CACHE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Where and how to ask OSV.
#[derive(Debug, Clone)]
pub struct OsvConfig {
    /// Base URL (`https://api.osv.dev`; a stand-in in tests).
    pub url: String,
    /// Directory of the cache file; `None` keeps no cache.
    pub cache_dir: Option<PathBuf>,
    /// Use the cache only, never the network.
    pub offline: bool,
}

/// One dependency at the place it is declared.
struct Dep {
    ecosystem: &'static str,
    name: String,
    version: String,
    file: String,
    line: u32,
    column: u32,
    /// As written, for the message.
    written: String,
}

impl Dep {
    fn key(&self) -> String {
        format!("{}|{}|{}", self.ecosystem, self.name, self.version)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    /// `ecosystem|name|version` -> vulnerability ids and when they were fetched.
    entries: BTreeMap<String, CacheEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheEntry {
    ids: Vec<String>,
    fetched: u64,
}

#[derive(Serialize)]
struct Batch<'a> {
    queries: Vec<Query<'a>>,
}

#[derive(Serialize)]
struct Query<'a> {
    package: Package<'a>,
    version: &'a str,
}

#[derive(Serialize)]
struct Package<'a> {
    name: &'a str,
    ecosystem: &'a str,
}

#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<BatchResult>,
}

#[derive(Deserialize)]
struct BatchResult {
    #[serde(default)]
    vulns: Vec<Vuln>,
}

#[derive(Deserialize)]
struct Vuln {
    id: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `requirements` of every custom integration manifest, pinned with `==`.
fn manifest_deps(files: &[TextFile], out: &mut Vec<Dep>) {
    for f in files.iter().filter(|f| {
        f.rel.ends_with("/manifest.json")
            && f.rel.split('/').rev().nth(2) == Some("custom_components")
    }) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&f.text) else {
            continue;
        };
        for r in v
            .get("requirements")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str())
        {
            let Some((name, version)) = r.split_once("==") else {
                continue;
            };
            // `pkg[extra]==1.0; python_version > "3"`
            let name = name.split('[').next().unwrap_or(name).trim();
            let version = version.split(';').next().unwrap_or(version).trim();
            let (line, column) = f
                .lines()
                .find_map(|(n, l)| l.find(r).map(|c| (n, c as u32 + 1)))
                .unwrap_or((0, 0));
            out.push(Dep {
                ecosystem: "PyPI",
                name: name.to_string(),
                version: version.to_string(),
                file: f.rel.clone(),
                line,
                column,
                written: r.to_string(),
            });
        }
    }
}

/// Workflow actions referenced by a version tag (`v4.1.0`); branches and SHAs have no
/// version OSV can match.
fn action_deps(refs: &[UsesRef], out: &mut Vec<Dep>) {
    for u in refs {
        let Some((path, r)) = u.uses.split_once('@') else {
            continue;
        };
        let v = r.strip_prefix('v').unwrap_or(r);
        if !v.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let name: String = path.split('/').take(2).collect::<Vec<_>>().join("/");
        out.push(Dep {
            ecosystem: "GitHub Actions",
            name,
            version: v.to_string(),
            file: u.file.clone(),
            line: u.line,
            column: u.column,
            written: u.uses.clone(),
        });
    }
}

/// Looks every dependency up and reports the vulnerable ones; a failed lookup is one
/// `dependency-unchecked` finding, never an error of the whole scan.
pub fn audit(files: &[TextFile], refs: &[UsesRef], cfg: &OsvConfig, out: &mut Vec<Finding>) {
    let mut deps = Vec::new();
    manifest_deps(files, &mut deps);
    action_deps(refs, &mut deps);
    if deps.is_empty() {
        return;
    }
    let cache_file = cfg.cache_dir.as_ref().map(|d| d.join("osv-cache.json"));
    let mut cache: Cache = cache_file
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let t = now();
    let mut wanted: Vec<&Dep> = Vec::new();
    for d in &deps {
        let fresh = cache
            .entries
            .get(&d.key())
            .is_some_and(|e| cfg.offline || t.saturating_sub(e.fetched) < CACHE_TTL.as_secs());
        if !fresh && !wanted.iter().any(|w| w.key() == d.key()) {
            wanted.push(d);
        }
    }
    let mut unchecked: Option<String> = None;
    if !wanted.is_empty() {
        if cfg.offline {
            unchecked = Some("--offline and not in the cache".into());
        } else {
            match fetch(&cfg.url, &wanted) {
                Ok(ids) => {
                    for (d, ids) in wanted.iter().zip(ids) {
                        cache
                            .entries
                            .insert(d.key(), CacheEntry { ids, fetched: t });
                    }
                    if let Some(p) = &cache_file {
                        if let Some(dir) = p.parent() {
                            let _ = std::fs::create_dir_all(dir);
                        }
                        if let Ok(b) = serde_json::to_vec_pretty(&cache) {
                            let _ = std::fs::write(p, b);
                        }
                    }
                }
                Err(e) => unchecked = Some(e),
            }
        }
    }
    let mut missing = 0;
    for d in &deps {
        let Some(e) = cache.entries.get(&d.key()) else {
            missing += 1;
            continue;
        };
        if e.ids.is_empty() {
            continue;
        }
        let malicious = e.ids.iter().any(|i| i.starts_with("MAL-"));
        let code = if malicious {
            Code::DependencyCompromised
        } else {
            Code::DependencyVulnerable
        };
        let list = e
            .ids
            .iter()
            .take(5)
            .map(|i| format!("{i} (https://osv.dev/vulnerability/{i})"))
            .collect::<Vec<_>>()
            .join(", ");
        let more = if e.ids.len() > 5 {
            format!(" and {} more", e.ids.len() - 5)
        } else {
            String::new()
        };
        out.push(Finding::new(
            code,
            &d.file,
            d.line,
            d.column,
            format!("`{}` ({} {}) has known vulnerabilities: {list}{more}", d.written, d.ecosystem, d.name),
            "update to a fixed version (each advisory lists them); for an action, pin the fixed release by its commit SHA",
            &d.key(),
        ));
    }
    if missing > 0
        && let Some(why) = unchecked
    {
        let first = deps.iter().find(|d| !cache.entries.contains_key(&d.key()));
        let (file, line) = first.map(|d| (d.file.as_str(), d.line)).unwrap_or(("", 0));
        out.push(Finding::new(
            Code::DependencyUnchecked,
            file,
            line,
            0,
            format!("{missing} dependencies not checked against OSV: {why}"),
            "run once with network access to fill the cache, or check them by hand at https://osv.dev",
            "osv-unchecked",
        ));
    }
}

/// One `POST /v1/querybatch`; the ids of each query's vulnerabilities, in query order.
fn fetch(base: &str, deps: &[&Dep]) -> Result<Vec<Vec<String>>, String> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let url = format!("{}/v1/querybatch", base.trim_end_matches('/'));
    let body = Batch {
        queries: deps
            .iter()
            .map(|d| Query {
                package: Package {
                    name: &d.name,
                    ecosystem: d.ecosystem,
                },
                version: &d.version,
            })
            .collect(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let answer: BatchAnswer = rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let resp = client
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("POST {url}: HTTP {status}"));
        }
        resp.json::<BatchAnswer>()
            .await
            .map_err(|e| format!("POST {url}: unexpected answer: {e}"))
    })?;
    if answer.results.len() != deps.len() {
        return Err(format!(
            "POST {url}: {} answers to {} queries",
            answer.results.len(),
            deps.len()
        ));
    }
    Ok(answer
        .results
        .into_iter()
        .map(|r| r.vulns.into_iter().map(|v| v.id).collect())
        .collect())
}
