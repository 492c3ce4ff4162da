//! Proving a set by running the service under it: `verify` (one trial of a profile's set) and
//! `minimize` (trials that remove one capability at a time, keeping only those whose removal
//! breaks the service); and `try` (`attempt`: a proposed drop-in run through the unit's life,
//! the setting that breaks it named from the evidence of its trials, `proposal`); and `minimize --sandbox`'s
//! sandboxing, tried with the proven set (`sandboxing` for a unit, `container_sandbox` for a
//! container's seccomp allow-list and read-only root). Trials themselves (`trial`) record while they run, so a failure names
//! what was denied. Every trial's workload and check are owned (`trial::OwnedTrials`), and a
//! stop signal ends the proof with nothing proven (`interrupt`).
mod attempt;
mod check;
mod container_sandbox;
mod interrupt;
mod minimize;
mod phases;
mod proposal;
mod sandboxing;
mod subject;
mod trial;
mod verify;

pub use attempt::{attempt, TryOptions};
pub use minimize::{minimize, MinimizeOptions};
pub use subject::{Phases, Subject, TrialOptions};
pub use trial::undo_trials;
pub use verify::{verify, VerifyOptions};
