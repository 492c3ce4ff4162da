//! The container outputs guest (Debian trixie, systemd as PID 1): `generate`'s container formats
//! run by the tools that read them (`formats`), a real docker daemon (`docker`), rootless podman
//! (`rootless`), and capdisc's Debian package installed, used and removed (`package`). Each test
//! starts from no container (`container::clean_slate`) plus the fixtures it needs.
mod docker;
mod formats;
mod package;
mod rootless;
