//! A unit capdisc restarts to record it from its start: stop it (after writing, with
//! `--permissive`, a temporary runtime drop-in that lifts its capability restrictions), start it
//! once the kernel side is armed, and afterwards put it back as it was: drop-in removed, unit
//! restarted if it was running, stopped otherwise.
use std::path::PathBuf;

use super::{
    dropin::{remove_runtime_dropin, write_runtime_dropin},
    is_root_user,
    live::{require_running, show, systemctl},
    names::unit_name,
};
use crate::error::Error;

/// Name of the temporary drop-in, under /run/systemd/system/UNIT.d/ (sorts after every other).
pub const PERMISSIVE_DROPIN: &str = "zz-capdisc-permissive.conf";

/// A unit capdisc stopped, and how to put it back.
#[derive(Debug)]
pub struct UnitRestart {
    pub unit: String,
    /// The slice the unit's cgroup lives under (`system.slice`).
    pub slice: String,
    was_active: bool,
    permissive_dropin: Option<PathBuf>,
}

impl UnitRestart {
    /// Stops the unit, after writing the permissive drop-in when asked.
    pub fn stop(name: &str, permissive: bool) -> Result<Self, Error> {
        require_running()?;
        let unit = unit_name(name);
        let values = show(&unit, &["ActiveState", "Slice", "User", "DynamicUser"])?;
        let was_active = matches!(values.get("ActiveState").map(String::as_str), Some("active" | "activating" | "reloading"));
        let slice = values.get("Slice").filter(|slice| !slice.is_empty()).cloned().unwrap_or_else(|| "system.slice".into());
        let mut restart = Self { unit: unit.clone(), slice, was_active, permissive_dropin: None };
        if permissive {
            let non_root =
                values.get("DynamicUser").is_some_and(|v| v == "yes") || values.get("User").is_some_and(|user| !is_root_user(user));
            restart.permissive_dropin = Some(write_runtime_dropin(&unit, PERMISSIVE_DROPIN, &permissive_text(non_root))?);
            systemctl(&["daemon-reload"])?;
        }
        systemctl(&["stop", &unit])?;
        Ok(restart)
    }

    /// Starts the unit (after the kernel side is armed).
    pub fn start(&self) -> Result<(), Error> {
        systemctl(&["start", "--no-block", &self.unit])
    }

    /// Removes the permissive drop-in and puts the unit back as it was. Returns what it did, for
    /// the terminal.
    pub fn finish(&self) -> Result<String, Error> {
        let mut done = Vec::new();
        if let Some(dropin) = &self.permissive_dropin {
            remove_runtime_dropin(&self.unit, PERMISSIVE_DROPIN)?;
            systemctl(&["daemon-reload"])?;
            done.push(format!("removed {}", dropin.display()));
        }
        if self.was_active {
            systemctl(&["restart", &self.unit])?;
            done.push(format!("restarted {} as it was", self.unit));
        } else {
            systemctl(&["stop", &self.unit])?;
            done.push(format!("left {} stopped, as it was", self.unit));
        }
        Ok(done.join("; "))
    }
}

fn permissive_text(non_root: bool) -> String {
    let mut text = String::from(
        "# Written by `capdisc record --permissive` for the length of a recording; removed when it ends.\n\
         # It lifts the capability restrictions so every check the service makes is visible and granted.\n\
         [Service]\nCapabilityBoundingSet=~\n",
    );
    if non_root {
        text.push_str("AmbientCapabilities=~\n");
    }
    text
}
