//! Interrupts end a proof, never extend it. From the start of `verify` or `minimize`, SIGINT,
//! SIGTERM and SIGHUP set a flag in the signal handler itself (async-signal-safe), so a signal is
//! seen wherever it arrives: in a trial (whose session ends as well), or between two trials while
//! a unit is put back. Every step reads the flag; once set, the trial in flight is discarded (not
//! a pass, not a failure), its target is put back, nothing is written, and capdisc exits 128+N.
//! A second stop signal while that clean-up runs (a unit restart that hangs) exits at once: the
//! guardians then put the unit back and kill the trial's cgroups, as after a SIGKILL.
use std::sync::{
    atomic::{AtomicI32, Ordering},
    Once,
};

use crate::error::Error;

static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Starts watching for the three stop signals (once per process).
pub fn install() -> Result<(), Error> {
    static INSTALLED: Once = Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: the action only stores into an atomic, which is async-signal-safe.
            let registered = unsafe {
                signal_hook_registry::register(signal, move || {
                    if RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                        // SAFETY: _exit is async-signal-safe; the guardians undo what is left.
                        libc::_exit(128 + signal);
                    }
                })
            };
            if let Err(err) = registered {
                result = Err(Error::io(format!("cannot catch {}", name(signal)), err));
                return;
            }
        }
    });
    result
}

/// The first stop signal received since [`install`], if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// `Err(Interrupted)` once a stop signal has arrived: `doing` says where ("in trial 2 of 3").
pub fn check(doing: &str) -> Result<(), Error> {
    match received() {
        Some(signal) => Err(interrupted(signal, doing)),
        None => Ok(()),
    }
}

/// Gives an interruption its place in the proof ("in trial 2 of 3"); other errors pass.
pub fn locate(err: Error, doing: &str) -> Error {
    match err {
        Error::Interrupted { signal, .. } => interrupted(signal, doing),
        other => other,
    }
}

fn interrupted(signal: i32, doing: &str) -> Error {
    Error::Interrupted {
        message: format!(
            "interrupted ({}) {doing}; nothing proven: the trial in flight was discarded, the target put back, no profile written",
            name(signal)
        ),
        signal,
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
