//! The subcommands that read or change a host's hardening: `apply` (a profile's drop-in installed
//! and read back), `lint` (a unit's capability settings judged), and `status`/`decode` (a
//! process's capability sets); and `sandboxing`, the sandboxing settings a recording allows (a
//! container's: `container_sandbox`).
pub mod apply;
pub mod container_sandbox;
pub mod lint;
pub mod sandboxing;
pub mod status;
