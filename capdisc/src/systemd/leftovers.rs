//! capdisc's runtime drop-ins of a unit: finding them, refusing to work over leftovers no live
//! capdisc owns, and putting a unit back (`restore`); the guardian of a unit changed for a while
//! (`guard_unit`), and what it undoes after capdisc's death (`undo_after_death`).
use std::{
    fs,
    path::{Path, PathBuf},
};

use super::{
    dropin::{remove_runtime_dropin, RUNTIME_DIR},
    live::{show, systemctl},
    lock::{held, UnitLock},
};
use crate::{error::Error, guardian::Guardian};

/// Names of capdisc's temporary runtime drop-ins: `zz-capdisc-*.conf`.
const RUNTIME_PREFIX: &str = "zz-capdisc-";

/// Starts the guardian of a unit capdisc changes for a while; from now on, capdisc's death
/// undoes its changes to `unit` (the guardian holds the unit's lock meanwhile).
pub fn guard_unit(unit: &str, was_active: bool, sockets: &[String], lock: &UnitLock) -> Result<Guardian, Error> {
    let mut args = vec!["--unit".to_owned(), unit.to_owned()];
    if was_active {
        args.push("--was-active".into());
    }
    for socket in sockets {
        args.push("--socket".into());
        args.push(socket.clone());
    }
    Guardian::launch(args, Some(lock.share()?))
}

/// The guardian's undo for a unit after capdisc's death: its drop-ins removed and the unit put
/// back as it was.
pub fn undo_after_death(unit: &str, was_active: bool, sockets: &[String]) -> Result<Option<String>, String> {
    crate::guardian::say(&format!("capdisc ended without undoing its changes to {unit}: restoring it"));
    match restore(unit, Some(was_active), sockets) {
        Ok(done) => Ok(Some(format!("{unit} restored: {done}"))),
        Err(err) => Err(format!("could not restore {unit}: {err}; run `capdisc restore --unit {unit}`")),
    }
}

/// The socket units that trigger `unit`, enabled but inactive: what a capdisc that died without
/// its guardian may have stopped with the unit (`capdisc restore` starts them again).
pub fn idle_enabled_sockets(unit: &str) -> Vec<String> {
    let triggered_by = show(unit, &["TriggeredBy"]).ok().and_then(|values| values.get("TriggeredBy").cloned()).unwrap_or_default();
    triggered_by
        .split_whitespace()
        .filter(|socket| socket.ends_with(".socket"))
        .filter(|socket| {
            show(socket, &["ActiveState", "UnitFileState"]).is_ok_and(|values| {
                values.get("ActiveState").is_some_and(|state| state == "inactive")
                    && values.get("UnitFileState").is_some_and(|state| matches!(state.as_str(), "enabled" | "static"))
            })
        })
        .map(str::to_owned)
        .collect()
}

/// capdisc's runtime drop-ins of a unit.
pub fn runtime_dropins(unit: &str) -> Vec<PathBuf> {
    runtime_dropins_under(Path::new("/"), unit)
}

/// capdisc's runtime drop-ins of a unit in an offline root (`--root`): no capdisc can be running
/// there, so every one is a leftover (the unit would boot with its restrictions lifted).
pub fn offline_leftovers(root: &Path, unit: &str) -> Vec<PathBuf> {
    runtime_dropins_under(root, unit)
}

fn runtime_dropins_under(root: &Path, unit: &str) -> Vec<PathBuf> {
    let dir = root.join(RUNTIME_DIR.trim_start_matches('/')).join(format!("{unit}.d"));
    let mut found: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    name.starts_with(RUNTIME_PREFIX) && name.ends_with(".conf")
                })
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// capdisc runtime drop-ins that no live capdisc owns (its lock is free): left by a capdisc
/// killed before its guardian was up, or by an older version.
pub fn leftovers(unit: &str) -> Vec<PathBuf> {
    let found = runtime_dropins(unit);
    if found.is_empty() || held(unit) {
        return Vec::new();
    }
    found
}

/// Refuses to work on a unit with leftovers, saying how to clear them.
pub fn refuse_leftovers(unit: &str) -> Result<(), Error> {
    let found = leftovers(unit);
    match found.first() {
        None => Ok(()),
        Some(path) => Err(leftover_error(unit, path)),
    }
}

/// Refuses to work on an offline root's unit with capdisc leftovers, saying how to clear them.
pub fn refuse_offline_leftovers(root: &Path, unit: &str) -> Result<(), Error> {
    match offline_leftovers(root, unit).first() {
        None => Ok(()),
        Some(path) => Err(Error::Target(format!(
            "{unit} has a capdisc drop-in left behind under this root ({}; the unit may run with its capability restrictions lifted); nothing written: delete it first (`rm {}`)",
            path.display(),
            path.display()
        ))),
    }
}

pub fn leftover_error(unit: &str, path: &Path) -> Error {
    Error::Target(format!(
        "{unit} has a capdisc drop-in that no running capdisc owns ({}; the unit may run with its capability restrictions lifted); clear it with `capdisc restore --unit {unit}`",
        path.display()
    ))
}

/// Removes capdisc's runtime drop-ins and puts the unit back: `was_active` as recorded by
/// capdisc, or (`None`, from `capdisc restore`) restarted if it runs now, so it runs under its
/// own settings again. Returns what was done.
pub fn restore(unit: &str, was_active: Option<bool>, sockets: &[String]) -> Result<String, Error> {
    let mut done = Vec::new();
    let dropins = runtime_dropins(unit);
    for path in &dropins {
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        remove_runtime_dropin(unit, &name)?;
        done.push(format!("removed {}", path.display()));
    }
    if !dropins.is_empty() {
        systemctl(&["daemon-reload"])?;
    }
    let active = match was_active {
        Some(active) => active,
        None => matches!(show(unit, &["ActiveState"])?.get("ActiveState").map(String::as_str), Some("active" | "activating" | "reloading")),
    };
    if active {
        systemctl(&["restart", unit])?;
        done.push(format!("restarted {unit}{}", if was_active.is_some() { " as it was" } else { " under its own settings" }));
    } else {
        systemctl(&["stop", unit])?;
        done.push(format!("left {unit} stopped{}", if was_active.is_some() { ", as it was" } else { "" }));
    }
    if !sockets.is_empty() {
        let mut starting = vec!["start"];
        starting.extend(sockets.iter().map(String::as_str));
        systemctl(&starting)?;
        done.push(format!("started {} again", sockets.join(" ")));
    }
    Ok(done.join("; "))
}
