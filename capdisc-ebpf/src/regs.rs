//! Where a system call's number and arguments sit in `struct pt_regs`, per architecture: read by
//! the per-check path (the call a check was made in), the path sampler (its path argument) and
//! the syscall-outcome program (the call that exits).

/// Offset of the syscall number (orig_ax on x86_64, syscallno on arm64).
#[cfg(bpf_target_arch = "aarch64")]
pub const SYSCALL_NR_OFFSET: usize = 288;
#[cfg(not(bpf_target_arch = "aarch64"))]
pub const SYSCALL_NR_OFFSET: usize = 120;

/// Offsets of the system call arguments 0..4 (x86_64: di, si, dx, r10; arm64: regs[0..4]).
#[cfg(bpf_target_arch = "aarch64")]
pub const ARG_OFFSETS: [usize; 4] = [0, 8, 16, 24];
#[cfg(not(bpf_target_arch = "aarch64"))]
pub const ARG_OFFSETS: [usize; 4] = [112, 104, 96, 56];
