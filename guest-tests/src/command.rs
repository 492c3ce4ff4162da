//! Running capdisc and the guest's tools: a [`Run`] keeps the exit status and both outputs, so a
//! failing test can show what the command said.
use std::process::{Command, Stdio};

/// What a finished command returned.
#[derive(Debug)]
pub struct Run {
    /// The command as a person would type it.
    pub line: String,
    /// Its exit status (128 + the signal when one killed it).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Standard output and error, in that order.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Whether stdout or stderr has `text`.
    pub fn says(&self, text: &str) -> bool {
        self.stdout.contains(text) || self.stderr.contains(text)
    }

    /// Panics, showing the output, unless the command exited with `code`.
    pub fn expect_exit(&self, code: i32) -> &Self {
        if self.code != code {
            panic!("`{}`: expected exit {code}, came {}\n{}", self.line, self.code, self.shown());
        }
        self
    }

    /// Panics, showing the output, unless it says `text`.
    pub fn expect_says(&self, text: &str) -> &Self {
        if !self.says(text) {
            panic!("`{}`: expected it to say {text:?}; it said:\n{}", self.line, self.shown());
        }
        self
    }

    /// The output, labelled, for a failure message.
    pub fn shown(&self) -> String {
        format!("--- stdout ---\n{}--- stderr ---\n{}", self.stdout, self.stderr)
    }
}

/// Runs `program` with `args` to its end.
pub fn run(program: &str, args: &[&str]) -> Run {
    let line = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let output = Command::new(program).args(args).stdin(Stdio::null()).output().unwrap_or_else(|err| panic!("cannot run `{line}`: {err}"));
    Run {
        line,
        code: exit_code(output.status),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `capdisc ARGS`.
pub fn capdisc(args: &[&str]) -> Run {
    run("capdisc", args)
}

/// `sh -c SCRIPT`, for the guest's tools that a pipe reads best (`ssh-keyscan | grep`).
pub fn sh(script: &str) -> Run {
    run("sh", &["-c", script])
}

/// The exit status as a shell reports it.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// A started capdisc (or tool), to signal or wait for; killed when dropped unless waited for.
pub struct Started {
    pub line: String,
    pub child: std::process::Child,
    stdout: std::path::PathBuf,
    stderr: std::path::PathBuf,
}

impl Started {
    /// Starts `program ARGS` with its output in files under /tmp (read while it runs).
    pub fn new(program: &str, args: &[&str], name: &str) -> Started {
        let line = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
        let stdout = std::path::PathBuf::from(format!("/tmp/{name}.out"));
        let stderr = std::path::PathBuf::from(format!("/tmp/{name}.err"));
        let file = |path: &std::path::Path| std::fs::File::create(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file(&stdout))
            .stderr(file(&stderr))
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start `{line}`: {err}"));
        Started { line, child, stdout, stderr }
    }

    /// Starts `capdisc ARGS` (a `record` or `trace`) and waits until it says it records.
    pub fn recording(args: &[&str], name: &str) -> Started {
        let started = Started::new("capdisc", args, name);
        let says = || started.output().lines().any(|line| line.starts_with("capdisc: recording"));
        crate::wait::must(120, "capdisc: recording", says, || started.output());
        started
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it said so far (stdout, then stderr).
    pub fn output(&self) -> String {
        let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
        format!("{}{}", read(&self.stdout), read(&self.stderr))
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits for its end; its status and output.
    pub fn wait(mut self) -> Run {
        let status = self.child.wait().unwrap_or_else(|err| panic!("cannot wait for `{}`: {err}", self.line));
        let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
        Run { line: self.line.clone(), code: exit_code(status), stdout: read(&self.stdout), stderr: read(&self.stderr) }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
