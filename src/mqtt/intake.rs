//! Command topics: an MQTT message on `<base>/repo/<owner>/<name>/cmd/<action>` or
//! `<base>/bridge/cmd/<action>` — or a switch's `…/set/<key>` — becomes a [`Request`] for
//! the command executor, submitted
//! like the HTTP API submits its own. Retained messages are refused here, always: a command
//! must never fire again because the broker replays it.

use super::{Inbound, Topics};
use crate::commands::{Command, CommandResult, CommandSource, Request, parse};

/// What an MQTT message on one of our command topics is.
#[derive(Debug, PartialEq)]
pub enum Intake {
    /// Not a command topic of ours, or an empty payload (the echo of clearing a retained
    /// command): nothing to do, nothing to answer.
    Ignore,
    /// A command to a repository.
    Repo(Command),
    /// A command to the bridge itself (`<base>/bridge/cmd/<action>`).
    Bridge {
        action: String,
        request_id: Option<String>,
        /// `coordinate`: which deployment.
        deployment: Option<String>,
    },
    /// A policy switch turned on or off (`<base>/repo/<owner>/<name>/set/<key>`,
    /// `<base>/bridge/set/<key>`, payload `ON`/`OFF`).
    Switch {
        repo: Option<(String, String)>,
        key: String,
        on: bool,
    },
    /// Refused before anything else; answer with this.
    Rejected(CommandResult),
}

/// Reads an MQTT message. Retained messages are refused, always: a command must never fire
/// again because the broker replays it.
pub fn intake(topics: &Topics, inbound: &Inbound) -> Intake {
    if inbound.payload.is_empty() {
        return Intake::Ignore;
    }
    if let Some(action) = inbound
        .topic
        .strip_prefix(&format!("{}/bridge/cmd/", topics.base))
    {
        if inbound.retained {
            return Intake::Rejected(retained(None, "bridge".into(), action.into()));
        }
        let params = parse::params(&inbound.payload).unwrap_or_default();
        return Intake::Bridge {
            action: action.to_string(),
            request_id: params.request_id,
            deployment: params.deployment,
        };
    }
    let switch = match inbound
        .topic
        .strip_prefix(&format!("{}/bridge/set/", topics.base))
    {
        Some(key) => Some((None, key)),
        None => topics
            .parse_repo_switch_set(&inbound.topic)
            .map(|(o, n, key)| (Some((o.to_string(), n.to_string())), key)),
    };
    if let Some((repo, key)) = switch {
        let target = repo
            .as_ref()
            .map_or("bridge".to_string(), |(o, n)| format!("{o}/{n}"));
        let action = format!("set_{key}");
        if inbound.retained {
            return Intake::Rejected(retained(None, target, action));
        }
        return match crate::recovery::switches::parse_payload(&inbound.payload) {
            Some(on) => Intake::Switch {
                repo,
                key: key.to_string(),
                on,
            },
            None => Intake::Rejected(CommandResult::rejected(
                None,
                target,
                action,
                "a switch takes `ON` or `OFF`",
            )),
        };
    }
    let Some((owner, name, action)) = topics.parse_repo_cmd(&inbound.topic) else {
        return Intake::Ignore;
    };
    let repo = format!("{owner}/{name}");
    if inbound.retained {
        let request_id = parse::request_id(&inbound.payload);
        return Intake::Rejected(retained(request_id, repo, action.into()));
    }
    match parse::command(owner, name, action, &inbound.payload, CommandSource::Mqtt) {
        Ok(c) => Intake::Repo(c),
        Err(r) => Intake::Rejected(*r),
    }
}

fn retained(request_id: Option<String>, repo: String, action: String) -> CommandResult {
    CommandResult::rejected(
        request_id,
        repo,
        action,
        "ignored a retained command: publish commands with retain=false (the broker would replay a retained one)",
    )
}

impl Intake {
    /// What to hand the executor; `None` for messages that need no answer.
    pub fn into_request(self) -> Option<Request> {
        match self {
            Intake::Ignore => None,
            Intake::Repo(c) => Some(Request::Repo(c)),
            Intake::Bridge {
                action,
                request_id,
                deployment,
            } => Some(Request::Bridge {
                action,
                request_id,
                deployment,
            }),
            Intake::Switch { repo, key, on } => Some(Request::Switch { repo, key, on }),
            Intake::Rejected(result) => Some(Request::Refused {
                source: CommandSource::Mqtt,
                result,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Action;
    use crate::commands::Params;
    use crate::commands::parse::MAX_PAYLOAD;

    fn topics() -> Topics {
        Topics {
            base: "gb".into(),
            prefix: "homeassistant".into(),
            birth: "homeassistant/status".into(),
            node: "gb".into(),
        }
    }

    fn inbound(topic: &str, payload: &str, retained: bool) -> Inbound {
        Inbound {
            topic: topic.into(),
            payload: payload.as_bytes().to_vec(),
            retained,
        }
    }

    fn rejection(i: Intake) -> CommandResult {
        match i {
            Intake::Rejected(r) => r,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_button_press_is_a_complete_command() {
        match intake(
            &topics(),
            &inbound("gb/repo/octo/api/cmd/rerun_failed", "PRESS", false),
        ) {
            Intake::Repo(c) => {
                assert_eq!(c.action, Action::RerunFailed);
                assert_eq!(c.repo(), "octo/api");
                assert_eq!(c.params, Params::default());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_payloads_carry_parameters() {
        let payload = r#"{"request_id":"r1","workflow":"deploy.yml","ref":"main","inputs":{"env":"prod","dry":true}}"#;
        match intake(
            &topics(),
            &inbound("gb/repo/octo/api/cmd/dispatch", payload, false),
        ) {
            Intake::Repo(c) => {
                assert_eq!(c.params.request_id.as_deref(), Some("r1"));
                assert_eq!(c.params.workflow.as_deref(), Some("deploy.yml"));
                assert_eq!(c.params.git_ref.as_deref(), Some("main"));
                assert_eq!(c.params.inputs.as_ref().unwrap().len(), 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retained_commands_are_refused_and_empty_ones_ignored() {
        let r = rejection(intake(
            &topics(),
            &inbound("gb/repo/octo/api/cmd/rerun", r#"{"request_id":"x"}"#, true),
        ));
        assert!(!r.ok && r.message.contains("retained"));
        assert_eq!(r.request_id.as_deref(), Some("x"));
        assert_eq!(
            intake(&topics(), &inbound("gb/repo/octo/api/cmd/rerun", "", false)),
            Intake::Ignore
        );
        assert_eq!(
            intake(&topics(), &inbound("gb/repo/octo/api/state", "{}", false)),
            Intake::Ignore
        );
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        let t = topics();
        let cases = [
            ("gb/repo/o/r/cmd/rerun", "{not json", "not valid JSON"),
            (
                "gb/repo/o/r/cmd/rerun",
                "[1]",
                "must be `PRESS` or a JSON object",
            ),
            (
                "gb/repo/o/r/cmd/rerun",
                "go",
                "must be `PRESS` or a JSON object",
            ),
            ("gb/repo/o/r/cmd/deploy", "PRESS", "unknown action `deploy`"),
            (
                "gb/repo/o/r/cmd/rerun",
                r#"{"run_id":"abc"}"#,
                "payload field `run_id`",
            ),
            (
                "gb/repo/o/r/cmd/rerun",
                r#"{"runid":1}"#,
                "unknown field `runid`",
            ),
            (
                "gb/repo/o/r/cmd/dispatch",
                r#"{"ref":"a..b"}"#,
                "not a valid branch",
            ),
            (
                "gb/repo/o/r/cmd/dispatch",
                r#"{"workflow":"../x"}"#,
                "not a workflow file",
            ),
            (
                "gb/repo/o/r/cmd/dispatch",
                r#"{"inputs":{"a":{"b":1}}}"#,
                "string, number or boolean",
            ),
        ];
        for (topic, payload, needle) in cases {
            let r = rejection(intake(&t, &inbound(topic, payload, false)));
            assert!(!r.ok);
            assert!(r.message.contains(needle), "{payload}: {}", r.message);
        }
        let many: serde_json::Map<String, serde_json::Value> = (0..26)
            .map(|i| (format!("k{i}"), serde_json::json!("v")))
            .collect();
        let payload = serde_json::json!({ "inputs": many }).to_string();
        let r = rejection(intake(
            &t,
            &inbound("gb/repo/o/r/cmd/dispatch", &payload, false),
        ));
        assert!(r.message.contains("at most 25"), "{}", r.message);
        let huge = format!(r#"{{"request_id":"{}"}}"#, "x".repeat(MAX_PAYLOAD));
        let r = rejection(intake(&t, &inbound("gb/repo/o/r/cmd/rerun", &huge, false)));
        assert!(r.message.contains("limit"), "{}", r.message);
    }

    #[test]
    fn switch_topics_become_switch_requests_and_bad_ones_are_refused() {
        let t = topics();
        assert_eq!(
            intake(
                &t,
                &inbound("gb/repo/octo/api/set/auto_retry", "OFF", false)
            ),
            Intake::Switch {
                repo: Some(("octo".into(), "api".into())),
                key: "auto_retry".into(),
                on: false
            }
        );
        assert_eq!(
            intake(&t, &inbound("gb/bridge/set/automation_paused", "on", false)),
            Intake::Switch {
                repo: None,
                key: "automation_paused".into(),
                on: true
            }
        );
        for (topic, payload, retained) in [
            ("gb/repo/octo/api/set/auto_retry", "maybe", false),
            ("gb/repo/octo/api/set/auto_retry", "ON", true),
        ] {
            assert!(matches!(
                intake(&t, &inbound(topic, payload, retained)),
                Intake::Rejected(_)
            ));
        }
    }
}
