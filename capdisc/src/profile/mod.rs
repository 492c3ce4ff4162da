//! The profile: what a recording found, as a versioned document (YAML, or JSON with --json)
//! that later subcommands read back. `model` is the schema, `build` turns drained kernel data
//! into it, `io` reads and writes it atomically.
mod build;
mod io;
mod model;

pub use build::{build, RecordingMeta};
pub use io::{check_writable, read, write_atomic, Format};
pub use model::*;
