//! Options that remove capabilities from the bounding set without naming them. Source:
//! systemd.exec(5) (systemd 252): ProtectClock= drops CAP_SYS_TIME and CAP_WAKE_ALARM,
//! ProtectKernelModules= drops CAP_SYS_MODULE, ProtectKernelLogs= drops CAP_SYSLOG,
//! PrivateDevices= drops CAP_MKNOD and CAP_SYS_RAWIO.
pub const IMPLICIT_DROPS: &[(&str, &[&str])] = &[
    ("ProtectClock", &["CAP_SYS_TIME", "CAP_WAKE_ALARM"]),
    ("ProtectKernelModules", &["CAP_SYS_MODULE"]),
    ("ProtectKernelLogs", &["CAP_SYSLOG"]),
    ("PrivateDevices", &["CAP_MKNOD", "CAP_SYS_RAWIO"]),
];
