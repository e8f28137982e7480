//! The agent's config file: `key = "value"` lines; `#` starts a comment.

/// The value of `key` in `text`, without its quotes.
pub fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .filter_map(|line| line.split_once('='))
        .find(|(name, _)| name.trim() == key)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_quoted_value_and_skips_comments() {
        let text = "# name = \"old\"\nname = \"port\" # the example\n";
        assert_eq!(super::value(text, "name"), Some("port"));
        assert_eq!(super::value(text, "missing"), None);
    }
}
