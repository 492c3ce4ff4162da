//! Capability names, numbers and masks: the table from include/uapi/linux/capability.h, lookup
//! in both directions, and decoding of the hex masks shown in /proc/PID/status. Numbers the table
//! does not know (a newer kernel) print as `cap_N`, never panic.

/// Capability names by number, as systemd writes them (include/uapi/linux/capability.h, Linux 6.x;
/// CAP_LAST_CAP is 40 there).
pub const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_BPF: u32 = 39;
pub const CAP_PERFMON: u32 = 38;

/// The name of capability `number` (`CAP_...`), or `cap_N` when this table does not know it.
pub fn name(number: u32) -> String {
    CAPABILITIES
        .get(number as usize)
        .map(|name| (*name).to_owned())
        .unwrap_or_else(|| format!("cap_{number}"))
}

/// The number of a capability given as `CAP_NET_RAW`, `cap_net_raw`, `net_raw` or `cap_13`.
pub fn number(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if let Ok(number) = bare.parse::<u32>() {
        return (number < 64).then_some(number);
    }
    CAPABILITIES
        .iter()
        .position(|known| known.strip_prefix("CAP_") == Some(bare))
        .map(|index| index as u32)
}

/// The highest capability number the running kernel knows, from /proc/sys/kernel/cap_last_cap.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(CAPABILITIES.len() as u32 - 1)
}

/// The capability numbers set in a mask (bit N = capability N).
pub fn decode_mask(mask: u64) -> Vec<u32> {
    (0..64).filter(|bit| mask & (1u64 << bit) != 0).collect()
}

/// Whether capability `number` is set in the effective set of the current process.
pub fn in_own_effective_set(number: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| line.strip_prefix("CapEff:").map(str::trim).map(str::to_owned))
        })
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .is_some_and(|mask| mask & (1u64 << number) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for (index, known) in CAPABILITIES.iter().enumerate() {
            assert_eq!(name(index as u32), *known);
            assert_eq!(number(known), Some(index as u32));
        }
    }

    #[test]
    fn accepts_the_spellings_people_use() {
        assert_eq!(number("cap_net_bind_service"), Some(10));
        assert_eq!(number("NET_BIND_SERVICE"), Some(10));
        assert_eq!(number("cap_41"), Some(41));
        assert_eq!(number("cap_bogus"), None);
    }

    #[test]
    fn unknown_numbers_print_as_cap_n() {
        assert_eq!(name(41), "cap_41");
        assert_eq!(name(63), "cap_63");
    }

    #[test]
    fn decodes_the_story_mask() {
        assert_eq!(decode_mask(0x400), vec![10]);
        assert_eq!(decode_mask(0), Vec::<u32>::new());
        assert_eq!(decode_mask(0x1_ffff_ffff_ff).len(), 41);
    }
}
