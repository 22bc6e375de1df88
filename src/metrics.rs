//! Repository and workflow health from stored runs: pure functions, no I/O.
//!
//! Definitions (also in `docs/metrics.md`):
//! - A run's *outcome* is its latest attempt's conclusion: `success` passes; `failure`,
//!   `timed_out` and `startup_failure` fail; everything else (cancelled, skipped, neutral,
//!   stale, action_required, unknown) says nothing about the code and is not counted.
//! - *Success rate*: passing / (passing + failing) runs created inside the window, in percent.
//! - *Duration* p50/p95: `updated_at − run_started_at` of counted runs in the window
//!   (nearest-rank percentiles). *Queue time* p50: `run_started_at − created_at` of first
//!   attempts in the window (a re-run resets `run_started_at`, so later attempts would lie).
//! - *Failure streak*: per workflow, on the default branch, the number of failing completions
//!   (every attempt counts) since the last passing one; the repository's streak is the largest.
//!   *Failing* means some workflow's streak is above zero.
//! - *MTTR*: per workflow on the default branch, an episode runs from the completion of the
//!   first failing attempt after a pass to the completion of the next passing attempt; the mean
//!   length of the episodes that ended inside the window.
//! - *Runs per day*: runs created in the window / window length in days.
//! - *Health score* (0–100, see [`health_score`]) and its level: healthy ≥ 80, warning ≥ 50,
//!   critical below; `unknown` when the window holds no counted run and nothing is failing.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Outcome, Run};

/// Health level shown by the "Health" enum sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthLevel {
    Healthy,
    Warning,
    Critical,
    Unknown,
}

impl HealthLevel {
    pub const ALL: [HealthLevel; 4] = [
        HealthLevel::Healthy,
        HealthLevel::Warning,
        HealthLevel::Critical,
        HealthLevel::Unknown,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            HealthLevel::Healthy => "healthy",
            HealthLevel::Warning => "warning",
            HealthLevel::Critical => "critical",
            HealthLevel::Unknown => "unknown",
        }
    }
    pub fn from_score(score: Option<u8>) -> HealthLevel {
        match score {
            None => HealthLevel::Unknown,
            Some(s) if s >= HEALTHY_AT => HealthLevel::Healthy,
            Some(s) if s >= WARNING_AT => HealthLevel::Warning,
            Some(_) => HealthLevel::Critical,
        }
    }
}

/// Score at or above which a repository is healthy.
pub const HEALTHY_AT: u8 = 80;
/// Score at or above which a repository is in warning (below: critical).
pub const WARNING_AT: u8 = 50;

/// Everything computed for one repository or workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub success_rate: Option<f64>,
    pub duration_p50_s: Option<f64>,
    pub duration_p95_s: Option<f64>,
    pub queue_p50_s: Option<f64>,
    pub failure_streak: u32,
    pub mttr_s: Option<f64>,
    pub runs_per_day: f64,
    pub runs_in_window: u32,
    pub failing: bool,
    pub running: bool,
    pub score: Option<u8>,
    pub level: HealthLevel,
}

/// Inputs that are not runs.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    pub now: DateTime<Utc>,
    pub length: Duration,
    /// Streak, failing and MTTR look only at this branch; empty = every branch.
    pub default_branch: &'a str,
}

impl Window<'_> {
    fn start(&self) -> DateTime<Utc> {
        self.now - chrono::Duration::from_std(self.length).unwrap_or(chrono::Duration::MAX)
    }
    fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start() && t <= self.now
    }
    fn on_default_branch(&self, run: &Run) -> bool {
        self.default_branch.is_empty() || run.head_branch.as_deref() == Some(self.default_branch)
    }
}

/// The first moment after `w.now` at which [`health`] (or [`daily_trend`]) of these runs
/// can change with no new data: when a run's creation or last update leaves the window, or a
/// run stamped in the future enters it. `None` when time alone changes nothing.
pub fn next_change(runs: &[Run], w: Window<'_>) -> Option<DateTime<Utc>> {
    let length = chrono::Duration::from_std(w.length).ok()?;
    runs.iter()
        .flat_map(|r| [r.created_at, r.updated_at])
        .flat_map(|t| [Some(t), t.checked_add_signed(length)])
        .flatten()
        .filter(|t| *t > w.now)
        .min()
}

/// Health of a set of runs (all attempts, any workflow). Call with one workflow's runs for
/// per-workflow health.
pub fn health(runs: &[Run], w: Window<'_>) -> Health {
    let latest = latest_attempts(runs);
    let in_window: Vec<&Run> = latest
        .iter()
        .copied()
        .filter(|r| w.contains(r.created_at))
        .collect();

    let (mut passed, mut failed) = (0u32, 0u32);
    let mut durations = Vec::new();
    for run in &in_window {
        match run.outcome() {
            Some(Outcome::Pass) => passed += 1,
            Some(Outcome::Fail) => failed += 1,
            _ => continue,
        }
        if let Some(d) = run.duration_secs() {
            durations.push(d);
        }
    }
    let success_rate =
        (passed + failed > 0).then(|| f64::from(passed) * 100.0 / f64::from(passed + failed));
    let mut queues: Vec<f64> = runs
        .iter()
        .filter(|r| w.contains(r.created_at))
        .filter_map(Run::queue_secs)
        .collect();

    let mut by_workflow: HashMap<u64, Vec<&Run>> = HashMap::new();
    for run in runs
        .iter()
        .filter(|r| w.on_default_branch(r) && r.is_completed())
    {
        by_workflow.entry(run.workflow_id).or_default().push(run);
    }
    let mut failure_streak = 0;
    let mut episodes = Vec::new();
    for completions in by_workflow.values_mut() {
        completions.sort_by_key(|r| (r.updated_at, r.attempt));
        failure_streak = failure_streak.max(streak(completions));
        episodes.extend(
            recovery_episodes(completions)
                .into_iter()
                .filter(|(_, end)| w.contains(*end))
                .map(|(start, end)| (end - start).num_milliseconds() as f64 / 1000.0),
        );
    }
    let mttr_s =
        (!episodes.is_empty()).then(|| episodes.iter().sum::<f64>() / episodes.len() as f64);
    let days = w.length.as_secs_f64() / 86_400.0;
    let runs_per_day = if days > 0.0 {
        in_window.len() as f64 / days
    } else {
        0.0
    };
    let failing = failure_streak > 0;

    let mut h = Health {
        success_rate,
        duration_p50_s: percentile(&mut durations, 50.0),
        duration_p95_s: percentile(&mut durations, 95.0),
        queue_p50_s: percentile(&mut queues, 50.0),
        failure_streak,
        mttr_s,
        runs_per_day,
        runs_in_window: in_window.len() as u32,
        failing,
        running: latest.iter().any(|r| r.is_active()),
        score: None,
        level: HealthLevel::Unknown,
    };
    h.score = health_score(&h);
    h.level = HealthLevel::from_score(h.score);
    h
}

/// Health score, 0–100, or `None` when there is nothing to judge:
///
/// ```text
/// 100
///  − min(50, 100 − success rate)          (each point of failure rate costs a point)
///  − 25 if failing now, − 5 more per failure in the streak beyond the first (at most 15 more)
///  − 10 if MTTR > 4 h, else − 5 if MTTR > 1 h
///  − 5 if the median queue time is over 5 min
/// ```
pub fn health_score(h: &Health) -> Option<u8> {
    if h.success_rate.is_none() && !h.failing {
        return None;
    }
    let mut score = 100.0;
    if let Some(rate) = h.success_rate {
        score -= (100.0 - rate).clamp(0.0, 50.0);
    }
    if h.failing {
        score -= 25.0 + (5.0 * f64::from(h.failure_streak.saturating_sub(1))).min(15.0);
    }
    match h.mttr_s {
        Some(m) if m > 4.0 * 3600.0 => score -= 10.0,
        Some(m) if m > 3600.0 => score -= 5.0,
        _ => {}
    }
    if h.queue_p50_s.is_some_and(|q| q > 300.0) {
        score -= 5.0;
    }
    Some(score.clamp(0.0, 100.0).round() as u8)
}

/// One day of a trend chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayPoint {
    /// UTC day, `YYYY-MM-DD`.
    pub date: String,
    pub runs: u32,
    pub passed: u32,
    pub failed: u32,
    pub success_rate: Option<f64>,
    pub duration_p50_s: Option<f64>,
}

/// Per UTC day of the window (oldest first): runs created that day, by their latest attempt,
/// with the day's success rate and median duration, for the dashboard's trend charts.
pub fn daily_trend(runs: &[Run], w: Window<'_>) -> Vec<DayPoint> {
    let first = w.start().date_naive();
    let last = w.now.date_naive();
    let mut days: Vec<(chrono::NaiveDate, Vec<&Run>)> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| (d, Vec::new()))
        .collect();
    for run in latest_attempts(runs)
        .into_iter()
        .filter(|r| w.contains(r.created_at))
    {
        let day = run.created_at.date_naive();
        if let Some(slot) = days.iter_mut().find(|(d, _)| *d == day) {
            slot.1.push(run);
        }
    }
    days.into_iter()
        .map(|(date, runs)| {
            let passed = runs
                .iter()
                .filter(|r| r.outcome() == Some(Outcome::Pass))
                .count() as u32;
            let failed = runs
                .iter()
                .filter(|r| r.outcome() == Some(Outcome::Fail))
                .count() as u32;
            let mut durations: Vec<f64> = runs
                .iter()
                .filter(|r| matches!(r.outcome(), Some(Outcome::Pass | Outcome::Fail)))
                .filter_map(|r| r.duration_secs())
                .collect();
            DayPoint {
                date: date.format("%Y-%m-%d").to_string(),
                runs: runs.len() as u32,
                passed,
                failed,
                success_rate: (passed + failed > 0)
                    .then(|| f64::from(passed) * 100.0 / f64::from(passed + failed)),
                duration_p50_s: percentile(&mut durations, 50.0),
            }
        })
        .collect()
}

/// The latest attempt of every run id.
pub fn latest_attempts(runs: &[Run]) -> Vec<&Run> {
    let mut latest: HashMap<u64, &Run> = HashMap::new();
    for run in runs {
        latest
            .entry(run.id)
            .and_modify(|r| {
                if run.attempt > r.attempt {
                    *r = run;
                }
            })
            .or_insert(run);
    }
    let mut out: Vec<&Run> = latest.into_values().collect();
    out.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
    out
}

/// The most recent run (latest attempt), which the "last run" entities show.
pub fn last_run(runs: &[Run]) -> Option<&Run> {
    latest_attempts(runs).into_iter().next()
}

/// Failing completions since the last pass, newest first; indecisive ones are skipped.
fn streak(completions_oldest_first: &[&Run]) -> u32 {
    let mut n = 0;
    for run in completions_oldest_first.iter().rev() {
        match run.outcome() {
            Some(Outcome::Fail) => n += 1,
            Some(Outcome::Pass) => break,
            _ => {}
        }
    }
    n
}

/// Closed failure episodes `(first failure finished, next pass finished)`.
fn recovery_episodes(completions_oldest_first: &[&Run]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut episodes = Vec::new();
    let mut open: Option<DateTime<Utc>> = None;
    for run in completions_oldest_first {
        match run.outcome() {
            Some(Outcome::Fail) if open.is_none() => open = Some(run.updated_at),
            Some(Outcome::Pass) => {
                if let Some(start) = open.take() {
                    episodes.push((start, run.updated_at));
                }
            }
            _ => {}
        }
    }
    episodes
}

/// Nearest-rank percentile; sorts `values` in place.
fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Conclusion, Status};
    use chrono::TimeZone;

    fn t(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap() + chrono::Duration::hours(hours)
    }

    /// A completed run created at hour `h`, queued 30 s, running `secs`.
    fn run(id: u64, wf: u64, h: i64, conclusion: &str, secs: i64) -> Run {
        let created = t(h);
        let started = created + chrono::Duration::seconds(30);
        Run {
            id,
            attempt: 1,
            repo_id: 1,
            workflow_id: wf,
            workflow_name: format!("wf{wf}"),
            workflow_path: None,
            head_branch: Some("main".into()),
            head_sha: "abc".into(),
            event: "push".into(),
            status: Status::Completed,
            conclusion: Some(Conclusion::parse(conclusion)),
            run_number: id,
            display_title: None,
            actor: None,
            html_url: String::new(),
            created_at: created,
            run_started_at: Some(started),
            updated_at: started + chrono::Duration::seconds(secs),
        }
    }

    fn in_progress(id: u64, h: i64) -> Run {
        Run {
            status: Status::InProgress,
            conclusion: None,
            ..run(id, 1, h, "success", 0)
        }
    }

    fn window(now_h: i64) -> Window<'static> {
        Window {
            now: t(now_h),
            length: Duration::from_secs(7 * 86400),
            default_branch: "main",
        }
    }

    #[test]
    fn no_runs_means_unknown_not_zero() {
        let h = health(&[], window(10));
        assert_eq!(h.success_rate, None);
        assert_eq!(h.score, None);
        assert_eq!(h.level, HealthLevel::Unknown);
        assert_eq!(h.duration_p50_s, None);
        assert!(!h.failing && !h.running);
        assert_eq!(h.runs_per_day, 0.0);
    }

    #[test]
    fn only_cancelled_runs_have_no_success_rate() {
        let runs = vec![run(1, 1, 1, "cancelled", 10), run(2, 1, 2, "skipped", 0)];
        let h = health(&runs, window(10));
        assert_eq!(h.success_rate, None);
        assert_eq!(h.level, HealthLevel::Unknown);
        assert_eq!(h.runs_in_window, 2);
        assert!(!h.failing);
    }

    #[test]
    fn success_rate_and_percentiles() {
        let runs: Vec<Run> = (1..=10)
            .map(|i| {
                run(
                    i,
                    1,
                    i as i64,
                    if i == 3 { "failure" } else { "success" },
                    i as i64 * 60,
                )
            })
            .collect();
        let h = health(&runs, window(20));
        assert_eq!(h.success_rate, Some(90.0));
        assert_eq!(h.duration_p50_s, Some(300.0));
        assert_eq!(h.duration_p95_s, Some(600.0));
        assert_eq!(h.queue_p50_s, Some(30.0));
        assert!(!h.failing);
        assert_eq!(h.failure_streak, 0);
        // Run 3 failed and run 4, an hour later, fixed it: MTTR just over 1 h costs 5 points.
        assert_eq!(h.mttr_s, Some(3600.0 + 60.0));
        assert_eq!(h.score, Some(100 - 10 - 5));
        assert_eq!(h.level, HealthLevel::Healthy);
        assert!((h.runs_per_day - 10.0 / 7.0).abs() < 1e-9);
    }

    #[test]
    fn runs_outside_the_window_do_not_count() {
        let runs = vec![
            run(1, 1, 0, "failure", 10),
            run(2, 1, 24 * 8, "success", 10),
        ];
        let h = health(&runs, window(24 * 8 + 1));
        assert_eq!(h.success_rate, Some(100.0));
        assert_eq!(h.runs_in_window, 1);
    }

    /// Health is unchanged until the moment `next_change` names, and that moment is when
    /// the oldest run leaves the window: recomputing only then loses nothing.
    #[test]
    fn health_changes_with_time_only_at_the_next_change() {
        let runs = vec![run(1, 1, 0, "failure", 10), run(2, 1, 30, "success", 10)];
        let now = window(40);
        let due = next_change(&runs, now).unwrap();
        assert_eq!(
            due,
            t(7 * 24),
            "run 1 is created at hour 0 and leaves after 7 days"
        );
        let just_before = Window {
            now: due - chrono::Duration::seconds(1),
            ..now
        };
        assert_eq!(health(&runs, now), health(&runs, just_before));
        let after = Window {
            now: due + chrono::Duration::seconds(11),
            ..now
        };
        assert_ne!(health(&runs, now), health(&runs, after));
        assert_eq!(next_change(&[], now), None);
    }

    #[test]
    fn in_progress_runs_count_as_running_but_not_in_rates() {
        let runs = vec![run(1, 1, 1, "success", 10), in_progress(2, 2)];
        let h = health(&runs, window(10));
        assert!(h.running);
        assert_eq!(h.success_rate, Some(100.0));
        assert_eq!(last_run(&runs).unwrap().id, 2);
    }

    #[test]
    fn failure_streak_per_workflow_on_the_default_branch() {
        let mut pr_failure = run(5, 1, 5, "failure", 10);
        pr_failure.head_branch = Some("feature".into());
        let runs = vec![
            run(1, 1, 1, "success", 10),
            run(2, 1, 2, "failure", 10),
            run(3, 1, 3, "cancelled", 10), // indecisive: does not break the streak
            run(4, 1, 4, "timed_out", 10),
            pr_failure,                  // other branch: ignored for streaks
            run(6, 2, 6, "success", 10), // another workflow passing does not hide the failure
        ];
        let h = health(&runs, window(10));
        assert_eq!(h.failure_streak, 2);
        assert!(h.failing);
        // Passes 1 and 6 against failures 2, 4 and 5 (any branch counts for the rate).
        assert_eq!(h.success_rate, Some(40.0));
        assert_eq!(h.score, Some(100 - 50 - 25 - 5));
        assert_eq!(h.level, HealthLevel::Critical);
    }

    #[test]
    fn rerun_attempts_end_a_failure_episode_and_define_mttr() {
        let first = run(1, 1, 1, "failure", 60);
        let mut second = run(1, 1, 1, "success", 60);
        second.attempt = 2;
        second.run_started_at = Some(first.updated_at + chrono::Duration::minutes(30));
        second.updated_at = second.run_started_at.unwrap() + chrono::Duration::seconds(60);
        let runs = vec![first.clone(), second.clone()];
        let h = health(&runs, window(10));
        assert_eq!(h.failure_streak, 0);
        assert!(!h.failing);
        assert_eq!(
            h.mttr_s,
            Some((second.updated_at - first.updated_at).num_seconds() as f64)
        );
        // The run counts once, by its latest attempt.
        assert_eq!(h.success_rate, Some(100.0));
        assert_eq!(h.runs_in_window, 1);
        // The queue time of attempt 2 is meaningless and not used.
        assert_eq!(h.queue_p50_s, Some(30.0));
    }

    #[test]
    fn mttr_averages_closed_episodes_only() {
        let runs = vec![
            run(1, 1, 0, "failure", 0),
            run(2, 1, 1, "failure", 0),
            run(3, 1, 2, "success", 0), // episode 1: 2 h
            run(4, 1, 3, "failure", 0),
            run(5, 1, 7, "success", 0), // episode 2: 4 h
            run(6, 1, 8, "failure", 0), // open: not counted
        ];
        let h = health(&runs, window(10));
        assert_eq!(h.mttr_s, Some(3.0 * 3600.0));
        assert_eq!(h.failure_streak, 1);
    }

    #[test]
    fn score_levels_and_bounds() {
        let base = Health {
            success_rate: Some(100.0),
            duration_p50_s: None,
            duration_p95_s: None,
            queue_p50_s: Some(600.0),
            failure_streak: 10,
            mttr_s: Some(5.0 * 3600.0),
            runs_per_day: 1.0,
            runs_in_window: 1,
            failing: true,
            running: false,
            score: None,
            level: HealthLevel::Unknown,
        };
        assert_eq!(health_score(&base), Some(100 - 25 - 15 - 10 - 5));
        let worst = Health {
            success_rate: Some(0.0),
            ..base.clone()
        };
        assert_eq!(health_score(&worst), Some(0));
        assert_eq!(HealthLevel::from_score(Some(80)), HealthLevel::Healthy);
        assert_eq!(HealthLevel::from_score(Some(79)), HealthLevel::Warning);
        assert_eq!(HealthLevel::from_score(Some(49)), HealthLevel::Critical);
    }

    #[test]
    fn daily_trend_has_one_point_per_day_and_counts_latest_attempts() {
        let mut rerun = run(3, 1, 26, "success", 100);
        rerun.attempt = 2;
        let runs = vec![
            run(1, 1, 1, "success", 60),
            run(2, 1, 2, "failure", 120),
            run(3, 1, 25, "failure", 100),
            rerun,
            run(4, 1, 26, "cancelled", 5),
        ];
        let trend = daily_trend(&runs, window(48));
        assert_eq!(trend.len(), 8, "7-day window spans 8 calendar days");
        let day1 = trend.iter().find(|p| p.date == "2026-11-20").unwrap();
        assert_eq!((day1.runs, day1.passed, day1.failed), (2, 1, 1));
        assert_eq!(day1.success_rate, Some(50.0));
        assert_eq!(day1.duration_p50_s, Some(60.0));
        let day2 = trend.iter().find(|p| p.date == "2026-11-21").unwrap();
        assert_eq!(
            (day2.runs, day2.passed, day2.failed),
            (2, 1, 0),
            "run 3 counts once, as its re-run passed"
        );
        assert!(
            trend
                .iter()
                .filter(|p| p.runs == 0)
                .all(|p| p.success_rate.is_none())
        );
    }

    #[test]
    fn percentile_nearest_rank() {
        assert_eq!(percentile(&mut [5.0], 95.0), Some(5.0));
        assert_eq!(percentile(&mut [4.0, 1.0, 3.0, 2.0], 50.0), Some(2.0));
        assert_eq!(percentile(&mut [], 50.0), None);
    }
}
