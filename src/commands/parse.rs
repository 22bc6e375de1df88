//! From an MQTT message or an API call to a [`Command`]: size, shape and type checks, with a
//! rejection that says what to change. Pure functions.

use super::{Command, CommandResult, CommandSource, Params};
use crate::model::is_valid_git_ref;
use crate::mqtt::{Inbound, Topics};
use crate::settings::Action;

/// Largest accepted payload. Real commands are a few hundred bytes.
pub const MAX_PAYLOAD: usize = 16 * 1024;
/// GitHub accepts at most 25 inputs on a workflow dispatch.
pub const MAX_INPUTS: usize = 25;
/// Longest accepted `request_id`.
pub const MAX_REQUEST_ID: usize = 128;

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
    },
    /// Refused before anything else; answer with this.
    Rejected(CommandResult),
}

/// Reads an MQTT message. Retained messages are refused, always: a command must never fire
/// again because the broker replays it.
pub fn from_mqtt(topics: &Topics, inbound: &Inbound) -> Intake {
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
        let request_id = parse_params(&inbound.payload)
            .ok()
            .and_then(|p| p.request_id);
        return Intake::Bridge {
            action: action.to_string(),
            request_id,
        };
    }
    let Some((owner, name, action)) = topics.parse_repo_cmd(&inbound.topic) else {
        return Intake::Ignore;
    };
    let repo = format!("{owner}/{name}");
    if inbound.retained {
        let request_id = parse_params(&inbound.payload)
            .ok()
            .and_then(|p| p.request_id);
        return Intake::Rejected(retained(request_id, repo, action.into()));
    }
    match command(owner, name, action, &inbound.payload, CommandSource::Mqtt) {
        Ok(c) => Intake::Repo(c),
        Err(r) => Intake::Rejected(*r),
    }
}

/// The answer to a command that arrived while the executor's queue was full, or `None`
/// when the message needs no answer.
pub fn busy(topics: &Topics, inbound: &Inbound) -> Option<CommandResult> {
    const BUSY: &str = "busy: too many commands are waiting; try again in a moment";
    match from_mqtt(topics, inbound) {
        Intake::Ignore => None,
        Intake::Rejected(r) => Some(r),
        Intake::Bridge { action, request_id } => Some(CommandResult::rejected(
            request_id,
            "bridge".into(),
            action,
            BUSY,
        )),
        Intake::Repo(c) => Some(CommandResult::rejected(
            c.params.request_id.clone(),
            c.repo(),
            c.action.to_string(),
            BUSY,
        )),
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

/// Builds a command from its parts (MQTT topic pieces or an API path) and a payload.
pub fn command(
    owner: &str,
    name: &str,
    action: &str,
    payload: &[u8],
    source: CommandSource,
) -> Result<Command, Box<CommandResult>> {
    let repo = format!("{owner}/{name}");
    let reject = |request_id: Option<String>, message: String| {
        Box::new(CommandResult::rejected(
            request_id,
            repo.clone(),
            action.to_string(),
            message,
        ))
    };
    if payload.len() > MAX_PAYLOAD {
        // Still echo the request id when there is one, so the sender can match the answer.
        let request_id = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v.get("request_id")?.as_str().map(str::to_string))
            .filter(|id| id.len() <= MAX_REQUEST_ID);
        return Err(reject(
            request_id,
            format!(
                "payload of {} bytes is over the {MAX_PAYLOAD}-byte limit",
                payload.len()
            ),
        ));
    }
    let params = parse_params(payload).map_err(|m| reject(None, m))?;
    let Some(action) = Action::parse(action) else {
        let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        return Err(reject(
            params.request_id,
            format!(
                "unknown action `{action}`; known actions: {}",
                known.join(", ")
            ),
        ));
    };
    validate(&params).map_err(|m| reject(params.request_id.clone(), m))?;
    Ok(Command {
        source,
        owner: owner.to_string(),
        name: name.to_string(),
        action,
        params,
    })
}

/// `PRESS` (what an HA button sends), empty, or a JSON object of [`Params`].
fn parse_params(payload: &[u8]) -> Result<Params, String> {
    let text = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8 text".to_string())?;
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("press") {
        return Ok(Params::default());
    }
    if !text.starts_with('{') {
        return Err(format!(
            "payload must be `PRESS` or a JSON object like {{\"request_id\": \"…\", \"run_id\": 123}}, not `{}`",
            crate::text::truncate(text, 40)
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if e.inner().is_syntax() || e.inner().is_eof() {
            format!("payload is not valid JSON: {}", e.inner())
        } else if path == "." || path == "?" {
            format!("payload is not a valid command: {}", e.inner())
        } else {
            format!("payload field `{path}`: {}", e.inner())
        }
    })
}

fn validate(p: &Params) -> Result<(), String> {
    if let Some(id) = &p.request_id
        && (id.is_empty() || id.len() > MAX_REQUEST_ID || id.chars().any(char::is_control))
    {
        return Err(format!(
            "request_id must be 1–{MAX_REQUEST_ID} printable characters"
        ));
    }
    if let Some(w) = &p.workflow
        && !is_workflow_ref(w)
    {
        return Err(format!(
            "workflow `{w}` is not a workflow file name like `deploy.yml`"
        ));
    }
    if let Some(r) = &p.git_ref
        && !is_valid_git_ref(r)
    {
        return Err(format!("ref `{r}` is not a valid branch or tag name"));
    }
    if let Some(inputs) = &p.inputs {
        if inputs.len() > MAX_INPUTS {
            return Err(format!(
                "{} inputs; GitHub accepts at most {MAX_INPUTS}",
                inputs.len()
            ));
        }
        for (key, value) in inputs {
            if key.is_empty() || key.len() > 100 {
                return Err("input names must be 1–100 characters".into());
            }
            if !(value.is_string() || value.is_number() || value.is_boolean()) {
                return Err(format!("input `{key}` must be a string, number or boolean"));
            }
        }
    }
    if p.run_id == Some(0) {
        return Err("run_id must be a GitHub run id".into());
    }
    Ok(())
}

fn is_workflow_ref(w: &str) -> bool {
    (w.ends_with(".yml") || w.ends_with(".yaml"))
        && w.len() <= 255
        && !w.contains('/')
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        match from_mqtt(
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
        match from_mqtt(
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
        let r = rejection(from_mqtt(
            &topics(),
            &inbound("gb/repo/octo/api/cmd/rerun", r#"{"request_id":"x"}"#, true),
        ));
        assert!(!r.ok && r.message.contains("retained"));
        assert_eq!(r.request_id.as_deref(), Some("x"));
        assert_eq!(
            from_mqtt(&topics(), &inbound("gb/repo/octo/api/cmd/rerun", "", false)),
            Intake::Ignore
        );
        assert_eq!(
            from_mqtt(&topics(), &inbound("gb/repo/octo/api/state", "{}", false)),
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
            let r = rejection(from_mqtt(&t, &inbound(topic, payload, false)));
            assert!(!r.ok);
            assert!(r.message.contains(needle), "{payload}: {}", r.message);
        }
        let many: serde_json::Map<String, serde_json::Value> = (0..26)
            .map(|i| (format!("k{i}"), serde_json::json!("v")))
            .collect();
        let payload = serde_json::json!({ "inputs": many }).to_string();
        let r = rejection(from_mqtt(
            &t,
            &inbound("gb/repo/o/r/cmd/dispatch", &payload, false),
        ));
        assert!(r.message.contains("at most 25"), "{}", r.message);
        let huge = format!(r#"{{"request_id":"{}"}}"#, "x".repeat(MAX_PAYLOAD));
        let r = rejection(from_mqtt(
            &t,
            &inbound("gb/repo/o/r/cmd/rerun", &huge, false),
        ));
        assert!(r.message.contains("limit"), "{}", r.message);
    }
}
