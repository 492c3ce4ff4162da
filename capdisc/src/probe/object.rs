//! Loading the embedded object: load-time constants (target mode, tracepoint offsets, the
//! address of `init_user_ns`), map sizes, the task-tracking programs every backend needs, and
//! the backend itself.
use crate::support::console;
use std::path::PathBuf;

use aya::{
    programs::{RawTracePoint, TracePoint},
    Ebpf, EbpfLoader,
};
use capdisc_common::{mode, TRACEPOINT_RECORD_BYTES};

use super::backend::{chain, program, AttachError, Backend, BackendChoice};
use crate::{error::Error, kernel::kallsyms::Kallsyms, kernel::tracefs};

/// The eBPF object built by build.rs from `capdisc-ebpf`.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/capdisc-probes"));

/// Map sizes: how much the kernel side can keep before it starts counting losses.
#[derive(Clone, Copy, Debug)]
pub struct MapLimits {
    pub checks: u32,
    pub stacks: u32,
    pub pids: u32,
    pub cgroups: u32,
    /// Names of cgroups made between two of `watch`'s scans (1 elsewhere: unused).
    pub cgroup_names: u32,
    /// Kinds of sandbox refusal kept (trials and recordings with the sandbox evidence).
    pub refusals: u32,
    /// Kinds of system call, and paths, kept of what the target did (the same runs).
    pub activity: u32,
}

impl Default for MapLimits {
    fn default() -> Self {
        Self { checks: 16_384, stacks: 4_096, pids: 65_536, cgroups: 4_096, cgroup_names: 1, refusals: 1_024, activity: 4_096 }
    }
}

/// The cuts made to the per-check path, each measured by `cargo xtask bench` against the path
/// without it: one compare instead of a map lookup when there is a single target cgroup; the
/// clock read for `last_ns` only when `jiffies` moved; a per-CPU memo of the last key (a repeat
/// is a compare and an increment). All on; `CAPDISC_PER_CHECK_CUTS=none|cgroup|jiffies` (the
/// bench's variants) keeps none, the first, the first two.
#[derive(Clone, Copy, Debug)]
struct PerCheckCuts {
    single_cgroup: bool,
    jiffy_clock: bool,
    memo: bool,
}

impl PerCheckCuts {
    fn from_env() -> Self {
        let (single_cgroup, jiffy_clock, memo) = match std::env::var("CAPDISC_PER_CHECK_CUTS").as_deref() {
            Ok("none") => (false, false, false),
            Ok("cgroup") => (true, false, false),
            Ok("jiffies") => (true, true, false),
            _ => (true, true, true),
        };
        Self { single_cgroup, jiffy_clock, memo }
    }
}

/// `capdisc trace`: stream one event per check instead of aggregating.
#[derive(Clone, Copy, Debug)]
pub struct StreamConfig {
    /// Ring buffer size in bytes (a power of two, at least one page).
    pub buffer_bytes: u32,
    /// Kernel stack in every event (the tracepoint backend always takes it).
    pub stacks: bool,
}

/// How the kernel programs select the target.
#[derive(Clone, Copy, Debug)]
pub struct ProbeConfig {
    /// One of `capdisc_common::mode`.
    pub mode: u32,
    /// cgroup v2 depth of the target cgroups (mode CGROUP).
    pub cgroup_level: u32,
    /// Mode CGROUP with one target cgroup: its id (the kernel compares instead of looking up).
    pub single_cgroup: Option<u64>,
    pub limits: MapLimits,
    pub stream: Option<StreamConfig>,
    /// Tell what each system call returned after a denied check (a program on every system call
    /// exit of the host while attached: `trace` and trials ask for it, `record` and `watch` not).
    pub syscall_outcomes: bool,
    /// See the system calls the target's sandbox refused (`sys_enter` and `sys_exit` programs on
    /// every system call of the host while attached: `trace` and trials ask for it).
    pub sandbox: bool,
    /// A container target: its runtime's own system calls (crun's set-up before the exec) are
    /// not what the service did (`ACTIVITY_SKIPS_RUNTIME`).
    pub skip_runtime: bool,
}

/// Loaded and attached programs with their maps. Dropping it detaches everything.
pub struct Probes {
    pub ebpf: Ebpf,
    pub backend: Backend,
    /// The one line saying which backend was chosen and why the earlier ones were skipped.
    pub selection: String,
    /// Where tracefs was found, and whether capdisc mounted it.
    pub tracefs: (PathBuf, bool),
}

impl Probes {
    /// Stops counting (the backend detached, the maps kept): what is drained afterwards is exact.
    pub fn stop(&mut self) {
        self.backend.detach(&mut self.ebpf);
        detach_syscall_hooks(&mut self.ebpf);
    }

    pub fn load(choice: BackendChoice, config: &ProbeConfig) -> Result<Self, Error> {
        let tracefs = tracefs::ensure_mounted()?;
        let fork = tracefs::Format::read(&tracefs.0, "sched", "sched_process_fork")?;
        let exec = tracefs::Format::read(&tracefs.0, "sched", "sched_process_exec")?;
        let (mut cap_offset, mut ret_offset, mut ns_offset, mut cred_offset) = (0u32, 0u32, 0u32, 0u32);
        if tracefs::has_event(&tracefs.0, "capability", "cap_capable") {
            let format = tracefs::Format::read(&tracefs.0, "capability", "cap_capable")?;
            cap_offset = format.offset("cap")?;
            ret_offset = format.offset("ret")?;
            ns_offset = format.offset("target_ns")?;
            cred_offset = format.offset("cred")?;
            // The kernel program copies the first TRACEPOINT_RECORD_BYTES of the record.
            let limit = TRACEPOINT_RECORD_BYTES as u32;
            if [cap_offset + 4, ret_offset + 4, ns_offset + 8, cred_offset + 8].iter().any(|end| *end > limit) {
                return Err(Error::Kernel(format!("the capability:cap_capable tracepoint has an unexpected layout (fields beyond {limit} bytes); use --backend kprobe or fexit")));
            }
        }
        let fork_child = fork.offset("child_pid")?;
        let exec_filename = exec.offset("filename")?;
        let init_user_ns = Kallsyms::address_of("init_user_ns").unwrap_or(0);
        let self_tgid = std::process::id();
        let layout = crate::kernel::btf::KernelLayout::read();
        let cred = layout.cred.unwrap_or([0; 6]);
        let task_comm = layout.task_comm.unwrap_or(0);
        let stream = u32::from(config.stream.is_some());
        let stream_stacks = u32::from(config.stream.is_some_and(|stream| stream.stacks));
        let syscall_outcomes = u32::from(config.syscall_outcomes);
        let sandbox = u32::from(config.sandbox);
        let skip_runtime = u32::from(config.skip_runtime);
        let ring_bytes = config.stream.map(|stream| stream.buffer_bytes).unwrap_or(4096);
        let limits = config.limits;
        let cuts = PerCheckCuts::from_env();
        let single_cgroup = if cuts.single_cgroup { config.single_cgroup.unwrap_or(0) } else { 0 };
        let jiffy_clock = u32::from(cuts.jiffy_clock);
        let use_memo = u32::from(cuts.memo);
        let (task_pid, bprm_filename) = (layout.task_pid.unwrap_or(0), layout.bprm_filename.unwrap_or(0));
        let (task_cred, cred_uid) = (layout.task_cred.unwrap_or(0), layout.cred_uid.unwrap_or(0));
        let gain = layout.exec_gain.unwrap_or_default();
        let mut loader = EbpfLoader::new();
        loader
            .override_global("MODE", &config.mode, true)
            .override_global("TARGET_CGROUP_LEVEL", &config.cgroup_level, true)
            .override_global("SINGLE_CGROUP", &single_cgroup, true)
            .override_global("JIFFY_CLOCK", &jiffy_clock, true)
            .override_global("USE_MEMO", &use_memo, true)
            .override_global("STREAM", &stream, true)
            .override_global("STREAM_STACKS", &stream_stacks, true)
            .override_global("SYSCALL_OUTCOMES", &syscall_outcomes, true)
            .map_max_entries("DENIED_IN_FLIGHT", 4_096)
            .override_global("SANDBOX", &sandbox, true)
            .override_global("ACTIVITY_SKIPS_RUNTIME", &skip_runtime, true)
            // Preallocated maps: their room only when the sandbox's programs run.
            .map_max_entries("SYSCALL_STATE", if config.sandbox { 16_384 } else { 1 })
            .map_max_entries("REFUSALS", if config.sandbox { limits.refusals } else { 1 })
            .map_max_entries("REFUSAL_SCRATCH", 1)
            .map_max_entries("ACTIVITY", if config.sandbox { limits.activity } else { 1 })
            .map_max_entries("ACTIVITY_PATHS", if config.sandbox { limits.activity } else { 1 })
            .map_max_entries("ACTIVITY_SCRATCH", 1)
            .map_max_entries("EVENTS", ring_bytes)
            .override_global("INIT_USER_NS", &init_user_ns, true)
            .override_global("SELF_TGID", &self_tgid, true)
            .override_global("TP_CAP_OFFSET", &cap_offset, true)
            .override_global("TP_RET_OFFSET", &ret_offset, true)
            .override_global("TP_TARGET_NS_OFFSET", &ns_offset, true)
            .override_global("TP_CRED_OFFSET", &cred_offset, true)
            .override_global("TASK_COMM_OFFSET", &task_comm, true)
            .override_global("TASK_CRED_OFFSET", &task_cred, true)
            .override_global("CRED_UID_OFFSET", &cred_uid, true)
            .override_global("CRED_EUID_OFFSET", &cred[0], true)
            .override_global("CRED_INH_OFFSET", &cred[1], true)
            .override_global("CRED_PRM_OFFSET", &cred[2], true)
            .override_global("CRED_EFF_OFFSET", &cred[3], true)
            .override_global("CRED_BND_OFFSET", &cred[4], true)
            .override_global("CRED_AMB_OFFSET", &cred[5], true)
            .override_global("FORK_CHILD_PID_OFFSET", &fork_child, true)
            .override_global("EXEC_FILENAME_OFFSET", &exec_filename, true)
            .override_global("TASK_PID_OFFSET", &task_pid, true)
            .override_global("BPRM_FILENAME_OFFSET", &bprm_filename, true)
            .override_global("BPRM_FILE_OFFSET", &gain.bprm_file, true)
            .override_global("FILE_INODE_OFFSET", &gain.file_inode, true)
            .override_global("INODE_MODE_OFFSET", &gain.inode_mode, true)
            .override_global("INODE_UID_OFFSET", &gain.inode_uid, true)
            .override_global("INODE_GID_OFFSET", &gain.inode_gid, true)
            .override_global("TASK_ATOMIC_FLAGS_OFFSET", &gain.task_atomic_flags, true)
            .override_global("CRED_EGID_OFFSET", &gain.cred_egid, true)
            .map_max_entries("CHECKS", limits.checks)
            .map_max_entries("STACKS", limits.stacks)
            .map_max_entries("CGROUPS", limits.cgroups)
            .map_max_entries("CGROUP_NAMES", limits.cgroup_names.max(1))
            .map_max_entries("PIDS", limits.pids)
            .map_max_entries("PENDING", 8_192)
            .map_max_entries("EXECS", 1_024)
            .map_max_entries("PATHS", limits.stacks)
            .map_max_entries("PATH_SCRATCH", 1);
        let mut ebpf = loader.load(OBJECT).map_err(|err| Error::Kernel(format!("cannot load capdisc's eBPF object: {}", chain(&err))))?;
        fill_path_arguments(&mut ebpf)?;
        attach_task_tracking(&mut ebpf, config.mode, &layout)?;
        attach_syscall_hooks(&mut ebpf, config)?;
        let exec_gain = if config.sandbox { attach_exec_gain(&mut ebpf, &layout) } else { None };

        let mut skipped = Vec::new();
        for backend in choice.candidates() {
            match backend.attach(&mut ebpf, &tracefs.0, &layout) {
                Ok(()) => {
                    if init_user_ns == 0 {
                        calibrate_init_user_ns();
                    }
                    let why =
                        if choice == BackendChoice::Auto { format!(", the cheapest here: {}", backend.cost()) } else { String::new() };
                    let selection = if skipped.is_empty() {
                        format!("backend {backend}{why}")
                    } else {
                        format!("backend {backend}{why} ({})", skipped.join("; "))
                    };
                    let selection = match &exec_gain {
                        Some(why) => format!("{selection}; setuid execs that gain nothing not seen: {why}"),
                        None => selection,
                    };
                    return Ok(Self { ebpf, backend, selection, tracefs });
                }
                Err(err) => {
                    // The whole verifier log, for kernel developers and bug reports.
                    if std::env::var_os("CAPDISC_VERIFIER_LOG").is_some() {
                        console::say!("{backend}: {}", chain(&err));
                    }
                    skipped.push(format!("{backend} skipped: {}", err.reason()))
                }
            }
        }
        Err(match choice {
            BackendChoice::Only(backend) => Error::Kernel(format!(
                "backend {backend} cannot be used on this kernel: {}; try --backend auto",
                skipped.join("; ").trim_start_matches(&format!("{backend} skipped: "))
            )),
            BackendChoice::Auto => Error::Kernel(format!(
                "no backend can watch capability checks on this kernel ({}); capdisc needs fexit (BTF), kprobes or the capability:cap_capable tracepoint (Linux 6.13+)",
                skipped.join("; ")
            )),
        })
    }
}

/// Tells the kernel side which argument of each system call is a path (`syscalls`).
fn fill_path_arguments(ebpf: &mut Ebpf) -> Result<(), Error> {
    let map = ebpf.map_mut("PATH_ARGS").ok_or_else(|| Error::Runtime("map PATH_ARGS missing from the eBPF object".into()))?;
    let mut arguments: aya::maps::Array<_, u8> =
        aya::maps::Array::try_from(map).map_err(|err| Error::io("cannot open map PATH_ARGS", err))?;
    for (number, argument) in crate::kernel::syscalls::path_arguments() {
        arguments.set(number, argument + 1, 0).map_err(|err| Error::io("cannot fill map PATH_ARGS", err))?;
    }
    let map = ebpf.map_mut("ACTIVITY_ARGS").ok_or_else(|| Error::Runtime("map ACTIVITY_ARGS missing from the eBPF object".into()))?;
    let mut activity: aya::maps::Array<_, capdisc_common::ActivityArg> =
        aya::maps::Array::try_from(map).map_err(|err| Error::io("cannot open map ACTIVITY_ARGS", err))?;
    for (number, argument) in crate::kernel::syscalls::activity_arguments() {
        activity.set(number, argument, 0).map_err(|err| Error::io("cannot fill map ACTIVITY_ARGS", err))?;
    }
    Ok(())
}

/// fork/exit keep the pid set current (mode PIDS); exec arms the exec gate and records paths.
/// Fork, exit and exec tracking: on raw tracepoints when kernel BTF gave the offsets they read
/// (no perf event: Debian's `perf_event_paranoid=3` refuses those to all but CAP_SYS_ADMIN), on
/// the classic tracepoints otherwise or when the raw one does not attach.
fn attach_task_tracking(ebpf: &mut Ebpf, target_mode: u32, layout: &crate::kernel::btf::KernelLayout) -> Result<(), Error> {
    // (classic program, raw program, event, the raw program's offsets are known)
    let mut programs = vec![("capdisc_exec", "capdisc_exec_raw", "sched_process_exec", layout.bprm_filename.is_some())];
    if target_mode == mode::PIDS {
        programs.push(("capdisc_fork", "capdisc_fork_raw", "sched_process_fork", layout.task_pid.is_some()));
        programs.push(("capdisc_exit", "capdisc_exit_raw", "sched_process_exit", true));
    }
    for (name, raw_name, event, raw_ready) in programs {
        let attach_raw = |ebpf: &mut Ebpf| -> Result<(), AttachError> {
            let raw: &mut RawTracePoint = program(ebpf, raw_name)?;
            raw.load().map_err(|source| AttachError::Load { program: raw_name, source })?;
            raw.attach(event).map_err(|source| AttachError::Attach { program: raw_name, source })?;
            Ok(())
        };
        let raw_error = match raw_ready {
            true => match attach_raw(ebpf) {
                Ok(()) => continue,
                Err(err) => Some(err.reason()),
            },
            false => None,
        };
        let attach = |ebpf: &mut Ebpf| -> Result<(), AttachError> {
            let tracepoint: &mut TracePoint = program(ebpf, name)?;
            tracepoint.load().map_err(|source| AttachError::Load { program: name, source })?;
            tracepoint.attach("sched", event).map_err(|source| AttachError::Attach { program: name, source })?;
            Ok(())
        };
        attach(ebpf).map_err(|err| {
            let raw = raw_error.as_ref().map(|reason| format!(" (the raw tracepoint failed too: {reason})")).unwrap_or_default();
            Error::Kernel(format!("cannot attach to sched:{event}: {}{raw}", err.reason()))
        })?;
    }
    Ok(())
}

/// The system-call programs (raw tracepoints: no perf event), when asked: `sys_exit` tells what
/// a system call returned after a denied check and, with `sys_enter`, which calls the target's
/// sandbox refused. `sys_enter` is attached first: an exit is judged against its entry, and an
/// entry missed because its program was not there yet would read as a refusal.
fn attach_syscall_hooks(ebpf: &mut Ebpf, config: &ProbeConfig) -> Result<(), Error> {
    let attach = |ebpf: &mut Ebpf, name: &'static str, event: &str| -> Result<(), AttachError> {
        let raw: &mut RawTracePoint = program(ebpf, name)?;
        raw.load().map_err(|source| AttachError::Load { program: name, source })?;
        raw.attach(event).map_err(|source| AttachError::Attach { program: name, source })?;
        Ok(())
    };
    let what = match (config.syscall_outcomes, config.sandbox) {
        (_, true) => "the sandbox's refusals",
        (true, false) => "what a denied call returned",
        (false, false) => return Ok(()),
    };
    let failed = |event: &str, err: AttachError| Error::Kernel(format!("cannot attach to raw_syscalls:{event} ({what}): {}", err.reason()));
    if config.sandbox {
        attach(ebpf, SYS_ENTER, "sys_enter").map_err(|err| failed("sys_enter", err))?;
    }
    attach(ebpf, SYS_EXIT, "sys_exit").map_err(|err| failed("sys_exit", err))
}

/// The sandbox's evidence of a setuid or setgid exec that gained nothing (`sched_process_exec`,
/// offsets from kernel BTF). Not fatal: without it the other refusals are still seen; returns why
/// it is missing.
fn attach_exec_gain(ebpf: &mut Ebpf, layout: &crate::kernel::btf::KernelLayout) -> Option<String> {
    const NAME: &str = "capdisc_exec_gain";
    if layout.exec_gain.is_none() || layout.task_cred.is_none() || layout.cred.is_none() || layout.bprm_filename.is_none() {
        return Some("kernel BTF lacks the exec's file and credentials".into());
    }
    let attach = |ebpf: &mut Ebpf| -> Result<(), AttachError> {
        let raw: &mut RawTracePoint = program(ebpf, NAME)?;
        raw.load().map_err(|source| AttachError::Load { program: NAME, source })?;
        raw.attach("sched_process_exec").map_err(|source| AttachError::Attach { program: NAME, source })?;
        Ok(())
    };
    attach(ebpf).err().map(|err| err.reason())
}

const SYS_ENTER: &str = "capdisc_sys_enter";
const SYS_EXIT: &str = "capdisc_sys_exit";

/// Detaches the system-call programs, `sys_exit` first (the reverse of their attaching: an exit
/// is never judged without its entry's program), before anything is read back.
fn detach_syscall_hooks(ebpf: &mut Ebpf) {
    for name in [SYS_EXIT, SYS_ENTER] {
        if let Some(raw) = ebpf.program_mut(name).and_then(|program| <&mut RawTracePoint>::try_from(program).ok()) {
            let _ = raw.unload();
        }
    }
}

/// Makes one capability check in capdisc's own (initial) user namespace, so the kernel side
/// learns the address of `init_user_ns` when /proc/kallsyms does not list it. setuid() to the
/// current uid always checks CAP_SETUID and changes nothing; the raw syscall affects only this
/// thread.
fn calibrate_init_user_ns() {
    unsafe { libc::syscall(libc::SYS_setuid, libc::getuid()) };
}

/// `cargo xtask bench`'s floor: an empty program on the raw (`raw_tp`) or classic (`tracepoint`)
/// `cap_capable` tracepoint, attached until the returned object is dropped.
pub fn attach_floor(hook: &str) -> Result<Ebpf, Error> {
    tracefs::ensure_mounted()?;
    let mut ebpf =
        EbpfLoader::new().load(OBJECT).map_err(|err| Error::Kernel(format!("cannot load capdisc's eBPF object: {}", chain(&err))))?;
    let failed = |err: &dyn std::error::Error| Error::Kernel(format!("cannot attach the floor program: {}", chain(err)));
    match hook {
        "raw_tp" => {
            let program: &mut aya::programs::RawTracePoint = program(&mut ebpf, "capdisc_floor_raw_tp").map_err(|err| failed(&err))?;
            program.load().map_err(|err| failed(&err))?;
            program.attach("cap_capable").map_err(|err| failed(&err))?;
        }
        "tracepoint" => {
            let program: &mut TracePoint = program(&mut ebpf, "capdisc_floor_tracepoint").map_err(|err| failed(&err))?;
            program.load().map_err(|err| failed(&err))?;
            program.attach("capability", "cap_capable").map_err(|err| failed(&err))?;
        }
        other => return Err(Error::Usage(format!("no floor hook `{other}`; use raw_tp or tracepoint"))),
    }
    Ok(ebpf)
}
