//! capdisc's error type and the one place exit codes are decided. Errors that come from another
//! library or the OS keep it as their `source`; nothing is flattened to a string until printed.
use std::path::PathBuf;

/// Any error a dependency reports (aya's map and program errors, I/O).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    #[error("cannot write {path}: {source}; {}", write_advice(.source))]
    Output { path: PathBuf, source: std::io::Error },
    /// A spawned command could not be run: 127 when not found, 126 otherwise (like a shell).
    #[error("{message}")]
    Spawn { message: String, code: i32 },
    /// Input that cannot be used as it is (a file, a directory, an address, a cgroup), with its
    /// cause kept as the source and what to do after it: exit 2.
    #[error("{context}: {source}{advice}")]
    Input {
        context: String,
        #[source]
        source: Cause,
        /// What to do, `; ...`, or empty.
        advice: String,
    },
    /// Anything else that went wrong while running: exit 1.
    #[error("{0}")]
    Runtime(String),
    /// A failure of a library or the OS while running, with what capdisc was doing: exit 1.
    #[error("{context}: {source}")]
    Failed {
        context: String,
        #[source]
        source: Cause,
    },
    /// Refused for safety (a widening without consent, a set that fails its trial): exit 1.
    #[error("{0}")]
    Refused(String),
    /// An input that cannot be trusted as it is (a profile that lost checks, a proof that does
    /// not match its recording): exit 2.
    #[error("{0}")]
    Untrusted(String),
    /// Ended by SIGINT, SIGTERM or SIGHUP before it could finish: exit 128 + the signal. What
    /// was in flight was discarded; nothing was written as a result.
    #[error("{message}")]
    Interrupted { message: String, signal: i32 },
}

impl Error {
    /// A failure while doing `context`, keeping its cause.
    pub fn io(context: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Failed { context: context.into(), source: Box::new(source) }
    }

    /// Input that cannot be used (exit 2): `context: cause; advice`, the cause kept.
    pub fn input(context: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static, advice: &str) -> Self {
        Error::Input { context: context.into(), source: Box::new(source), advice: advice.to_owned() }
    }

    /// A spawned command that could not run is an operational error (exit 2), for the
    /// subcommands whose own verdict is their exit code (`verify`, `minimize`); `record` keeps
    /// the shell's 127/126.
    pub fn spawn_as_operational(self) -> Self {
        match self {
            Error::Spawn { message, .. } => Error::Target(format!("{message}; give a command that exists and can be run")),
            other => other,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Runtime(_) | Error::Failed { .. } | Error::Refused(_) => 1,
            Error::Spawn { code, .. } => *code,
            Error::Interrupted { signal, .. } => 128 + signal,
            _ => 2,
        }
    }
}

/// What to do about a path capdisc could not write: a non-root user refused is told to run it
/// as root (the unit directories, /run/capdisc and the watch state are root's); otherwise the
/// path is the problem.
fn write_advice(source: &std::io::Error) -> &'static str {
    if source.kind() == std::io::ErrorKind::PermissionDenied && unsafe { libc::geteuid() } != 0 {
        "run capdisc as root (sudo), or give a path this user may write where the subcommand takes one (-o)"
    } else {
        "give a path that can be written (its directory must exist)"
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
