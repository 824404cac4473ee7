//! The wall clock that what a run records across processes is read from: when a row was sent
//! (the journal and the ledger), and how long the grace an earlier run left still has to go.
//! It is the system's; the deterministic simulation sets one that follows its paused clock, so
//! that a world's waits and records replay exactly.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

type Wall = Arc<dyn Fn() -> SystemTime + Send + Sync>;

static WALL: RwLock<Option<Wall>> = RwLock::new(None);

/// Now, by the wall clock in force.
pub fn now() -> SystemTime {
    match &*WALL.read().unwrap_or_else(|e| e.into_inner()) {
        Some(wall) => wall(),
        None => SystemTime::now(),
    }
}

/// Read the wall clock from `wall` from now on (`None`: the system's again).
pub fn set_wall(wall: Option<Wall>) {
    *WALL.write().unwrap_or_else(|e| e.into_inner()) = wall;
}
