//! Failures that say what was expected and what came.
use std::fmt::Debug;

/// Panics unless `came == expected`, naming `what`.
#[track_caller]
pub fn equal<T: PartialEq + Debug + ?Sized>(what: &str, came: &T, expected: &T) {
    if came != expected {
        panic!("{what}\nexpected: {expected:?}\ncame:     {came:?}");
    }
}

/// Panics unless `holds`, naming what was expected and what came.
#[track_caller]
pub fn that(holds: bool, expected: &str, came: impl Debug) {
    if !holds {
        panic!("expected: {expected}\ncame:     {came:?}");
    }
}
