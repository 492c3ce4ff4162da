//! The `#[repr(C)]` types shared by the kernel programs (`capdisc-ebpf`) and userspace
//! (`capdisc`): map keys and values, flag bits, counter slots and target modes. Nothing here
//! has behaviour; both sides must agree on every byte, so every struct has explicit padding.
#![no_std]

/// Length of a task's `comm` as the kernel keeps it (TASK_COMM_LEN).
pub const COMM_LEN: usize = 16;
/// Distinct kernel call sites (stack ids) kept per aggregation key.
pub const CALL_SITE_SLOTS: usize = 4;
/// Bytes of an executable path kept per command (longer paths are cut).
pub const EXE_PATH_LEN: usize = 256;
/// Bytes of the `capability:cap_capable` record the tracepoint program copies per check: enough
/// for every field capdisc reads (the format puts them within the first 40 bytes; userspace
/// checks that the offsets it sets fit).
pub const TRACEPOINT_RECORD_BYTES: usize = 64;
/// Bytes of a path kept per sampled call site (the path a system call named; longer ones are cut).
pub const PATH_SAMPLE_LEN: usize = 256;
/// System call numbers the `PATH_ARGS` map covers.
pub const PATH_ARGS_SYSCALLS: u32 = 512;
/// `syscall` value for checks made outside any system call (kernel threads).
pub const NO_SYSCALL: i32 = -1;

/// Bits of [`CheckKey::flags`].
pub mod flags {
    /// The check was made with CAP_OPT_NOAUDIT (an advisory probe).
    pub const NOAUDIT: u32 = 1 << 0;
    /// The check was made with CAP_OPT_INSETID (while computing set-id credentials).
    pub const INSETID: u32 = 1 << 1;
    /// The backend delivered `opts`, so NOAUDIT/INSETID are known (fexit, kprobe).
    pub const OPTS_KNOWN: u32 = 1 << 2;
    /// The check was made against a user namespace other than the initial one.
    pub const FOREIGN_USERNS: u32 = 1 << 3;
}

/// Bits of the kernel's `opts` argument of `cap_capable` (include/linux/security.h).
pub mod cap_opt {
    pub const NOAUDIT: u32 = 0x2;
    pub const INSETID: u32 = 0x4;
}

/// How the kernel programs decide whether a task belongs to the target.
pub mod mode {
    /// Every task on the host.
    pub const ALL: u32 = 0;
    /// Tasks whose cgroup v2 ancestor at `TARGET_CGROUP_LEVEL` is in the `CGROUPS` map.
    pub const CGROUP: u32 = 1;
    /// Tasks whose tgid is in the `PIDS` map (kept current on fork and exit).
    pub const PIDS: u32 = 2;
}

/// Values of the `CGROUPS` map.
pub mod cgroup_state {
    /// Target cgroup whose first exec has not happened yet: checks are not counted.
    pub const AWAITING_EXEC: u8 = 0;
    /// Target cgroup being recorded, in the first phase of its life (its start), or with no
    /// phases at all. This and every state above it record; the key's `phase` is the state
    /// minus `RECORDING` (see [`super::phase`]).
    pub const RECORDING: u8 = 1;
}

/// The phase of a service's life a check was made in (`CheckKey::phase`): userspace moves the
/// target cgroup's state to `cgroup_state::RECORDING + phase` when a trial enters a phase.
pub mod phase {
    /// The start (and its check), or a recording without phases.
    pub const START: u32 = 0;
    /// After an `--exercise` command began.
    pub const EXERCISE: u32 = 1;
    /// After `systemctl reload` began.
    pub const RELOAD: u32 = 2;
    /// After `systemctl stop` began.
    pub const STOP: u32 = 3;
    /// Number of phases.
    pub const COUNT: u32 = 4;
}

/// Slots of the per-CPU `COUNTERS` array: what could not be kept, and what was skipped on purpose.
pub mod counter {
    /// A new aggregation key could not be inserted because `CHECKS` was full.
    pub const CHECKS_MAP_FULL: u32 = 0;
    /// A kernel stack could not be stored (stack map full or a hash collision).
    pub const STACK_LOST: u32 = 1;
    /// A key saw more distinct call sites than [`super::CALL_SITE_SLOTS`].
    pub const CALL_SITE_SLOTS_FULL: u32 = 2;
    /// A forked child could not be added to the `PIDS` map.
    pub const PIDS_MAP_FULL: u32 = 3;
    /// A kprobe entry could not be remembered for its kretprobe.
    pub const PENDING_MAP_FULL: u32 = 4;
    /// An executable path could not be stored in `EXECS`.
    pub const EXECS_MAP_FULL: u32 = 5;
    /// Checks made by the target before its exec (set-up, PATH lookup): skipped on purpose.
    pub const BEFORE_EXEC: u32 = 6;
    /// A kretprobe fired without its kprobe entry (entry lost or attached mid-call).
    pub const UNPAIRED_RETURN: u32 = 7;
    /// `capdisc trace`: an event could not be reserved in the ring buffer (it was full).
    pub const EVENTS_LOST: u32 = 8;
    /// A sampled path could not be stored (`PATHS` full).
    pub const PATHS_MAP_FULL: u32 = 9;
    /// A sandbox refusal of a new kind could not be kept (`REFUSALS` full).
    pub const REFUSALS_MAP_FULL: u32 = 10;
    /// A system call of a new kind (number and detail) could not be kept (`ACTIVITY` full).
    pub const ACTIVITY_MAP_FULL: u32 = 11;
    /// A path the target wrote or opened could not be kept (`ACTIVITY_PATHS` full).
    pub const ACTIVITY_PATHS_MAP_FULL: u32 = 12;
    /// Number of slots.
    pub const SLOTS: u32 = 13;
}

/// Aggregation key of one kind of capability check.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct CheckKey {
    /// cgroup v2 id of the checking task.
    pub cgroup_id: u64,
    /// Capability number.
    pub cap: u32,
    /// Return value of `cap_capable`: 0 granted, negative errno denied.
    pub ret: i32,
    /// System call number the task was in, or [`NO_SYSCALL`].
    pub syscall: i32,
    /// Real uid of the task.
    pub uid: u32,
    /// [`flags`] bits.
    pub flags: u32,
    /// The [`phase`] of the target's life (0 outside trials).
    pub phase: u32,
    /// Task command name.
    pub comm: [u8; COMM_LEN],
}

/// What was seen for one [`CheckKey`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CheckStats {
    /// Number of checks (atomically incremented).
    pub count: u64,
    /// `bpf_ktime_get_boot_ns` of the first and last check (the last to within a jiffy: the
    /// clock is read again only when `jiffies` moved since, see `last_jiffies`).
    pub first_ns: u64,
    pub last_ns: u64,
    /// Distinct kernel stack ids seen (0 = empty slot; ids are stored +1).
    pub call_sites: [u32; CALL_SITE_SLOTS],
    /// `bpf_jiffies64` when `last_ns` was read (kernel-side bookkeeping).
    pub last_jiffies: u64,
    /// Denied checks whose system call then returned success (0 or more), seen when the
    /// syscall-outcome program is attached (`SYSCALL_OUTCOMES`): the refusal failed nothing (a
    /// probe such as `capset`'s of CAP_SETPCAP). A denial whose outcome was not seen is in
    /// neither count.
    pub syscall_ok: u64,
    /// Denied checks whose system call then returned an error; `syscall_errno` is the last one.
    pub syscall_failed: u64,
    /// The errno (positive) the system call last returned after a denied check of this key.
    pub syscall_errno: u64,
}

/// The last key a CPU counted, with the checks counted here and not yet added to its `CHECKS`
/// entry (a per-CPU memo: a repeat of the same key is a compare and an increment, not a hash
/// update). Flushed into `CHECKS` when the CPU counts another key, when `jiffies` moved, and on
/// the 1st, 2nd, 4th... check of the key (its call-site samples). Readers add `pending` to the
/// key's count.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CheckMemo {
    pub key: CheckKey,
    /// Checks of `key` counted here only.
    pub pending: u64,
    /// The key's count as this CPU last saw it in `CHECKS` (for the sampling schedule).
    pub base: u64,
    /// `jiffies` at the last flush.
    pub jiffies: u64,
    /// 1 when `key` is set.
    pub valid: u64,
}

/// Key of a sampled path: the aggregation key and the call-site slot (index into
/// [`CheckStats::call_sites`]) whose sample it was taken with.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct PathKey {
    pub check: CheckKey,
    pub slot: u32,
    pub _pad: u32,
}

/// The path a system call named (its path argument, read from user memory), as sampled.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PathSample {
    /// Bytes in `path`, the NUL included (0: nothing could be read).
    pub len: u32,
    pub _pad: u32,
    pub path: [u8; PATH_SAMPLE_LEN],
}

/// Kernel frames carried by one trace event.
pub const TRACE_STACK_DEPTH: usize = 16;

/// One capability check as `capdisc trace` streams it through the ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TraceEvent {
    /// `bpf_ktime_get_boot_ns`.
    pub ts_ns: u64,
    pub cgroup_id: u64,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub cap: u32,
    pub ret: i32,
    pub syscall: i32,
    /// [`flags`] bits.
    pub flags: u32,
    /// Frames filled in `stack` (0 when no stack was taken).
    pub stack_len: u32,
    /// Denied checks: the checked credentials' euid and sets were read (`sets` is valid).
    pub sets_known: u32,
    pub euid: u32,
    /// Denied checks: inheritable, permitted, effective, bounding, ambient of the checked cred.
    pub sets: [u64; 5],
    pub comm: [u8; COMM_LEN],
    pub stack: [u64; TRACE_STACK_DEPTH],
    /// Bytes in `path`, the NUL included (0: the system call names no path, or it was unreadable).
    pub path_len: u32,
    pub _pad: u32,
    /// The path the system call named.
    pub path: [u8; PATH_SAMPLE_LEN],
}

/// `capdisc trace`: what a system call returned after one of its checks was denied, a ring
/// buffer item of its own (told from a [`TraceEvent`] by its size: [`SYSCALL_OUTCOME_BYTES`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SyscallOutcome {
    pub tid: u32,
    /// The system call that exited.
    pub syscall: i32,
    /// Its return value (negative errno on failure).
    pub ret: i64,
}

/// How the target's sandbox refused a system call ([`Refusal::how`], [`RefusalKey::how`]).
pub mod refusal {
    /// The call's body never ran: its exit came without its entry, which only a seccomp filter
    /// (or a tracer) can cause. Its return value is the filter's errno, or the call's own number
    /// when the filter trapped or killed (the kernel rolls the registers back before SIGSYS).
    pub const SKIPPED: u32 = 0;
    /// The call ran and failed the way a sandbox's file system fails it: EROFS from any call (a
    /// read-only mount), EACCES or EPERM from a call that names a path.
    pub const FAILED: u32 = 1;
    /// An exec of a setuid or setgid file that gained nothing: the new credentials are not the
    /// file's owner or group (`no_new_privs`, a nosuid mount). The arguments are the file's
    /// mode, its owner and group (`uid | gid << 32`), the new euid and egid (the same), and the
    /// task's `no_new_privs` bit.
    pub const NO_GAIN: u32 = 2;
}

/// Aggregation key of one kind of sandbox refusal (`REFUSALS`: trials and recordings).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RefusalKey {
    pub cgroup_id: u64,
    /// What the call returned (negative errno; or its number when trapped or killed).
    pub ret: i64,
    pub syscall: i32,
    /// One of [`refusal`].
    pub how: u32,
    /// The [`phase`] of the target's life.
    pub phase: u32,
    pub _pad: u32,
}

/// What was kept for one [`RefusalKey`]: a count and the first one's arguments, command and path.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RefusalStats {
    /// Number of refusals (atomically incremented).
    pub count: u64,
    /// The first refusal's system call arguments 0..4.
    pub args: [u64; 4],
    pub comm: [u8; COMM_LEN],
    /// Bytes in `path`, the NUL included (0: the call names no path, or it was unreadable).
    pub path_len: u32,
    pub _pad: u32,
    pub path: [u8; PATH_SAMPLE_LEN],
}

/// `capdisc trace`: one system call of the target that its sandbox refused, a ring buffer item
/// of its own (told apart by its size: [`REFUSAL_BYTES`]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Refusal {
    pub ts_ns: u64,
    pub key: RefusalKey,
    pub stats: RefusalStats,
    pub pid: u32,
    pub tid: u32,
}

/// The size of a [`Refusal`] item in the ring buffer.
pub const REFUSAL_BYTES: usize = core::mem::size_of::<Refusal>();
const _: () = assert!(REFUSAL_BYTES != core::mem::size_of::<TraceEvent>() && REFUSAL_BYTES != SYSCALL_OUTCOME_BYTES);

/// The size of a [`SyscallOutcome`] item in the ring buffer.
pub const SYSCALL_OUTCOME_BYTES: usize = core::mem::size_of::<SyscallOutcome>();

/// Arguments of a `cap_capable` call remembered between kprobe and kretprobe.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PendingCheck {
    pub cred: u64,
    pub target_ns: u64,
    pub cap: u32,
    pub opts: u32,
}

/// Executable path of a traced command, keyed by its `comm`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExePath {
    pub len: u32,
    pub _pad: u32,
    pub path: [u8; EXE_PATH_LEN],
}

/// Bytes of a watched cgroup path (`watch --cgroup`), relative to the cgroup v2 root with its
/// leading `/`, NUL-padded; longer paths are not followed in the kernel (userspace re-arms them).
pub const WATCH_PATH_LEN: usize = 128;
/// Watched cgroup paths the kernel follows through their re-creation.
pub const MAX_WATCH_PATHS: u32 = 16;

/// One watched cgroup path (slot of `WATCH_PATHS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchPath {
    pub path: [u8; WATCH_PATH_LEN],
}

/// Where the `cgroup:cgroup_mkdir` record keeps its fields (from its tracefs format), the watched
/// depth, how many `WATCH_PATHS` slots are used (0: follow nothing) and whether every new
/// cgroup is named. Slot 0 of `MKDIR_LAYOUT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MkdirLayout {
    pub root_offset: u32,
    pub level_offset: u32,
    pub id_offset: u32,
    pub path_offset: u32,
    pub level: u32,
    pub count: u32,
    /// 1: keep every new cgroup's path in `CGROUP_NAMES` (`watch` attributing in userspace: a
    /// cgroup that comes and goes between two scans is still named).
    pub name_all: u32,
    pub _pad: u32,
}

/// What the sandboxing settings depend on, kept by the sandbox's `sys_enter` program for every
/// system call of the target (recordings and trials; not `trace`): how to read one system call's
/// detail, per system call number (`ACTIVITY_ARGS`, filled by userspace from its table).
pub mod activity {
    /// No detail: the call is counted by its number alone.
    pub const NONE: u8 = 0;
    /// The detail is the argument's value, masked.
    pub const VALUE: u8 = 1;
    /// The detail is a u32 read from user memory at the argument (a pointer) plus `offset`, masked.
    pub const USER_U32: u8 = 2;

    /// `ActivityArg::path`: the call's path is not kept.
    pub const PATH_NONE: u8 = 0;
    /// The call writes the file it names (mkdir, unlink, rename...): its path is kept as written.
    pub const PATH_WRITES: u8 = 1;
    /// The call opens the file it names (open, openat...): written when the detail (its flags,
    /// masked to the writing ones) is not 0; a file only read is kept when it is under
    /// [`READ_PREFIXES`].
    pub const PATH_OPENS: u8 = 2;

    /// `ActivityPathKey::access` bits.
    pub const WRITTEN: u32 = 1;
    /// The path is relative to a directory descriptor (not the working directory): where it is
    /// cannot be told from the path alone.
    pub const BESIDE_FD: u32 = 2;

    /// The first bytes of the paths kept when only read: devices, kernel files, homes, /run.
    pub const READ_PREFIXES: [[u8; 5]; 6] = [*b"/dev/", *b"/proc", *b"/sys/", *b"/home", *b"/root", *b"/run/"];
}

/// How to read one system call's detail (slot of `ACTIVITY_ARGS`, indexed by its number).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActivityArg {
    /// One of [`activity`]'s NONE, VALUE, USER_U32.
    pub how: u8,
    /// The argument (0..4).
    pub arg: u8,
    /// With USER_U32: the byte offset in the structure the argument points at.
    pub offset: u8,
    /// One of [`activity`]'s PATH_NONE, PATH_WRITES, PATH_OPENS.
    pub path: u8,
    pub mask: u32,
}

/// Aggregation key of one kind of system call the target made (`ACTIVITY`): its number and
/// detail (a socket's family, an mmap's write and exec bits, the namespaces of an unshare...).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ActivityKey {
    pub cgroup_id: u64,
    pub syscall: i32,
    pub detail: u32,
}

/// Bytes of a path kept in `ACTIVITY_PATHS` (longer ones are cut: their directory is what the
/// settings need).
pub const ACTIVITY_PATH_LEN: usize = 128;

/// Aggregation key of one path the target wrote, or opened under [`activity::READ_PREFIXES`]
/// (`ACTIVITY_PATHS`), NUL-padded.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActivityPathKey {
    pub cgroup_id: u64,
    pub syscall: i32,
    /// [`activity::WRITTEN`], [`activity::BESIDE_FD`].
    pub access: u32,
    pub path: [u8; ACTIVITY_PATH_LEN],
}

#[cfg(feature = "user")]
mod pod {
    unsafe impl aya::Pod for super::ActivityArg {}
    unsafe impl aya::Pod for super::ActivityKey {}
    unsafe impl aya::Pod for super::ActivityPathKey {}
    // SAFETY: all of these are plain #[repr(C)] data with explicit padding and no pointers.
    unsafe impl aya::Pod for super::CheckKey {}
    unsafe impl aya::Pod for super::CheckStats {}
    unsafe impl aya::Pod for super::CheckMemo {}
    unsafe impl aya::Pod for super::PendingCheck {}
    unsafe impl aya::Pod for super::ExePath {}
    unsafe impl aya::Pod for super::TraceEvent {}
    unsafe impl aya::Pod for super::PathKey {}
    unsafe impl aya::Pod for super::PathSample {}
    unsafe impl aya::Pod for super::WatchPath {}
    unsafe impl aya::Pod for super::MkdirLayout {}
    unsafe impl aya::Pod for super::RefusalKey {}
    unsafe impl aya::Pod for super::RefusalStats {}
}
