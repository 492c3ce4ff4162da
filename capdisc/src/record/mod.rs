//! `capdisc record`: a session (see `session`) that aggregates in the kernel; at its end, drain,
//! classify, write the profile atomically and print the table. Whatever ends the recording
//! (command exit, --duration, Ctrl-C, SIGTERM, the target gone), the profile is written.
use crate::support::console;
mod live;

use std::{path::PathBuf, time::Duration};

use crate::{
    coverage,
    error::Error,
    kernel::kallsyms::Kallsyms,
    kernel::privileges,
    probe::PhaseMarker,
    probe::{drain, BackendChoice, MapLimits},
    profile::table,
    profile::{self, ContainerInfo, Format, Profile, RecordingMeta, TargetInfo},
    scope::{Target, TargetSpec},
    session::{Ended, Session, SessionOptions, Until},
    support::files,
};

pub struct RecordOptions {
    pub backend: BackendChoice,
    pub output: PathBuf,
    pub format: Format,
    pub duration: Option<Duration>,
    pub quiet: bool,
    pub target: TargetSpec,
    pub limits: MapLimits,
    /// Keep the sandbox's refusals (`--sandbox`).
    pub sandbox: bool,
}

/// Runs a recording; returns the exit code (the spawned command's, or 0).
pub async fn record(options: RecordOptions) -> Result<i32, Error> {
    privileges::check()?;
    files::check_writable(&options.output)?;
    let target = options.target.resolve()?;
    let _finish = target.finish_on_drop(options.quiet);
    record_target(&options, &target).await
}

async fn record_target(options: &RecordOptions, target: &Target) -> Result<i32, Error> {
    let capture_options = CaptureOptions {
        backend: options.backend,
        quiet: options.quiet,
        limits: options.limits,
        duration: options.duration,
        phases: None,
        syscall_outcomes: false,
        sandbox: options.sandbox,
    };
    let (mut profile, ended) = capture(target, &capture_options, None).await?;
    profile.coverage = coverage::of(&profile);
    let text = options.format.render(&profile)?;
    files::write_atomic(&options.output, text.as_bytes())?;
    if !options.quiet {
        console::say!("recording stopped: {}", ended.reason);
        console::raw!("{}", table::render(&profile));
        console::say!("profile written to {}", options.output.display());
    }
    // A command capdisc itself stopped at --duration ended as asked: the recording succeeded
    // (its status, 128 + SIGTERM, stays in the profile).
    Ok(if ended.by_duration { 0 } else { ended.exit_status.unwrap_or(0) })
}

pub struct CaptureOptions {
    pub backend: BackendChoice,
    pub quiet: bool,
    pub limits: MapLimits,
    pub duration: Option<Duration>,
    /// Mark the phases of the target's life (a trial's): attached once the programs are loaded,
    /// and every check's phase kept in the profile.
    pub phases: Option<PhaseMarker>,
    /// Tell what each system call returned after a denied check (trials: a denial that failed
    /// nothing is not evidence).
    pub syscall_outcomes: bool,
    /// See the system calls the target's sandbox refused (trials: a failing trial names them).
    pub sandbox: bool,
}

/// Records a resolved target into a profile (nothing written): the session, the drain and the
/// classification. `until` ends the recording early when it completes (a trial's check).
pub async fn capture(target: &Target, options: &CaptureOptions, until: Option<Until<'_>>) -> Result<(Profile, Ended), Error> {
    let host_userns = target.starts_in_host_userns();
    let mut session = Session::start(
        target,
        &SessionOptions {
            backend: options.backend,
            quiet: options.quiet,
            limits: options.limits,
            stream: None,
            syscall_outcomes: options.syscall_outcomes,
            sandbox: options.sandbox,
        },
    )?;
    if let (Some(marker), Some(cgroup_id)) = (&options.phases, target.single_cgroup()) {
        marker.attach(&session.probes.ebpf, cgroup_id)?;
    }
    let mut live = LiveLine::new(options.quiet);
    let ended = session.wait_until(target, options.duration, live.enabled(), &mut live, until).await?;
    live.clear();
    session.probes.stop();
    let drained = drain(&session.probes.ebpf)?;
    let (backend, selection, started) = (session.probes.backend, session.probes.selection.clone(), session.started);
    drop(session);

    let cgroup_names = target.cgroup_names();
    let kallsyms = Kallsyms::load().ok();
    let profile = profile::build(
        &drained,
        RecordingMeta {
            backend,
            selection,
            target: target_info(target),
            started,
            ended: ended.at,
            exit_status: ended.exit_status,
            per_cgroup: matches!(target, Target::All),
            cgroup_names: &cgroup_names,
            phased: options.phases.is_some(),
            host_userns,
        },
        kallsyms.as_ref(),
    );
    Ok((profile, ended))
}

fn target_info(target: &Target) -> TargetInfo {
    let mut info = TargetInfo {
        kind: target.kind(),
        description: target.describe(),
        command: None,
        pid: None,
        cgroup: None,
        unit: None,
        container: None,
    };
    match target {
        Target::Command { argv, cgroup, .. } => {
            info.command = Some(argv.clone());
            info.cgroup = Some(cgroup.relative.clone());
        }
        Target::Pid { pid } => info.pid = Some(*pid),
        Target::Cgroup { cgroup } => info.cgroup = Some(cgroup.relative.clone()),
        Target::Unit { name, cgroup, .. } => {
            info.unit = Some(name.clone());
            info.cgroup = Some(cgroup.relative.clone());
        }
        Target::Container(container) => {
            let (runtime, name, id) = container.identity();
            info.cgroup = Some(container.cgroup().relative.clone());
            info.command = container.client().map(<[String]>::to_vec);
            let rootless_user = runtime.user.map(crate::container::user_name);
            info.container = Some(ContainerInfo { runtime: runtime.program().into(), name, id, rootless_user });
        }
        Target::All => {}
    }
    info
}

use live::LiveLine;
