//! Line diffs for the revision history ("what changed between two saves").

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Same,
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    pub change: Change,
    pub text: String,
}

/// Longest-common-subsequence line diff. Bodies beyond `LIMIT` lines each are
/// shown as wholly replaced rather than spending quadratic time.
pub fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    const LIMIT: usize = 3_000;
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let line = |change, text: &str| DiffLine {
        change,
        text: text.to_owned(),
    };
    if a.len() > LIMIT || b.len() > LIMIT {
        return a
            .iter()
            .map(|t| line(Change::Removed, t))
            .chain(b.iter().map(|t| line(Change::Added, t)))
            .collect();
    }
    // lcs[i][j] = LCS length of a[i..] and b[j..]
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(line(Change::Same, a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(line(Change::Removed, a[i]));
            i += 1;
        } else {
            out.push(line(Change::Added, b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|t| line(Change::Removed, t)));
    out.extend(b[j..].iter().map(|t| line(Change::Added, t)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn marks_what_changed() {
        let d = line_diff("a\nb\nc", "a\nB\nc\nd");
        let kinds: Vec<_> = d.iter().map(|l| (l.change, l.text.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (Change::Same, "a"),
                (Change::Removed, "b"),
                (Change::Added, "B"),
                (Change::Same, "c"),
                (Change::Added, "d")
            ]
        );
    }

    proptest! {
        #[test]
        fn old_and_new_can_be_rebuilt(old in "[ab\n]{0,60}", new in "[ab\n]{0,60}") {
            let d = line_diff(&old, &new);
            let rebuilt_old: Vec<&str> = d.iter().filter(|l| l.change != Change::Added).map(|l| l.text.as_str()).collect();
            let rebuilt_new: Vec<&str> = d.iter().filter(|l| l.change != Change::Removed).map(|l| l.text.as_str()).collect();
            prop_assert_eq!(rebuilt_old, old.lines().collect::<Vec<_>>());
            prop_assert_eq!(rebuilt_new, new.lines().collect::<Vec<_>>());
        }
    }
}
