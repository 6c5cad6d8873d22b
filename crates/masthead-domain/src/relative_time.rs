//! "5 minutes ago": the human distance between two instants.

/// Unix milliseconds `then` as seen at `now`. Older than a week: `None`
/// (print the date instead). Future times (clock skew) read as "just now".
pub fn relative_time(now_ms: i64, then_ms: i64) -> Option<String> {
    let secs = now_ms.saturating_sub(then_ms) / 1000;
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    Some(match secs {
        i64::MIN..=59 => "just now".to_owned(),
        60..=3599 => plural(secs / 60, "minute"),
        3600..=86_399 => plural(secs / 3600, "hour"),
        86_400..=604_799 => {
            let days = secs / 86_400;
            if days == 1 {
                "yesterday".to_owned()
            } else {
                format!("{days} days ago")
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_a_person() {
        let now = 1_000_000_000_000;
        let ago = |s: i64| relative_time(now, now - s * 1000);
        assert_eq!(ago(-30).as_deref(), Some("just now"));
        assert_eq!(ago(10).as_deref(), Some("just now"));
        assert_eq!(ago(60).as_deref(), Some("1 minute ago"));
        assert_eq!(ago(150).as_deref(), Some("2 minutes ago"));
        assert_eq!(ago(3600).as_deref(), Some("1 hour ago"));
        assert_eq!(ago(5 * 3600).as_deref(), Some("5 hours ago"));
        assert_eq!(ago(30 * 3600).as_deref(), Some("yesterday"));
        assert_eq!(ago(3 * 86_400).as_deref(), Some("3 days ago"));
        assert_eq!(ago(8 * 86_400), None);
        assert_eq!(relative_time(i64::MAX, i64::MIN), None);
    }
}
