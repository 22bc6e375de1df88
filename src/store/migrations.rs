//! Schema migrations, applied in order; `PRAGMA user_version` records the last one applied.
//!
//! Never edit a released migration: add a new one. Times are stored as Unix milliseconds
//! (INTEGER), so range queries and ordering are plain integer comparisons.

use rusqlite::Connection;

use super::StoreError;

/// Each entry moves the schema from version `index` to `index + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: repositories, workflows, runs (id + attempt), jobs, the HTTP validator cache.
    r#"
    CREATE TABLE repositories (
        id             INTEGER PRIMARY KEY,
        owner          TEXT NOT NULL,
        name           TEXT NOT NULL,
        default_branch TEXT NOT NULL,
        html_url       TEXT NOT NULL,
        private        INTEGER NOT NULL,
        archived       INTEGER NOT NULL,
        watched        INTEGER NOT NULL DEFAULT 1,
        -- 1 once the first import of runs is done: later completions fire events.
        synced         INTEGER NOT NULL DEFAULT 0,
        updated_at     INTEGER NOT NULL
    );
    CREATE TABLE workflows (
        id      INTEGER PRIMARY KEY,
        repo_id INTEGER NOT NULL,
        name    TEXT NOT NULL,
        path    TEXT NOT NULL,
        state   TEXT NOT NULL
    );
    CREATE INDEX workflows_repo ON workflows(repo_id);
    CREATE TABLE runs (
        id             INTEGER NOT NULL,
        attempt        INTEGER NOT NULL,
        repo_id        INTEGER NOT NULL,
        workflow_id    INTEGER NOT NULL,
        workflow_name  TEXT NOT NULL,
        workflow_path  TEXT,
        head_branch    TEXT,
        head_sha       TEXT NOT NULL,
        event          TEXT NOT NULL,
        status         TEXT NOT NULL,
        conclusion     TEXT,
        run_number     INTEGER NOT NULL,
        display_title  TEXT,
        actor          TEXT,
        html_url       TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        run_started_at INTEGER,
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (id, attempt)
    );
    CREATE INDEX runs_repo_created ON runs(repo_id, created_at);
    CREATE TABLE jobs (
        id           INTEGER PRIMARY KEY,
        run_id       INTEGER NOT NULL,
        attempt      INTEGER NOT NULL,
        repo_id      INTEGER NOT NULL,
        name         TEXT NOT NULL,
        status       TEXT NOT NULL,
        conclusion   TEXT,
        started_at   INTEGER,
        completed_at INTEGER,
        html_url     TEXT,
        runner_name  TEXT
    );
    CREATE INDEX jobs_run ON jobs(run_id, attempt);
    CREATE TABLE http_cache (
        url       TEXT PRIMARY KEY,
        etag      TEXT NOT NULL,
        stored_at INTEGER NOT NULL
    );
    "#,
    // 2: the audit trail of commands; `request_id` makes commands idempotent.
    r#"
    CREATE TABLE commands (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id  TEXT UNIQUE,
        received_at INTEGER NOT NULL,
        source      TEXT NOT NULL,
        repo        TEXT NOT NULL,
        action      TEXT NOT NULL,
        -- What was asked, without input values (they may be sensitive).
        params      TEXT NOT NULL,
        ok          INTEGER NOT NULL,
        message     TEXT NOT NULL,
        run_id      INTEGER,
        url         TEXT,
        finished_at INTEGER NOT NULL
    );
    CREATE INDEX commands_repo ON commands(repo, received_at);
    "#,
    // 3: webhook deliveries by GitHub's delivery GUID, so each is processed once.
    r#"
    CREATE TABLE deliveries (
        guid        TEXT PRIMARY KEY,
        event       TEXT NOT NULL,
        action      TEXT,
        received_at INTEGER NOT NULL,
        processed   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX deliveries_received ON deliveries(received_at);
    "#,
    // 4: the step a failed job failed in, which classifies the failure.
    r#"
    ALTER TABLE jobs ADD COLUMN failed_step TEXT;
    "#,
    // 5: the policies' switches as HA set them (scope 0 is the bridge, else a repository).
    r#"
    CREATE TABLE switches (
        scope INTEGER NOT NULL,
        key   TEXT NOT NULL,
        is_on INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
    );
    "#,
    // 6: deployments of the Home Assistant configuration, each with its whole record
    // (JSON) and the columns the daemon looks them up by.
    r#"
    CREATE TABLE config_deployments (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        commit_sha  TEXT NOT NULL,
        status      TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        record      TEXT NOT NULL
    );
    CREATE INDEX config_deployments_commit ON config_deployments(commit_sha);
    "#,
    // 7: what the runner said when a job failed (a check-run annotation), which classifies
    // a runner lost mid-test as infrastructure.
    r#"
    ALTER TABLE jobs ADD COLUMN runner_message TEXT;
    "#,
    // 8: the commit a command wrote (a template deploy or rollback), so the rollback
    // trigger can tell a failure episode that began with our own template deploy.
    r#"
    ALTER TABLE commands ADD COLUMN commit_sha TEXT;
    "#,
];

/// Brings the schema up to date inside one transaction per step.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
