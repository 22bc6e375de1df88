//! Dependencies: action references against actions known to have been compromised.
//!
//! Offline and built in: the list below is short and each entry cites its advisory. A
//! query of OSV.dev (`/v1/querybatch`, ecosystems `GitHub Actions` and `PyPI` for
//! `custom_components/*/manifest.json` requirements) is not implemented yet (see
//! docs/scan.md).

use super::Finding;
use super::workflows::UsesRef;
use crate::validate::Code;

/// A compromised action: which references are affected, and the advisory.
struct Compromised {
    /// `owner/repo`, lowercase.
    action: &'static str,
    advisory: &'static str,
    url: &'static str,
    /// Tags below this version were moved to malicious code.
    fixed: (u32, u32, u32),
    /// Commits that are the malicious code itself.
    bad_commits: &'static [&'static str],
}

const COMPROMISED: &[Compromised] = &[Compromised {
    // tj-actions/changed-files: every tag was repointed to a commit that printed the
    // runner's secrets to the log (March 2025, CVE-2025-30066); fixed in v46.0.1.
    action: "tj-actions/changed-files",
    advisory: "GHSA-mrrh-fwg8-r2c3",
    url: "https://github.com/advisories/GHSA-mrrh-fwg8-r2c3",
    fixed: (46, 0, 1),
    bad_commits: &["0e58ed8671d6b60d0890c21b07f8835ace038e67"],
}];

/// `v45.0.7` -> (45, 0, 7); `None` for branches and SHAs.
fn version(r: &str) -> Option<(u32, u32, u32)> {
    let mut it = r.strip_prefix('v').unwrap_or(r).split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next().map(|s| s.parse().ok()).unwrap_or(Some(0))?;
    let patch = it.next().map(|s| s.parse().ok()).unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

pub fn audit(refs: &[UsesRef], out: &mut Vec<Finding>) {
    for u in refs {
        let Some((path, r)) = u.uses.split_once('@') else {
            continue;
        };
        let action: String = path
            .split('/')
            .take(2)
            .collect::<Vec<_>>()
            .join("/")
            .to_ascii_lowercase();
        for c in COMPROMISED.iter().filter(|c| c.action == action) {
            let sha = r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit());
            let affected = if sha {
                c.bad_commits.iter().any(|b| b.eq_ignore_ascii_case(r))
            } else {
                // A major-only tag (`v45`) or a branch may point at affected code.
                version(r).is_none_or(|v| v < c.fixed)
            };
            if affected {
                out.push(Finding::new(
                    Code::DependencyCompromised,
                    &u.file,
                    u.line,
                    u.column,
                    format!("`{}` is affected by {} ({}): the action leaked the workflow's secrets", u.uses, c.advisory, c.url),
                    "remove the action or pin a fixed release by its commit SHA; rotate every secret the workflow could read",
                    &u.uses,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version("v45.0.7"), Some((45, 0, 7)));
        assert_eq!(version("v46"), Some((46, 0, 0)));
        assert_eq!(version("main"), None);
    }
}
