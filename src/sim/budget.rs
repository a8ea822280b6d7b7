//! What one test file may cost in all, not per series. serde_yaml replays an
//! aliased node at each of its uses, so a 5 KB file that names one
//! 1,000,000-point series in 100 targets expanded it 100 times (3.2 GB), and
//! 100 cases that alias one long case ran it 100 times.
//!
//! Points of series and status timelines, targets, events, cases and
//! expectations are charged to one budget as they are read, so reading stops
//! at the first use past it; the evaluations a file asks for are counted
//! before any runs. The budget lives in a thread-local scoped to one parse,
//! because serde's derive gives a field's deserializer no state of its own.

use super::unit_test::TestFile;
use super::FormatError;
use serde::{Deserialize, Deserializer};
use std::cell::Cell;

/// The most points (and targets, events, cases and expectations) one test
/// file may hold, aliases expanded: four series of a million points.
pub const MAX_FILE_POINTS: usize = 4_000_000;

/// The most target-evaluations (targets × evaluations, over all cases) one
/// test file may ask for: a week at 15 s of 500 targets is 20 million.
pub const MAX_FILE_EVALUATIONS: u64 = 20_000_000;

thread_local! {
    /// What the parse under way may still read; `None` outside one.
    static LEFT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Runs `parse` with a fresh budget of [`MAX_FILE_POINTS`].
pub(super) fn scoped<T>(parse: impl FnOnce() -> T) -> T {
    /// Restores the outer budget however `parse` ends.
    struct Restore(Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LEFT.set(self.0);
        }
    }
    let _restore = Restore(LEFT.replace(Some(MAX_FILE_POINTS)));
    parse()
}

/// Charges `count` to the budget of the parse under way.
pub(super) fn charge(count: usize) -> Result<(), String> {
    match LEFT.get() {
        Some(left) if count > left => {
            LEFT.set(Some(0));
            Err(format!(
                "the file holds more than {MAX_FILE_POINTS} points, targets, events and expectations in all, counting each use of a YAML alias"
            ))
        }
        Some(left) => {
            LEFT.set(Some(left - count));
            Ok(())
        }
        None => Ok(()),
    }
}

/// Reads a list, charging one per element.
pub(super) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let items = Vec::<T>::deserialize(d)?;
    charge(items.len()).map_err(serde::de::Error::custom)?;
    Ok(items)
}

/// Checks the evaluations `file` asks for against [`MAX_FILE_EVALUATIONS`]:
/// each case runs from 0 to its last `at`, over its targets.
pub(super) fn check_evaluations(file: &TestFile) -> Result<(), FormatError> {
    let interval = file.interval.0.max(1);
    let mut total: u64 = 0;
    for case in &file.tests {
        let last = case.expect.iter().map(|e| e.at.0).max().unwrap_or(0);
        let targets = u64::try_from(case.targets.len().max(1)).unwrap_or(u64::MAX);
        total = total.saturating_add((last / interval + 1).saturating_mul(targets));
        if total > MAX_FILE_EVALUATIONS {
            return Err(FormatError {
                location: None,
                message: format!(
                    "test `{}`: with it the file asks for more than {MAX_FILE_EVALUATIONS} target-evaluations (targets × evaluations up to the last `at`, over all tests, counting each use of a YAML alias)",
                    case.name
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_has_its_own_budget_and_outside_one_nothing_is_charged() {
        assert_eq!(charge(usize::MAX), Ok(()));
        scoped(|| {
            assert_eq!(charge(MAX_FILE_POINTS - 1), Ok(()));
            // A nested parse does not spend the outer one's budget.
            scoped(|| assert_eq!(charge(MAX_FILE_POINTS), Ok(())));
            assert_eq!(charge(1), Ok(()));
            assert!(charge(1).is_err());
        });
        assert_eq!(charge(usize::MAX), Ok(()));
    }
}
