//! All SQL: synchronous methods on an open connection, run on the store thread.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{StoreError, migrations};
use crate::model::{Conclusion, Job, Repository, Run, RunState, Status, Workflow};

/// SQLite's page cache per connection, in KiB (negative `cache_size` means KiB).
const STORE_CACHE_KIB: i64 = -256;

/// Statements kept compiled: more than the store has distinct ones.
const STATEMENT_CACHE: usize = 64;

/// An open, migrated database.
pub struct Db {
    pub(super) conn: Connection,
}

/// A run attempt that is new or changed, with what the store knew before.
#[derive(Debug, Clone)]
pub struct RunChange {
    pub run: Run,
    /// `None` when this attempt was not stored before.
    pub previous: Option<RunState>,
}

impl RunChange {
    /// The attempt finished since we last saw it.
    pub fn completed_now(&self) -> bool {
        self.run.is_completed()
            && !matches!(self.previous, Some(p) if RunState::CONCLUSIONS.contains(&p))
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

impl Db {
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        if let Some(folder) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !folder.is_dir()
        {
            return Err(StoreError::NoFolder {
                path: path.display().to_string(),
                folder: folder.display().to_string(),
            });
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            cause: e.to_string(),
        })?;
        Db::setup(conn)
    }

    pub fn open_in_memory() -> Result<Db, StoreError> {
        Db::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Db, StoreError> {
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL: readers never block the writer; NORMAL sync is durable across process crashes.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A 256 KiB page cache instead of SQLite's 2 MiB: the daemon's queries are small and
        // the OS caches the file anyway; on an add-on host resident memory is what counts.
        conn.pragma_update(None, "cache_size", STORE_CACHE_KIB)?;
        // Every statement compiled once and kept: an idle poll cycle then never runs SQLite's
        // parser and planner (a large part of SQLite's code, otherwise paged in every cycle).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrations::migrate(&mut conn)?;
        Ok(Db { conn })
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    // -- repositories ---------------------------------------------------------------------

    /// Inserts or updates a repository's metadata and marks it watched.
    pub fn upsert_repository(&mut self, repo: &Repository) -> Result<(), StoreError> {
        self.conn.prepare_cached(
            "INSERT INTO repositories (id, owner, name, default_branch, html_url, private, archived, watched, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)
             ON CONFLICT(id) DO UPDATE SET owner = ?2, name = ?3, default_branch = ?4, html_url = ?5,
                 private = ?6, archived = ?7, watched = 1, updated_at = ?8")?
            .execute(params![
                repo.id as i64,
                repo.owner,
                repo.name,
                repo.default_branch,
                repo.html_url,
                repo.private,
                repo.archived,
                ms(Utc::now())
            ],
        )?;
        Ok(())
    }

    /// Marks exactly these repositories as watched; the others stay stored (history) but unwatched.
    pub fn set_watched(&mut self, ids: &[u64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached("UPDATE repositories SET watched = 0")?
            .execute([])?;
        {
            let mut stmt =
                tx.prepare_cached("UPDATE repositories SET watched = 1 WHERE id = ?1")?;
            for id in ids {
                stmt.execute([*id as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn watched_repositories(&self) -> Result<Vec<Repository>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, owner, name, default_branch, html_url, private, archived
             FROM repositories WHERE watched = 1 ORDER BY owner, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Repository {
                id: r.get::<_, i64>(0)? as u64,
                owner: r.get(1)?,
                name: r.get(2)?,
                default_branch: r.get(3)?,
                html_url: r.get(4)?,
                private: r.get(5)?,
                archived: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn is_synced(&self, repo_id: u64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT synced FROM repositories WHERE id = ?1")?
            .query_row([repo_id as i64], |r| r.get::<_, bool>(0))
            .optional()?
            .unwrap_or(false))
    }

    pub fn mark_synced(&mut self, repo_id: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE repositories SET synced = 1 WHERE id = ?1")?
            .execute([repo_id as i64])?;
        Ok(())
    }

    // -- workflows ------------------------------------------------------------------------

    /// Replaces a repository's workflow list.
    pub fn replace_workflows(
        &mut self,
        repo_id: u64,
        workflows: &[Workflow],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached("DELETE FROM workflows WHERE repo_id = ?1")?
            .execute([repo_id as i64])?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO workflows (id, repo_id, name, path, state) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for w in workflows {
                stmt.execute(params![
                    w.id as i64,
                    repo_id as i64,
                    w.name,
                    w.path,
                    w.state
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn workflows(&self, repo_id: u64) -> Result<Vec<Workflow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, repo_id, name, path, state FROM workflows WHERE repo_id = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map([repo_id as i64], |r| {
            Ok(Workflow {
                id: r.get::<_, i64>(0)? as u64,
                repo_id: r.get::<_, i64>(1)? as u64,
                name: r.get(2)?,
                path: r.get(3)?,
                state: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // -- runs -----------------------------------------------------------------------------

    /// Stores run attempts and returns those that are new or changed.
    ///
    /// Updates are monotonic: an attempt whose `updated_at` is older than the stored one is
    /// ignored, so a late webhook or a stale page never moves a run backwards.
    pub fn upsert_runs(&mut self, runs: &[Run]) -> Result<Vec<RunChange>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut changes = Vec::new();
        {
            let mut get = tx.prepare_cached(
                "SELECT status, conclusion, updated_at FROM runs WHERE id = ?1 AND attempt = ?2",
            )?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO runs (id, attempt, repo_id, workflow_id, workflow_name, workflow_path,
                    head_branch, head_sha, event, status, conclusion, run_number, display_title, actor,
                    html_url, created_at, run_started_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?;
            for run in runs {
                let stored: Option<(String, Option<String>, i64)> = get
                    .query_row(params![run.id as i64, run.attempt], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()?;
                let previous = match &stored {
                    Some((status, conclusion, updated_at)) => {
                        let same = *status == run.status.as_str()
                            && conclusion.as_deref() == run.conclusion.as_ref().map(|c| c.as_str());
                        if *updated_at > ms(run.updated_at)
                            || (same && *updated_at == ms(run.updated_at))
                        {
                            continue;
                        }
                        Some(RunState::of(
                            &Status::parse(status),
                            conclusion.as_deref().map(Conclusion::parse).as_ref(),
                        ))
                    }
                    None => None,
                };
                put.execute(params![
                    run.id as i64,
                    run.attempt,
                    run.repo_id as i64,
                    run.workflow_id as i64,
                    run.workflow_name,
                    run.workflow_path,
                    run.head_branch,
                    run.head_sha,
                    run.event,
                    run.status.as_str(),
                    run.conclusion.as_ref().map(|c| c.as_str()),
                    run.run_number as i64,
                    run.display_title,
                    run.actor,
                    run.html_url,
                    ms(run.created_at),
                    run.run_started_at.map(ms),
                    ms(run.updated_at),
                ])?;
                changes.push(RunChange {
                    run: run.clone(),
                    previous,
                });
            }
        }
        tx.commit()?;
        Ok(changes)
    }

    /// Every stored attempt of a repository's runs created at or after `since`, newest first.
    pub fn runs_since(&self, repo_id: u64, since: DateTime<Utc>) -> Result<Vec<Run>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT * FROM runs WHERE repo_id = ?1 AND created_at >= ?2 ORDER BY created_at DESC, id DESC, attempt DESC",
        )?;
        let rows = stmt.query_map(params![repo_id as i64, ms(since)], run_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest `limit` runs of a repository (latest attempts and earlier ones), newest first.
    pub fn recent_runs(&self, repo_id: u64, limit: usize) -> Result<Vec<Run>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT * FROM runs WHERE repo_id = ?1 ORDER BY created_at DESC, id DESC, attempt DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![repo_id as i64, limit as i64], run_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn run(&self, id: u64, attempt: u32) -> Result<Option<Run>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT * FROM runs WHERE id = ?1 AND attempt = ?2")?
            .query_row(params![id as i64, attempt], run_from_row)
            .optional()?)
    }

    /// Ids of runs whose latest stored attempt is still queued or running.
    pub fn active_run_ids(&self, repo_id: u64) -> Result<Vec<(u64, u32)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, MAX(attempt), status FROM runs WHERE repo_id = ?1 GROUP BY id",
        )?;
        let rows = stmt.query_map([repo_id as i64], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, attempt, status) = row?;
            if status != "completed" {
                out.push((id, attempt));
            }
        }
        Ok(out)
    }

    /// Which of these run ids the store has (any attempt).
    pub fn known_run_ids(&self, ids: &[u64]) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM runs WHERE id = ?1 LIMIT 1")?;
        let mut known = Vec::new();
        for id in ids {
            if stmt.exists([*id as i64])? {
                known.push(*id);
            }
        }
        Ok(known)
    }

    /// Stored status of these attempts, keyed by `(id, attempt)`.
    pub fn run_states(
        &self,
        keys: &[(u64, u32)],
    ) -> Result<std::collections::HashMap<(u64, u32), String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT status FROM runs WHERE id = ?1 AND attempt = ?2")?;
        let mut out = std::collections::HashMap::new();
        for (id, attempt) in keys {
            if let Some(status) = stmt
                .query_row(params![*id as i64, attempt], |r| r.get::<_, String>(0))
                .optional()?
            {
                out.insert((*id, *attempt), status);
            }
        }
        Ok(out)
    }

    pub fn run_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM runs")?
            .query_row([], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Deletes runs and jobs created before `before`.
    pub fn prune(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "DELETE FROM jobs WHERE run_id IN (SELECT id FROM runs WHERE created_at < ?1)",
        )?
        .execute([ms(before)])?;
        let n = tx
            .prepare_cached("DELETE FROM runs WHERE created_at < ?1")?
            .execute([ms(before)])?;
        tx.commit()?;
        Ok(n)
    }

    // -- jobs -----------------------------------------------------------------------------

    pub fn upsert_jobs(&mut self, repo_id: u64, jobs: &[Job]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                // A later copy of the job without the runner's message (a redelivered
                // webhook) keeps the one fetched before.
                "INSERT OR REPLACE INTO jobs (id, run_id, attempt, repo_id, name, status, conclusion,
                    started_at, completed_at, html_url, runner_name, failed_step, runner_message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                    COALESCE(?13, (SELECT runner_message FROM jobs WHERE id = ?1)))",
            )?;
            for j in jobs {
                stmt.execute(params![
                    j.id as i64,
                    j.run_id as i64,
                    j.attempt,
                    repo_id as i64,
                    j.name,
                    j.status.as_str(),
                    j.conclusion.as_ref().map(|c| c.as_str()),
                    j.started_at.map(ms),
                    j.completed_at.map(ms),
                    j.html_url,
                    j.runner_name,
                    j.failed_step,
                    j.runner_message,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn jobs(&self, run_id: u64, attempt: u32) -> Result<Vec<Job>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, run_id, attempt, name, status, conclusion, started_at, completed_at, html_url, runner_name, failed_step, runner_message
             FROM jobs WHERE run_id = ?1 AND attempt = ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![run_id as i64, attempt], |r| {
            Ok(Job {
                id: r.get::<_, i64>(0)? as u64,
                run_id: r.get::<_, i64>(1)? as u64,
                attempt: r.get(2)?,
                name: r.get(3)?,
                status: Status::parse(&r.get::<_, String>(4)?),
                conclusion: r
                    .get::<_, Option<String>>(5)?
                    .as_deref()
                    .map(Conclusion::parse),
                started_at: r.get::<_, Option<i64>>(6)?.map(from_ms),
                completed_at: r.get::<_, Option<i64>>(7)?.map(from_ms),
                html_url: r.get(8)?,
                runner_name: r.get(9)?,
                failed_step: r.get(10)?,
                runner_message: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Names of the jobs that passed on commit `sha` of the repository in any run or
    /// attempt but `(run_id, attempt)`: a job failing there now that passed before is flaky.
    pub fn jobs_passed_on_commit(
        &self,
        repo_id: u64,
        sha: &str,
        except: (u64, u32),
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT j.name FROM jobs j JOIN runs r ON r.id = j.run_id AND r.attempt = j.attempt
             WHERE r.repo_id = ?1 AND r.head_sha = ?2 AND j.conclusion = 'success'
               AND NOT (j.run_id = ?3 AND j.attempt = ?4)",
        )?;
        let rows = stmt.query_map(
            params![repo_id as i64, sha, except.0 as i64, except.1],
            |r| r.get::<_, String>(0),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // -- switches ---------------------------------------------------------------------------

    /// Every switch HA has set: `(scope, key, on)`.
    pub fn switches(&self) -> Result<Vec<(u64, String, bool)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT scope, key, is_on FROM switches ORDER BY scope, key")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get(1)?,
                r.get::<_, i64>(2)? != 0,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_switch(&mut self, scope: u64, key: &str, on: bool) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO switches (scope, key, is_on) VALUES (?1, ?2, ?3)
             ON CONFLICT (scope, key) DO UPDATE SET is_on = excluded.is_on",
            )?
            .execute(params![scope as i64, key, on as i64])?;
        Ok(())
    }

    /// The latest stored attempt of a run.
    pub fn latest_attempt(&self, run_id: u64) -> Result<Option<Run>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT * FROM runs WHERE id = ?1 ORDER BY attempt DESC LIMIT 1")?
            .query_row([run_id as i64], run_from_row)
            .optional()?)
    }

    // -- commands (audit trail and idempotency) ------------------------------------------

    /// Records a command and its result. `request_id` is stored only for commands that
    /// reached GitHub, so a rejected command may be fixed and sent again with the same id.
    pub fn record_command(&mut self, entry: &CommandRecord) -> Result<(), StoreError> {
        self.conn.prepare_cached(
            "INSERT INTO commands (request_id, received_at, source, repo, action, params, ok, message, run_id, url, finished_at, commit_sha)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")?
            .execute(params![
                entry.request_id,
                ms(entry.received_at),
                entry.source,
                entry.repo,
                entry.action,
                entry.params,
                entry.ok,
                entry.message,
                entry.run_id.map(|r| r as i64),
                entry.url,
                ms(entry.finished_at),
                entry.commit,
            ],
        )?;
        Ok(())
    }

    /// The recorded command with this request id, if one reached GitHub.
    pub fn command_by_request_id(
        &self,
        request_id: &str,
    ) -> Result<Option<CommandRecord>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT request_id, received_at, source, repo, action, params, ok, message, run_id, url, finished_at, commit_sha
                 FROM commands WHERE request_id = ?1")?
            .query_row([request_id],
                command_from_row,
            )
            .optional()?)
    }

    /// Whether a successful `action` on `repo` (`owner/name`) wrote commit `sha`.
    pub fn command_wrote(&self, repo: &str, action: &str, sha: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM commands
                 WHERE repo = ?1 COLLATE NOCASE AND action = ?2 AND ok = 1 AND commit_sha = ?3
                 LIMIT 1",
            )?
            .query_row(params![repo, action, sha], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The newest commands, newest first.
    pub fn recent_commands(&self, limit: usize) -> Result<Vec<CommandRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT request_id, received_at, source, repo, action, params, ok, message, run_id, url, finished_at, commit_sha
             FROM commands ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], command_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // -- webhook deliveries ---------------------------------------------------------------

    /// Records a delivery; false when this GUID was recorded before (a redelivery).
    pub fn record_delivery(
        &mut self,
        guid: &str,
        event: &str,
        action: Option<&str>,
    ) -> Result<bool, StoreError> {
        let inserted = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO deliveries (guid, event, action, received_at) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![guid, event, action, ms(Utc::now())],
        )?;
        Ok(inserted == 1)
    }

    /// Drops a delivery record, so a redelivery of it is processed.
    pub fn forget_delivery(&mut self, guid: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM deliveries WHERE guid = ?1")?
            .execute([guid])?;
        Ok(())
    }

    pub fn mark_delivery_processed(&mut self, guid: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE deliveries SET processed = processed + 1 WHERE guid = ?1")?
            .execute([guid])?;
        Ok(())
    }

    /// `(recorded, processed at least once, processed more than once)`.
    pub fn delivery_counts(&self) -> Result<(u64, u64, u64), StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT COUNT(*), SUM(processed >= 1), SUM(processed > 1) FROM deliveries",
            )?
            .query_row([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, Option<i64>>(1)?.unwrap_or(0) as u64,
                    r.get::<_, Option<i64>>(2)?.unwrap_or(0) as u64,
                ))
            })?)
    }

    /// Forgets deliveries older than `before` (GitHub redelivers only recent ones).
    pub fn prune_deliveries(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM deliveries WHERE received_at < ?1")?
            .execute([ms(before)])?)
    }

    // -- history queries for the API ------------------------------------------------------

    /// Latest attempts of a repository's runs, newest first, filtered, one page at a time.
    /// `workflow` matches the name or the file name; `status` a status or a conclusion.
    pub fn run_history(
        &self,
        repo_id: u64,
        filter: &HistoryFilter,
        limit: usize,
        offset: usize,
    ) -> Result<(u64, Vec<Run>), StoreError> {
        let mut clauses = vec![
            "repo_id = ?1".to_string(),
            "attempt = (SELECT MAX(attempt) FROM runs r2 WHERE r2.id = runs.id)".to_string(),
        ];
        let mut values: Vec<rusqlite::types::Value> = vec![(repo_id as i64).into()];
        if let Some(w) = &filter.workflow {
            values.push(w.clone().into());
            let n = values.len();
            clauses.push(format!(
                "(workflow_name = ?{n} OR workflow_path LIKE '%/' || ?{n})"
            ));
        }
        if let Some(b) = &filter.branch {
            values.push(b.clone().into());
            clauses.push(format!("head_branch = ?{}", values.len()));
        }
        if let Some(st) = &filter.status {
            values.push(st.clone().into());
            let n = values.len();
            clauses.push(format!("(status = ?{n} OR conclusion = ?{n})"));
        }
        let wh = clauses.join(" AND ");
        let total: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM runs WHERE {wh}"),
            rusqlite::params_from_iter(values.iter()),
            |r| r.get(0),
        )?;
        values.push((limit as i64).into());
        values.push((offset as i64).into());
        let n = values.len();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT * FROM runs WHERE {wh} ORDER BY created_at DESC, id DESC LIMIT ?{} OFFSET ?{n}",
            n - 1
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), run_from_row)?;
        Ok((total as u64, rows.collect::<Result<_, _>>()?))
    }

    // -- HTTP validators (ETags), so a restart keeps answering 304s ------------------------

    pub fn etags(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT url, etag FROM http_cache")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_etag(&mut self, url: &str, etag: Option<&str>) -> Result<(), StoreError> {
        match etag {
            Some(etag) => self
                .conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO http_cache (url, etag, stored_at) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![url, etag, ms(Utc::now())])?,
            None => self
                .conn
                .prepare_cached("DELETE FROM http_cache WHERE url = ?1")?
                .execute([url])?,
        };
        Ok(())
    }
}

/// Filters of `GET /api/workflow-history`.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub workflow: Option<String>,
    pub branch: Option<String>,
    pub status: Option<String>,
}

/// One row of the command audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRecord {
    pub request_id: Option<String>,
    pub received_at: DateTime<Utc>,
    /// `mqtt`, `http`, `http:<user>`, `policy`.
    pub source: String,
    pub repo: String,
    pub action: String,
    /// JSON of what was asked, input names only.
    pub params: String,
    pub ok: bool,
    pub message: String,
    pub run_id: Option<u64>,
    pub url: Option<String>,
    pub finished_at: DateTime<Utc>,
    /// The commit it wrote (template deploys and rollbacks).
    pub commit: Option<String>,
}

fn command_from_row(r: &Row<'_>) -> rusqlite::Result<CommandRecord> {
    Ok(CommandRecord {
        request_id: r.get(0)?,
        received_at: from_ms(r.get(1)?),
        source: r.get(2)?,
        repo: r.get(3)?,
        action: r.get(4)?,
        params: r.get(5)?,
        ok: r.get(6)?,
        message: r.get(7)?,
        run_id: r.get::<_, Option<i64>>(8)?.map(|v| v as u64),
        url: r.get(9)?,
        finished_at: from_ms(r.get(10)?),
        commit: r.get(11)?,
    })
}

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<Run> {
    Ok(Run {
        id: r.get::<_, i64>("id")? as u64,
        attempt: r.get("attempt")?,
        repo_id: r.get::<_, i64>("repo_id")? as u64,
        workflow_id: r.get::<_, i64>("workflow_id")? as u64,
        workflow_name: r.get("workflow_name")?,
        workflow_path: r.get("workflow_path")?,
        head_branch: r.get("head_branch")?,
        head_sha: r.get("head_sha")?,
        event: r.get("event")?,
        status: Status::parse(&r.get::<_, String>("status")?),
        conclusion: r
            .get::<_, Option<String>>("conclusion")?
            .as_deref()
            .map(Conclusion::parse),
        run_number: r.get::<_, i64>("run_number")? as u64,
        display_title: r.get("display_title")?,
        actor: r.get("actor")?,
        html_url: r.get("html_url")?,
        created_at: from_ms(r.get("created_at")?),
        run_started_at: r.get::<_, Option<i64>>("run_started_at")?.map(from_ms),
        updated_at: from_ms(r.get("updated_at")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(id: u64) -> Repository {
        Repository {
            id,
            owner: "octo".into(),
            name: format!("r{id}"),
            default_branch: "main".into(),
            html_url: format!("https://github.com/octo/r{id}"),
            private: false,
            archived: false,
        }
    }

    fn run(id: u64, attempt: u32, status: &str, conclusion: Option<&str>, updated_min: i64) -> Run {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        Run {
            id,
            attempt,
            repo_id: 1,
            workflow_id: 7,
            workflow_name: "CI".into(),
            workflow_path: Some(".github/workflows/ci.yml".into()),
            head_branch: Some("main".into()),
            head_sha: "abc".into(),
            event: "push".into(),
            status: Status::parse(status),
            conclusion: conclusion.map(Conclusion::parse),
            run_number: id,
            display_title: Some("title".into()),
            actor: Some("me".into()),
            html_url: "https://github.com/octo/r1/actions/runs/1".into(),
            created_at: t0,
            run_started_at: Some(t0),
            updated_at: t0 + chrono::Duration::minutes(updated_min),
        }
    }

    #[test]
    fn history_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/store.db");
        // A missing folder is refused with its name, not created.
        match Db::open(&path) {
            Err(StoreError::NoFolder { folder, .. }) => assert!(folder.ends_with("sub")),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened in a missing folder"),
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        {
            let mut db = Db::open(&path).unwrap();
            db.upsert_repository(&repo(1)).unwrap();
            db.upsert_runs(&[run(10, 1, "completed", Some("success"), 5)])
                .unwrap();
            db.set_etag("https://x/runs", Some("W/\"1\"")).unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(
            db.schema_version().unwrap(),
            migrations::MIGRATIONS.len() as i64
        );
        assert_eq!(db.watched_repositories().unwrap().len(), 1);
        let runs = db.recent_runs(1, 10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].conclusion, Some(Conclusion::Success));
        assert_eq!(
            db.etags().unwrap(),
            vec![("https://x/runs".to_string(), "W/\"1\"".to_string())]
        );
    }

    /// The commit a template deploy wrote is kept with it: a duplicate answer carries it
    /// again, and the rollback trigger asks which deploy wrote a commit.
    #[test]
    fn a_command_keeps_the_commit_it_wrote() {
        let mut db = Db::open_in_memory().unwrap();
        let record = |id: &str, action: &str, ok: bool, commit: Option<&str>| CommandRecord {
            request_id: Some(id.into()),
            received_at: Utc::now(),
            source: "mqtt".into(),
            repo: "octo/app".into(),
            action: action.into(),
            params: "{}".into(),
            ok,
            message: String::new(),
            run_id: None,
            url: None,
            finished_at: Utc::now(),
            commit: commit.map(str::to_string),
        };
        db.record_command(&record("a", "deploy_template", true, Some("c1")))
            .unwrap();
        db.record_command(&record("b", "deploy_template", false, Some("c2")))
            .unwrap();
        db.record_command(&record("c", "rollback_template", true, Some("c3")))
            .unwrap();
        let back = db.command_by_request_id("a").unwrap().unwrap();
        assert_eq!(back.commit.as_deref(), Some("c1"));
        assert!(
            db.command_wrote("Octo/App", "deploy_template", "c1")
                .unwrap()
        );
        assert!(
            !db.command_wrote("octo/app", "deploy_template", "c2")
                .unwrap(),
            "it failed"
        );
        assert!(
            !db.command_wrote("octo/app", "deploy_template", "c3")
                .unwrap(),
            "another action"
        );
        assert!(
            !db.command_wrote("octo/other", "deploy_template", "c1")
                .unwrap()
        );
    }

    #[test]
    fn upserts_report_changes_and_completions_once() {
        let mut db = Db::open_in_memory().unwrap();
        let c = db
            .upsert_runs(&[run(10, 1, "in_progress", None, 1)])
            .unwrap();
        assert_eq!(c.len(), 1);
        assert!(c[0].previous.is_none() && !c[0].completed_now());

        // Same data again: nothing changed.
        assert!(
            db.upsert_runs(&[run(10, 1, "in_progress", None, 1)])
                .unwrap()
                .is_empty()
        );

        let c = db
            .upsert_runs(&[run(10, 1, "completed", Some("failure"), 5)])
            .unwrap();
        assert_eq!(c[0].previous, Some(RunState::InProgress));
        assert!(c[0].completed_now());

        // A stale update (older updated_at) never moves the run backwards.
        assert!(
            db.upsert_runs(&[run(10, 1, "in_progress", None, 2)])
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            db.run(10, 1).unwrap().unwrap().conclusion,
            Some(Conclusion::Failure)
        );

        // A re-run is a new attempt; the first one stays.
        let c = db.upsert_runs(&[run(10, 2, "queued", None, 6)]).unwrap();
        assert!(c[0].previous.is_none());
        assert_eq!(db.recent_runs(1, 10).unwrap().len(), 2);
        assert_eq!(db.active_run_ids(1).unwrap(), vec![(10, 2)]);
    }

    #[test]
    fn watched_set_and_prune() {
        let mut db = Db::open_in_memory().unwrap();
        db.upsert_repository(&repo(1)).unwrap();
        db.upsert_repository(&repo(2)).unwrap();
        db.set_watched(&[2]).unwrap();
        let watched: Vec<u64> = db
            .watched_repositories()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(watched, vec![2]);
        db.upsert_runs(&[run(10, 1, "completed", Some("success"), 1)])
            .unwrap();
        let removed = db
            .prune(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap())
            .unwrap();
        assert_eq!(removed, 1);
        assert_eq!(db.run_count().unwrap(), 0);
    }

    #[test]
    fn a_newer_schema_is_refused_not_clobbered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Db::open(&path).err().unwrap().to_string();
        assert!(err.contains("newer"), "{err}");
    }
}
