//! Supervision of the daemon's long-lived tasks.
//!
//! Every task of `serve` is meant to run until shutdown. One that panics or returns early
//! leaves the daemon half-alive (commands answered "executor has stopped", nothing
//! published) while it still looks healthy, which is worse than a crash: nobody restarts
//! it. So a task that ends before shutdown was asked for is recorded in [`TaskHealth`]
//! (which `/healthz` reports), and cancels the whole daemon; `serve` then returns an error
//! naming the task, `main` exits non-zero, and the Supervisor, systemd or Docker restart
//! the process.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Which tasks died, and why. Shared with `/healthz`.
#[derive(Debug, Default)]
pub struct TaskHealth {
    /// `task: reason`, in the order they died. A short critical section, never held across
    /// an `.await`, so a `std` mutex.
    dead: Mutex<Vec<String>>,
}

impl TaskHealth {
    /// The tasks that stopped before shutdown, each as `name: reason`.
    pub fn dead(&self) -> Vec<String> {
        self.dead.lock().map(|d| d.clone()).unwrap_or_default()
    }

    fn record(&self, entry: String) {
        if let Ok(mut dead) = self.dead.lock() {
            dead.push(entry);
        }
    }
}

/// Spawns the daemon's tasks and stops the daemon when any of them dies.
#[derive(Clone)]
pub struct Supervisor {
    tracker: TaskTracker,
    /// The daemon's one shutdown token: cancelled on shutdown, or by a dying task.
    cancel: CancellationToken,
    health: Arc<TaskHealth>,
}

impl Supervisor {
    pub fn new(cancel: CancellationToken) -> Supervisor {
        Supervisor {
            tracker: TaskTracker::new(),
            cancel,
            health: Arc::new(TaskHealth::default()),
        }
    }

    pub fn health(&self) -> Arc<TaskHealth> {
        self.health.clone()
    }

    /// Runs `task` until it ends. If it panics, or ends while the daemon is not shutting
    /// down, the failure is logged and recorded and the daemon is cancelled.
    pub fn spawn<F>(&self, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let cancel = self.cancel.clone();
        let health = self.health.clone();
        self.tracker.spawn(async move {
            let outcome = AssertUnwindSafe(task).catch_unwind().await;
            let reason = match outcome {
                Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
                Ok(()) if cancel.is_cancelled() => return,
                Ok(()) => "stopped unexpectedly".to_string(),
            };
            tracing::error!("task `{name}` {reason}; stopping the daemon so it is restarted");
            health.record(format!("{name}: {reason}"));
            cancel.cancel();
        })
    }

    /// No more tasks will be spawned; [`Supervisor::wait`] can complete.
    pub fn close(&self) {
        self.tracker.close();
    }

    /// Waits for every task to end (after [`Supervisor::close`]).
    pub async fn wait(&self) {
        self.tracker.wait().await;
    }

    /// Why the daemon stopped on its own, if a task died.
    pub fn failure(&self) -> Option<String> {
        let dead = self.health.dead();
        (!dead.is_empty()).then(|| dead.join("; "))
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_panicking_task_cancels_the_daemon_and_is_reported() {
        let cancel = CancellationToken::new();
        let supervisor = Supervisor::new(cancel.clone());
        let other = cancel.clone();
        supervisor.spawn("steady", async move { other.cancelled().await });
        supervisor.spawn("fragile", async { panic!("boom") });
        supervisor.close();
        tokio::time::timeout(Duration::from_secs(5), supervisor.wait())
            .await
            .expect("the steady task stops once the daemon is cancelled");
        assert!(cancel.is_cancelled());
        assert_eq!(supervisor.health().dead(), vec!["fragile: panicked: boom"]);
    }

    #[tokio::test]
    async fn a_task_that_returns_early_cancels_the_daemon() {
        let cancel = CancellationToken::new();
        let supervisor = Supervisor::new(cancel.clone());
        supervisor.spawn("quitter", async {});
        supervisor.close();
        supervisor.wait().await;
        assert!(cancel.is_cancelled());
        assert_eq!(
            supervisor.failure().as_deref(),
            Some("quitter: stopped unexpectedly")
        );
    }

    #[tokio::test]
    async fn tasks_ending_on_shutdown_are_not_failures() {
        let cancel = CancellationToken::new();
        let supervisor = Supervisor::new(cancel.clone());
        let c = cancel.clone();
        supervisor.spawn("worker", async move { c.cancelled().await });
        supervisor.close();
        cancel.cancel();
        supervisor.wait().await;
        assert_eq!(supervisor.failure(), None);
    }
}
