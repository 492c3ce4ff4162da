//! The suite's count of passed and failed checks, summed over cargo tests and VM comparisons.

#[derive(Default)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
}
