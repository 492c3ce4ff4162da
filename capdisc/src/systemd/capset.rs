//! `CapabilityBoundingSet=` / `AmbientCapabilities=` semantics (systemd.exec(5)): a first
//! assignment (or one after an empty reset) replaces; later plain lines OR; later `~` lines AND
//! with the complement; an empty value resets to empty; a bare `~` resets to all. Names need the
//! `cap_` prefix (any case): systemd silently ignores others, so they are reported here.
use crate::caps;

/// Every capability the running kernel knows.
pub fn all_caps() -> u64 {
    let last = caps::last_cap().min(63);
    if last == 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    }
}

/// One parsed assignment.
#[derive(Debug, PartialEq, Eq)]
pub struct Assignment {
    pub invert: bool,
    pub mask: u64,
    /// Words systemd would ignore (no `cap_` prefix, or unknown).
    pub ignored: Vec<String>,
}

pub fn parse_assignment(value: &str) -> Assignment {
    let value = value.trim();
    let (invert, list) = match value.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let mut mask = 0;
    let mut ignored = Vec::new();
    for word in list.split_whitespace() {
        // Bytes, not chars: the word may hold any UTF-8 (found by fuzzing).
        let known = word.len() > 4 && word.as_bytes()[..4].eq_ignore_ascii_case(b"cap_");
        match caps::number(word).filter(|_| known) {
            Some(number) if number < 64 => mask |= 1u64 << number,
            _ => ignored.push(word.to_owned()),
        }
    }
    Assignment { invert, mask, ignored }
}

/// Folds assignments in order.
#[derive(Debug, Default)]
pub struct CapSetBuilder {
    value: Option<u64>,
    pub ignored: Vec<String>,
}

impl CapSetBuilder {
    pub fn apply(&mut self, raw: &str) {
        let assignment = parse_assignment(raw);
        self.ignored.extend(assignment.ignored.iter().cloned());
        let all = all_caps();
        let empty_value = raw.trim().is_empty();
        let next = if empty_value {
            0
        } else if raw.trim() == "~" {
            all
        } else {
            let sum = if assignment.invert { all & !assignment.mask } else { assignment.mask };
            match self.value {
                None | Some(0) => sum,
                Some(current) if assignment.invert => current & sum,
                Some(current) => current | sum,
            }
        };
        self.value = Some(next);
    }

    /// The set, or None when never assigned (systemd's default applies).
    pub fn value(&self) -> Option<u64> {
        self.value
    }
}

/// `CAP_A CAP_B` for a mask (names as systemd writes them).
pub fn mask_names(mask: u64) -> Vec<String> {
    caps::decode_mask(mask).into_iter().map(caps::name).collect()
}

/// `CAP_A CAP_B`, or `(none)` for an empty set: for messages.
pub fn mask_text(mask: u64) -> String {
    if mask == 0 {
        "(none)".into()
    } else {
        mask_names(mask).join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(lines: &[&str]) -> Option<u64> {
        let mut set = CapSetBuilder::default();
        for line in lines {
            set.apply(line);
        }
        set.value()
    }

    const NET_BIND: u64 = 1 << 10;
    const NET_RAW: u64 = 1 << 13;

    #[test]
    fn first_assignment_replaces_later_plain_lines_widen() {
        assert_eq!(fold(&["CAP_NET_BIND_SERVICE"]), Some(NET_BIND));
        assert_eq!(fold(&["CAP_NET_BIND_SERVICE", "cap_net_raw"]), Some(NET_BIND | NET_RAW));
    }

    #[test]
    fn tilde_lines_narrow_and_empty_resets() {
        assert_eq!(fold(&["CAP_NET_BIND_SERVICE CAP_NET_RAW", "~CAP_NET_RAW"]), Some(NET_BIND));
        assert_eq!(fold(&["CAP_NET_RAW", ""]), Some(0));
        assert_eq!(fold(&["CAP_NET_RAW", "", "CAP_NET_BIND_SERVICE"]), Some(NET_BIND));
        assert_eq!(fold(&["", "~"]), Some(all_caps()));
        assert_eq!(fold(&["~CAP_NET_RAW"]), Some(all_caps() & !NET_RAW));
        assert_eq!(fold(&[]), None);
    }

    #[test]
    fn words_with_any_utf8_are_ignored_not_a_panic() {
        assert_eq!(parse_assignment("ž\u{fffd}NET_BIND_SERVICE caž_x CAP_KILL").mask, 1 << 5);
    }

    #[test]
    fn names_without_the_cap_prefix_are_ignored_like_systemd_does() {
        let assignment = parse_assignment("net_bind_service CAP_BOGUS cap_net_raw");
        assert_eq!(assignment.mask, NET_RAW);
        assert_eq!(assignment.ignored, vec!["net_bind_service", "CAP_BOGUS"]);
    }
}
