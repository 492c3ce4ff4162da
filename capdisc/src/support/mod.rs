//! Helpers every layer uses: time (`clock`: the kernel's boot clock to wall clock, RFC 3339) and
//! files written atomically and durably (`files`).
pub mod clock;
pub mod files;
