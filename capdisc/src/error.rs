//! capdisc's error type and the one place exit codes are decided.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the user (arguments, files, names): exit 2.
    #[error("{0}")]
    Usage(String),
    /// The process lacks the privileges to load eBPF programs: exit 2.
    #[error("{0}")]
    Privileges(String),
    /// The kernel or system cannot do what was asked (no BTF, no cgroup v2, no backend): exit 2.
    #[error("{0}")]
    Kernel(String),
    /// The target does not exist (pid, cgroup, unit): exit 2.
    #[error("{0}")]
    Target(String),
    /// An output file could not be written: exit 2.
    #[error("cannot write {path}: {source}; choose a writable path with -o")]
    Output { path: PathBuf, source: std::io::Error },
    /// A spawned command could not be run: 127 when not found, 126 otherwise (like a shell).
    #[error("{message}")]
    Spawn { message: String, code: i32 },
    /// Anything else that went wrong while running: exit 1.
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    /// A runtime failure from any displayable error (map, I/O, signal set-up).
    pub fn runtime(err: impl std::fmt::Display) -> Self {
        Error::Runtime(err.to_string())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Runtime(_) => 1,
            Error::Spawn { code, .. } => *code,
            _ => 2,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
