//! Changing Home Assistant's configuration folder: only the files that differ, each written
//! beside its place and renamed over it (HA never reads half a file), after the files it
//! replaces or deletes are copied to a backup that [`restore`] puts back byte for byte.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::git::TreeEntry;
use super::ownership::Ownership;

/// What a deployment changes in the folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPlan {
    /// Files to write (new or changed): path, blob, executable.
    pub writes: Vec<(String, String, bool)>,
    /// Files the previous deployment wrote that the new commit no longer has.
    pub deletes: Vec<String>,
    /// Files left alone, with why (edited here since the last deployment, say).
    pub left: Vec<(String, String)>,
}

impl SyncPlan {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.deletes.is_empty()
    }

    /// Every path written or deleted.
    pub fn paths(&self) -> Vec<String> {
        let mut p: Vec<String> = self.writes.iter().map(|w| w.0.clone()).collect();
        p.extend(self.deletes.iter().cloned());
        p.sort();
        p
    }
}

/// Git's id of `bytes` as a blob: equal ids, equal contents.
pub fn blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

fn file_blob(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return Some(String::new());
    }
    std::fs::read(path).ok().map(|b| blob_id(&b))
}

/// Compares the commit's files (`new`, already filtered to what the deployment owns) with
/// the folder; `previous` is the tree of the commit deployed before, whose files alone may
/// be deleted.
pub fn plan(
    target: &Path,
    new: &[TreeEntry],
    previous: Option<&[TreeEntry]>,
    ownership: &Ownership,
) -> SyncPlan {
    let mut plan = SyncPlan::default();
    let mut in_new = HashSet::new();
    for e in new {
        in_new.insert(e.path.as_str());
        let here = target.join(&e.path);
        if file_blob(&here).as_deref() != Some(e.blob.as_str()) {
            plan.writes
                .push((e.path.clone(), e.blob.clone(), e.is_executable()));
        }
    }
    for e in previous.unwrap_or_default() {
        if in_new.contains(e.path.as_str()) || !ownership.owns(&e.path) {
            continue;
        }
        let here = target.join(&e.path);
        match file_blob(&here) {
            None => {}
            Some(b) if b == e.blob => plan.deletes.push(e.path.clone()),
            Some(_) => plan.left.push((
                e.path.clone(),
                "removed from the repository but changed here since the last deployment; left in place"
                    .into(),
            )),
        }
    }
    plan
}

/// Why the folder could not be changed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SyncError {
    pub path: String,
    pub message: String,
}

fn sync_error(path: &str, e: impl std::fmt::Display) -> SyncError {
    SyncError {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// What [`apply`] replaced, to put back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Backup {
    pub dir: PathBuf,
    /// Each path changed, and whether it existed before (else it is removed on restore).
    pub entries: Vec<(String, bool)>,
    /// Folders created, innermost last.
    pub created_dirs: Vec<String>,
}

impl Backup {
    const MANIFEST: &'static str = "manifest.json";

    /// A backup written by an earlier, interrupted run.
    pub fn load(dir: &Path) -> Option<Backup> {
        let text = std::fs::read_to_string(dir.join(Self::MANIFEST)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save(&self) -> Result<(), SyncError> {
        let text = serde_json::to_string(self).map_err(|e| sync_error("backup", e))?;
        write_atomic(&self.dir.join(Self::MANIFEST), text.as_bytes(), false)
            .map_err(|e| sync_error("backup manifest", e))
    }
}

/// Refuses a path whose folders in the configuration folder include a symlink: writing
/// through it could land outside the folder.
fn check_no_symlink(target: &Path, rel: &str) -> Result<(), SyncError> {
    let mut here = target.to_path_buf();
    for c in rel.split('/') {
        here.push(c);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(sync_error(
                    rel,
                    format!(
                        "{} is a symlink in the configuration folder; not followed, nothing written",
                        here.strip_prefix(target).unwrap_or(&here).display()
                    ),
                ));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// Backs up what `plan` replaces into `backup_dir`, then changes the folder. On an error
/// part-way, everything done so far is put back before returning it.
pub fn apply(
    target: &Path,
    plan: &SyncPlan,
    blobs: &HashMap<String, Vec<u8>>,
    backup_dir: &Path,
) -> Result<Backup, SyncError> {
    for path in plan.paths() {
        check_no_symlink(target, &path)?;
    }
    let _ = std::fs::remove_dir_all(backup_dir);
    std::fs::create_dir_all(backup_dir.join("files")).map_err(|e| sync_error("backup", e))?;
    let mut backup = Backup {
        dir: backup_dir.to_path_buf(),
        ..Backup::default()
    };
    for path in plan.paths() {
        let here = target.join(&path);
        let existed = here.is_file();
        if existed {
            let copy = backup_dir.join("files").join(&path);
            if let Some(parent) = copy.parent() {
                std::fs::create_dir_all(parent).map_err(|e| sync_error(&path, e))?;
            }
            std::fs::copy(&here, &copy)
                .map_err(|e| sync_error(&path, format!("backing up: {e}")))?;
        }
        backup.entries.push((path, existed));
    }
    // Folders the writes need.
    let mut dirs: Vec<String> = Vec::new();
    for (path, _, _) in &plan.writes {
        let mut acc = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for c in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(c);
            if !target.join(&acc).exists() && !dirs.contains(&acc) {
                dirs.push(acc.clone());
            }
        }
    }
    backup.created_dirs = dirs.clone();
    backup.save()?;
    let result = (|| {
        for d in &dirs {
            std::fs::create_dir(target.join(d)).map_err(|e| sync_error(d, e))?;
        }
        for (path, blob, exec) in &plan.writes {
            let bytes = blobs
                .get(blob)
                .ok_or_else(|| sync_error(path, "its content is missing from the staging clone"))?;
            write_atomic(&target.join(path), bytes, *exec).map_err(|e| sync_error(path, e))?;
        }
        for path in &plan.deletes {
            std::fs::remove_file(target.join(path)).map_err(|e| sync_error(path, e))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        if let Err(r) = restore(target, &backup) {
            tracing::error!("config deploy: restoring after a failed write: {r}");
        }
        return Err(e);
    }
    Ok(backup)
}

/// Puts back every file [`apply`] replaced or deleted and removes the ones it added.
pub fn restore(target: &Path, backup: &Backup) -> Result<(), SyncError> {
    let mut first_error = None;
    for (path, existed) in &backup.entries {
        let here = target.join(path);
        let outcome = if *existed {
            std::fs::read(backup.dir.join("files").join(path)).and_then(|bytes| {
                let exec = std::fs::metadata(backup.dir.join("files").join(path))
                    .map(|m| m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false);
                if let Some(parent) = here.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                write_atomic(&here, &bytes, exec)
            })
        } else {
            match std::fs::remove_file(&here) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        };
        if let Err(e) = outcome {
            first_error.get_or_insert(sync_error(path, e));
        }
    }
    for d in backup.created_dirs.iter().rev() {
        let _ = std::fs::remove_dir(target.join(d));
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Writes `bytes` beside `path` and renames it into place: readers see the old file or the
/// new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8], executable: bool) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".gitops-bridge-new");
    let tmp = path.with_file_name(name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(if executable {
            0o755
        } else {
            0o644
        }))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, content: &[u8]) -> TreeEntry {
        TreeEntry {
            path: path.into(),
            mode: "100644".into(),
            blob: blob_id(content),
            size: content.len() as u64,
        }
    }

    #[test]
    fn blob_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn only_differences_are_written_and_a_restore_puts_everything_back() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("config");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("configuration.yaml"), b"old\n").unwrap();
        std::fs::write(t.join("same.yaml"), b"same\n").unwrap();
        std::fs::write(t.join("gone.yaml"), b"gone\n").unwrap();
        std::fs::write(t.join("edited.yaml"), b"edited here\n").unwrap();
        let previous = vec![
            entry("gone.yaml", b"gone\n"),
            entry("edited.yaml", b"as deployed\n"),
        ];
        let new = vec![
            entry("configuration.yaml", b"new\n"),
            entry("same.yaml", b"same\n"),
            entry("packages/a/b.yaml", b"b\n"),
        ];
        let own = Ownership::built(&[]).unwrap();
        let p = plan(&t, &new, Some(&previous), &own);
        assert_eq!(
            p.paths(),
            vec!["configuration.yaml", "gone.yaml", "packages/a/b.yaml"]
        );
        assert_eq!(p.left.len(), 1, "{p:?}");
        let blobs = [b"new\n".as_slice(), b"b\n"]
            .iter()
            .map(|b| (blob_id(b), b.to_vec()))
            .collect();
        let backup = apply(&t, &p, &blobs, &dir.path().join("backup")).unwrap();
        assert_eq!(
            std::fs::read(t.join("configuration.yaml")).unwrap(),
            b"new\n"
        );
        assert_eq!(std::fs::read(t.join("packages/a/b.yaml")).unwrap(), b"b\n");
        assert!(!t.join("gone.yaml").exists());
        let again = Backup::load(&dir.path().join("backup")).unwrap();
        assert_eq!(again.entries, backup.entries);
        restore(&t, &again).unwrap();
        assert_eq!(
            std::fs::read(t.join("configuration.yaml")).unwrap(),
            b"old\n"
        );
        assert_eq!(std::fs::read(t.join("gone.yaml")).unwrap(), b"gone\n");
        assert!(!t.join("packages").exists());
        assert_eq!(
            std::fs::read(t.join("edited.yaml")).unwrap(),
            b"edited here\n"
        );
    }

    #[test]
    fn a_symlinked_folder_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("config");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, t.join("packages")).unwrap();
        let new = vec![entry("packages/x.yaml", b"x\n")];
        let own = Ownership::built(&[]).unwrap();
        let p = plan(&t, &new, None, &own);
        let blobs = [(blob_id(b"x\n"), b"x\n".to_vec())].into_iter().collect();
        let e = apply(&t, &p, &blobs, &dir.path().join("backup")).unwrap_err();
        assert!(e.message.contains("symlink"), "{e}");
        assert!(!outside.join("x.yaml").exists());
    }
}
