//! Support for capdisc's guest tests: the `#[test]` functions under `tests/` run inside the QEMU
//! guests that `cargo xtask vm` boots (Debian with systemd as PID 1, real daemons), one binary
//! per guest suite, started by `capdisc-guest-run`. Each test sets up what it needs through the
//! fixtures here (never another test's leftovers), waits for states with a deadline (TCG guests
//! are slow and vary), and fails saying what it expected and what came, with the output of the
//! command that produced it.
//!
//! - [`command`]: running capdisc and the guest's tools, keeping status and output;
//! - [`container`]: the test image and container, their sets, what capdisc left behind;
//! - [`wait`]: polling with a deadline;
//! - [`unit`]: a systemd unit as the tests look at it (state, properties, the process's sets,
//!   the journal, exposure) and put it back (capdisc's drop-ins removed);
//! - [`expect`]: failures that say what was expected and what came.
pub mod command;
pub mod container;
pub mod expect;
pub mod unit;
pub mod wait;

/// The guests' host name (`xtask/src/vm/systemd_guest.rs` writes it): tests run only there.
pub const GUEST_HOSTNAME: &str = "capdisc-guest";

/// Whether this is one of capdisc's guests.
pub fn in_guest() -> bool {
    std::fs::read_to_string("/etc/hostname").is_ok_and(|name| name.trim() == GUEST_HOSTNAME)
}

/// Returns from the test, saying so, anywhere but in a guest: these tests change systemd units
/// and start daemons, which they may do only in the throw-away guests (`cargo xtask vm`).
#[macro_export]
macro_rules! guest {
    () => {
        if !$crate::in_guest() {
            eprintln!("skipped: a guest test (run it with `cargo xtask vm`)");
            return;
        }
    };
}

/// A profile capdisc wrote, read through capdisc's own reader (schema, names and proof checked).
pub fn profile(path: &str) -> capdisc::profile::Profile {
    capdisc::profile::read(std::path::Path::new(path)).unwrap_or_else(|err| panic!("cannot read the profile {path}: {err}"))
}

/// The names of a profile's capabilities of `class`, sorted.
pub fn classed(path: &str, class: capdisc::classify::Class) -> Vec<String> {
    let mut names: Vec<String> = profile(path).capabilities.iter().filter(|cap| cap.class == class).map(|cap| cap.name.clone()).collect();
    names.sort();
    names
}

/// Prints `text` for `cargo xtask vm` to show under the test's result (each line marked
/// `report: `): measurements, tables, what capdisc said.
pub fn report(text: &str) {
    for line in text.lines() {
        println!("report: {line}");
    }
}
