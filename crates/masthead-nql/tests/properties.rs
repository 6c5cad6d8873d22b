//! Properties of the parser and printer over arbitrary input and arbitrary
//! filters, through the public API only.

use masthead_nql::{
    Condition, DateUnit, Filter, MAX_INPUT_LEN, Op, Value, parse, resolve_relative_date,
};
use proptest::prelude::*;

/// Strings built from NQL's own characters, so that a good share parse.
fn nql_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[a-c_.:\-\[\]()+,'~^$><= 0-9\\"nowMdTé]{0,48}"#)
        .expect("valid regex")
}

/// Filter source text generated from the grammar, with the surface variety
/// that printing removes: spaces, case, quoting, escapes, leading zeros.
fn nql_source() -> impl Strategy<Value = String> {
    let space = || prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\t ")];
    // A word starting with "~" would read as an operator, so none does.
    let word = r#"[a-zA-Z0-9_.@/:é%!&]([a-zA-Z0-9_.@/:~^$é%!&\-]|\\[+,()'\[\]\\]){0,8}"#;
    let value = prop_oneof![
        proptest::string::string_regex(word).expect("valid regex"),
        proptest::string::string_regex(r#"'([^'\\]|\\.){0,8}'"#).expect("valid regex"),
        Just("null".to_owned()),
        Just("NULL".to_owned()),
        Just("True".to_owned()),
        Just("false".to_owned()),
        "(0|[1-9][0-9]{0,19}|0[0-9]{1,3}|[0-9]\\.[0-9])".prop_map(String::from),
        "now[+-][0-9]{1,3}[smhdwMy]".prop_map(String::from),
        Just("now".to_owned()),
    ];
    let values =
        proptest::collection::vec((value.clone(), space(), space()), 1..4).prop_map(|items| {
            let members: Vec<String> = items
                .into_iter()
                .map(|(value, before, after)| format!("{before}{value}{after}"))
                .collect();
            format!("[{}]", members.join(","))
        });
    let op = prop_oneof![
        Just(""),
        Just("-"),
        Just(">"),
        Just(">="),
        Just("<"),
        Just("<="),
        Just("~"),
        Just("~^"),
        Just("~$"),
        Just("-~"),
        Just("-~^"),
        Just("-~$"),
    ];
    let operation = prop_oneof![
        // After "~" a value is plain text, so in `~now+1d` the "+" is AND.
        3 => (op, space(), value)
            .prop_filter("text ends at +", |(op, _, value)| !(op.contains('~') && value.starts_with("now+")))
            .prop_map(|(op, space, value)| format!("{op}{space}{value}")),
        1 => (prop_oneof![Just(""), Just("-")], values).prop_map(|(not, list)| format!("{not}{list}")),
    ];
    let field =
        proptest::string::string_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,5}(\.[a-zA-Z0-9_]{1,4}){0,2}")
            .expect("valid regex");
    let condition =
        (field, space(), space(), operation).prop_map(|(field, before, after, operation)| {
            format!("{field}{before}:{after}{operation}")
        });
    condition.prop_recursive(4, 24, 4, move |inner| {
        let joined = (
            proptest::collection::vec((inner, space()), 1..4),
            prop_oneof![Just("+"), Just(",")],
        )
            .prop_map(|(parts, joiner)| {
                let parts: Vec<String> = parts
                    .into_iter()
                    .map(|(part, space)| format!("{space}{part}{space}"))
                    .collect();
                parts.join(joiner)
            });
        prop_oneof![
            joined.clone(),
            joined.prop_map(|inside| format!("({inside})")),
        ]
    })
}

/// Grammatical source with one character dropped or doubled: mostly errors,
/// some other valid filters.
fn nql_mutated() -> impl Strategy<Value = String> {
    (nql_source(), any::<prop::sample::Index>(), any::<bool>()).prop_map(|(source, index, drop)| {
        let chars: Vec<char> = source.chars().collect();
        if chars.is_empty() {
            return source;
        }
        let at = index.index(chars.len());
        let mut mutated: Vec<char> = chars[..at].to_vec();
        if !drop {
            mutated.push(chars[at]);
        }
        mutated.extend(&chars[at..]);
        if drop {
            mutated.remove(at);
        }
        mutated.into_iter().collect()
    })
}

fn field() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r"[a-z_][a-z0-9_]{0,6}(\.[a-z0-9_]{1,6}){0,2}")
        .expect("valid regex")
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        r#"[a-z0-9 _.:@/'"\\\-+,()\[\]~^$é]{0,12}"#,
        Just("now-1d".to_owned()),
        Just("True".to_owned()),
        Just("0".to_owned()),
    ]
}

fn unit() -> impl Strategy<Value = DateUnit> {
    prop_oneof![
        Just(DateUnit::Seconds),
        Just(DateUnit::Minutes),
        Just(DateUnit::Hours),
        Just(DateUnit::Days),
        Just(DateUnit::Weeks),
        Just(DateUnit::Months),
        Just(DateUnit::Years),
    ]
}

/// Every value the parser can produce outside a list.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0..=i64::MAX).prop_map(Value::Int),
        any_text().prop_map(Value::Str),
        Just(Value::Now),
        (prop_oneof![Just(-1i8), Just(1i8)], unit())
            .prop_flat_map(|(sign, unit)| (Just(sign), 0..=unit.max_amount(), Just(unit)))
            .prop_map(|(sign, amount, unit)| Value::RelativeDate { sign, amount, unit }),
    ]
}

fn condition() -> impl Strategy<Value = Filter> {
    let plain = prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Gt),
        Just(Op::Gte),
        Just(Op::Lt),
        Just(Op::Lte),
    ];
    let textual = prop_oneof![
        Just(Op::Contains),
        Just(Op::NotContains),
        Just(Op::StartsWith),
        Just(Op::NotStartsWith),
        Just(Op::EndsWith),
        Just(Op::NotEndsWith),
    ];
    let listed = prop_oneof![Just(Op::In), Just(Op::NotIn)];
    let op_and_value = prop_oneof![
        (plain, scalar()),
        (textual, any_text().prop_map(Value::Str)),
        (
            listed,
            proptest::collection::vec(scalar(), 1..4).prop_map(Value::List)
        ),
    ];
    (field(), op_and_value)
        .prop_map(|(field, (op, value))| Filter::Cond(Condition { field, op, value }))
}

/// Filters of bounded depth, including shapes the parser never produces
/// (single-member groups, an AND directly inside an AND).
fn filter() -> impl Strategy<Value = Filter> {
    condition().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Filter::And),
            proptest::collection::vec(inner, 1..4).prop_map(Filter::Or),
        ]
    })
}

fn symbol(unit: DateUnit) -> char {
    match unit {
        DateUnit::Seconds => 's',
        DateUnit::Minutes => 'm',
        DateUnit::Hours => 'h',
        DateUnit::Days => 'd',
        DateUnit::Weeks => 'w',
        DateUnit::Months => 'M',
        DateUnit::Years => 'y',
    }
}

/// Milliseconds in one unit, for the units of fixed length.
fn fixed_ms(unit: DateUnit) -> Option<i128> {
    match unit {
        DateUnit::Seconds => Some(1_000),
        DateUnit::Minutes => Some(60_000),
        DateUnit::Hours => Some(3_600_000),
        DateUnit::Days => Some(86_400_000),
        DateUnit::Weeks => Some(7 * 86_400_000),
        DateUnit::Months | DateUnit::Years => None,
    }
}

/// Amounts spread over every size a client might send, up to `u32::MAX`.
fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..1_000,
        0u64..=u64::from(u32::MAX),
        (0u32..=19).prop_map(|p| 10u64.pow(p)),
        Just(u64::from(u32::MAX)),
        Just(u64::from(u32::MAX) + 1),
        (u64::from(u32::MAX)..=u64::MAX),
    ]
}

/// What holds for every input: no panic, an error points inside the input at
/// a character boundary, and a success is normalised and survives printing.
fn check_any(input: &str) -> Result<(), TestCaseError> {
    match parse(input) {
        Ok(filter) => {
            prop_assert_eq!(filter.clone().normalised(), filter.clone());
            let printed = filter.to_string();
            prop_assert_eq!(parse(&printed), Ok(filter), "printed as {}", printed);
        }
        Err(error) => {
            prop_assert!(error.position <= input.len());
            prop_assert!(input.is_char_boundary(error.position));
            prop_assert!(error.to_string().starts_with("Query Error: "));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        check_any(&input)?;
    }

    #[test]
    fn nql_like_strings_never_panic(input in nql_like()) {
        check_any(&input)?;
    }

    #[test]
    fn grammatical_filters_parse_and_read_back_after_printing(input in nql_source()) {
        prop_assert!(parse(&input).is_ok(), "{:?} should parse: {:?}", input, parse(&input));
        check_any(&input)?;
    }

    #[test]
    fn whatever_parses_reads_back_after_printing(input in nql_mutated()) {
        check_any(&input)?;
    }

    #[test]
    fn printed_filters_read_back_as_the_same_filter(filter in filter()) {
        let printed = filter.to_string();
        prop_assume!(printed.len() <= MAX_INPUT_LEN);
        prop_assert_eq!(parse(&printed), Ok(filter.normalised()), "printed as {}", printed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any amount in any unit either parses to exactly that relative date
    /// (within the unit's limit) or is refused with a clear message at the
    /// amount's position; never a panic, never a wrapped number.
    #[test]
    fn relative_date_amounts_parse_or_are_refused(
        negative in any::<bool>(),
        amount in amount(),
        unit in unit(),
        field in field(),
    ) {
        let sign = if negative { '-' } else { '+' };
        let input = format!("{field}:<=now{sign}{amount}{}", symbol(unit));
        match parse(&input) {
            Ok(filter) => {
                prop_assert!(amount <= u64::from(unit.max_amount()));
                prop_assert_eq!(filter, Filter::Cond(Condition {
                    field: field.clone(),
                    op: Op::Lte,
                    value: Value::RelativeDate {
                        sign: if negative { -1 } else { 1 },
                        amount: u32::try_from(amount).expect("checked above"),
                        unit,
                    },
                }));
            }
            Err(error) => {
                prop_assert!(amount > u64::from(unit.max_amount()), "{}", error);
                prop_assert_eq!(error.position, field.len() + ":<=now+".len());
                prop_assert!(error.message.contains("is too large"), "{}", error);
            }
        }
    }

    /// Resolving never overflows: for units of fixed length the answer is
    /// exactly the sum computed in i128, and an error only when that sum
    /// leaves the calendar; months and years move by whole calendar months.
    #[test]
    fn relative_dates_resolve_exactly_or_are_refused(
        now in prop_oneof![
            // 1900 to 2200, where real clocks are…
            -2_208_988_800_000i64..7_258_118_400_000,
            // …and anywhere at all.
            any::<i64>(),
        ],
        negative in any::<bool>(),
        amount in prop_oneof![0u32..100_000, any::<u32>(), Just(u32::MAX)],
        unit in unit(),
    ) {
        let sign = if negative { -1i8 } else { 1 };
        let got = resolve_relative_date(now, sign, amount, unit);
        // The instants that can be computed (years -9999 to 9999).
        let calendar = i128::from(jiff::Timestamp::MIN.as_millisecond())
            ..=i128::from(jiff::Timestamp::MAX.as_millisecond());
        let signed = i128::from(sign) * i128::from(amount);
        match fixed_ms(unit) {
            Some(ms) => {
                let want = i128::from(now) + signed * ms;
                match got {
                    Ok(at) => prop_assert_eq!(i128::from(at), want),
                    Err(_) => prop_assert!(
                        !calendar.contains(&want) || !calendar.contains(&i128::from(now))
                            || amount > unit.max_amount(),
                        "{} {} {:?} refused", now, signed, unit
                    ),
                }
            }
            None => {
                let months = if unit == DateUnit::Years { signed * 12 } else { signed };
                if let Ok(at) = got {
                    let moved = i128::from(at) - i128::from(now);
                    // A month is 28 to 31 days; clamping to a shorter month
                    // can take up to three more days off.
                    let day = 86_400_000i128;
                    let (low, high) = (months * 28 * day - 3 * day, months * 31 * day + 3 * day);
                    prop_assert!((low.min(high)..=low.max(high)).contains(&moved),
                        "{} months moved {} ms", months, moved);
                } else if calendar.contains(&i128::from(now)) {
                    // Refused only when the result would leave the calendar.
                    let estimate = i128::from(now) + months * 2_629_746_000;
                    prop_assert!(!calendar.contains(&(estimate - 32 * 86_400_000))
                        || !calendar.contains(&(estimate + 32 * 86_400_000))
                        || amount > unit.max_amount(),
                        "{} months from {} refused", months, now);
                }
            }
        }
    }

    /// A bare `now` is a value wherever a value may stand, and prints back.
    #[test]
    fn bare_now_is_a_value_in_every_position(
        field in field(),
        op in prop_oneof![Just(""), Just("-"), Just(">"), Just(">="), Just("<"), Just("<=")],
        space in prop_oneof![Just(""), Just(" ")],
        rest in prop_oneof![Just(""), Just("+tag:x"), Just(",tag:x"), Just(")")],
    ) {
        let open = if rest == ")" { "(" } else { "" };
        let input = format!("{open}{field}:{op}{space}now{space}{rest}");
        let filter = parse(&input).map_err(|e| TestCaseError::fail(format!("{input}: {e}")))?;
        let first = filter.conditions()[0].clone();
        prop_assert_eq!(first.value, Value::Now);
        prop_assert_eq!(parse(&filter.to_string()), Ok(filter));
    }
}

#[test]
fn long_multibyte_input_is_refused_at_a_character_boundary() {
    let input = "é".repeat(MAX_INPUT_LEN);
    let error = parse(&input).expect_err("too long");
    assert!(input.is_char_boundary(error.position));
}
