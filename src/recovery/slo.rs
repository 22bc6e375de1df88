//! Service-level objectives: the plan's success metrics (success rate, 95th-percentile
//! duration, mean time to recovery), each against a target a repository's `slo:` may set.
//! Met, breached, or unknown while nothing is measured. HA's SLO `binary_sensor`s and the
//! quality gate ([`super::gate`]) read the same verdicts, so they never disagree.

use std::time::Duration;

use serde::Serialize;

use crate::metrics::Health;

/// A repository's `slo:` targets.
#[derive(Debug, Clone, PartialEq)]
pub struct SloTargets {
    /// The least success rate, in percent.
    pub min_success_rate: f64,
    /// The 95th-percentile run duration must stay under it.
    pub max_p95_duration: Duration,
    /// The mean time to recovery must stay under it.
    pub max_mttr: Duration,
}

impl Default for SloTargets {
    /// The plan's success metrics.
    fn default() -> Self {
        SloTargets {
            min_success_rate: 95.0,
            max_p95_duration: Duration::from_secs(300),
            max_mttr: Duration::from_secs(3600),
        }
    }
}

/// One objective's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    /// `None` while nothing is measured.
    pub breached: Option<bool>,
    /// The measured value (percent or seconds), rounded as HA shows it.
    pub value: Option<f64>,
    /// The target, as a person reads it (`>= 95 %`, `p95 < 300 s`).
    pub target: String,
}

/// The three objectives of a repository.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objectives {
    pub success_rate: Objective,
    pub duration: Objective,
    pub recovery_time: Objective,
}

/// Judges a repository's numbers against its targets.
pub fn objectives(h: &Health, t: &SloTargets) -> Objectives {
    let p95_limit = t.max_p95_duration.as_secs_f64();
    let mttr_limit = t.max_mttr.as_secs_f64();
    Objectives {
        success_rate: Objective {
            breached: h.success_rate.map(|v| v < t.min_success_rate),
            value: h.success_rate.map(|v| (v * 10.0).round() / 10.0),
            target: format!(">= {} %", number(t.min_success_rate)),
        },
        duration: Objective {
            breached: h.duration_p95_s.map(|v| v >= p95_limit),
            value: h.duration_p95_s.map(f64::round),
            target: format!("p95 < {} s", number(p95_limit)),
        },
        recovery_time: Objective {
            breached: h.mttr_s.map(|v| v >= mttr_limit),
            value: h.mttr_s.map(f64::round),
            target: format!("MTTR < {} s", number(mttr_limit)),
        },
    }
}

impl Objectives {
    /// Each breached objective, in a phrase: `success rate 80 % (target >= 95 %)`.
    pub fn breaches(&self) -> Vec<String> {
        let named = [
            ("success rate", &self.success_rate, " %"),
            ("p95 duration", &self.duration, " s"),
            ("MTTR", &self.recovery_time, " s"),
        ];
        named
            .into_iter()
            .filter(|(_, o, _)| o.breached == Some(true))
            .map(|(name, o, unit)| {
                let value = o.value.map_or("?".to_string(), number);
                format!("{name} {value}{unit} (target {})", o.target)
            })
            .collect()
    }
}

/// `95` rather than `95.0`, `97.5` as it is.
fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(success: Option<f64>, p95: Option<f64>, mttr: Option<f64>) -> Health {
        let mut h = crate::metrics::health(
            &[],
            crate::metrics::Window {
                now: chrono::Utc::now(),
                length: Duration::from_secs(3600),
                default_branch: "main",
            },
        );
        h.success_rate = success;
        h.duration_p95_s = p95;
        h.mttr_s = mttr;
        h
    }

    #[test]
    fn each_objective_is_met_breached_or_unknown_against_its_target() {
        let t = SloTargets::default();
        let o = objectives(&health(Some(80.0), Some(299.0), None), &t);
        assert_eq!(o.success_rate.breached, Some(true));
        assert_eq!(o.duration.breached, Some(false));
        assert_eq!(o.recovery_time.breached, None);
        assert_eq!(
            o.breaches(),
            ["success rate 80 % (target >= 95 %)".to_string()]
        );
        // A target of the settings, not the plan's.
        let strict = SloTargets {
            max_p95_duration: Duration::from_secs(120),
            ..t
        };
        let o = objectives(&health(Some(99.0), Some(299.0), Some(10.0)), &strict);
        assert_eq!(o.duration.breached, Some(true));
        assert_eq!(o.duration.target, "p95 < 120 s");
        assert_eq!(o.breaches(), ["p95 duration 299 s (target p95 < 120 s)"]);
    }
}
