//! From a command's parts (an MQTT topic's pieces or an API path, and a payload) to a
//! [`Command`]: size, shape and type checks, with a rejection that says what to change.
//! Pure functions. Sources (MQTT, HTTP) find the parts; nothing here knows about them.

use super::Action;
use super::{Command, CommandResult, CommandSource, Params};
use crate::model::is_valid_git_ref;

/// Largest accepted payload. Real commands are a few hundred bytes.
pub const MAX_PAYLOAD: usize = 16 * 1024;
/// GitHub accepts at most 25 inputs on a workflow dispatch.
pub const MAX_INPUTS: usize = 25;
/// Longest accepted `request_id`.
pub const MAX_REQUEST_ID: usize = 128;

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
        return Err(reject(
            params.request_id,
            format!(
                "unknown action `{action}`; known actions: {}",
                Action::names()
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
pub fn parse_params(payload: &[u8]) -> Result<Params, String> {
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
        && !crate::model::is_workflow_file(w)
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
    if let Some(c) = &p.commit
        && !(7..=40).contains(&c.len()) | !c.chars().all(|ch| ch.is_ascii_hexdigit())
    {
        return Err(format!(
            "commit `{}` is not a commit id (7 to 40 hex digits)",
            crate::text::truncate(c, 50)
        ));
    }
    if p.run_id == Some(0) {
        return Err("run_id must be a GitHub run id".into());
    }
    Ok(())
}

/// The `request_id` of a payload, when it has a usable one (to answer even a refusal).
pub fn request_id(payload: &[u8]) -> Option<String> {
    params(payload).and_then(|p| p.request_id)
}

/// The parameters of a payload when it has readable ones (a bridge command's).
pub fn params(payload: &[u8]) -> Option<Params> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    parse_params(payload).ok()
}
