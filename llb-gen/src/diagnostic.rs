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
    /// The offending line around the column, as the snippet shows it (a long line is cut, so
    /// that a spec of one long line with many errors does not hold that line once per error).
    pub line_text: String,
    /// Where the caret goes under `line_text`, in characters.
    pub caret: usize,
}

impl Diagnostic {
    /// An error at `position` of `file`, whose text is `source`. This reads `source` whole: a
    /// file with many errors makes them with [`Diagnostic::at`].
    pub fn new(file: &str, source: &str, position: Position, message: impl Into<String>) -> Self {
        Self::at(file, source, &LineStarts::new(source), position, message)
    }

    /// An error at `position` of `file`, whose text is `source` and its lines `lines`.
    pub fn at(
        file: &str,
        source: &str,
        lines: &LineStarts,
        position: Position,
        message: impl Into<String>,
    ) -> Self {
        let (line_text, caret) = lines.snippet(source, position);
        Self {
            file: file.to_owned(),
            position,
            message: message.into(),
            hint: None,
            line_text,
            caret,
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
        let caret_pad = " ".repeat(self.caret);
        let mut text = format!(
            "error: {}\n{gutter}--> {}:{line}:{column}\n{gutter} |\n{line} | {}\n{gutter} | {caret_pad}^\n",
            self.message, self.file, self.line_text
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
/// How far apart the characters are whose byte offsets [`LineStarts`] keeps.
const CHECKPOINT_CHARS: usize = 1024;

/// Where each line of a text starts, in bytes and in characters, and the byte offset of every
/// [`CHECKPOINT_CHARS`]th character, so that an error finds its line and column without reading
/// the text from its start: a spec with many errors, on many lines or on one long line, would
/// be read once per error.
#[derive(Clone, Debug, Default)]
pub struct LineStarts {
    /// The byte and character offsets of each line's first character.
    starts: Vec<(usize, usize)>,
    /// The byte offsets of characters 0, [`CHECKPOINT_CHARS`], 2 × [`CHECKPOINT_CHARS`]…
    checkpoints: Vec<usize>,
}

impl LineStarts {
    /// The line starts of `text`.
    pub fn new(text: &str) -> Self {
        let mut lines = Self {
            starts: vec![(0, 0)],
            checkpoints: Vec::new(),
        };
        for (index, (offset, c)) in text.char_indices().enumerate() {
            if index % CHECKPOINT_CHARS == 0 {
                lines.checkpoints.push(offset);
            }
            if c == '\n' {
                lines.starts.push((offset + 1, index + 1));
            }
        }
        lines
    }

    /// Line `number` (1-based) of `text`, as [`str::lines`] gives it, and the byte and the
    /// character at which it starts; empty past the end.
    fn line<'t>(&self, text: &'t str, number: u32) -> (&'t str, (usize, usize)) {
        let index = number.saturating_sub(1) as usize;
        let Some(&(start, first_char)) = self.starts.get(index) else {
            return ("", (0, 0));
        };
        let line = match self.starts.get(index + 1) {
            // A line that ends in `\r\n` ends before the `\r`.
            Some(&(next, _)) => {
                let line = &text[start..next - 1];
                line.strip_suffix('\r').unwrap_or(line)
            }
            None => &text[start..],
        };
        (line, (start, first_char))
    }

    /// Where character `column` of `line` is, in bytes of the line (its end if the line is
    /// shorter), and which character that is. `line` starts at byte `line_start` and character
    /// `first_char` of the text: reading starts at the checkpoint before the column.
    fn find(
        &self,
        line: &str,
        (line_start, first_char): (usize, usize),
        column: usize,
    ) -> (usize, usize) {
        let checkpoint = (first_char + column) / CHECKPOINT_CHARS;
        let (mut offset, mut at) = match self.checkpoints.get(checkpoint) {
            Some(&offset) if (line_start..=line_start + line.len()).contains(&offset) => (
                offset - line_start,
                checkpoint * CHECKPOINT_CHARS - first_char,
            ),
            _ => (0, 0),
        };
        for c in line[offset..].chars().take(column - at) {
            offset += c.len_utf8();
            at += 1;
        }
        (offset, at)
    }

    /// The part of the line of `position` to show around its column, with `…` where it is
    /// cut, and the caret's offset in it.
    pub fn snippet(&self, text: &str, position: Position) -> (String, usize) {
        let (line, start) = self.line(text, position.line);
        let column = position.column.saturating_sub(1) as usize;
        // Read from far enough before the column to fill the snippet to just past the column.
        let mut from = column.saturating_sub(SNIPPET_CHARS);
        loop {
            let (offset, at) = self.find(line, start, from);
            let mut rest = line[offset..].chars();
            let window: Vec<char> = rest
                .by_ref()
                .take(column + SNIPPET_CHARS + 1 - at)
                .collect();
            // The line's length in characters, when the window reaches its end.
            let length = rest.next().is_none().then_some(at + window.len());
            if at == 0 && length.is_some_and(|length| length <= SNIPPET_CHARS) {
                return (line.to_owned(), column);
            }
            let last_start =
                length.map_or(usize::MAX, |length| length.saturating_sub(SNIPPET_CHARS));
            let start = column.saturating_sub(SNIPPET_CHARS / 2).min(last_start);
            if start < at {
                // The column is past the line's end: read the line from its start.
                from = 0;
                continue;
            }
            let shown: String = window.iter().skip(start - at).take(SNIPPET_CHARS).collect();
            let before = if start > 0 { "…" } else { "" };
            let after = if length.is_none_or(|length| start + SNIPPET_CHARS < length) {
                "…"
            } else {
                ""
            };
            let caret = column - start + before.chars().count();
            return (format!("{before}{shown}{after}"), caret);
        }
    }
}

/// The most names a message lists.
const LISTED_NAMES: usize = 12;

/// The `count` `names` joined by `separator`, for a message; a long list shows its first names
/// and how many there are, so that a message costs the same for a spec of thousands of names.
pub fn listed<'a>(names: impl Iterator<Item = &'a str>, count: usize, separator: &str) -> String {
    if count <= LISTED_NAMES {
        return names.collect::<Vec<_>>().join(separator);
    }
    let first: Vec<&str> = names.take(LISTED_NAMES - 1).collect();
    format!("{}{separator}… ({count} in all)", first.join(separator))
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

    /// The snippet as read from the line alone, each time from its start.
    fn simple_snippet(source: &str, position: Position) -> (String, usize) {
        let line = source
            .lines()
            .nth(position.line.saturating_sub(1) as usize)
            .unwrap_or_default();
        let column = position.column.saturating_sub(1) as usize;
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

    proptest::proptest! {
        #[test]
        fn line_starts_find_what_reading_each_line_finds(
            pieces in proptest::collection::vec(
                proptest::prop_oneof!["a{0,300}", "é{0,40}", "\r", "\r\n", "\n"],
                0..40,
            ),
            line in 0u32..12,
            column in 0u32..3000,
        ) {
            let source = pieces.concat();
            let position = Position { line, column };
            proptest::prop_assert_eq!(
                LineStarts::new(&source).snippet(&source, position),
                simple_snippet(&source, position)
            );
        }
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
