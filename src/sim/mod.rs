//! Simulation inputs: what `kubeskippy test` and `kubeskippy simulate` feed the
//! engine instead of a cluster.
//!
//! Pure like the engine: a simulation's clock is virtual and every input is
//! given, so the same input always produces the same output.

mod budget;
pub mod explain;
pub mod notation;
mod rng;
pub mod scenario;
pub mod simulate;
pub mod unit_test;
pub mod world;
pub mod yaml_depth;

/// An input file (a test file, a scenario) that cannot be read as one: where
/// and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", location.map_or(String::new(), |(l, c)| format!("{l}:{c}: ")))]
pub struct FormatError {
    /// 1-based line and column, when known.
    pub location: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

/// Reads YAML into `T`, with serde_yaml's location moved out of its message.
/// Nesting past [`yaml_depth::MAX_DEPTH`] is refused before the parser runs.
fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, FormatError> {
    if let Some(location) = yaml_depth::too_deep(text) {
        return Err(FormatError {
            location: Some(location),
            message: format!(
                "the YAML nests more than {} levels deep here; a test or scenario file needs about eight",
                yaml_depth::MAX_DEPTH
            ),
        });
    }
    serde_yaml::from_str(text).map_err(|e| {
        let location = e.location().map(|l| (l.line(), l.column()));
        let mut message = e.to_string();
        // serde_yaml ends its message with the location, which leads here.
        if let Some((line, column)) = location {
            let suffix = format!(" at line {line} column {column}");
            if let Some(at) = message.find(&suffix) {
                message.replace_range(at..at + suffix.len(), "");
            }
        }
        FormatError { location, message }
    })
}
