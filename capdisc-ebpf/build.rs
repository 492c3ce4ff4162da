//! Rebuild the kernel programs when bpf-linker changes (it does the final link).
use std::env;

fn main() {
    let linker = which::which("bpf-linker").unwrap_or_else(|_| {
        // Not fatal here: cargo reports the missing linker itself, and `cargo xtask setup`
        // installs it.
        println!("cargo:warning=bpf-linker not found on PATH; run `cargo xtask setup`");
        env::current_dir().unwrap_or_default()
    });
    println!("cargo:rerun-if-changed={}", linker.display());
    println!("cargo::rustc-check-cfg=cfg(bpf_target_arch, values(\"x86_64\", \"aarch64\"))");
}
