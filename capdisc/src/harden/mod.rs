//! The subcommands that read or change a host's hardening: `apply` (a profile's drop-in installed
//! and read back), `lint` (a unit's capability settings judged), and `status`/`decode` (a
//! process's capability sets).
pub mod apply;
pub mod lint;
pub mod status;
