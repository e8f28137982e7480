//! Spec errors that point at a file, line and column, rendered the way rustc renders errors.

use std::fmt;

/// A 1-based line and column in the spec file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
}

impl Position {
    /// The first character of a file, for errors about the file as a whole.
    pub const START: Self = Self { line: 1, column: 1 };

    /// The position of byte `offset` of `text` (parsers such as TOML's give byte spans).
    pub fn at_offset(text: &str, offset: usize) -> Self {
        let end = (0..=offset.min(text.len()))
            .rev()
            .find(|end| text.is_char_boundary(*end))
            .unwrap_or(0);
        let before = &text[..end];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let one_based = |count: usize| u32::try_from(count + 1).unwrap_or(u32::MAX);
        Self {
            line: one_based(before.matches('\n').count()),
            column: one_based(before[line_start..].chars().count()),
        }
    }
}

/// One error in a spec file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// Where the error is.
    pub position: Position,
    /// What is wrong, without the location.
    pub message: String,
    /// How to fix it, when there is something to say.
    pub hint: Option<String>,
    /// The offending line's text, for the snippet.
    pub line_text: String,
}

impl Diagnostic {
    /// An error at `position` of `file`, whose text is `source`.
    pub fn new(file: &str, source: &str, position: Position, message: impl Into<String>) -> Self {
        let line_text = source
            .lines()
            .nth(position.line.saturating_sub(1) as usize)
            .unwrap_or_default()
            .to_owned();
        Self {
            file: file.to_owned(),
            position,
            message: message.into(),
            hint: None,
            line_text,
        }
    }

    /// The same error with a hint.
    pub fn with_hint(self, hint: impl Into<String>) -> Self {
        Self {
            hint: Some(hint.into()),
            ..self
        }
    }

    /// rustc-style text: the located message, the offending line, a caret, the hint.
    pub fn render(&self) -> String {
        let Position { line, column } = self.position;
        let gutter = " ".repeat(line.to_string().len());
        let (snippet, caret) = snippet(&self.line_text, column.saturating_sub(1) as usize);
        let caret_pad = " ".repeat(caret);
        let mut text = format!(
            "error: {}\n{gutter}--> {}:{line}:{column}\n{gutter} |\n{line} | {snippet}\n{gutter} | {caret_pad}^\n",
            self.message, self.file
        );
        if let Some(hint) = &self.hint {
            text.push_str(&format!("{gutter} = hint: {hint}\n"));
        }
        text
    }
}

/// The most characters of the offending line a rendered error shows: a hostile one-line spec
/// must not be echoed whole.
const SNIPPET_CHARS: usize = 120;

/// The part of `line` to show around the 0-based character `column`, with `…` where it is
/// cut, and the caret's offset in it.
fn snippet(line: &str, column: usize) -> (String, usize) {
    let length = line.chars().count();
    if length <= SNIPPET_CHARS {
        return (line.to_owned(), column);
    }
    let start = column
        .saturating_sub(SNIPPET_CHARS / 2)
        .min(length - SNIPPET_CHARS);
    let shown: String = line.chars().skip(start).take(SNIPPET_CHARS).collect();
    let before = if start > 0 { "…" } else { "" };
    let after = if start + SNIPPET_CHARS < length {
        "…"
    } else {
        ""
    };
    (
        format!("{before}{shown}{after}"),
        column - start + before.chars().count(),
    )
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Position { line, column } = self.position;
        write!(f, "{}:{line}:{column}: {}", self.file, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let source = "version: 1\nvariants:\n  a:\n    form: x\n";
        let diagnostic = Diagnostic::new(
            "f.yaml",
            source,
            Position { line: 4, column: 5 },
            "unknown field `form`",
        )
        .with_hint("did you mean `from`?");
        assert_eq!(
            diagnostic.render(),
            "error: unknown field `form`\n --> f.yaml:4:5\n  |\n4 |     form: x\n  |     ^\n  = hint: did you mean `from`?\n"
        );
        assert_eq!(
            diagnostic.to_string(),
            "f.yaml:4:5: unknown field `form` (hint: did you mean `from`?)"
        );
    }

    #[test]
    fn byte_offsets_become_lines_and_character_columns() {
        let text = "a = 1\nb = \"é\" x\n";
        assert_eq!(Position::at_offset(text, 0), Position::START);
        let x = text.find('x').unwrap();
        assert_eq!(
            Position::at_offset(text, x),
            Position { line: 2, column: 9 }
        );
        assert_eq!(Position::at_offset(text, text.len() + 5).line, 3);
    }

    #[test]
    fn a_long_line_is_cut_around_the_column() {
        let source = format!("{}X{}", "a".repeat(1000), "b".repeat(1000));
        let diagnostic = Diagnostic::new(
            "f.yaml",
            &source,
            Position {
                line: 1,
                column: 1001,
            },
            "x",
        );
        let rendered = diagnostic.render();
        let lines: Vec<&str> = rendered.lines().collect();
        let shown = lines[3].strip_prefix("1 | ").unwrap();
        assert_eq!(shown.chars().count(), SNIPPET_CHARS + 2, "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        let caret = lines[4].strip_prefix("  | ").unwrap();
        assert_eq!(shown.chars().nth(caret.len() - 1), Some('X'), "{rendered}");
    }
}
