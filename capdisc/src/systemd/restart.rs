//! A unit capdisc restarts to record it from its start: take the unit's lock (one writer per
//! unit), refuse leftovers of an earlier capdisc, start the guardian that undoes everything if
//! capdisc dies, stop the unit (after writing, with `--permissive`, a temporary runtime drop-in
//! that lifts its capability restrictions), start it once the kernel side is armed, and
//! afterwards put it back as it was: drop-in removed, unit restarted if it was running, stopped
//! otherwise; then the guardian is disarmed and the lock released.

use super::{
    dropin::write_runtime_dropin,
    is_root_user,
    leftovers::{guard_unit, refuse_leftovers, restore},
    live::{require_running, show, systemctl},
    lock::UnitLock,
    names::unit_name,
};
use crate::error::Error;

/// Name of the temporary drop-in, under /run/systemd/system/UNIT.d/ (sorts after every other).
pub const PERMISSIVE_DROPIN: &str = "zz-capdisc-permissive.conf";
/// The temporary drop-in of a `verify` or `minimize` trial.
pub const TRIAL_DROPIN: &str = "zz-capdisc-trial.conf";

/// What a restart changes for its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeChange {
    /// Nothing: the unit runs under its own settings (denials become visible).
    None,
    /// Every capability restriction lifted (`--permissive`, for staging).
    Permissive,
    /// Exactly this set (a trial): bounding, and ambient for a non-root service.
    Confine(u64),
    /// A proposed drop-in, as written (`capdisc try`): the unit's own settings and this one.
    Dropin(String),
}

/// A unit capdisc stopped, and how to put it back.
#[derive(Debug)]
pub struct UnitRestart {
    pub unit: String,
    /// The slice the unit's cgroup lives under (`system.slice`).
    pub slice: String,
    was_active: bool,
    /// Its socket units that were active: stopped with it, started again when it is put back.
    sockets: Vec<String>,
    guardian: crate::guardian::Guardian,
    _lock: UnitLock,
}

impl UnitRestart {
    /// Stops the unit, after writing the runtime drop-in of `change`.
    pub fn stop(name: &str, change: &RuntimeChange) -> Result<Self, Error> {
        require_running()?;
        let unit = unit_name(name);
        let values = show(&unit, &["ActiveState", "Slice", "User", "DynamicUser", "TriggeredBy"])?;
        // Its active sockets stop with it, and start again when it is put back: a socket would
        // otherwise start it before capdisc is ready to watch its exec (rsyslog's, which journald
        // writes to all the time), and its start would be missed.
        let sockets = active_sockets(values.get("TriggeredBy").map(String::as_str).unwrap_or(""))?;
        let mut lock = UnitLock::acquire(&unit)?;
        // The lock is ours: any capdisc drop-in now is a leftover no live capdisc owns.
        refuse_leftovers(&unit)?;
        let was_active = matches!(values.get("ActiveState").map(String::as_str), Some("active" | "activating" | "reloading"));
        let slice = values.get("Slice").filter(|slice| !slice.is_empty()).cloned().unwrap_or_else(|| "system.slice".into());
        let guardian = guard_unit(&unit, was_active, &sockets, &lock)?;
        lock.describe(&format!("capdisc pid {}, its guardian pid {}", std::process::id(), guardian.pid));
        let restart = Self { unit: unit.clone(), slice, was_active, sockets, guardian, _lock: lock };
        let non_root = values.get("DynamicUser").is_some_and(|v| v == "yes") || values.get("User").is_some_and(|user| !is_root_user(user));
        let dropin = match change {
            RuntimeChange::None => None,
            RuntimeChange::Permissive => Some((PERMISSIVE_DROPIN, permissive_text(non_root))),
            RuntimeChange::Confine(mask) => Some((TRIAL_DROPIN, confine_text(*mask, non_root))),
            RuntimeChange::Dropin(text) => Some((TRIAL_DROPIN, tried_text(text))),
        };
        if let Some((name, text)) = dropin {
            // Removed by `restore`, which clears every capdisc runtime drop-in of the unit.
            write_runtime_dropin(&unit, name, &text)?;
            systemctl(&["daemon-reload"])?;
        }
        let mut stopping = vec!["stop", unit.as_str()];
        stopping.extend(restart.sockets.iter().map(String::as_str));
        systemctl(&stopping)?;
        Ok(restart)
    }

    /// Starts the unit (after the kernel side is armed).
    pub fn start(&self) -> Result<(), Error> {
        systemctl(&["start", "--no-block", &self.unit])
    }

    /// Removes the permissive drop-in and puts the unit back as it was, then disarms the
    /// guardian (which otherwise does the same when capdisc exits). Returns what it did.
    pub fn finish(&self) -> Result<String, Error> {
        let done = restore(&self.unit, Some(self.was_active), &self.sockets)?;
        self.guardian.disarm();
        Ok(done)
    }
}

/// The active ones among the socket units that trigger a unit (`TriggeredBy=`).
fn active_sockets(triggered_by: &str) -> Result<Vec<String>, Error> {
    let mut active = Vec::new();
    for socket in triggered_by.split_whitespace().filter(|name| name.ends_with(".socket")) {
        if matches!(show(socket, &["ActiveState"])?.get("ActiveState").map(String::as_str), Some("active" | "activating")) {
            active.push(socket.to_owned());
        }
    }
    Ok(active)
}

fn confine_text(mask: u64, non_root: bool) -> String {
    let names = super::mask_names(mask).join(" ");
    let mut text = String::from(
        "# Written by `capdisc verify`/`minimize` for the length of one trial; removed when it ends.\n\
         # It runs the service under exactly the set being tried.\n[Service]\nCapabilityBoundingSet=\n",
    );
    if !names.is_empty() {
        text.push_str(&format!("CapabilityBoundingSet={names}\n"));
    }
    if non_root {
        text.push_str("AmbientCapabilities=\n");
        if !names.is_empty() {
            text.push_str(&format!("AmbientCapabilities={names}\n"));
        }
    }
    text
}

fn tried_text(dropin: &str) -> String {
    format!("# Written by `capdisc try` for the length of one trial; removed when it ends.\n# The proposed drop-in, as given:\n{dropin}")
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
