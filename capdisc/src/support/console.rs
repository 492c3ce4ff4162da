//! What capdisc prints to a person, in one place: every line on stderr starts `capdisc: `
//! (`warning: ` and `note: ` after it where they apply), and nothing printed ever panics. A
//! closed or full stderr or stdout (`capdisc record ... 2>&1 | head -1`) loses the text, never
//! the run: the recording is written, capdisc's cgroups removed and units put back, and the exit
//! status is the run's own. (The standard `eprintln!` panics on a broken pipe, which skipped
//! exactly that clean-up.)
use std::{
    fmt,
    io::{self, Write},
};

/// The prefix of every line capdisc prints on stderr.
pub const PREFIX: &str = "capdisc: ";

/// Writes one line to stderr: `capdisc: `, `kind` (`""`, `"warning: "`, `"note: "`,
/// `"error: "`, the last from `main`), the text.
pub fn line(kind: &str, text: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{PREFIX}{kind}{text}");
}

/// Writes text to stderr as it is (a table, a continued line).
pub fn write_raw(text: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(text);
}

/// Writes text to stdout as it is (results a script reads); a reader that went away loses it.
pub fn write_out(text: fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_fmt(text).and_then(|()| stdout.flush());
}

/// `capdisc: TEXT` on stderr.
macro_rules! say {
    ($($arg:tt)*) => { $crate::support::console::line("", format_args!($($arg)*)) };
}

/// `capdisc: warning: TEXT` on stderr.
macro_rules! warning {
    ($($arg:tt)*) => { $crate::support::console::line("warning: ", format_args!($($arg)*)) };
}

/// `capdisc: note: TEXT` on stderr.
macro_rules! note {
    ($($arg:tt)*) => { $crate::support::console::line("note: ", format_args!($($arg)*)) };
}

/// Text on stderr without the prefix or a newline (`eprint!` that cannot panic).
macro_rules! raw {
    ($($arg:tt)*) => { $crate::support::console::write_raw(format_args!($($arg)*)) };
}

/// A line on stdout (`println!` that cannot panic).
macro_rules! outln {
    () => { $crate::support::console::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::support::console::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Text on stdout without a newline (`print!` that cannot panic).
macro_rules! out {
    ($($arg:tt)*) => { $crate::support::console::write_out(format_args!($($arg)*)) };
}

pub(crate) use {note, out, outln, raw, say, warning};
