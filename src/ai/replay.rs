//! Recorded AI answers, replayed: what keeps `simulate` deterministic when
//! its policies ask the AI. A recording holds the model's raw answer, not a
//! choice, so a replayed answer passes the same parsing and validation as a
//! live one (an answer recorded against another policy is rejected, not
//! trusted).
//!
//! File format (YAML), answers in the order cases arrive per object:
//!
//! ```yaml
//! answers:
//!   - object: deployments/shop/checkout     # the case's object
//!     policy: checkout-errors                # optional: any policy
//!     model: smollm2-135m                    # optional, for the record
//!     answer: '{"action":"rollback","target":"deployments/shop/checkout","confidence":0.7,"reasoning":["bad rollout"]}'
//!   - object: deployments/shop/search
//!     error: timed out                       # the call failed: fallback
//! ```

use super::answer;
use super::case::Case;
use super::verdict::{Verdict, Why};
use super::Analyzer;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// One recorded answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedAnswer {
    /// The case's object: `deployments/shop/checkout`.
    pub object: String,
    /// The policy, when the recording is for one policy only.
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// The model's raw answer text; exactly one of `answer` and `error`.
    #[serde(default)]
    pub answer: Option<String>,
    /// The call failed this way (an unreachable or timed-out model).
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    pub answers: Vec<RecordedAnswer>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recorded AI answers: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("recorded AI answer {index} (for {object}) needs exactly one of `answer` and `error`")]
    AnswerOrError { index: usize, object: String },
}

/// Parses a recording.
pub fn parse(text: &str) -> Result<Recording, RecordingError> {
    let recording: Recording = serde_yaml::from_str(text)?;
    for (index, a) in recording.answers.iter().enumerate() {
        if a.answer.is_some() == a.error.is_some() {
            return Err(RecordingError::AnswerOrError {
                index,
                object: a.object.clone(),
            });
        }
    }
    Ok(recording)
}

/// Answers cases from a recording, in order per object; a case with no
/// recorded answer left gets the fallback ("no recorded answer").
#[derive(Debug, Default)]
pub struct ReplayAnalyzer {
    queues: Mutex<HashMap<String, VecDeque<RecordedAnswer>>>,
}

impl ReplayAnalyzer {
    pub fn new(recording: Recording) -> ReplayAnalyzer {
        let mut queues: HashMap<String, VecDeque<RecordedAnswer>> = HashMap::new();
        for answer in recording.answers {
            queues
                .entry(answer.object.clone())
                .or_default()
                .push_back(answer);
        }
        ReplayAnalyzer {
            queues: Mutex::new(queues),
        }
    }

    /// The verdict for `case`, consuming its next recorded answer.
    pub fn replay(&self, case: &Case) -> Verdict {
        let next = self.queues.lock().ok().and_then(|mut queues| {
            let queue = queues.get_mut(&case.object)?;
            let at = queue
                .iter()
                .position(|a| a.policy.as_ref().is_none_or(|p| *p == case.policy))?;
            queue.remove(at)
        });
        let Some(recorded) = next else {
            return Verdict::failed(
                case,
                Why::Unreachable(format!("no recorded answer for {}", case.object)),
                "replay",
                Duration::ZERO,
            );
        };
        let model = recorded.model.as_deref().unwrap_or("replay");
        let latency = Duration::from_millis(recorded.latency_ms.unwrap_or(0));
        match (&recorded.answer, &recorded.error) {
            (Some(text), _) => Verdict::judged(
                case,
                answer::judge(case, text),
                model,
                None,
                latency,
                Some(text),
            ),
            (None, error) => Verdict::failed(
                case,
                Why::Unreachable(error.clone().unwrap_or_default()),
                model,
                latency,
            ),
        }
    }
}

impl Analyzer for ReplayAnalyzer {
    fn analyze(&self, case: &Case) -> impl Future<Output = Verdict> + Send {
        std::future::ready(self.replay(case))
    }
}
