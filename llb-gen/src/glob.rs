//! Cargo's glob rules for workspace `members`, component by component as its glob crate
//! matches them, under a budget: what the manifest scan asks the context for and what the
//! stubs take as members are decided by the same matcher.

/// The work a project's `workspace.members` globs may take to match: a hostile manifest's
/// patterns cannot make the plan or the manifest scan slow.
pub const GLOB_BUDGET: u64 = 20_000_000;

/// The components of a path as a manifest writes it, without empty and `.` ones.
pub fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter(|component| !component.is_empty() && *component != ".")
}

/// Whether the glob `pattern` matches all of `path`, component by component as cargo's glob
/// crate does (`**` is any number of components); `None` once `budget` is spent.
pub fn glob_matches(pattern: &[&str], path: &[&str], budget: &mut u64) -> Option<bool> {
    // matches[i][j]: pattern[i..] matches path[j..]. Filled from the end, so that many `**`
    // cost no more than one.
    let cells = (pattern.len() + 1).saturating_mul(path.len() + 1);
    *budget = budget.checked_sub(cells as u64)?;
    let mut matches = vec![vec![false; path.len() + 1]; pattern.len() + 1];
    matches[pattern.len()][path.len()] = true;
    for i in (0..pattern.len()).rev() {
        for j in (0..=path.len()).rev() {
            matches[i][j] = if pattern[i] == "**" {
                matches[i + 1][j] || (j < path.len() && matches[i][j + 1])
            } else {
                j < path.len()
                    && matches[i + 1][j + 1]
                    && component_matches(pattern[i], path[j], budget)?
            };
        }
    }
    Some(matches[0][0])
}

/// `path` as a glob that matches it alone, here and in BuildKit's include patterns: each glob
/// character becomes a class that holds it alone (cargo's glob crate has no `\` escape).
pub fn literal(path: &str) -> String {
    let mut pattern = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '*' | '?' | '[' | '\\' => {
                pattern.push('[');
                pattern.push(c);
                if c == '\\' {
                    pattern.push(c);
                }
                pattern.push(']');
            }
            _ => pattern.push(c),
        }
    }
    pattern
}

/// Whether a path below the directory `dir` can match the glob `pattern`, so that a search
/// descends only where a match can be; `None` once `budget` is spent.
pub fn glob_may_match_below(pattern: &[&str], dir: &[&str], budget: &mut u64) -> Option<bool> {
    let cells = (pattern.len() + 1).saturating_mul(dir.len() + 1);
    *budget = budget.checked_sub(cells as u64)?;
    // reach[i][j]: pattern[..i] matches dir[..j].
    let mut reach = vec![vec![false; dir.len() + 1]; pattern.len() + 1];
    reach[0][0] = true;
    for i in 0..pattern.len() {
        for j in 0..=dir.len() {
            if !reach[i][j] {
                continue;
            }
            if pattern[i] == "**" {
                reach[i + 1][j] = true;
                if j < dir.len() {
                    reach[i][j + 1] = true;
                }
            } else if j < dir.len() && component_matches(pattern[i], dir[j], budget)? {
                reach[i + 1][j + 1] = true;
            }
        }
    }
    // Some pattern is left for what is below the directory.
    Some((0..pattern.len()).any(|i| reach[i][dir.len()]))
}

/// Whether the glob `pattern` (`*`, `?`, `[…]` with `!` or `^` and ranges) matches `name`;
/// `None` once `budget` is spent.
fn component_matches(pattern: &str, name: &str, budget: &mut u64) -> Option<bool> {
    *budget = budget.checked_sub((pattern.len() + name.len()) as u64)?;
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    // Where the last `*` was, and the name position it was last tried at.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        *budget = budget.checked_sub(1)?;
        let width = match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') if class_end(&pattern[p..]).is_some() => {
                let end = class_end(&pattern[p..]).unwrap_or_default();
                class_matches(&pattern[p + 1..p + end - 1], name[n]).then_some(end)
            }
            Some(c) => (*c == name[n]).then_some(1),
            None => None,
        };
        match (width, star) {
            (Some(width), _) => {
                p += width;
                n += 1;
            }
            (None, Some((star_p, star_n))) => {
                star = Some((star_p, star_n + 1));
                p = star_p + 1;
                n = star_n + 1;
            }
            (None, None) => return Some(false),
        }
    }
    Some(pattern[p..].iter().all(|c| *c == '*'))
}

/// The width of the character class `[…]` at the start of `pattern`; `None` when the `[` is
/// not closed, and so a literal, as in the glob crate. A `]` right after the `[` is a member.
fn class_end(pattern: &[char]) -> Option<usize> {
    Some(pattern.iter().skip(2).position(|c| *c == ']')? + 3)
}

/// Whether the body of a character class (between its brackets) holds `c`.
fn class_matches(body: &[char], c: char) -> bool {
    let (negated, body) = match body.first() {
        Some('!' | '^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut found = false;
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            found |= (body[i]..=body[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= body[i] == c;
            i += 1;
        }
    }
    found != negated
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enough for every test pattern.
    const BUDGET: u64 = 1_000_000;

    type Test = fn(&[&str], &[&str], &mut u64) -> Option<bool>;

    /// `test` on `pattern` and `path`, written as paths.
    fn on_paths(test: Test, pattern: &str, path: &str) -> bool {
        let pattern: Vec<&str> = components(pattern).collect();
        let path: Vec<&str> = components(path).collect();
        test(&pattern, &path, &mut BUDGET.clone()).unwrap()
    }

    fn matches(pattern: &str, path: &str) -> bool {
        on_paths(glob_matches, pattern, path)
    }

    fn below(pattern: &str, dir: &str) -> bool {
        on_paths(glob_may_match_below, pattern, dir)
    }

    #[test]
    fn globs_match_per_component() {
        assert!(matches("crates/*", "crates/core"));
        assert!(!matches("crates/*", "crates/core/inner"));
        assert!(matches("crates/**", "crates/core/inner"));
        assert!(matches("**/x", "x"));
        assert!(matches("c?r[a-z]*", "core"));
        assert!(!matches("[!c]*", "core"));
        assert!(matches("a[", "a["));
        assert!(matches("./crates/core/", "crates/core"));
        // Backtracking after a star is quadratic: the budget stops it.
        let stars = format!("*{}b", "a".repeat(100));
        let name = "a".repeat(1000);
        let mut budget = 10_000;
        assert_eq!(glob_matches(&[&stars], &[&name], &mut budget), None);
    }

    #[test]
    fn a_literal_matches_itself_alone() {
        for path in [
            "a[1]/b*c/d?e/Cargo.toml",
            "x\\y/Cargo.toml",
            "plain/Cargo.toml",
        ] {
            assert!(matches(&literal(path), path), "{path}");
        }
        assert!(!matches(&literal("a[1]/Cargo.toml"), "a1/Cargo.toml"));
        assert!(!matches(&literal("b*c"), "bxc"));
        assert_eq!(literal("a*"), "a[*]");
    }

    #[test]
    fn a_search_descends_where_a_match_can_be() {
        assert!(below("crates/*/Cargo.toml", ""));
        assert!(below("crates/*/Cargo.toml", "crates"));
        assert!(below("crates/*/Cargo.toml", "crates/core"));
        assert!(!below("crates/*/Cargo.toml", "crates/core/src"));
        assert!(!below("crates/*/Cargo.toml", "target"));
        assert!(!below("Cargo.toml", "crates"));
        assert!(below("a/**/Cargo.toml", "a/b/c/d"));
        assert!(!below("a/**/Cargo.toml", "b"));
        let mut budget = 3;
        assert_eq!(
            glob_may_match_below(&["a", "b"], &["a", "b"], &mut budget),
            None
        );
    }
}
