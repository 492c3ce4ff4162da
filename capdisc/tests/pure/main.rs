//! Integration tests that need no privileges: generate, apply (under a temporary --root), lint,
//! decode, diff and merge against fixture profiles and units, read back by systemd's own tools.
#[path = "../common/mod.rs"]
mod common;

mod alert_rules;
mod docs;
mod harden;
mod no_harm;
mod proof;
