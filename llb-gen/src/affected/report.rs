//! The decisions as CI reads them (the `targets --json` plan of the built targets, with the
//! skipped ones beside it) and as a person asks for them (`--explain TARGET`).

use serde::Serialize;

use super::{Affected, Decision, NOTE};
use crate::error::Error;
use crate::matrix;
use crate::target::TargetInfo;

/// `llb-gen targets --json` with a change: the plan of the targets to build, in the shape CI
/// already reads, and the skipped targets beside it.
#[derive(Debug, Serialize)]
pub struct ChangePlan {
    /// The jobs of the built targets only.
    #[serde(flatten)]
    pub plan: matrix::Plan,
    /// Each built target with why.
    pub built: Vec<Reasoned>,
    /// Each skipped target with why nothing it is made of changed.
    pub skipped: Vec<Reasoned>,
    /// What the plan cannot see.
    pub note: &'static str,
}

/// A target and the reasons of its decision, in words.
#[derive(Debug, Serialize)]
pub struct Reasoned {
    /// The target.
    pub target: String,
    /// Why, one sentence.
    pub reason: String,
}

impl Affected {
    /// The CI plan of the built targets among `targets` (as `target::list` gives them).
    pub fn plan(&self, image: &str, platforms: &[String], targets: &[TargetInfo]) -> ChangePlan {
        let built: Vec<TargetInfo> = targets
            .iter()
            .filter(|info| self.decision(&info.name).is_none_or(|d| d.built))
            .cloned()
            .collect();
        let reasoned = |built: bool| {
            self.decisions
                .iter()
                .filter(|decision| decision.built == built)
                .map(|decision| Reasoned {
                    target: decision.target.clone(),
                    reason: decision.reasons.join("; "),
                })
                .collect()
        };
        ChangePlan {
            plan: matrix::plan(image, platforms, &built),
            built: reasoned(true),
            skipped: reasoned(false),
            note: NOTE,
        }
    }

    /// Whether `target` is built and why, in words, for `--explain`.
    pub fn explain(&self, target: &str) -> Result<String, Error> {
        let decision = self.decision(target).ok_or_else(|| Error::UnknownTarget {
            target: target.to_owned(),
            available: self.decisions.iter().map(|d| d.target.clone()).collect(),
        })?;
        let verdict = if decision.built { "built" } else { "skipped" };
        let reasons: String = decision
            .reasons
            .iter()
            .map(|reason| format!("  - {reason}\n"))
            .collect();
        Ok(format!("{target}: {verdict}\n{reasons}note: {NOTE}\n"))
    }

    fn decision(&self, target: &str) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.target == target)
    }
}
