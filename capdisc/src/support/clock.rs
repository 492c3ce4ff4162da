//! Time: converting the kernel's CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns) to wall
//! clock, and RFC 3339 text.
use std::time::{Duration, SystemTime};

pub struct BootClock {
    wall: SystemTime,
    boot_ns: u64,
}

impl BootClock {
    pub fn now() -> Self {
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) };
        Self { wall: SystemTime::now(), boot_ns: now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64 }
    }

    pub fn wall(&self, boot_ns: u64) -> SystemTime {
        let before = self.boot_ns.saturating_sub(boot_ns);
        let after = boot_ns.saturating_sub(self.boot_ns);
        self.wall - Duration::from_nanos(before) + Duration::from_nanos(after)
    }
}

pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}
