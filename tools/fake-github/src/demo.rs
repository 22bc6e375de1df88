//! `World::demo`: a believable, deterministic homelab for the README demo and e2e tests.

use chrono::{DateTime, Utc};

use crate::world::World;

pub(crate) fn demo_world(_now: DateTime<Utc>) -> World {
    World::with_user("homelab-demo")
}
