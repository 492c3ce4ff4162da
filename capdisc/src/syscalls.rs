//! System call numbers to names for the architecture capdisc was built for.
use capdisc_common::NO_SYSCALL;

/// `bind`, `chown`...; `none` outside a system call; `syscall_N` for numbers the table lacks.
pub fn name(number: i32) -> String {
    if number == NO_SYSCALL {
        return "none".to_owned();
    }
    usize::try_from(number)
        .ok()
        .and_then(syscalls::Sysno::new)
        .map(|sysno| sysno.name().to_owned())
        .unwrap_or_else(|| format!("syscall_{number}"))
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn names_x86_64_numbers() {
        assert_eq!(super::name(49), "bind");
        assert_eq!(super::name(92), "chown");
        assert_eq!(super::name(-1), "none");
        assert_eq!(super::name(100_000), "syscall_100000");
    }
}
