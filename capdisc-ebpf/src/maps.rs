//! Every map and every load-time constant of the kernel programs. Sizes are placeholders:
//! userspace sets the real `max_entries` at load time (`EbpfLoader::set_max_entries`), and the
//! constants with `EbpfLoader::set_global`.
use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, RingBuf, StackTrace},
};
use capdisc_common::{
    counter, ActivityArg, ActivityKey, ActivityPathKey, CheckKey, CheckMemo, CheckStats, ExePath, MkdirLayout, PathKey, PathSample,
    PendingCheck, RefusalKey, RefusalStats, WatchPath, COMM_LEN, MAX_WATCH_PATHS, PATH_ARGS_SYSCALLS,
};

/// Aggregated checks: the recording itself.
#[map]
pub static CHECKS: HashMap<CheckKey, CheckStats> = HashMap::with_max_entries(1, 0);
/// Per CPU: the last key counted and its checks not yet in `CHECKS` (see `CheckMemo`).
#[map]
pub static MEMO: PerCpuArray<CheckMemo> = PerCpuArray::with_max_entries(1, 0);
/// Sampled kernel stacks, referenced by `CheckStats::call_sites`.
#[map]
pub static STACKS: StackTrace = StackTrace::with_max_entries(1, 0);
/// Paths the system calls named, sampled with their call sites (see `record::sample_path`).
#[map]
pub static PATHS: HashMap<PathKey, PathSample> = HashMap::with_max_entries(1, 0);
/// Per-CPU room to read a path into (too large for the BPF stack).
#[map]
pub static PATH_SCRATCH: PerCpuArray<PathSample> = PerCpuArray::with_max_entries(1, 0);
/// Which argument of each system call is a path: syscall number -> argument index + 1 (0: none).
/// Filled by userspace from its table (`syscalls::PATH_ARGUMENTS`).
#[map]
pub static PATH_ARGS: Array<u8> = Array::with_max_entries(PATH_ARGS_SYSCALLS, 0);
/// Losses and deliberate skips, per CPU (see `capdisc_common::counter`).
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::SLOTS, 0);
/// Target cgroups (mode CGROUP): cgroup id -> `cgroup_state`.
#[map]
pub static CGROUPS: HashMap<u64, u8> = HashMap::with_max_entries(1, 0);
/// State of the single target cgroup (`SINGLE_CGROUP`), slot 0: an array slot is read in
/// place, a hash lookup is not.
#[map]
pub static SINGLE_STATE: Array<u8> = Array::with_max_entries(1, 0);
/// Target processes (mode PIDS): pid -> 1.
#[map]
pub static PIDS: HashMap<u32, u8> = HashMap::with_max_entries(1, 0);
/// kprobe entries waiting for their kretprobe: thread id -> arguments.
#[map]
pub static PENDING: HashMap<u32, PendingCheck> = HashMap::with_max_entries(1, 0);
/// The initial user namespace learned at start-up, when /proc/kallsyms does not show
/// `init_user_ns` (kernels without CONFIG_KALLSYMS_ALL): slot 0.
#[map]
pub static USERNS: Array<u64> = Array::with_max_entries(1, 0);
/// Executables run by the target: comm -> path.
#[map]
pub static EXECS: HashMap<[u8; COMM_LEN], ExePath> = HashMap::with_max_entries(1, 0);

/// `watch --cgroup`: the watched paths, followed through their re-creation (`cgroups`).
#[map]
pub static WATCH_PATHS: Array<WatchPath> = Array::with_max_entries(MAX_WATCH_PATHS, 0);
/// Slot 0: the `cgroup:cgroup_mkdir` record's layout and how many watched paths there are.
#[map]
pub static MKDIR_LAYOUT: Array<MkdirLayout> = Array::with_max_entries(1, 0);
/// `watch`: cgroup id -> its path, for every cgroup made while it runs (read and emptied by each
/// scan; the oldest go first when it is full).
#[map]
pub static CGROUP_NAMES: LruHashMap<u64, PathSample> = LruHashMap::with_max_entries(1, 0);

/// Denied checks whose system call has not returned yet: thread id -> the check's key
/// (`outcome`, only with SYSCALL_OUTCOMES).
#[map]
pub static DENIED_IN_FLIGHT: LruHashMap<u32, CheckKey> = LruHashMap::with_max_entries(1, 0);

/// Sandbox evidence (`SANDBOX`): thread id -> whether its current system call entered
/// (`sandbox::ENTERED`) or it is between calls (`sandbox::BETWEEN`). A thread not in the map is
/// not known yet (capdisc attached while it was in a call): its exit tells nothing.
#[map]
pub static SYSCALL_STATE: LruHashMap<u32, u8> = LruHashMap::with_max_entries(1, 0);
/// Sandbox refusals, aggregated (trials and recordings; `trace` streams them instead).
#[map]
pub static REFUSALS: HashMap<RefusalKey, RefusalStats> = HashMap::with_max_entries(1, 0);
/// Per-CPU room to build a refusal's first sample in (too large for the BPF stack).
#[map]
pub static REFUSAL_SCRATCH: PerCpuArray<RefusalStats> = PerCpuArray::with_max_entries(1, 0);
/// What the target did that the sandboxing settings depend on (`activity`): the system calls it
/// made, by number and detail, counted.
#[map]
pub static ACTIVITY: HashMap<ActivityKey, u64> = HashMap::with_max_entries(1, 0);
/// The paths it wrote, and opened under the kept prefixes, counted.
#[map]
pub static ACTIVITY_PATHS: HashMap<ActivityPathKey, u64> = HashMap::with_max_entries(1, 0);
/// Per-CPU room to build a path key in (too large for the BPF stack).
#[map]
pub static ACTIVITY_SCRATCH: PerCpuArray<ActivityPathKey> = PerCpuArray::with_max_entries(1, 0);
/// How to read each system call's detail: syscall number -> `ActivityArg` (filled by userspace).
#[map]
pub static ACTIVITY_ARGS: Array<ActivityArg> = Array::with_max_entries(PATH_ARGS_SYSCALLS, 0);

/// `capdisc trace`: one event per check (only when STREAM is set).
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(4096, 0);

/// Load-time constants. They live in .rodata, so the verifier prunes the branches they disable.
#[unsafe(no_mangle)]
pub static MODE: u32 = 0;
#[unsafe(no_mangle)]
pub static TARGET_CGROUP_LEVEL: u32 = 0;
/// Mode CGROUP with exactly one target cgroup: its id (compared, no map lookup; its state in
/// `SINGLE_STATE`). 0: look the ancestor up in `CGROUPS`.
#[unsafe(no_mangle)]
pub static SINGLE_CGROUP: u64 = 0;
/// Read the clock for a key's `last_ns` only when `bpf_jiffies64` moved since it was last read
/// (a plain load instead of a clock read on almost every check; `last_ns` to within a jiffy).
#[unsafe(no_mangle)]
pub static JIFFY_CLOCK: u32 = 0;
/// Count repeats of a CPU's last key in `MEMO` (see `CheckMemo`).
#[unsafe(no_mangle)]
pub static USE_MEMO: u32 = 0;
/// `capdisc trace`: stream events instead of aggregating.
#[unsafe(no_mangle)]
pub static STREAM: u32 = 0;
/// Tell what a system call returned after a denied check (`outcome`; its program attached).
#[unsafe(no_mangle)]
pub static SYSCALL_OUTCOMES: u32 = 0;
/// See the target's sandbox refusals (`sandbox`; its programs attached).
#[unsafe(no_mangle)]
pub static SANDBOX: u32 = 0;
/// A container target: the runtime's own processes in its cgroup (crun, runc, youki, conmon and
/// their memfd copies, before the container's command is exec'd) are set-up, not the service:
/// their system calls are not kept in `ACTIVITY`.
#[unsafe(no_mangle)]
pub static ACTIVITY_SKIPS_RUNTIME: u32 = 0;
/// `capdisc trace --stacks`: put the kernel stack in every event.
#[unsafe(no_mangle)]
pub static STREAM_STACKS: u32 = 0;
/// Address of `init_user_ns` (from /proc/kallsyms), to flag checks in other user namespaces.
#[unsafe(no_mangle)]
pub static INIT_USER_NS: u64 = 0;
/// capdisc's own tgid: its calibration check teaches `USERNS` the initial user namespace.
#[unsafe(no_mangle)]
pub static SELF_TGID: u32 = 0;
/// Field offsets of `capability:cap_capable`, read from tracefs by userspace.
#[unsafe(no_mangle)]
pub static TP_CAP_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static TP_RET_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static TP_CRED_OFFSET: u32 = 0;
/// Offset of `comm` in `struct task_struct` (from kernel BTF; 0 = unknown, use the helper).
#[unsafe(no_mangle)]
pub static TASK_COMM_OFFSET: u32 = 0;
/// Offsets of `task_struct.cred` and `cred.uid` (from kernel BTF; 0 = unknown, use the helper).
#[unsafe(no_mangle)]
pub static TASK_CRED_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static CRED_UID_OFFSET: u32 = 0;
/// Offsets in `struct cred` (from kernel BTF; 0 = unknown): euid, then inheritable, permitted,
/// effective, bounding and ambient sets.
#[unsafe(no_mangle)]
pub static CRED_EUID_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static CRED_INH_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static CRED_PRM_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static CRED_EFF_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static CRED_BND_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static CRED_AMB_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static TP_TARGET_NS_OFFSET: u32 = 0;
/// Offsets from kernel BTF for the raw task-tracking programs: `task_struct.pid` and
/// `linux_binprm.filename`.
#[unsafe(no_mangle)]
pub static TASK_PID_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static BPRM_FILENAME_OFFSET: u32 = 0;
/// Offsets from kernel BTF for an exec's gain (`sandbox::capdisc_exec_gain`): `linux_binprm.file`,
/// `file.f_inode`, `inode.i_mode`, `i_uid`, `i_gid`, `task_struct.atomic_flags`, `cred.egid`.
#[unsafe(no_mangle)]
pub static BPRM_FILE_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static FILE_INODE_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static INODE_MODE_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static INODE_UID_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static INODE_GID_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static TASK_ATOMIC_FLAGS_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub static CRED_EGID_OFFSET: u32 = 0;
/// Field offset of `child_pid` in `sched:sched_process_fork`.
#[unsafe(no_mangle)]
pub static FORK_CHILD_PID_OFFSET: u32 = 0;
/// Field offset of the `filename` __data_loc in `sched:sched_process_exec`.
#[unsafe(no_mangle)]
pub static EXEC_FILENAME_OFFSET: u32 = 0;

/// Reads a load-time constant (volatile, so the compiler does not fold the placeholder).
#[inline(always)]
pub fn constant<T: Copy>(value: &'static T) -> T {
    unsafe { core::ptr::read_volatile(value) }
}

/// Adds one to a per-CPU counter slot; returns the value before.
#[inline(always)]
pub fn bump(slot: u32) -> u64 {
    match COUNTERS.get_ptr_mut(slot) {
        Some(ptr) => unsafe {
            let before = *ptr;
            *ptr = before + 1;
            before
        },
        None => 0,
    }
}
