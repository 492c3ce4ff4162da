//! The per-check path shared by every backend: filter, build the key, count atomically, and
//! sample the kernel call site on the 1st, 2nd, 4th, 8th... check of each key (a stack walk
//! costs several times the check itself, so it never happens on every check). `capdisc trace`
//! streams each check instead (`stream`).
use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
        generated::{bpf_get_current_task_btf, bpf_jiffies64, bpf_ktime_get_boot_ns, bpf_task_pt_regs},
    },
    programs::tracing::StackIdContext,
    EbpfContext,
};
use aya_log_ebpf::warn;
use capdisc_common::{cap_opt, counter, flags, CheckKey, CheckMemo, CheckStats, PathKey, COMM_LEN, NO_SYSCALL};

use crate::{
    filter::current_target,
    maps::{
        bump, constant, CHECKS, CRED_UID_OFFSET, INIT_USER_NS, JIFFY_CLOCK, MEMO, PATHS, PATH_SCRATCH, SELF_TGID, STACKS, STREAM,
        STREAM_STACKS, TASK_COMM_OFFSET, TASK_CRED_OFFSET, USERNS, USE_MEMO,
    },
    outcome,
    path::read_syscall_path,
    regs::SYSCALL_NR_OFFSET,
    stream,
};

/// One `cap_capable` call as a backend saw it.
pub struct Check {
    /// The credentials being checked (`const struct cred *`).
    pub cred: u64,
    pub cap: u32,
    pub ret: i32,
    pub target_ns: u64,
    /// `opts`, when the backend can see it (fexit, kprobe).
    pub opts: Option<u32>,
}

#[inline(always)]
pub fn on_check<C: EbpfContext + StackIdContext>(ctx: &C, check: Check) {
    let Some((cgroup_id, phase)) = current_target() else {
        if constant(&INIT_USER_NS) == 0 {
            // Address unknown to userspace: learn it from capdisc's own calibration check
            // (capdisc is never a target, so this sits on the miss path).
            learn_init_user_ns(check.target_ns);
        }
        return;
    };
    let init_user_ns = match constant(&INIT_USER_NS) {
        0 => USERNS.get(0).copied().unwrap_or(0),
        known => known,
    };
    let mut key_flags = 0;
    if let Some(opts) = check.opts {
        key_flags |= flags::OPTS_KNOWN;
        if opts & cap_opt::NOAUDIT != 0 {
            key_flags |= flags::NOAUDIT;
        }
        if opts & cap_opt::INSETID != 0 {
            key_flags |= flags::INSETID;
        }
    }
    if init_user_ns != 0 && check.target_ns != init_user_ns {
        key_flags |= flags::FOREIGN_USERNS;
    }
    let task = unsafe { bpf_get_current_task_btf() } as *const u8;
    let key = CheckKey {
        cgroup_id,
        cap: check.cap,
        ret: check.ret,
        syscall: current_syscall(task),
        uid: current_uid(task),
        flags: key_flags,
        phase,
        comm: current_comm(task),
    };
    if check.ret != 0 {
        outcome::denied_in_flight(&key);
    }
    if constant(&STREAM) != 0 {
        // The tracepoint has no opts: its events always carry the stack, so userspace can
        // tell no-audit call sites.
        // The tracepoint has no opts, and a denial may be a file-permission fallback: both are
        // told apart by the call site, so those events always carry the stack.
        let with_stack = constant(&STREAM_STACKS) != 0 || check.opts.is_none() || check.ret != 0;
        stream::emit(ctx, &key, check.cred, with_stack, task);
        return;
    }
    let jiffies = if constant(&JIFFY_CLOCK) != 0 { unsafe { bpf_jiffies64() } } else { 0 };
    let memo = if constant(&USE_MEMO) != 0 { MEMO.get_ptr_mut(0) } else { None };
    if let Some(memo) = memo {
        if unsafe { (*memo).valid != 0 && same_key(&(*memo).key, &key) } {
            count_in_memo(ctx, memo, jiffies, &key, task);
            return;
        }
        flush_memo(memo);
    }
    if let Some(stats) = CHECKS.get_ptr_mut(&key) {
        count(ctx, stats, jiffies, &key, task);
        if let Some(memo) = memo {
            take_memo(memo, &key, stats, jiffies);
        }
        return;
    }
    let now = unsafe { bpf_ktime_get_boot_ns() };
    let fresh = CheckStats { count: 1, first_ns: now, last_ns: now, last_jiffies: jiffies, ..CheckStats::default() };
    // BPF_NOEXIST: when another CPU inserted the key meanwhile, count into its entry.
    match CHECKS.insert(&key, &fresh, 1) {
        Ok(()) => {
            if let Some(stats) = CHECKS.get_ptr_mut(&key) {
                sample_call_site(ctx, stats, &key, task);
                if let Some(memo) = memo {
                    take_memo(memo, &key, stats, jiffies);
                }
            }
        }
        Err(_) => match CHECKS.get_ptr_mut(&key) {
            Some(stats) => count(ctx, stats, jiffies, &key, task),
            None => {
                if bump(counter::CHECKS_MAP_FULL) == 0 {
                    warn!(ctx, "capdisc: CHECKS map full, new kinds of checks are counted as lost");
                }
            }
        },
    }
}

#[inline(always)]
fn count<C: StackIdContext>(ctx: &C, stats: *mut CheckStats, jiffies: u64, key: &CheckKey, task: *const u8) {
    let seen = unsafe {
        let seen = (*stats).count;
        // An atomic add: two CPUs counting the same key must not lose increments.
        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*stats).count, 1);
        // The clock only when a jiffy passed since it was read for this key (every time without
        // JIFFY_CLOCK).
        if constant(&JIFFY_CLOCK) == 0 || (*stats).last_jiffies != jiffies {
            (*stats).last_ns = bpf_ktime_get_boot_ns();
            (*stats).last_jiffies = jiffies;
        }
        seen
    };
    if seen & seen.wrapping_sub(1) == 0 {
        sample_call_site(ctx, stats, key, task);
    }
}

/// Whether two keys are the same (six 8-byte compares).
#[inline(always)]
fn same_key(a: &CheckKey, b: &CheckKey) -> bool {
    let (a, b) = unsafe { (&*(a as *const CheckKey as *const [u64; 6]), &*(b as *const CheckKey as *const [u64; 6])) };
    a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5]
}

/// A repeat of the CPU's last key: counted in the memo; flushed into `CHECKS` when a jiffy passed
/// (`last_ns`) or the check is one to sample (1st, 2nd, 4th...).
#[inline(always)]
fn count_in_memo<C: StackIdContext>(ctx: &C, memo: *mut CheckMemo, jiffies: u64, key: &CheckKey, task: *const u8) {
    unsafe {
        let seen = (*memo).base + (*memo).pending;
        (*memo).pending += 1;
        let sample = seen & seen.wrapping_sub(1) == 0;
        if (*memo).jiffies == jiffies && !sample {
            return;
        }
        let Some(stats) = CHECKS.get_ptr_mut(key) else {
            // The entry went (userspace deleted it): re-created with what the memo holds.
            flush_memo(memo);
            return;
        };
        let pending = (*memo).pending;
        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*stats).count, pending);
        (*memo).pending = 0;
        // (The add's own result is not available on every BPF CPU version; a plain read is
        // enough for the sampling schedule.)
        (*memo).base = (*stats).count;
        (*memo).jiffies = jiffies;
        (*stats).last_ns = bpf_ktime_get_boot_ns();
        (*stats).last_jiffies = jiffies;
        if sample {
            sample_call_site(ctx, stats, key, task);
        }
    }
}

/// Adds the memo's pending checks to its key's entry (re-created if userspace deleted it, so
/// nothing counted is lost) and empties the memo.
#[inline(always)]
fn flush_memo(memo: *mut CheckMemo) {
    unsafe {
        if (*memo).valid == 0 {
            return;
        }
        (*memo).valid = 0;
        let pending = (*memo).pending;
        if pending == 0 {
            return;
        }
        (*memo).pending = 0;
        let key = (*memo).key;
        match CHECKS.get_ptr_mut(&key) {
            Some(stats) => {
                atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*stats).count, pending);
            }
            None => {
                let now = bpf_ktime_get_boot_ns();
                let fresh = CheckStats { count: pending, first_ns: now, last_ns: now, ..CheckStats::default() };
                if CHECKS.insert(&key, &fresh, 1).is_err() {
                    if let Some(stats) = CHECKS.get_ptr_mut(&key) {
                        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*stats).count, pending);
                    } else {
                        bump(counter::CHECKS_MAP_FULL);
                    }
                }
            }
        }
    }
}

/// The key just counted in `CHECKS` becomes the CPU's memo.
#[inline(always)]
fn take_memo(memo: *mut CheckMemo, key: &CheckKey, stats: *mut CheckStats, jiffies: u64) {
    unsafe {
        (*memo).key = *key;
        (*memo).pending = 0;
        (*memo).base = (*stats).count;
        (*memo).jiffies = jiffies;
        (*memo).valid = 1;
    }
}

/// Takes the kernel stack and remembers its id in the first free slot, unless already there; a
/// new call site also gets the path its system call named.
#[inline(always)]
fn sample_call_site<C: StackIdContext>(ctx: &C, stats: *mut CheckStats, key: &CheckKey, task: *const u8) {
    let id = match ctx.get_stackid(&STACKS, 0) {
        Ok(id) => id as u32 + 1,
        Err(_) => {
            bump(counter::STACK_LOST);
            return;
        }
    };
    let slots = unsafe { &mut (*stats).call_sites };
    for (index, slot) in slots.iter_mut().enumerate() {
        if *slot == id {
            return;
        }
        if *slot == 0 {
            *slot = id;
            sample_path(key, index as u32, task);
            return;
        }
    }
    bump(counter::CALL_SITE_SLOTS_FULL);
}

/// Reads the path argument of the current system call (when it has one) from user memory into
/// `PATHS`, for the call-site slot just filled. Only ever on the sampled path.
#[inline(always)]
fn sample_path(key: &CheckKey, slot: u32, task: *const u8) {
    let Some(sample) = PATH_SCRATCH.get_ptr_mut(0) else { return };
    unsafe {
        (*sample).len = read_syscall_path(key.syscall, task, &mut (*sample).path);
        if (*sample).len == 0 {
            return;
        }
        let path_key = PathKey { check: *key, slot, _pad: 0 };
        if PATHS.insert(&path_key, &*sample, 1).is_err() {
            bump(counter::PATHS_MAP_FULL);
        }
    }
}

#[inline(always)]
fn learn_init_user_ns(target_ns: u64) {
    if let Some(slot) = USERNS.get_ptr_mut(0) {
        unsafe {
            if *slot == 0 && (bpf_get_current_pid_tgid() >> 32) as u32 == constant(&SELF_TGID) {
                *slot = target_ns;
            }
        }
    }
}

/// The current task's real uid: two direct loads through the BTF task pointer (`task->cred`,
/// then `cred->uid`) when userspace found both offsets in kernel BTF, the helper otherwise (the
/// same value: the helper maps the kuid into the initial user namespace, where it is itself).
#[inline(always)]
fn current_uid(task: *const u8) -> u32 {
    let (cred_offset, uid_offset) = (constant(&TASK_CRED_OFFSET) as usize, constant(&CRED_UID_OFFSET) as usize);
    if cred_offset == 0 || uid_offset == 0 || task.is_null() {
        return bpf_get_current_uid_gid() as u32;
    }
    unsafe {
        let cred = core::ptr::read_volatile(task.add(cred_offset) as *const *const u8);
        if cred.is_null() {
            return bpf_get_current_uid_gid() as u32;
        }
        core::ptr::read_volatile(cred.add(uid_offset) as *const u32)
    }
}

/// The current task's comm: two direct loads through the BTF task pointer when userspace found
/// `task_struct.comm` in kernel BTF, the helper otherwise.
#[inline(always)]
fn current_comm(task: *const u8) -> [u8; COMM_LEN] {
    let offset = constant(&TASK_COMM_OFFSET) as usize;
    if offset == 0 || task.is_null() {
        return bpf_get_current_comm().unwrap_or([0; COMM_LEN]);
    }
    unsafe {
        let words =
            [core::ptr::read_volatile(task.add(offset) as *const u64), core::ptr::read_volatile(task.add(offset + 8) as *const u64)];
        core::mem::transmute::<[u64; 2], [u8; COMM_LEN]>(words)
    }
}

/// The system call the current task is in, from its user-mode registers.
#[inline(always)]
fn current_syscall(task: *const u8) -> i32 {
    unsafe {
        let regs = bpf_task_pt_regs(task as *mut _) as *const u8;
        if regs.is_null() {
            return NO_SYSCALL;
        }
        // `regs` is a BTF pointer (PTR_TO_BTF_ID): a direct load, no helper call.
        core::ptr::read_volatile(regs.add(SYSCALL_NR_OFFSET) as *const i64) as i32
    }
}
