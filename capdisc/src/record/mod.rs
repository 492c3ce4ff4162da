//! `capdisc record`: load the probes, arm the target, wait for the end (command exit,
//! --duration, Ctrl-C or SIGTERM), drain, classify, write the profile atomically and print the
//! table. Whatever ends the recording, the profile is written.
mod drain;
mod live;

use std::{
    path::PathBuf,
    time::{Duration, SystemTime},
};

use tokio::signal::unix::{signal, SignalKind};

pub use drain::{drain, Drained};

use crate::{
    error::Error,
    kallsyms::Kallsyms,
    privileges,
    probe::{BackendChoice, MapLimits, ProbeConfig, Probes},
    profile::{self, Format, RecordingMeta, TargetInfo},
    report,
    target::{exit_code_of, spawn_in_cgroup, CgroupNames, Target, TargetSpec},
};

pub struct RecordOptions {
    pub backend: BackendChoice,
    pub output: PathBuf,
    pub format: Format,
    pub duration: Option<Duration>,
    pub quiet: bool,
    pub target: TargetSpec,
    pub limits: MapLimits,
}

/// Runs a recording; returns the exit code (the spawned command's, or 0).
pub async fn record(options: RecordOptions) -> Result<i32, Error> {
    privileges::check()?;
    profile::check_writable(&options.output)?;
    let target = options.target.resolve()?;
    let result = record_target(&options, &target).await;
    if let Target::Command { cgroup, .. } = &target {
        if !cgroup.remove_if_owned() && !options.quiet {
            eprintln!("capdisc: note: processes left behind by the command still run in {}", cgroup.path.display());
        }
    }
    result
}

async fn record_target(options: &RecordOptions, target: &Target) -> Result<i32, Error> {
    let (mode, cgroup_level) = target.filter();
    let mut probes = Probes::load(options.backend, &ProbeConfig { mode, cgroup_level, limits: options.limits })?;
    let say = |line: &str| {
        if !options.quiet {
            eprintln!("capdisc: {line}");
        }
    };
    if probes.tracefs.1 {
        say(&format!("mounted tracefs at {}", probes.tracefs.0.display()));
    }
    say(&probes.selection);
    let mut kernel_log = crate::kernel_log::KernelLog::start(&mut probes.ebpf);
    target.arm(&mut probes.ebpf)?;
    say(&format!("recording {}", target.describe()));

    let started = SystemTime::now();
    let mut child = match target {
        Target::Command { argv, cgroup } => Some(spawn_in_cgroup(argv, cgroup).map_err(|err| {
            let code = if err.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
            Error::Spawn { message: format!("cannot run `{}`: {err}", argv[0]), code }
        })?),
        _ => None,
    };
    let child_pid = child.as_ref().and_then(|child| child.id());

    let live = LiveLine::new(options.quiet);
    let mut interrupt = signal(SignalKind::interrupt()).map_err(runtime)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(runtime)?;
    let mut deadline = options.duration.map(|duration| tokio::time::Instant::now() + duration);
    let mut tick = tokio::time::interval(Duration::from_millis(if live.enabled() { 250 } else { 1000 }));
    let mut exit_status = None;
    let mut stop_reason = None;
    loop {
        tokio::select! {
            status = async { child.as_mut().expect("guarded by if").wait().await }, if child.is_some() && exit_status.is_none() => {
                exit_status = Some(status.map(exit_code_of).unwrap_or(1));
                stop_reason.get_or_insert("the command exited");
                break;
            }
            _ = async { tokio::time::sleep_until(deadline.expect("guarded by if")).await }, if deadline.is_some() => {
                stop_reason = Some("the duration elapsed");
                deadline = None;
                if let Some(pid) = child_pid { forward(pid, libc::SIGTERM) } else { break }
            }
            _ = interrupt.recv() => {
                stop_reason = Some("interrupted");
                if let Some(pid) = child_pid { forward(pid, libc::SIGINT) } else { break }
            }
            _ = terminate.recv() => {
                stop_reason = Some("terminated");
                if let Some(pid) = child_pid { forward(pid, libc::SIGTERM) } else { break }
            }
            _ = tick.tick() => {
                live.draw(&probes.ebpf);
                kernel_log.flush();
                if !target.alive(&probes.ebpf) {
                    stop_reason = Some("the target is gone");
                    break;
                }
            }
        }
    }
    let ended = SystemTime::now();
    live.clear();
    kernel_log.flush();
    let drained = drain(&probes.ebpf)?;
    drop(probes.ebpf);

    let mut cgroup_names = CgroupNames::scan();
    let info = target_info(target);
    if let Target::Command { cgroup, .. } | Target::Cgroup { cgroup } | Target::Unit { cgroup, .. } = target {
        cgroup_names.remember(cgroup);
    }
    let kallsyms = Kallsyms::load().ok();
    let profile = profile::build(
        &drained,
        RecordingMeta {
            backend: probes.backend,
            selection: probes.selection.clone(),
            target: info,
            started,
            ended,
            exit_status,
            per_cgroup: matches!(target, Target::All),
            cgroup_names: &cgroup_names,
        },
        kallsyms.as_ref(),
    );
    let text = options.format.render(&profile)?;
    profile::write_atomic(&options.output, text.as_bytes())?;
    if !options.quiet {
        eprintln!("capdisc: recording stopped: {}", stop_reason.unwrap_or("unknown"));
        eprint!("{}", report::table(&profile));
        eprintln!("capdisc: profile written to {}", options.output.display());
    }
    Ok(exit_status.unwrap_or(0))
}

fn target_info(target: &Target) -> TargetInfo {
    let mut info = TargetInfo {
        kind: target.kind().into(),
        description: target.describe(),
        command: None,
        pid: None,
        cgroup: None,
        unit: None,
    };
    match target {
        Target::Command { argv, cgroup } => {
            info.command = Some(argv.clone());
            info.cgroup = Some(cgroup.relative.clone());
        }
        Target::Pid { pid } => info.pid = Some(*pid),
        Target::Cgroup { cgroup } => info.cgroup = Some(cgroup.relative.clone()),
        Target::Unit { name, cgroup } => {
            info.unit = Some(name.clone());
            info.cgroup = Some(cgroup.relative.clone());
        }
        Target::All => {}
    }
    info
}

fn forward(pid: u32, signal: i32) {
    unsafe { libc::kill(pid as i32, signal) };
}

fn runtime(err: impl std::fmt::Display) -> Error {
    Error::Runtime(err.to_string())
}

use live::LiveLine;
