//! The embedded store: SQLite (WAL, versioned migrations) on one dedicated thread.
//!
//! `rusqlite::Connection` is `Send` but not `Sync`, and SQLite serialises writers anyway, so
//! the connection lives on a thread of its own ([`StoreWorker::run`]) and the rest of the
//! daemon reaches it through a cloneable [`Store`] handle that sends closures over a bounded
//! channel. The synchronous [`Db`] methods hold all SQL and are tested directly.
//!
//! [`Store::call`] runs any closure on the database: it is for the tables' owner, the state
//! task (which writes runs, workflows, jobs and repositories in its own transactions), and
//! for maintenance (pruning). Everyone else gets a narrow door by table: [`RunHistory`]
//! (read-only), [`CommandLog`], [`Deliveries`], [`Etags`], [`ConfigDeployments`].

mod audit;
mod config_deployments;
mod db;
mod deliveries;
mod etags;
mod history;
mod migrations;

pub use audit::CommandLog;
pub use config_deployments::{ConfigDeployments, StoredDeployment};
pub use db::{CommandRecord, Db, HistoryFilter, RunChange};
pub use deliveries::Deliveries;
pub use etags::Etags;
pub use history::RunHistory;

use std::path::Path;

use tokio::sync::{mpsc, oneshot};

/// Store errors carry what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The folder for the database is missing. We do not create it: a typo or a copied
    /// add-on path (`/data/…`) would otherwise create folders at the filesystem root.
    #[error(
        "cannot open the history database {path}: the folder {folder} does not exist; create it, or set `store.path` to a file in an existing folder"
    )]
    NoFolder { path: String, folder: String },
    /// SQLite could not open or create the file; `cause` carries the OS error once.
    #[error(
        "cannot open the history database {path}: {cause}; check the folder's permissions, or set `store.path` elsewhere"
    )]
    Open { path: String, cause: String },
    #[error(
        "the store's schema version {found} is newer than this release knows ({known}); use a newer gitops-bridge or another `store.path`"
    )]
    TooNew { found: i64, known: i64 },
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the store thread has stopped")]
    Closed,
}

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// Cloneable handle to the store thread.
#[derive(Clone)]
pub struct Store {
    /// Bounded so a stuck disk pushes back on producers instead of growing memory.
    jobs: mpsc::Sender<Job>,
}

/// Owns the connection; run it on its own thread with [`StoreWorker::run`].
pub struct StoreWorker {
    db: Db,
    jobs: mpsc::Receiver<Job>,
}

impl Store {
    /// Opens (or creates) the database and migrates it. The worker must be run on a thread.
    pub fn open(path: &Path) -> Result<(Store, StoreWorker), StoreError> {
        let db = Db::open(path)?;
        Ok(Store::with_db(db))
    }

    /// An in-memory store, for tests and `discovery`.
    pub fn open_in_memory() -> Result<(Store, StoreWorker), StoreError> {
        Ok(Store::with_db(Db::open_in_memory()?))
    }

    fn with_db(db: Db) -> (Store, StoreWorker) {
        let (tx, rx) = mpsc::channel(256);
        (Store { jobs: tx }, StoreWorker { db, jobs: rx })
    }

    /// Runs `f` on the store thread and returns its result. For the state task and
    /// maintenance; other modules take one of the narrow doors above.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |db| {
            let _ = tx.send(f(db));
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

impl StoreWorker {
    /// Serves jobs until every [`Store`] handle is dropped.
    pub fn run(mut self) {
        while let Some(job) = self.jobs.blocking_recv() {
            job(&mut self.db);
        }
    }

    /// Spawns [`StoreWorker::run`] on a named OS thread.
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || self.run())
    }
}
