//! Donations' rules (issue 11, item 5): the suggested amounts a site
//! offers, and what a reader may give. Amounts in minor units of a
//! lowercase ISO 4217 currency (see [`crate::money`]).

use crate::money::{decimals, format_amount, parse_amount};

/// At most this many suggested amounts on the support page.
pub const MAX_SUGGESTED: usize = 6;

/// The smallest gift, in minor units: one unit of a currency with cents
/// (Stripe's own minimum charge is about half of that), a hundred of one
/// without (100 JPY).
pub fn minimum(_currency: &str) -> i64 {
    100
}

/// The largest gift taken through the page: 10,000.00 of a currency with
/// cents, 1,000,000 of one without. Larger gifts are worth a conversation.
pub fn maximum(_currency: &str) -> i64 {
    1_000_000
}

/// The suggested amounts of a site that has chosen none.
pub fn default_suggested(currency: &str) -> Vec<i64> {
    match decimals(currency) {
        0 => vec![500, 1_000, 3_000],
        _ => vec![500, 1_000, 2_500],
    }
}

/// Checks an amount a reader chose; the reason, in words, if refused.
pub fn check_amount(minor: i64, currency: &str) -> Result<i64, String> {
    let code = currency.to_uppercase();
    if minor <= 0 {
        return Err("Choose an amount greater than zero.".into());
    }
    if minor < minimum(currency) {
        return Err(format!(
            "The smallest gift we can take is {} {code}.",
            format_amount(minimum(currency), currency)
        ));
    }
    if minor > maximum(currency) {
        return Err(format!(
            "Gifts through this page are at most {} {code}. For a larger gift, please write to us.",
            format_amount(maximum(currency), currency)
        ));
    }
    Ok(minor)
}

/// A custom amount as a reader typed it ("12", "12.50").
pub fn parse_gift(text: &str, currency: &str) -> Result<i64, String> {
    if text.trim().starts_with('-') {
        return Err("Choose an amount greater than zero.".into());
    }
    check_amount(parse_amount(text, currency)?, currency)
}

/// The settings' list of suggested amounts ("5 10 25", "5, 10, 25"),
/// sorted, without repeats. Commas separate amounts here, so none may
/// hold a thousands separator.
pub fn parse_suggested(text: &str, currency: &str) -> Result<Vec<i64>, String> {
    let mut out = Vec::new();
    for part in text
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        let minor = parse_amount(part, currency).map_err(|e| format!("{part}: {e}"))?;
        out.push(check_amount(minor, currency).map_err(|e| format!("{part}: {e}"))?);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err("Give at least one suggested amount, such as 5 10 25.".into());
    }
    if out.len() > MAX_SUGGESTED {
        return Err(format!("At most {MAX_SUGGESTED} suggested amounts."));
    }
    Ok(out)
}

/// The setting as stored: minor units separated by commas ("500,1000").
pub fn encode_suggested(amounts: &[i64]) -> String {
    amounts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The stored setting read back; the defaults when it is unset or
/// unreadable (an amount outside the limits is dropped).
pub fn decode_suggested(stored: Option<&str>, currency: &str) -> Vec<i64> {
    let amounts: Vec<i64> = stored
        .unwrap_or_default()
        .split(',')
        .filter_map(|p| p.trim().parse::<i64>().ok())
        .filter(|a| check_amount(*a, currency).is_ok())
        .take(MAX_SUGGESTED)
        .collect();
    if amounts.is_empty() {
        default_suggested(currency)
    } else {
        amounts
    }
}

/// The settings form's text for stored amounts: "5.00 10.00 25.00".
pub fn suggested_text(amounts: &[i64], currency: &str) -> String {
    amounts
        .iter()
        .map(|a| format_amount(*a, currency))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gifts_are_positive_and_within_limits() {
        assert_eq!(parse_gift("12.50", "usd"), Ok(1250));
        assert_eq!(parse_gift("3000", "jpy"), Ok(3000));
        for bad in ["0", "-5", "0.50", "10000.01", "five", "", "1.234"] {
            assert!(parse_gift(bad, "usd").is_err(), "{bad}");
        }
        assert!(
            parse_gift("20000", "eur")
                .expect_err("refused")
                .contains("at most 10000.00 EUR")
        );
    }

    #[test]
    fn suggested_amounts_read_as_typed_and_round_trip() {
        assert_eq!(
            parse_suggested("25, 5 10;10", "usd"),
            Ok(vec![500, 1000, 2500])
        );
        assert!(parse_suggested("", "usd").is_err());
        assert!(parse_suggested("5 0", "usd").is_err());
        assert!(parse_suggested("1 2 3 4 5 6 7", "usd").is_err());
        let stored = encode_suggested(&[500, 1000]);
        assert_eq!(decode_suggested(Some(&stored), "usd"), vec![500, 1000]);
        assert_eq!(decode_suggested(None, "usd"), default_suggested("usd"));
        assert_eq!(
            decode_suggested(Some("x,-3"), "gbp"),
            default_suggested("gbp")
        );
        assert_eq!(suggested_text(&[500, 2500], "usd"), "5.00 25.00");
    }
}
