//! Capability names, numbers and masks: the table from include/uapi/linux/capability.h, lookup
//! in both directions, and decoding of the hex masks shown in /proc/PID/status. Numbers the table
//! does not know (a newer kernel) print as `cap_N`, never panic.
pub mod danger;

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
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_SYSLOG: u32 = 34;
pub const CAP_BPF: u32 = 39;
pub const CAP_PERFMON: u32 = 38;

/// The name of capability `number` (`CAP_...`), or `cap_N` when this table does not know it.
pub fn name(number: u32) -> String {
    CAPABILITIES.get(number as usize).map(|name| (*name).to_owned()).unwrap_or_else(|| format!("cap_{number}"))
}

/// The number of a capability given as `CAP_NET_RAW`, `cap_net_raw`, `net_raw` or `cap_13`.
pub fn number(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if let Ok(number) = bare.parse::<u32>() {
        return (number < 64).then_some(number);
    }
    CAPABILITIES.iter().position(|known| known.strip_prefix("CAP_") == Some(bare)).map(|index| index as u32)
}

/// The known capability name closest to `name` (for "did you mean" in errors).
pub fn nearest(name: &str) -> &'static str {
    let wanted = name.trim().to_ascii_uppercase();
    let wanted = if wanted.starts_with("CAP_") { wanted } else { format!("CAP_{wanted}") };
    CAPABILITIES.iter().min_by_key(|known| edit_distance(&wanted, known)).copied().unwrap_or("CAP_CHOWN")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

/// A name that must be a capability: the number, or an error suggesting the nearest name.
pub fn parse_name(name: &str) -> Result<u32, String> {
    number(name).ok_or_else(|| format!("unknown capability `{name}`; did you mean {}?", nearest(name)))
}

/// Parses a mask as written by /proc/PID/status or capsh: `0000000000000400`, `0x400`, or a
/// pasted `CapEff:\t0000000000000400` line. Returns the label (if any) and the mask.
pub fn parse_mask(text: &str) -> Result<(Option<String>, u64), String> {
    let text = text.trim();
    let (label, hex) = match text.split_once(':') {
        Some((label, hex)) if !label.is_empty() && !label.starts_with("0x") => (Some(label.trim().to_owned()), hex.trim()),
        _ => (None, text),
    };
    let digits = hex.strip_prefix("0x").or_else(|| hex.strip_prefix("0X")).unwrap_or(hex);
    u64::from_str_radix(digits, 16)
        .map(|mask| (label, mask))
        .map_err(|_| format!("`{text}` is not a capability mask; give hex like 0x400 or a `CapEff:\t...` line"))
}

/// The highest capability number the running kernel knows, from /proc/sys/kernel/cap_last_cap.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(CAPABILITIES.len() as u32 - 1)
}

/// The mask of capability names (unknown names, and numbers past 63, are left out).
pub fn mask_of<'a>(names: impl IntoIterator<Item = &'a str>) -> u64 {
    names.into_iter().filter_map(number).filter(|cap| *cap < 64).fold(0, |mask, cap| mask | 1 << cap)
}

/// The capability numbers set in a mask (bit N = capability N).
pub fn decode_mask(mask: u64) -> Vec<u32> {
    (0..64).filter(|bit| mask & (1u64 << bit) != 0).collect()
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
    fn suggests_the_nearest_name() {
        assert_eq!(nearest("cap_net_bind_servce"), "CAP_NET_BIND_SERVICE");
        assert_eq!(nearest("sys_admn"), "CAP_SYS_ADMIN");
        assert!(parse_name("CAP_NET_BIND_SERVCE").expect_err("a typo").contains("did you mean CAP_NET_BIND_SERVICE"));
    }

    #[test]
    fn parses_masks_in_the_forms_people_paste() {
        assert_eq!(parse_mask("0x400"), Ok((None, 0x400)));
        assert_eq!(parse_mask("0000000000000400"), Ok((None, 0x400)));
        assert_eq!(parse_mask("CapEff:\t0000000000000400"), Ok((Some("CapEff".into()), 0x400)));
        assert!(parse_mask("zz").is_err());
    }

    #[test]
    fn decodes_the_story_mask() {
        assert_eq!(decode_mask(0x400), vec![10]);
        assert_eq!(decode_mask(0), Vec::<u32>::new());
        assert_eq!(decode_mask(0x01ff_ffff_ffff).len(), 41);
    }
}
