//! `World::demo`: a believable homelab for the README demo and end-to-end tests. It is
//! deterministic for a given `now` (no randomness): every time is an offset from `now`
//! (truncated to whole seconds), so "last run 2 h ago" reads the same on every start.
//!
//! - `homelab-demo` (the authenticated user): `ha-config` (private; "Validate config" and
//!   "Deploy", 7 days of history, Deploy failed twice ~1 day ago and was fixed 2 h ago),
//!   `infra` (private; CI with a run in progress now), `esphome` (public; a few runs, one
//!   cancelled, one skipped).
//! - `homelab-org` (organization): `dashboards`, `ansible-roles` (private) and the archived
//!   `legacy-scripts`.

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::world::{Job, Owner, Repo, Run, Step, Workflow, World, fake_sha};

/// Id ranges per kind keep ids unique across the whole world.
const USER_ID: u64 = 583_201;
const ORG_ID: u64 = 760_114;

/// A job to create for a run: name, step names, and the index of the step that decides
/// the job's conclusion (that step gets the run's conclusion; later steps are skipped).
struct JobSpec {
    name: &'static str,
    steps: &'static [&'static str],
    key_step: usize,
}

const VALIDATE_JOBS: &[JobSpec] = &[JobSpec {
    name: "validate",
    steps: &[
        "Set up job",
        "Run actions/checkout@v4",
        "Check Home Assistant configuration",
        "Post Run actions/checkout@v4",
        "Complete job",
    ],
    key_step: 2,
}];

const DEPLOY_JOBS: &[JobSpec] = &[JobSpec {
    name: "deploy",
    steps: &[
        "Set up job",
        "Run actions/checkout@v4",
        "Set up SSH",
        "Deploy to Home Assistant",
        "Restart Home Assistant",
        "Complete job",
    ],
    key_step: 3,
}];

const INFRA_JOBS: &[JobSpec] = &[
    JobSpec {
        name: "lint",
        steps: &[
            "Set up job",
            "Run actions/checkout@v4",
            "Run tflint",
            "Complete job",
        ],
        key_step: 2,
    },
    JobSpec {
        name: "terraform plan",
        steps: &[
            "Set up job",
            "Run actions/checkout@v4",
            "Terraform init",
            "Terraform plan",
            "Complete job",
        ],
        key_step: 3,
    },
];

const ESPHOME_JOBS: &[JobSpec] = &[JobSpec {
    name: "build",
    steps: &[
        "Set up job",
        "Run actions/checkout@v4",
        "Compile firmware",
        "Complete job",
    ],
    key_step: 2,
}];

const LINT_JOBS: &[JobSpec] = &[JobSpec {
    name: "lint",
    steps: &[
        "Set up job",
        "Run actions/checkout@v4",
        "Validate dashboards",
        "Complete job",
    ],
    key_step: 2,
}];

const MOLECULE_JOBS: &[JobSpec] = &[JobSpec {
    name: "molecule",
    steps: &[
        "Set up job",
        "Run actions/checkout@v4",
        "Run molecule test",
        "Complete job",
    ],
    key_step: 2,
}];

/// Builds runs (oldest first, so run numbers ascend) with jobs and steps.
struct Builder {
    now: DateTime<Utc>,
    next_run: u64,
    next_job: u64,
}

/// One run to add.
struct Spec<'a> {
    wf: &'a Workflow,
    ago: Duration,
    /// Seconds the run takes (completed) or has taken so far (in progress).
    secs: i64,
    /// `None` = still in progress.
    conclusion: Option<&'a str>,
    title: &'a str,
    actor: &'a str,
    branch: &'a str,
    event: &'a str,
    jobs: &'a [JobSpec],
}

impl Builder {
    fn add(&mut self, repo: &mut Repo, s: Spec<'_>) {
        let id = self.next_run;
        self.next_run += 37;
        let created = self.now - s.ago;
        let number = 40
            + repo
                .runs
                .iter()
                .filter(|r| r.workflow_id == s.wf.id)
                .count() as u64;
        let run = match s.conclusion {
            Some(c) => Run::completed(
                id,
                s.wf.id,
                s.wf.name.clone(),
                c,
                created,
                Duration::seconds(s.secs),
            ),
            None => {
                let mut r = Run::in_progress(id, s.wf.id, s.wf.name.clone(), created);
                r.updated_at = (r.run_started_at + Duration::seconds(s.secs)).min(self.now);
                r
            }
        }
        .on_branch(s.branch)
        .sha(fake_sha(&format!("{}:{}", repo.full_name(), s.title)))
        .event(s.event)
        .actor(s.actor)
        .title(s.title)
        .number(number);
        for (i, spec) in s.jobs.iter().enumerate() {
            let job = self.job(&run, spec, i, s.jobs.len());
            repo.jobs.push(job);
        }
        repo.runs.push(run);
    }

    /// A job whose steps share the run's time; in a multi-job in-progress run the first
    /// jobs are done and the last one is running.
    fn job(&mut self, run: &Run, spec: &JobSpec, index: usize, count: usize) -> Job {
        let id = self.next_job;
        self.next_job += 11;
        let mut job = Job::for_run(id, run, spec.name);
        let in_progress = run.status == "in_progress";
        let running_here = in_progress && index + 1 == count;
        let (conclusion, skipped) = match run.conclusion.as_deref() {
            Some("skipped") => (Some("skipped"), true),
            Some(c) => (Some(c), false),
            None if running_here => (None, false),
            None => (Some("success"), false),
        };
        if in_progress && !running_here {
            // Finished before the running job; done half-way through the run so far.
            let done = run.run_started_at + (self.now - run.run_started_at) / 2;
            job.status = "completed".into();
            job.completed_at = Some(done.max(job.started_at.unwrap_or(done)));
        }
        job.conclusion = conclusion.map(str::to_string);
        if skipped {
            job.started_at = Some(job.created_at);
            job.completed_at = Some(job.created_at);
            return job;
        }
        let start = job.started_at.unwrap_or(job.created_at);
        let end = job.completed_at.unwrap_or(self.now);
        let n = spec.steps.len() as i32;
        let slice = (end - start) / n.max(1);
        for (k, name) in spec.steps.iter().enumerate() {
            let s_start = start + slice * k as i32;
            let s_end = s_start + slice;
            let is_last = k + 1 == spec.steps.len();
            let step = match conclusion {
                None => {
                    // Running: steps before the key step done, key step running, rest queued.
                    if k < spec.key_step {
                        Step::new(
                            *name,
                            "completed",
                            Some("success"),
                            Some(s_start),
                            Some(s_end),
                        )
                    } else if k == spec.key_step {
                        Step::new(*name, "in_progress", None, Some(s_start), None)
                    } else {
                        Step::new(*name, "queued", None, None, None)
                    }
                }
                Some(c) if c != "success" => {
                    if k < spec.key_step {
                        Step::new(
                            *name,
                            "completed",
                            Some("success"),
                            Some(s_start),
                            Some(s_end),
                        )
                    } else if k == spec.key_step {
                        Step::new(*name, "completed", Some(c), Some(s_start), Some(s_end))
                    } else if is_last {
                        Step::new(
                            *name,
                            "completed",
                            Some("success"),
                            Some(s_start),
                            Some(s_end),
                        )
                    } else {
                        Step::new(
                            *name,
                            "completed",
                            Some("skipped"),
                            Some(s_start),
                            Some(s_start),
                        )
                    }
                }
                Some(_) => Step::new(
                    *name,
                    "completed",
                    Some("success"),
                    Some(s_start),
                    Some(s_end),
                ),
            };
            job = job.step(step);
        }
        job
    }
}

fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

pub(crate) fn demo_world(now: DateTime<Utc>) -> World {
    let now = now.duration_trunc(Duration::seconds(1)).unwrap_or(now);
    let mut b = Builder {
        now,
        next_run: 9_104_200_000,
        next_job: 25_530_000_000,
    };
    let me = "homelab-demo";
    let renovate = "renovate[bot]";

    // --- homelab-demo/ha-config -------------------------------------------------------
    let validate = Workflow::new(
        4_100_001,
        "Validate config",
        ".github/workflows/validate.yml",
    );
    let deploy = Workflow::new(4_100_002, "Deploy", ".github/workflows/deploy.yml");
    let mut ha = Repo::new(712_001, me, "ha-config")
        .workflow(validate.clone())
        .workflow(deploy.clone());
    ha.private = true;
    // (hours ago, title, validate conclusion, deploy conclusion or None = no deploy)
    let pushes: &[(i64, &str, &str, Option<&str>)] = &[
        (
            166,
            "Add hallway motion automation",
            "success",
            Some("success"),
        ),
        (160, "Tune hallway motion timeout", "success", None),
        (142, "Group living room lights", "success", Some("success")),
        (
            121,
            "Add washing machine done notification",
            "failure",
            None,
        ),
        (
            120,
            "Fix template sensor syntax",
            "success",
            Some("success"),
        ),
        (97, "Add energy dashboard sensors", "success", None),
        (94, "Rename kitchen scenes", "success", Some("success")),
        (73, "Add vacation mode script", "success", Some("success")),
        (50, "Bump frontend card versions", "success", None),
        (
            30,
            "Move secrets to new vault paths",
            "success",
            Some("failure"),
        ),
        (
            26,
            "Fix vault path for MQTT password",
            "success",
            Some("failure"),
        ),
        (
            2,
            "Restore SSH known_hosts for deploy",
            "success",
            Some("success"),
        ),
    ];
    for &(h, title, v, d) in pushes {
        let push = |wf, ago, secs, c, jobs| Spec {
            wf,
            ago,
            secs,
            conclusion: Some(c),
            title,
            actor: me,
            branch: "main",
            event: "push",
            jobs,
        };
        b.add(&mut ha, push(&validate, hours(h), 94, v, VALIDATE_JOBS));
        if let Some(d) = d {
            let secs = if d == "success" { 212 } else { 61 };
            let ago = hours(h) - Duration::minutes(3);
            b.add(&mut ha, push(&deploy, ago, secs, d, DEPLOY_JOBS));
        }
    }
    // A nightly scheduled validation.
    for day in 1..=6 {
        b.add(
            &mut ha,
            Spec {
                wf: &validate,
                ago: Duration::days(day) + Duration::minutes(17),
                secs: 88,
                conclusion: Some("success"),
                title: "Validate config",
                actor: me,
                branch: "main",
                event: "schedule",
                jobs: VALIDATE_JOBS,
            },
        );
    }
    sort_oldest_first(&mut ha);

    // --- homelab-demo/infra -----------------------------------------------------------
    let ci = Workflow::new(4_100_003, "CI", ".github/workflows/ci.yml");
    let mut infra = Repo::new(712_002, me, "infra").workflow(ci.clone());
    infra.private = true;
    for (h, title, c) in [
        (150, "Add Proxmox backup job", "success"),
        (99, "Pin terraform provider versions", "success"),
        (75, "Open port for Zigbee2MQTT frontend", "failure"),
        (74, "Fix firewall rule ordering", "success"),
        (28, "Add VLAN for IoT devices", "success"),
    ] {
        b.add(
            &mut infra,
            Spec {
                wf: &ci,
                ago: hours(h),
                secs: 305,
                conclusion: Some(c),
                title,
                actor: me,
                branch: "main",
                event: "push",
                jobs: INFRA_JOBS,
            },
        );
    }
    b.add(
        &mut infra,
        Spec {
            wf: &ci,
            ago: Duration::minutes(3),
            secs: 150,
            conclusion: None,
            title: "Add DNS records for new NAS",
            actor: me,
            branch: "main",
            event: "push",
            jobs: INFRA_JOBS,
        },
    );

    // --- homelab-demo/esphome ---------------------------------------------------------
    let build = Workflow::new(4_100_004, "Build firmware", ".github/workflows/build.yml");
    let mut esphome = Repo::new(712_003, me, "esphome").workflow(build.clone());
    for (h, title, c, actor, branch, event) in [
        (140, "Add bedroom CO2 sensor", "success", me, "main", "push"),
        (
            96,
            "Update ESPHome to 2025.2.0",
            "cancelled",
            renovate,
            "renovate/esphome-2025.x",
            "pull_request",
        ),
        (48, "Docs: wiring diagram", "skipped", me, "main", "push"),
        (
            20,
            "Calibrate garage door sensor",
            "success",
            me,
            "main",
            "push",
        ),
    ] {
        b.add(
            &mut esphome,
            Spec {
                wf: &build,
                ago: hours(h),
                secs: if c == "cancelled" { 140 } else { 420 },
                conclusion: Some(c),
                title,
                actor,
                branch,
                event,
                jobs: ESPHOME_JOBS,
            },
        );
    }

    // --- homelab-org ------------------------------------------------------------------
    let org = "homelab-org";
    let lint = Workflow::new(4_100_101, "Lint", ".github/workflows/lint.yml");
    let mut dashboards = Repo::new(712_101, org, "dashboards").workflow(lint.clone());
    for (h, title, c) in [
        (110, "Add network overview dashboard", "success"),
        (9, "Fix gauge colours", "success"),
    ] {
        b.add(
            &mut dashboards,
            Spec {
                wf: &lint,
                ago: hours(h),
                secs: 45,
                conclusion: Some(c),
                title,
                actor: me,
                branch: "main",
                event: "push",
                jobs: LINT_JOBS,
            },
        );
    }
    let molecule = Workflow::new(4_100_102, "Molecule", ".github/workflows/molecule.yml");
    let mut ansible = Repo::new(712_102, org, "ansible-roles").workflow(molecule.clone());
    ansible.private = true;
    for (h, title, c) in [
        (130, "Add docker role", "failure"),
        (129, "Fix docker role handler", "success"),
        (60, "Add unattended-upgrades role", "success"),
    ] {
        b.add(
            &mut ansible,
            Spec {
                wf: &molecule,
                ago: hours(h),
                secs: 610,
                conclusion: Some(c),
                title,
                actor: me,
                branch: "main",
                event: "push",
                jobs: MOLECULE_JOBS,
            },
        );
    }
    let shellcheck = Workflow::new(4_100_103, "Shellcheck", ".github/workflows/shellcheck.yml");
    let mut legacy = Repo::new(712_103, org, "legacy-scripts").workflow(shellcheck.clone());
    legacy.archived = true;
    b.add(
        &mut legacy,
        Spec {
            wf: &shellcheck,
            ago: Duration::days(143),
            secs: 30,
            conclusion: Some("success"),
            title: "Archive: superseded by ansible-roles",
            actor: me,
            branch: "main",
            event: "push",
            jobs: LINT_JOBS,
        },
    );

    World::with_user(me)
        .owner(Owner::org(org, ORG_ID))
        .repo(ha)
        .repo(infra)
        .repo(esphome)
        .repo(dashboards)
        .repo(ansible)
        .repo(legacy)
        .with_user_id(USER_ID)
}

/// Runs were added per push (validate, then deploy, then the nightly ones); renumber
/// by creation time so run numbers ascend with time per workflow, as on GitHub.
fn sort_oldest_first(repo: &mut Repo) {
    repo.runs.sort_by_key(|r| (r.created_at, r.id));
    let mut counters: Vec<(u64, u64)> = Vec::new();
    for run in &mut repo.runs {
        let n = match counters.iter_mut().find(|(wf, _)| *wf == run.workflow_id) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                counters.push((run.workflow_id, 40));
                40
            }
        };
        run.run_number = n;
    }
}

impl World {
    /// Set the authenticated user's id (demo only: `with_user` uses 1).
    fn with_user_id(mut self, id: u64) -> World {
        let me = self.authenticated_user.clone();
        if let Some(o) = self.owners.iter_mut().find(|o| o.login == me) {
            o.id = id;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn ids_unique_and_deterministic() {
        let w = demo_world(now());
        let mut ids = HashSet::new();
        let mut all = |id: u64| assert!(ids.insert(id), "duplicate id {id}");
        w.owners.iter().for_each(|o| all(o.id));
        for r in &w.repos {
            all(r.id);
            r.workflows.iter().for_each(|x| all(x.id));
            r.latest_runs().iter().for_each(|x| all(x.id));
            r.jobs.iter().for_each(|x| all(x.id));
        }
        let again = demo_world(now());
        assert_eq!(format!("{w:?}"), format!("{again:?}"));
    }

    #[test]
    fn story_holds() {
        let w = demo_world(now());
        assert_eq!(w.authenticated_user, "homelab-demo");
        let ha = w.find_repo("homelab-demo/ha-config").unwrap();
        let mut deploys: Vec<&Run> = ha
            .runs
            .iter()
            .filter(|r| r.workflow_id == 4_100_002)
            .collect();
        deploys.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        let last3: Vec<_> = deploys
            .iter()
            .take(3)
            .map(|r| r.conclusion.as_deref().unwrap())
            .collect();
        assert_eq!(last3, vec!["success", "failure", "failure"]);
        assert!(
            ha.runs
                .iter()
                .all(|r| r.created_at >= now() - Duration::days(8))
        );
        let infra = w.find_repo("homelab-demo/infra").unwrap();
        assert!(infra.runs.iter().any(|r| r.status == "in_progress"));
        let esp = w.find_repo("homelab-demo/esphome").unwrap();
        let cs: Vec<_> = esp
            .runs
            .iter()
            .filter_map(|r| r.conclusion.as_deref())
            .collect();
        assert!(cs.contains(&"cancelled") && cs.contains(&"skipped"));
        assert!(w.find_repo("homelab-org/legacy-scripts").unwrap().archived);
        for r in &w.repos {
            for run in r.runs.iter().filter(|r| r.is_completed()) {
                let jobs: Vec<_> = r.jobs.iter().filter(|j| j.run_id == run.id).collect();
                assert!(!jobs.is_empty(), "run {} has jobs", run.id);
                assert!(jobs.iter().all(|j| j.status == "completed"));
            }
        }
    }
}
