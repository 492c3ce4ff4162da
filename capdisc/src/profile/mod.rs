//! The profile: what a recording found, as a versioned document (YAML, or JSON with --json)
//! that later subcommands read back. `model` is the schema, `build` turns drained kernel data
//! into it, `io` reads and writes it atomically,
//! `activity` what the target did that sandboxing depends on, `losses` the one list of what could not be kept, `target` what was recorded, `diff` compares two recordings (privilege
//! creep), `merge` unites several, `proof` checks a
//! `verification` section against the recording it proves.
mod activity;
mod build;
mod diff;
mod io;
mod losses;
mod merge;
mod model;
mod proof;
pub mod table;
mod target;

pub use activity::{Activity, PathUse};
pub use build::{build, RecordingMeta};
pub use diff::{diff, Diff};
pub use io::{parse, read, Format, MAX_PROFILE_BYTES};
pub use merge::merge;
pub use model::*;
pub use proof::{digest, PROOF_DIGEST};
