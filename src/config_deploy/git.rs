//! The staging clone: a bare git repository under the add-on's data, fetched with the `git`
//! command line. Git never runs inside Home Assistant's configuration folder; files reach it
//! only through [`super::sync`], which reads them from here.
//!
//! The token goes to git in its environment (`GIT_CONFIG_*`), never on a command line another
//! process could read, and never into an error message.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use tokio::process::Command;

use crate::settings::Secret;

/// Why git could not give us a commit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GitError {
    #[error(
        "{url}: access refused; the token needs read access to the repository's contents (fine-grained: Contents read), or the repository does not exist"
    )]
    Access { url: String },
    #[error("{url}: there is no branch `{branch}`")]
    NoBranch { url: String, branch: String },
    #[error("commit `{0}` is not in the repository (not pushed, or a typo)")]
    NoCommit(String),
    #[error("git {what}: {message}")]
    Failed { what: String, message: String },
    #[error("git {0} took too long and was stopped")]
    Timeout(String),
}

/// One file of a commit's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Relative to the deployed folder, `/`-separated.
    pub path: String,
    /// `100644`, `100755`, `120000` (symlink), `160000` (submodule).
    pub mode: String,
    pub blob: String,
    pub size: u64,
}

impl TreeEntry {
    pub fn is_symlink(&self) -> bool {
        self.mode == "120000"
    }
    pub fn is_submodule(&self) -> bool {
        self.mode == "160000"
    }
    pub fn is_executable(&self) -> bool {
        self.mode == "100755"
    }
}

/// The staging clone of one branch.
pub struct Staging {
    dir: PathBuf,
    url: String,
    branch: String,
    token: Option<Secret>,
}

const FETCH_TIMEOUT: Duration = Duration::from_secs(180);
const LOCAL_TIMEOUT: Duration = Duration::from_secs(60);

impl Staging {
    /// `dir` is the bare repository (created on first fetch).
    pub fn new(dir: PathBuf, url: &str, branch: &str, token: Option<Secret>) -> Staging {
        Staging {
            dir,
            url: url.to_string(),
            branch: branch.to_string(),
            token: token.filter(|_| url.starts_with("https://") || url.starts_with("http://")),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Fetches the branch; returns its head commit. A staging clone git cannot use any
    /// more (corrupt, half-deleted) is made again from scratch, once.
    pub async fn fetch(&self) -> Result<String, GitError> {
        match self.fetch_once().await {
            Ok(head) => Ok(head),
            Err(e @ (GitError::Access { .. } | GitError::NoBranch { .. })) => Err(e),
            Err(GitError::Failed { message, .. }) if is_network(&message) => {
                Err(GitError::Failed {
                    what: format!("fetch {}", self.url),
                    message,
                })
            }
            Err(first) => {
                tracing::warn!(
                    "config deploy: the staging clone at {} is unusable ({first}); fetching it again from scratch",
                    self.dir.display()
                );
                let _ = std::fs::remove_dir_all(&self.dir);
                self.fetch_once().await
            }
        }
    }

    async fn fetch_once(&self) -> Result<String, GitError> {
        if !self.dir.join("HEAD").is_file() {
            std::fs::create_dir_all(&self.dir).map_err(|e| GitError::Failed {
                what: "init".into(),
                message: format!("{}: {e}", self.dir.display()),
            })?;
            self.git(&["init", "--bare", "--quiet"], LOCAL_TIMEOUT)
                .await?;
        }
        // Objects must be sound before we trust what is in them.
        self.git(&["rev-parse", "--git-dir"], LOCAL_TIMEOUT).await?;
        let refspec = format!("+refs/heads/{0}:refs/remotes/origin/{0}", self.branch);
        self.git(
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--prune",
                &self.url,
                &refspec,
            ],
            FETCH_TIMEOUT,
        )
        .await
        .map_err(|e| self.classify(e))?;
        let head = self
            .git(
                &[
                    "rev-parse",
                    "--verify",
                    &format!("refs/remotes/origin/{}^{{commit}}", self.branch),
                ],
                LOCAL_TIMEOUT,
            )
            .await?;
        // A clone that fetches but cannot show its head is corrupt.
        self.git(
            &["cat-file", "-e", &format!("{}^{{tree}}", head.trim())],
            LOCAL_TIMEOUT,
        )
        .await?;
        Ok(head.trim().to_string())
    }

    fn classify(&self, e: GitError) -> GitError {
        let GitError::Failed { message, .. } = &e else {
            return e;
        };
        let m = message.to_ascii_lowercase();
        if m.contains("couldn't find remote ref") {
            GitError::NoBranch {
                url: self.url.clone(),
                branch: self.branch.clone(),
            }
        } else if m.contains("authentication failed")
            || m.contains("could not read username")
            || m.contains("repository not found")
            || m.contains("403")
            || m.contains("does not appear to be a git repository")
        {
            GitError::Access {
                url: self.url.clone(),
            }
        } else {
            e
        }
    }

    /// The full id of `rev` (a sha or a prefix of one), fetching it when the branch did
    /// not bring it (a pinned commit of another branch).
    pub async fn resolve(&self, rev: &str) -> Result<String, GitError> {
        if !rev.chars().all(|c| c.is_ascii_hexdigit()) || rev.len() < 7 || rev.len() > 40 {
            return Err(GitError::NoCommit(rev.to_string()));
        }
        let verify = |rev: String| async move {
            self.git(
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{rev}^{{commit}}"),
                ],
                LOCAL_TIMEOUT,
            )
            .await
            .map(|s| s.trim().to_string())
        };
        if let Ok(sha) = verify(rev.to_string()).await {
            return Ok(sha);
        }
        if rev.len() == 40 {
            let _ = self
                .git(
                    &["fetch", "--quiet", "--no-tags", &self.url, rev],
                    FETCH_TIMEOUT,
                )
                .await;
            if let Ok(sha) = verify(rev.to_string()).await {
                return Ok(sha);
            }
        }
        Err(GitError::NoCommit(rev.to_string()))
    }

    /// Keeps `commit` reachable under `refs/gitops-bridge/<name>` (a force-push or git's
    /// garbage collection never takes the deployed commit away from a rollback).
    pub async fn pin(&self, name: &str, commit: &str) -> Result<(), GitError> {
        self.git(
            &["update-ref", &format!("refs/gitops-bridge/{name}"), commit],
            LOCAL_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    /// Whether `ancestor` is in the history of `commit` (false after a force-push).
    pub async fn is_ancestor(&self, ancestor: &str, commit: &str) -> bool {
        self.git(
            &["merge-base", "--is-ancestor", ancestor, commit],
            LOCAL_TIMEOUT,
        )
        .await
        .is_ok()
    }

    /// Subjects of the commits after `from` up to `to`, newest first (at most `limit`).
    pub async fn subjects(&self, from: Option<&str>, to: &str, limit: usize) -> Vec<String> {
        let range = match from {
            Some(f) => format!("{f}..{to}"),
            None => to.to_string(),
        };
        let max = format!("--max-count={limit}");
        match self
            .git(&["log", "--format=%s", &max, &range], LOCAL_TIMEOUT)
            .await
        {
            Ok(out) => out.lines().map(str::to_string).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The files of `commit` under `folder` (the whole tree when `None`), paths relative
    /// to that folder.
    pub async fn tree(
        &self,
        commit: &str,
        folder: Option<&str>,
    ) -> Result<Vec<TreeEntry>, GitError> {
        let mut args = vec!["ls-tree", "-r", "-z", "--long", "--full-tree", commit];
        let prefix = folder.map(|f| format!("{f}/"));
        if let Some(p) = &prefix {
            args.push("--");
            args.push(p);
        }
        let out = self.git(&args, LOCAL_TIMEOUT).await?;
        let mut entries = Vec::new();
        for record in out.split('\0').filter(|r| !r.is_empty()) {
            let Some((meta, path)) = record.split_once('\t') else {
                continue;
            };
            let mut parts = meta.split_whitespace();
            let (Some(mode), Some(_kind), Some(blob), Some(size)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let path = match &prefix {
                Some(p) => match path.strip_prefix(p.as_str()) {
                    Some(rest) => rest.to_string(),
                    None => continue,
                },
                None => path.to_string(),
            };
            entries.push(TreeEntry {
                path,
                mode: mode.to_string(),
                blob: blob.to_string(),
                size: size.parse().unwrap_or(0),
            });
        }
        Ok(entries)
    }

    /// The contents of these blobs, in one `git cat-file --batch`.
    pub async fn blobs(&self, ids: &[String]) -> Result<HashMap<String, Vec<u8>>, GitError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut child = self
            .command(&["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error("cat-file", e))?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| spawn_error("cat-file", std::io::Error::other("no stdin")))?;
        let input: String = ids.iter().map(|i| format!("{i}\n")).collect();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = stdin.write_all(input.as_bytes()).await;
        });
        let out = tokio::time::timeout(LOCAL_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| GitError::Timeout("cat-file".into()))?
            .map_err(|e| spawn_error("cat-file", e))?;
        let _ = writer.await;
        parse_batch(&out.stdout)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.arg("--git-dir").arg(&self.dir);
        c.args(args);
        c.env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ASKPASS", "/bin/false")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(token) = &self.token {
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("x-access-token:{}", token.expose()));
            c.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env(
                    "GIT_CONFIG_VALUE_0",
                    format!("Authorization: Basic {basic}"),
                );
        }
        c
    }

    async fn git(&self, args: &[&str], timeout: Duration) -> Result<String, GitError> {
        let what = args.first().copied().unwrap_or("git").to_string();
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().map_err(|e| spawn_error(&what, e))?;
        let out = tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .map_err(|_| GitError::Timeout(what.clone()))?
            .map_err(|e| spawn_error(&what, e))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let mut message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if let Some(t) = &self.token {
            message = message.replace(t.expose(), "***");
        }
        if message.is_empty() {
            message = format!("exited with {}", out.status);
        }
        Err(GitError::Failed {
            what,
            message: crate::text::truncate(&message, 600).to_string(),
        })
    }
}

fn spawn_error(what: &str, e: std::io::Error) -> GitError {
    GitError::Failed {
        what: what.to_string(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "the `git` command is not installed".into()
        } else {
            e.to_string()
        },
    }
}

fn is_network(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "could not resolve host",
        "connection refused",
        "timed out",
        "unable to access",
        "network is unreachable",
    ]
    .iter()
    .any(|s| m.contains(s))
}

/// `<id> blob <size>\n<content>\n` records.
fn parse_batch(out: &[u8]) -> Result<HashMap<String, Vec<u8>>, GitError> {
    let bad = |m: &str| GitError::Failed {
        what: "cat-file".into(),
        message: m.to_string(),
    };
    let mut blobs = HashMap::new();
    let mut rest = out;
    while !rest.is_empty() {
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("truncated header"))?;
        let header = std::str::from_utf8(&rest[..nl]).map_err(|_| bad("unreadable header"))?;
        let mut parts = header.split(' ');
        let id = parts.next().unwrap_or_default().to_string();
        if parts.next() == Some("missing") || header.ends_with(" missing") {
            return Err(bad(&format!(
                "object {id} is missing from the staging clone"
            )));
        }
        let size: usize = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("header without a size"))?;
        let start = nl + 1;
        let end = start + size;
        if rest.len() < end + 1 {
            return Err(bad("truncated object"));
        }
        blobs.insert(id, rest[start..end].to_vec());
        rest = &rest[end + 1..];
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_output_is_split_into_objects() {
        let out = b"aaa blob 3\nab\n\nbbb blob 0\n\n";
        let blobs = parse_batch(out).unwrap();
        assert_eq!(blobs["aaa"], b"ab\n");
        assert_eq!(blobs["bbb"], b"");
        assert!(parse_batch(b"ccc missing\n").is_err());
        assert!(parse_batch(b"aaa blob 10\nab\n").is_err());
    }
}
