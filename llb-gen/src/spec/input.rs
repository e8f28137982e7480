//! What the parser accepts as a spec, so hostile input fails early with a clear message: a
//! size cap checked on the bytes before anything parses them, UTF-8 with the bad byte's line
//! and column, and YAML budgets (alias expansion, nesting, node counts) far above what a real
//! spec needs but low enough that no spec can exhaust memory or the stack.

use serde_saphyr::budget::{Budget, BudgetBreach};
use serde_saphyr::{Error as YamlError, MessageFormatter, Options, UserMessageFormatter};

use crate::diagnostic::{Diagnostic, Position};
use crate::error::Error;

/// The largest spec accepted, in bytes (1 MiB): a spec describing hundreds of variants is a
/// few tens of kilobytes. Larger input is refused before it is parsed.
pub const MAX_SPEC_BYTES: usize = 1 << 20;
/// The most text (in bytes) all scalars may add up to once YAML aliases are expanded:
/// BuildKit 0.8 refuses a Definition over 4 MiB anyway.
pub const MAX_EXPANDED_BYTES: usize = 4 << 20;
/// The most events alias expansion may replay in a spec.
pub const MAX_ALIAS_REPLAYS: usize = 100_000;
/// The most aliases per anchor once a spec has 100 aliases: more is a sign of a bomb.
pub const MAX_ALIASES_PER_ANCHOR: usize = 10;
/// The deepest nesting of YAML collections; a spec's own structure is at most 7 deep.
pub const MAX_DEPTH: usize = 32;

/// The spec's text from the bytes read from `file`: refused when over [`MAX_SPEC_BYTES`]
/// (`bytes` may stop just past the limit: the caller need not read more) or not UTF-8.
pub fn decode(file: &str, bytes: Vec<u8>) -> Result<String, Error> {
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(Error::SpecTooLarge {
            file: file.to_owned(),
            limit: MAX_SPEC_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|error| {
        let valid = error.utf8_error().valid_up_to();
        let bytes = error.as_bytes();
        let prefix = String::from_utf8_lossy(&bytes[..valid]);
        let line_start = prefix.rfind('\n').map_or(0, |newline| newline + 1);
        let position = Position {
            line: prefix.matches('\n').count() as u32 + 1,
            column: prefix[line_start..].chars().count() as u32 + 1,
        };
        let shown = String::from_utf8_lossy(bytes);
        let message = format!("not UTF-8 text (invalid byte 0x{:02x})", bytes[valid]);
        Diagnostic::new(file, &shown, position, message).into()
    })
}

/// How serde-saphyr reads a spec: its default options with Flotilla's budgets.
pub(super) fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_total_scalar_bytes = MAX_EXPANDED_BYTES;
    budget.alias_anchor_ratio_multiplier = MAX_ALIASES_PER_ANCHOR;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAYS;
    options.alias_limits.max_replay_stack_depth = MAX_DEPTH;
    options
}

/// A YAML error as the user should read it: a budget names the limit it hit, the rest reads
/// as serde-saphyr's user-facing text (not its advice to programmers about its options).
pub(super) fn message(error: &YamlError) -> String {
    let mut inner = error;
    while let YamlError::WithSnippet { error, .. } | YamlError::AliasError { error, .. } = inner {
        inner = error;
    }
    let limit = match inner {
        YamlError::Budget { breach, .. } => budget_message(breach),
        YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasReplayCounterOverflow { .. } => Some(format!(
            "YAML aliases expand to more than {MAX_ALIAS_REPLAYS} nodes (alias expansion limit)"
        )),
        YamlError::AliasReplayStackDepthExceeded { .. } => Some(format!(
            "YAML aliases nest more than {MAX_DEPTH} deep (alias expansion limit)"
        )),
        _ => None,
    };
    limit.unwrap_or_else(|| {
        let text = UserMessageFormatter.format_message(inner);
        // The parser's flow-nesting limit, which it reports in these words only.
        if text == "recursion limit exceeded" {
            format!("YAML nested deeper than {MAX_DEPTH} levels (nesting limit)")
        } else {
            text.into_owned()
        }
    })
}

fn budget_message(breach: &BudgetBreach) -> Option<String> {
    Some(match breach {
        BudgetBreach::ScalarBytes { .. } => format!(
            "the spec's text exceeds {MAX_EXPANDED_BYTES} bytes once YAML aliases are expanded (alias expansion limit)"
        ),
        BudgetBreach::Depth { .. } => {
            format!("YAML nested deeper than {MAX_DEPTH} levels (nesting limit)")
        }
        BudgetBreach::Aliases { aliases } => format!("too many YAML aliases ({aliases})"),
        BudgetBreach::AliasAnchorRatio { aliases, anchors } => format!(
            "{aliases} YAML aliases for {anchors} anchor(s), over {MAX_ALIASES_PER_ANCHOR} per anchor (alias expansion limit)"
        ),
        BudgetBreach::Anchors { anchors } => format!("too many YAML anchors ({anchors})"),
        BudgetBreach::Nodes { nodes } => format!("too many YAML nodes ({nodes})"),
        BudgetBreach::Events { events } => format!("too many YAML events ({events})"),
        BudgetBreach::Documents { .. } => "a spec is one YAML document".to_owned(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_over_the_limit_is_refused_by_size() {
        let error = decode("big.yaml", vec![b'#'; MAX_SPEC_BYTES + 1]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "big.yaml: the spec is larger than 1048576 bytes (1 MiB), the size limit of a spec"
        );
        assert!(decode("ok.yaml", vec![b'#'; MAX_SPEC_BYTES]).is_ok());
    }

    #[test]
    fn a_bad_byte_is_located() {
        let error = decode("f.yaml", b"a: 1\nb: \xc3\xa9\xff\n".to_vec()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "f.yaml:2:5: not UTF-8 text (invalid byte 0xff)"
        );
    }
}
