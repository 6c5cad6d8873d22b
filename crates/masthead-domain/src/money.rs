//! Amounts of money as people type and read them ("12.50") and as they are
//! stored and sent to Stripe (minor units: 1250). A currency is ISO 4217 in
//! lowercase, as Stripe spells it.

/// Currencies without a minor unit (Stripe's list of zero-decimal
/// currencies): an amount is a whole number of them.
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// The largest amount accepted, in major units (a yearly price of a
/// million is already far past any membership).
const MAX_MAJOR: i64 = 1_000_000;

/// How many decimals `currency` has (0 or 2).
pub fn decimals(currency: &str) -> u32 {
    if ZERO_DECIMAL.contains(&currency) {
        0
    } else {
        2
    }
}

/// Whether `s` looks like an ISO 4217 code as Stripe spells it.
pub fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_lowercase())
}

/// An amount typed in major units ("5", "5.5", "5.50", "1,200.00") as
/// minor units of `currency`. Commas between digits are thousands
/// separators; at most as many decimals as the currency has.
pub fn parse_amount(text: &str, currency: &str) -> Result<i64, String> {
    let text = text.trim().replace(',', "");
    let places = decimals(currency);
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err("Type an amount, such as 5.00.".into());
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) || (text.contains('.') && frac.is_empty()) {
        return Err(format!(
            "{text:?} is not an amount: use digits and one decimal point, such as 5.00."
        ));
    }
    if frac.len() > places as usize {
        return Err(match places {
            0 => format!(
                "{} has no smaller unit: use whole amounts.",
                currency.to_uppercase()
            ),
            n => format!("Use at most {n} decimals."),
        });
    }
    let major: i64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| "That amount is too large.".to_owned())?
    };
    if major > MAX_MAJOR {
        return Err("That amount is too large.".into());
    }
    let scale = 10i64.pow(places);
    let mut minor_frac: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().unwrap_or(0)
    };
    for _ in frac.len()..places as usize {
        minor_frac *= 10;
    }
    Ok(major * scale + minor_frac)
}

/// Minor units as typed in a form: "5.00", "1200.50", "500" (zero-decimal).
pub fn format_amount(minor: i64, currency: &str) -> String {
    match decimals(currency) {
        0 => minor.to_string(),
        _ => {
            let sign = if minor < 0 { "-" } else { "" };
            let m = minor.unsigned_abs();
            format!("{sign}{}.{:02}", m / 100, m % 100)
        }
    }
}

/// Minor units for people to read: "USD 5.00".
pub fn display_amount(minor: i64, currency: &str) -> String {
    format!(
        "{} {}",
        currency.to_uppercase(),
        format_amount(minor, currency)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_are_read_as_people_type_them() {
        assert_eq!(parse_amount("5", "usd"), Ok(500));
        assert_eq!(parse_amount(" 5.5 ", "usd"), Ok(550));
        assert_eq!(parse_amount("5.05", "eur"), Ok(505));
        assert_eq!(parse_amount("1,200.00", "gbp"), Ok(120_000));
        assert_eq!(parse_amount(".5", "usd"), Ok(50));
        assert_eq!(parse_amount("500", "jpy"), Ok(500));
        assert!(parse_amount("5.", "usd").is_err());
        assert!(parse_amount("5.001", "usd").is_err());
        assert!(parse_amount("5.5", "jpy").is_err());
        assert!(parse_amount("-5", "usd").is_err());
        assert!(parse_amount("five", "usd").is_err());
        assert!(parse_amount("", "usd").is_err());
        assert!(parse_amount("1.2.3", "usd").is_err());
        assert!(parse_amount("99999999999999999999", "usd").is_err());
        assert!(parse_amount("2000000", "usd").is_err());
        assert_eq!(format_amount(550, "usd"), "5.50");
        assert_eq!(format_amount(500, "jpy"), "500");
        assert_eq!(display_amount(120_000, "gbp"), "GBP 1200.00");
        assert!(is_currency("usd") && !is_currency("USD") && !is_currency("us"));
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_gives_the_amount_back(minor in 0i64..1_000_000, zero in any::<bool>()) {
            let currency = if zero { "jpy" } else { "usd" };
            prop_assert_eq!(parse_amount(&format_amount(minor, currency), currency), Ok(minor));
        }
    }
}
