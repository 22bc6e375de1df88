//! MQTT: Home Assistant discovery payloads (pure), state payloads (pure), topic naming, and
//! the session that publishes them and receives commands.

pub mod discovery;
pub mod intake;
pub mod payload;
pub mod session;
pub mod topics;

pub use session::{
    CommandLink, ConfigChecks, Inbound, MqttBridge, MqttPump, PumpEvent, ValidationRx, session,
};
pub use topics::Topics;
