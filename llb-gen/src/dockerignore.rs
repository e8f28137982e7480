//! `.dockerignore` files: the patterns of the build context that are never sent to the build.

/// The exclude patterns of a `.dockerignore` text, as BuildKit's local source takes them:
/// comments and blank lines dropped, paths cleaned of a leading `/` and `./`.
pub fn patterns(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (negation, path) = match line.strip_prefix('!') {
                Some(rest) => ("!", rest.trim()),
                None => ("", line),
            };
            let path = path.trim_start_matches('/').trim_start_matches("./");
            format!("{negation}{path}")
        })
        .filter(|pattern| !pattern.is_empty() && pattern != "!")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_patterns_and_exceptions_drops_comments() {
        let text = "# build output\ntarget\n\n/.git\n./docs/*.md\n!docs/keep.md\n  **/*.tmp  \n!\n";
        assert_eq!(
            patterns(text),
            ["target", ".git", "docs/*.md", "!docs/keep.md", "**/*.tmp"]
        );
    }
}
