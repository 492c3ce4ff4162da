//! Helpers every layer uses: time (`clock`: the kernel's boot clock to wall clock, RFC 3339),
//! files written atomically and durably (`files`), and what capdisc prints to a person
//! (`console`: one prefix, never a panic on a closed pipe).
pub mod clock;
pub mod console;
pub mod files;
