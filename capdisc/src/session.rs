//! One tracing session, shared by `record` and `trace`: load the probes for a target, arm it,
//! spawn the command, then wait for the end (command exit, --duration, Ctrl-C or SIGTERM,
//! which are forwarded to a spawned command, or the target disappearing), feeding an observer
//! with ticks and, for `trace`, ring-buffer events.
use crate::support::console;
use std::time::{Duration, SystemTime};

use aya::{
    maps::{MapData, RingBuf},
    Ebpf,
};
use capdisc_common::{Refusal, SyscallOutcome, TraceEvent, REFUSAL_BYTES, SYSCALL_OUTCOME_BYTES};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{signal, Signal, SignalKind},
};

use crate::{
    error::Error,
    host::{exit_code_of, spawn_in_cgroup},
    kernel::program_log::KernelLog,
    probe::{BackendChoice, MapLimits, ProbeConfig, Probes, StreamConfig},
    scope::Target,
};

pub struct SessionOptions {
    pub backend: BackendChoice,
    pub quiet: bool,
    pub limits: MapLimits,
    /// `trace`: stream events through the ring buffer.
    pub stream: Option<StreamConfig>,
    /// Tell what each system call returned after a denied check (`ProbeConfig::syscall_outcomes`).
    pub syscall_outcomes: bool,
    /// See the system calls the target's sandbox refused (`ProbeConfig::sandbox`).
    pub sandbox: bool,
}

/// What a session tells its user about while it runs.
pub trait Observer {
    /// Every tick (250 ms on a terminal, 1 s otherwise).
    fn tick(&mut self, _ebpf: &Ebpf) {}
    /// Every ring-buffer event (`trace` only).
    fn event(&mut self, _event: &TraceEvent) {}
    /// What a system call returned after a denied check (`trace` only).
    fn outcome(&mut self, _outcome: &SyscallOutcome) {}
    /// A system call the target's sandbox refused (`trace` only).
    fn refusal(&mut self, _refusal: &Refusal) {}
}

/// An end condition from outside the session (a trial's check passing, or its target failing):
/// when it completes, the recording ends as it would at `--duration`, for the reason it gives.
pub type Until<'a> = std::pin::Pin<&'a mut (dyn std::future::Future<Output = &'static str> + 'a)>;

pub struct Ended {
    pub at: SystemTime,
    pub exit_status: Option<i32>,
    pub reason: &'static str,
    /// capdisc itself ended the command (`--duration`): its status says so, not a failure.
    pub by_duration: bool,
}

pub struct Session {
    pub probes: Probes,
    pub started: SystemTime,
    child: Option<tokio::process::Child>,
    kernel_log: KernelLog,
    events: Option<AsyncFd<RingBuf<MapData>>>,
    /// Installed before the session says it is recording, so a signal sent from then on is
    /// handled (the recording is written), never fatal.
    signals: StopSignals,
    until_exit: bool,
    quiet: bool,
}

impl Session {
    pub fn start(target: &Target, options: &SessionOptions) -> Result<Self, Error> {
        let signals = StopSignals::install()?;
        let (mode, cgroup_level) = target.filter();
        let config = ProbeConfig {
            mode,
            cgroup_level,
            single_cgroup: target.single_cgroup(),
            limits: options.limits,
            stream: options.stream,
            syscall_outcomes: options.syscall_outcomes,
            sandbox: options.sandbox,
            skip_runtime: matches!(target, Target::Container(_)),
        };
        let mut probes = Probes::load(options.backend, &config)?;
        let say = |line: &str| {
            if !options.quiet {
                console::say!("{line}");
            }
        };
        if probes.tracefs.1 {
            say(&format!("mounted tracefs at {}", probes.tracefs.0.display()));
        }
        say(&probes.selection);
        let kernel_log = KernelLog::start(&mut probes.ebpf);
        let events = match options.stream {
            Some(_) => {
                let map = probes.ebpf.take_map("EVENTS").ok_or_else(|| Error::Runtime("map EVENTS missing from the eBPF object".into()))?;
                let ring = RingBuf::try_from(map).map_err(|err| Error::io("cannot open map EVENTS", err))?;
                let interest = tokio::io::Interest::READABLE;
                // SAFETY: the RingBuf owns its map fd for its whole life and always returns it.
                let fd = unsafe { AsyncFd::register_with_interest(ring, interest) };
                Some(fd.map_err(|err| Error::io("cannot poll the ring buffer", err))?)
            }
            None => None,
        };
        target.arm(&mut probes.ebpf)?;
        say(&format!("recording {}", target.describe()));
        target.launch()?;
        let started = SystemTime::now();
        let child = match target {
            Target::Command { argv, cgroup, run_as, bounding, .. } => {
                Some(spawn_in_cgroup(argv, cgroup, run_as.as_ref(), *bounding, |_| {}).map_err(|err| spawn_error(&argv[0], err))?)
            }
            // A container's client runs outside the target: the container is the target.
            Target::Container(container) => match container.spawn_client() {
                Some(spawned) => Some(spawned.map_err(|err| spawn_error(container.runtime().program(), err))?),
                None => None,
            },
            _ => None,
        };
        Ok(Self { probes, started, child, kernel_log, events, signals, until_exit: target.until_exit(), quiet: options.quiet })
    }

    pub async fn wait(
        &mut self,
        target: &Target,
        duration: Option<Duration>,
        fast_ticks: bool,
        observer: &mut dyn Observer,
    ) -> Result<Ended, Error> {
        self.wait_until(target, duration, fast_ticks, observer, None).await
    }

    /// [`Session::wait`], also ending when `until` completes.
    pub async fn wait_until(
        &mut self,
        target: &Target,
        duration: Option<Duration>,
        fast_ticks: bool,
        observer: &mut dyn Observer,
        mut until: Option<Until<'_>>,
    ) -> Result<Ended, Error> {
        let mut deadline = duration.map(|duration| tokio::time::Instant::now() + duration);
        let mut tick = tokio::time::interval(Duration::from_millis(if fast_ticks { 250 } else { 1000 }));
        let mut exit_status = None;
        let mut reason = None;
        // The command's first process exited and others it started live on: followed until gone.
        let mut following = false;
        // With `until` (a trial's phases), a target gone is left to it to judge for a while: the
        // stop phase empties the unit's cgroup before it reads how the stop ended.
        let mut gone_since: Option<tokio::time::Instant> = None;
        // The command ended while `until` was still deciding: how long it may go on deciding.
        let mut until_grace: Option<tokio::time::Instant> = None;
        loop {
            let child_pid = self.child.as_ref().and_then(|child| child.id());
            tokio::select! {
                status = async { self.child.as_mut().expect("guarded by if").wait().await }, if self.child.is_some() => {
                    let code = status.map(exit_code_of).unwrap_or(1);
                    exit_status = Some(code);
                    self.child = None;
                    let remaining = target.remaining_processes();
                    if reason.is_none() && until.is_some() && remaining == 0 && matches!(target, Target::Command { .. }) {
                        // A check in flight decides, whatever the command did after (a one-shot
                        // server answers the check's request, then exits 0); `until` starts no
                        // new attempt once the command is gone (prove::phases). A container's
                        // client says nothing of its container: its end decides at once.
                        until_grace = Some(tokio::time::Instant::now() + UNTIL_GRACE);
                        continue;
                    }
                    if reason.is_some() || self.until_exit || remaining == 0 {
                        reason.get_or_insert("the command exited");
                        break;
                    }
                    following = true;
                    if !self.quiet {
                        console::say!("the command exited ({code}); {remaining} process(es) it started still run: recording until they are gone (Ctrl-C or --duration stops; --until-exit stops with the command)");
                    }
                }
                why = async { until.as_mut().expect("guarded by if").await }, if until.is_some() => {
                    until = None;
                    reason = Some(why);
                    match child_pid { Some(pid) => stop(target, pid, libc::SIGTERM), None => break }
                }
                _ = async { tokio::time::sleep_until(until_grace.expect("guarded by if")).await }, if until_grace.is_some() => {
                    reason = Some("the command exited");
                    break;
                }
                _ = async { tokio::time::sleep_until(deadline.expect("guarded by if")).await }, if deadline.is_some() => {
                    reason = Some("the duration elapsed");
                    deadline = None;
                    match child_pid { Some(pid) => stop(target, pid, libc::SIGTERM), None => break }
                }
                (why, signal) = self.signals.recv() => {
                    reason = Some(why);
                    match child_pid { Some(pid) => stop(target, pid, signal), None => break }
                }
                guard = async { self.events.as_mut().expect("guarded by if").readable_mut().await }, if self.events.is_some() => {
                    let mut guard = guard.map_err(|err| Error::io("cannot poll the ring buffer", err))?;
                    drain_events(guard.get_inner_mut(), observer);
                    guard.clear_ready();
                }
                _ = tick.tick() => {
                    observer.tick(&self.probes.ebpf);
                    // A recording of nothing must not become a profile (an empty set).
                    target.check_placed()?;
                    self.kernel_log.flush();
                    if following && target.remaining_processes() == 0 {
                        reason = Some("the command and every process it started exited");
                        break;
                    }
                    if target.alive(&self.probes.ebpf) {
                        gone_since = None;
                    } else if until.is_none() || gone_since.get_or_insert_with(tokio::time::Instant::now).elapsed() >= GONE_GRACE {
                        reason = Some("the target is gone");
                        break;
                    }
                }
            }
        }
        if let Some(events) = self.events.as_mut() {
            drain_events(events.get_mut(), observer);
        }
        self.kernel_log.flush();
        let by_duration = reason == Some("the duration elapsed");
        Ok(Ended { at: SystemTime::now(), exit_status, reason: reason.unwrap_or("unknown"), by_duration })
    }
}

/// How long a session with `until` goes on after its target is gone, for `until` to decide.
const GONE_GRACE: Duration = Duration::from_secs(10);

/// How long `until` may go on deciding after the command ended: a check attempt in flight (at
/// most `prove::check::CHECK_ATTEMPT_LIMIT`, 10 s) ends; a new one is not started.
const UNTIL_GRACE: Duration = Duration::from_secs(12);

/// SIGINT, SIGTERM and SIGHUP, caught: each ends a recording or a watch the way its owner
/// chooses (the profile or state is written, a unit put back); a lost terminal ends it like
/// SIGTERM.
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl StopSignals {
    pub fn install() -> Result<Self, Error> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).map_err(|err| Error::io("cannot catch SIGINT", err))?,
            terminate: signal(SignalKind::terminate()).map_err(|err| Error::io("cannot catch SIGTERM", err))?,
            hangup: signal(SignalKind::hangup()).map_err(|err| Error::io("cannot catch SIGHUP", err))?,
        })
    }

    /// The next signal: why the run ends, and the signal to pass on to a spawned command.
    pub async fn recv(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.interrupt.recv() => ("interrupted", libc::SIGINT),
            _ = self.terminate.recv() => ("terminated", libc::SIGTERM),
            _ = self.hangup.recv() => ("the terminal hung up", libc::SIGTERM),
        }
    }
}

/// The ring buffer's items, told apart by size: a check's `TraceEvent`, a `SyscallOutcome`, or
/// a sandbox's `Refusal`.
fn drain_events(ring: &mut RingBuf<MapData>, observer: &mut dyn Observer) {
    while let Some(item) = ring.next() {
        if item.len() == REFUSAL_BYTES {
            // SAFETY: the kernel wrote a Refusal (#[repr(C)], plain data) at this address.
            let refusal = unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<Refusal>()) };
            observer.refusal(&refusal);
        } else if item.len() >= std::mem::size_of::<TraceEvent>() {
            // SAFETY: the kernel wrote a TraceEvent (#[repr(C)], plain data) at this address.
            let event = unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<TraceEvent>()) };
            observer.event(&event);
        } else if item.len() == SYSCALL_OUTCOME_BYTES {
            // SAFETY: the kernel wrote a SyscallOutcome (#[repr(C)], plain data) at this address.
            let outcome = unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<SyscallOutcome>()) };
            observer.outcome(&outcome);
        }
    }
}

/// A command that could not be started, as a shell says it: 127 when not found, 126 otherwise.
fn spawn_error(program: &str, err: std::io::Error) -> Error {
    let code = if err.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
    Error::Spawn { message: format!("cannot run `{program}`: {err}"), code }
}

/// Asks the spawned command to stop: the signal, forwarded; a container's client also has its
/// runtime stop the container (its first process may ignore the signal, as PID 1 does).
fn stop(target: &Target, pid: u32, signal: i32) {
    forward(pid, signal);
    target.ask_to_stop();
}

fn forward(pid: u32, signal: i32) {
    unsafe { libc::kill(pid as i32, signal) };
}
