//! What the runner said about a failed job. When the machine breaks rather than the code —
//! a hosted runner shut down or preempted, a self-hosted one out of memory or off the
//! network — GitHub annotates the job's check run with the runner's own message ("The
//! runner has received a shutdown signal…", "The self-hosted runner: X lost communication
//! with the server…"; actions/runner#2040, #2427, #2624). The failed step alone cannot tell:
//! a runner shut down during the tests fails the test step. The failure classifier reads the
//! message found here ([`crate::model::Job::runner_message`]).
//!
//! One request per failed or cancelled job of a failed run; never one for a job that
//! passed. A request that fails leaves the job as it was: the step still classifies it.

use super::GitHubClient;
use super::api::{self, Repo};
use super::models::ApiAnnotation;
use crate::model::{Conclusion, Job};

/// Phrases of the runner's own failure messages (lowercase). Each says the runner, its
/// machine or GitHub's scheduling broke, never the project's code.
const RUNNER_MESSAGES: &[&str] = &[
    // The runner process was stopped: a hosted runner's VM reclaimed, a spot instance
    // terminated, a runner service stopped or OOM-killed.
    "received a shutdown signal",
    // The runner stopped answering GitHub (network, crash, machine gone).
    "lost communication with the server",
    // No runner picked the job up in time.
    "was not acquired by runner",
    // The runner's disk filled up (logs, caches, images), not a test.
    "no space left on device",
];

/// Longest runner message kept (the store, MQTT and the API carry it).
const MAX_MESSAGE: usize = 300;

/// The runner's failure message among `annotations`, if one is there.
pub fn runner_message(annotations: &[ApiAnnotation]) -> Option<String> {
    annotations
        .iter()
        .filter(|a| a.annotation_level.as_deref() == Some("failure"))
        .filter_map(|a| a.message.as_deref())
        .find(|m| {
            let lower = m.to_lowercase();
            RUNNER_MESSAGES.iter().any(|p| lower.contains(p))
        })
        .map(|m| crate::text::truncate(m.trim(), MAX_MESSAGE))
}

/// Whether a job is worth asking about: it failed or was cancelled (a timeout already says
/// what happened).
fn worth_asking(job: &Job) -> bool {
    matches!(
        job.conclusion,
        Some(Conclusion::Failure | Conclusion::Cancelled)
    )
}

/// Adds the runner's message to each failed job of `repo` that has one.
pub async fn add_runner_messages(gh: &GitHubClient, repo: Repo<'_>, jobs: &mut [Job]) {
    for job in jobs.iter_mut().filter(|j| worth_asking(j)) {
        let url = gh.url(&api::actions::check_run_annotations(repo, job.id));
        match gh.get_json::<Vec<ApiAnnotation>>(&url).await {
            Ok(annotations) => job.runner_message = runner_message(&annotations),
            Err(e) => tracing::debug!(
                "annotations of job {} in {}/{}: {e}; classified by its step",
                job.id,
                repo.owner,
                repo.name
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotation(level: &str, message: &str) -> ApiAnnotation {
        ApiAnnotation {
            annotation_level: Some(level.into()),
            message: Some(message.into()),
        }
    }

    #[test]
    fn the_runners_own_failure_messages_are_found_and_others_are_not() {
        let shutdown = "The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.";
        let lost = "The self-hosted runner: nas-runner lost communication with the server. Verify the machine is running and has a healthy network connection. Anything in your workflow that terminates the runner process, starves it for CPU/Memory, or blocks its network access can cause this error.";
        let disk = "System.IO.IOException: No space left on device : '/home/runner/runners/2.311.0/_diag/Worker_20240101.log'";
        for message in [shutdown, lost, disk] {
            let found = runner_message(&[
                annotation("failure", "Process completed with exit code 1."),
                annotation("failure", message),
            ]);
            assert_eq!(found.as_deref(), Some(message.trim()));
        }
        // A test's own failure, a warning that quotes a runner message: not the runner's.
        assert_eq!(
            runner_message(&[annotation(
                "failure",
                "Process completed with exit code 101."
            )]),
            None
        );
        assert_eq!(runner_message(&[annotation("warning", shutdown)]), None);
        assert_eq!(runner_message(&[]), None);
    }

    #[test]
    fn a_long_message_is_cut_on_a_character_boundary() {
        let long = format!("lost communication with the server {}", "é".repeat(400));
        let found = runner_message(&[annotation("failure", &long)]).unwrap();
        assert!(found.len() <= MAX_MESSAGE, "{}", found.len());
        assert!(found.starts_with("lost communication"));
    }
}
