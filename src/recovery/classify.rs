//! Why a run failed, from what GitHub tells us: the run's conclusion, its jobs' conclusions,
//! the step each failed job failed in and what the runner said about it (a check-run
//! annotation, [`crate::github::annotations`]), and which jobs passed on the same commit
//! before.
//! A pure function, so every class is tested on the shapes GitHub sends.
//!
//! The classes follow GitLab CI's `retry: when:` (runner_system_failure,
//! stuck_or_timeout_failure, …): `infrastructure` and `timeout` are worth a re-run, `flaky`
//! usually is, `real` never is, and `unknown` is said rather than guessed.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Conclusion, Job, Outcome, Run};

/// What kind of failure a failed run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The runner, the network or a set-up step broke, not the code.
    Infrastructure,
    /// A job or the run hit its time limit.
    Timeout,
    /// Every failed job passed on the same commit before.
    Flaky,
    /// The code or the workflow: a test, a lint, a build step; or a run that never started.
    Real,
    /// Failed, but no failed job or step is known.
    Unknown,
}

impl FailureClass {
    pub const ALL: [FailureClass; 5] = [
        FailureClass::Infrastructure,
        FailureClass::Timeout,
        FailureClass::Flaky,
        FailureClass::Real,
        FailureClass::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Infrastructure => "infrastructure",
            FailureClass::Timeout => "timeout",
            FailureClass::Flaky => "flaky",
            FailureClass::Real => "real",
            FailureClass::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<FailureClass> {
        FailureClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A class and the sentence that says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub class: FailureClass,
    pub reason: String,
}

impl Classification {
    fn new(class: FailureClass, reason: impl Into<String>) -> Classification {
        Classification {
            class,
            reason: reason.into(),
        }
    }
}

/// Steps GitHub or the usual set-up actions run before the project's own: a failure there
/// is the runner's, the network's or a registry's. Matched case-insensitively as prefixes
/// or `uses:` names.
const SETUP_STEPS: &[&str] = &[
    "set up job",
    "set up runner",
    "initialize containers",
    "complete job",
    "post ",
    "checkout",
    "run actions/checkout",
    "actions/checkout",
    "cache",
    "run actions/cache",
    "restore cache",
    "set up ",
    "setup ",
    "run actions/setup-",
    "install dependencies",
    "download artifact",
    "run actions/download-artifact",
    "docker pull",
    "pull image",
    "login to",
    "log in to",
];

fn is_setup_step(step: &str) -> bool {
    let step = step.trim().to_ascii_lowercase();
    SETUP_STEPS.iter().any(|p| step.starts_with(p)) || step.contains("actions/setup-")
}

/// The class of a completed, failed run attempt; `None` when it did not fail.
/// `jobs` are that attempt's jobs; `passed_before` the names of jobs that passed on the same
/// commit in another run or attempt.
pub fn classify(
    run: &Run,
    jobs: &[Job],
    passed_before: &HashSet<String>,
) -> Option<Classification> {
    if run.outcome() != Some(Outcome::Fail) {
        return None;
    }
    if run.conclusion == Some(Conclusion::StartupFailure) {
        return Some(Classification::new(
            FailureClass::Real,
            "the run never started its jobs (an invalid workflow file or missing permissions); a re-run fails the same way",
        ));
    }
    let failed: Vec<&Job> = jobs.iter().filter(|j| j.failed()).collect();
    if run.conclusion == Some(Conclusion::TimedOut)
        || failed
            .iter()
            .any(|j| j.conclusion == Some(Conclusion::TimedOut))
    {
        let job = failed
            .iter()
            .find(|j| j.conclusion == Some(Conclusion::TimedOut))
            .map(|j| format!("job `{}`", j.name))
            .unwrap_or_else(|| "the run".into());
        return Some(Classification::new(
            FailureClass::Timeout,
            format!("{job} hit its time limit"),
        ));
    }
    // The runner said it broke: whatever step was running, the code did not fail.
    if let Some(job) = failed.iter().find(|j| j.runner_message.is_some()) {
        return Some(Classification::new(
            FailureClass::Infrastructure,
            format!(
                "job `{}`: the runner reported “{}”",
                job.name,
                job.runner_message.as_deref().unwrap_or_default()
            ),
        ));
    }
    if failed.is_empty() {
        return Some(Classification::new(
            FailureClass::Unknown,
            "no failed job is known (the jobs were not fetched, or none reported a failure)",
        ));
    }
    if failed.iter().all(|j| passed_before.contains(&j.name)) {
        return Some(Classification::new(
            FailureClass::Flaky,
            format!(
                "{} passed on this commit before",
                names(failed.iter().map(|j| j.name.as_str()))
            ),
        ));
    }
    // A failed run whose failed job was cancelled, not failed, lost its runner: GitHub
    // cancels the job when the runner stops answering or is shut down.
    let cancelled: Vec<&&Job> = failed
        .iter()
        .filter(|j| j.conclusion == Some(Conclusion::Cancelled))
        .collect();
    if cancelled.len() == failed.len() {
        return Some(Classification::new(
            FailureClass::Infrastructure,
            format!(
                "{} cancelled without a failing step: the runner was lost or shut down",
                names(cancelled.iter().map(|j| j.name.as_str()))
            ),
        ));
    }
    let real: Vec<&&Job> = failed
        .iter()
        .filter(|j| j.conclusion == Some(Conclusion::Failure))
        .collect();
    if real.iter().any(|j| j.failed_step.is_none()) {
        return Some(Classification::new(
            FailureClass::Unknown,
            format!(
                "{} failed in a step GitHub did not name",
                names(
                    real.iter()
                        .filter(|j| j.failed_step.is_none())
                        .map(|j| j.name.as_str())
                )
            ),
        ));
    }
    if let Some(job) = real
        .iter()
        .find(|j| !j.failed_step.as_deref().is_some_and(is_setup_step))
    {
        return Some(Classification::new(
            FailureClass::Real,
            format!(
                "step `{}` of job `{}` failed",
                job.failed_step.as_deref().unwrap_or_default(),
                job.name
            ),
        ));
    }
    let job = real[0];
    Some(Classification::new(
        FailureClass::Infrastructure,
        format!(
            "job `{}` failed in its set-up step `{}`, before the project's own steps",
            job.name,
            job.failed_step.as_deref().unwrap_or_default()
        ),
    ))
}

fn names<'a>(list: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<String> = list.map(|n| format!("`{n}`")).collect();
    match list.len() {
        1 => format!("job {}", list[0]),
        _ => format!("jobs {}", list.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use chrono::Utc;

    fn run(conclusion: &str) -> Run {
        Run {
            id: 7,
            repo_id: 1,
            workflow_id: 2,
            workflow_name: "CI".into(),
            workflow_path: Some(".github/workflows/ci.yml".into()),
            attempt: 1,
            run_number: 7,
            head_branch: Some("main".into()),
            head_sha: "abc".into(),
            event: "push".into(),
            status: Status::Completed,
            conclusion: Some(Conclusion::parse(conclusion)),
            display_title: None,
            actor: None,
            html_url: String::new(),
            created_at: Utc::now(),
            run_started_at: Some(Utc::now()),
            updated_at: Utc::now(),
        }
    }

    fn job(name: &str, conclusion: &str, step: Option<&str>) -> Job {
        Job {
            id: 1,
            run_id: 7,
            attempt: 1,
            name: name.into(),
            status: Status::Completed,
            conclusion: Some(Conclusion::parse(conclusion)),
            started_at: None,
            completed_at: None,
            html_url: None,
            runner_name: None,
            failed_step: step.map(str::to_string),
            runner_message: None,
        }
    }

    fn class(run: &Run, jobs: &[Job], passed: &[&str]) -> Option<FailureClass> {
        let passed = passed.iter().map(|s| s.to_string()).collect();
        classify(run, jobs, &passed).map(|c| c.class)
    }

    #[test]
    fn a_passing_or_cancelled_run_has_no_class() {
        assert_eq!(class(&run("success"), &[], &[]), None);
        assert_eq!(class(&run("cancelled"), &[], &[]), None);
    }

    #[test]
    fn a_test_step_is_real_and_a_setup_step_infrastructure() {
        let failed = run("failure");
        let test = [
            job("build", "success", None),
            job("test", "failure", Some("Run cargo test")),
        ];
        assert_eq!(class(&failed, &test, &[]), Some(FailureClass::Real));
        let c = classify(&failed, &test, &HashSet::new()).unwrap();
        assert_eq!(c.reason, "step `Run cargo test` of job `test` failed");
        for step in [
            "Set up job",
            "Run actions/checkout@v4",
            "Cache cargo",
            "Set up Python 3.12",
            "Run actions/setup-node@v4",
        ] {
            let jobs = [job("test", "failure", Some(step))];
            assert_eq!(
                class(&failed, &jobs, &[]),
                Some(FailureClass::Infrastructure),
                "{step}"
            );
        }
    }

    #[test]
    fn a_runner_that_reported_its_own_failure_is_infrastructure_whatever_step_ran() {
        let failed = run("failure");
        let mut lost = job("test", "failure", Some("Run cargo test"));
        lost.runner_message = Some("The runner has received a shutdown signal.".into());
        let c = classify(&failed, &[lost], &HashSet::new()).unwrap();
        assert_eq!(c.class, FailureClass::Infrastructure);
        assert_eq!(
            c.reason,
            "job `test`: the runner reported “The runner has received a shutdown signal.”"
        );
        // Without the message the same step is the code's.
        let plain = job("test", "failure", Some("Run cargo test"));
        assert_eq!(class(&failed, &[plain], &[]), Some(FailureClass::Real));
    }

    #[test]
    fn timeouts_cancellations_and_startup_failures() {
        assert_eq!(
            class(&run("timed_out"), &[], &[]),
            Some(FailureClass::Timeout)
        );
        let jobs = [job("e2e", "timed_out", Some("Run tests"))];
        assert_eq!(
            class(&run("failure"), &jobs, &[]),
            Some(FailureClass::Timeout)
        );
        let jobs = [job("e2e", "cancelled", None)];
        assert_eq!(
            class(&run("failure"), &jobs, &[]),
            Some(FailureClass::Infrastructure)
        );
        assert_eq!(
            class(&run("startup_failure"), &[], &[]),
            Some(FailureClass::Real)
        );
    }

    #[test]
    fn flaky_only_when_every_failed_job_passed_on_the_commit_before() {
        let jobs = [
            job("test", "failure", Some("Run tests")),
            job("lint", "failure", Some("Run clippy")),
        ];
        assert_eq!(
            class(&run("failure"), &jobs, &["test", "lint"]),
            Some(FailureClass::Flaky)
        );
        assert_eq!(
            class(&run("failure"), &jobs, &["test"]),
            Some(FailureClass::Real)
        );
    }

    #[test]
    fn without_jobs_or_steps_it_says_unknown() {
        assert_eq!(
            class(&run("failure"), &[], &[]),
            Some(FailureClass::Unknown)
        );
        let jobs = [job("test", "failure", None)];
        assert_eq!(
            class(&run("failure"), &jobs, &[]),
            Some(FailureClass::Unknown)
        );
    }
}
