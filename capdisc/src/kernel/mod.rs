//! Facts about the running kernel, and their readers: capdisc's privileges and kernel BTF
//! (`privileges`), type offsets from BTF (`btf`), symbols (`kallsyms`), tracefs and its event
//! formats (`tracefs`), system call names and path arguments (`syscalls`), errno names
//! (`errno`), the /proc files of a process (`procfs`), where cgroup v2 is
//! mounted (`cgroup2`), and what the kernel programs log (`program_log`).
pub mod btf;
mod cgroup2;
pub mod errno;
pub mod kallsyms;
pub mod privileges;
pub mod procfs;
pub(crate) mod program_log;
pub mod syscalls;
pub mod tracefs;

pub use cgroup2::cgroup2_mount;
