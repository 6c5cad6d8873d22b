//! Exact ASTs and exact error messages for each construct of the language.
//! Properties over arbitrary input live in `tests/properties.rs`.

use super::*;

fn parsed(input: &str) -> Filter {
    parse(input).unwrap_or_else(|error| panic!("{input:?} should parse: {error}"))
}

fn cond(field: &str, op: Op, value: Value) -> Filter {
    Filter::Cond(Condition {
        field: field.to_owned(),
        op,
        value,
    })
}

fn eq(field: &str, value: Value) -> Filter {
    cond(field, Op::Eq, value)
}

fn text(value: &str) -> Value {
    Value::Str(value.to_owned())
}

fn list(items: &[Value]) -> Value {
    Value::List(items.to_vec())
}

fn days_ago(amount: u32) -> Value {
    Value::RelativeDate {
        sign: -1,
        amount,
        unit: DateUnit::Days,
    }
}

/// The error for `input`, as `(position, full Display text)`.
fn error(input: &str) -> (usize, String) {
    let error = parse(input).expect_err("should not parse");
    (error.position, error.to_string())
}

#[test]
fn reads_a_plain_condition() {
    assert_eq!(parsed("tag:news"), eq("tag", text("news")));
    assert_eq!(parsed("slug:my-post_2"), eq("slug", text("my-post_2")));
}

#[test]
fn lower_cases_fields_but_not_values() {
    assert_eq!(parsed("Tag:News"), eq("tag", text("News")));
    assert_eq!(parsed("Tags.SLUG:x"), eq("tags.slug", text("x")));
}

#[test]
fn reads_dotted_and_underscored_fields() {
    assert_eq!(parsed("tags.slug:news"), eq("tags.slug", text("news")));
    assert_eq!(parsed("_private.a_1.2:x"), eq("_private.a_1.2", text("x")));
    assert_eq!(
        parsed("posts_meta.og_title:x"),
        eq("posts_meta.og_title", text("x"))
    );
}

#[test]
fn reads_every_operator() {
    let cases = [
        ("tag:-news", Op::Ne, text("news")),
        ("count:>5", Op::Gt, Value::Int(5)),
        ("count:>=5", Op::Gte, Value::Int(5)),
        ("count:<5", Op::Lt, Value::Int(5)),
        ("count:<=5", Op::Lte, Value::Int(5)),
        ("title:~ukraine", Op::Contains, text("ukraine")),
        ("title:-~ukraine", Op::NotContains, text("ukraine")),
        ("title:~^ukraine", Op::StartsWith, text("ukraine")),
        ("title:-~^ukraine", Op::NotStartsWith, text("ukraine")),
        ("title:~$ukraine", Op::EndsWith, text("ukraine")),
        ("title:-~$ukraine", Op::NotEndsWith, text("ukraine")),
        (
            "tag:[a,b,c]",
            Op::In,
            list(&[text("a"), text("b"), text("c")]),
        ),
        ("tag:-[a,b]", Op::NotIn, list(&[text("a"), text("b")])),
    ];
    for (input, op, value) in cases {
        let field = input.split(':').next().expect("has a field");
        assert_eq!(parsed(input), cond(field, op, value), "{input}");
    }
}

#[test]
fn compares_with_quoted_dates_and_relative_dates() {
    assert_eq!(
        parsed("published_at:>'2024-01-01 00:00:00'"),
        cond("published_at", Op::Gt, text("2024-01-01 00:00:00"))
    );
    assert_eq!(
        parsed("published_at:<=2024-01-01T10:00:00Z"),
        cond("published_at", Op::Lte, text("2024-01-01T10:00:00Z"))
    );
    assert_eq!(
        parsed("published_at:>now-30d"),
        cond("published_at", Op::Gt, days_ago(30))
    );
}

#[test]
fn types_keywords_in_ghosts_three_spellings() {
    for (spelling, value) in [
        ("null", Value::Null),
        ("NULL", Value::Null),
        ("Null", Value::Null),
        ("true", Value::Bool(true)),
        ("TRUE", Value::Bool(true)),
        ("True", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("FALSE", Value::Bool(false)),
        ("False", Value::Bool(false)),
        // Other spellings and longer words are ordinary text.
        ("nULL", text("nULL")),
        ("nullable", text("nullable")),
        ("true_thing", text("true_thing")),
        ("true-thing", text("true-thing")),
    ] {
        assert_eq!(
            parsed(&format!("f:{spelling}")),
            eq("f", value),
            "{spelling}"
        );
    }
    assert_eq!(
        parsed("feature_image:-null"),
        cond("feature_image", Op::Ne, Value::Null)
    );
}

#[test]
fn types_integers_conservatively() {
    assert_eq!(parsed("n:0"), eq("n", Value::Int(0)));
    assert_eq!(parsed("n:42"), eq("n", Value::Int(42)));
    assert_eq!(
        parsed("n:9223372036854775807"),
        eq("n", Value::Int(i64::MAX))
    );
    // Too big, a fraction or a leading zero: kept as written.
    assert_eq!(
        parsed("n:9223372036854775808"),
        eq("n", text("9223372036854775808"))
    );
    assert_eq!(parsed("n:1.5"), eq("n", text("1.5")));
    assert_eq!(parsed("n:007"), eq("n", text("007")));
    assert_eq!(parsed("n:2024-01-01"), eq("n", text("2024-01-01")));
    // A leading "-" is negation, never a minus sign; quoted, it is text.
    assert_eq!(parsed("n:-5"), cond("n", Op::Ne, Value::Int(5)));
    assert_eq!(parsed("n:'-5'"), eq("n", text("-5")));
}

#[test]
fn reads_bare_words_with_ordinary_punctuation() {
    for word in [
        "jane@example.com",
        "/about/",
        "10:30",
        "a:b",
        "café",
        "日本",
        "a~b^c$",
        "50%",
        "a!b&c",
    ] {
        assert_eq!(parsed(&format!("f:{word}")), eq("f", text(word)), "{word}");
    }
}

#[test]
fn resolves_backslash_escapes_in_bare_words() {
    assert_eq!(parsed(r"f:a\+b"), eq("f", text("a+b")));
    assert_eq!(parsed(r"f:a\,b\(c\)"), eq("f", text("a,b(c)")));
    assert_eq!(parsed(r"f:\[x\]"), eq("f", text("[x]")));
    assert_eq!(parsed(r"f:it\'s"), eq("f", text("it's")));
    assert_eq!(parsed(r"f:a\\b"), eq("f", text(r"a\b")));
    // A backslash before anything else is kept, as in Ghost.
    assert_eq!(parsed(r"f:a\b"), eq("f", text(r"a\b")));
    assert_eq!(parsed(r"f:a\"), eq("f", text(r"a\")));
}

#[test]
fn reads_quoted_strings() {
    assert_eq!(parsed("title:'two words'"), eq("title", text("two words")));
    assert_eq!(parsed(r"title:'it\'s'"), eq("title", text("it's")));
    assert_eq!(
        parsed(r"title:'back\\slash'"),
        eq("title", text(r"back\slash"))
    );
    assert_eq!(
        parsed(r#"title:'say \"hi\"'"#),
        eq("title", text(r#"say "hi""#))
    );
    assert_eq!(
        parsed(r#"title:'say "hi"'"#),
        eq("title", text(r#"say "hi""#))
    );
    assert_eq!(parsed(r"title:'a\nb'"), eq("title", text(r"a\nb")));
    assert_eq!(parsed("title:''"), eq("title", text("")));
    assert_eq!(
        parsed("title:'+,()[]><=-~^$:'"),
        eq("title", text("+,()[]><=-~^$:"))
    );
    // Quoting makes anything text.
    for word in ["true", "null", "5", "now-1d", "-x"] {
        assert_eq!(
            parsed(&format!("f:'{word}'")),
            eq("f", text(word)),
            "{word}"
        );
    }
}

#[test]
fn reads_relative_dates_in_every_unit() {
    for (symbol, unit) in [
        ('s', DateUnit::Seconds),
        ('m', DateUnit::Minutes),
        ('h', DateUnit::Hours),
        ('d', DateUnit::Days),
        ('w', DateUnit::Weeks),
        ('M', DateUnit::Months),
        ('y', DateUnit::Years),
    ] {
        assert_eq!(
            parsed(&format!("at:>now-2{symbol}")),
            cond(
                "at",
                Op::Gt,
                Value::RelativeDate {
                    sign: -1,
                    amount: 2,
                    unit
                }
            ),
        );
    }
    assert_eq!(
        parsed("at:<now+1w"),
        cond(
            "at",
            Op::Lt,
            Value::RelativeDate {
                sign: 1,
                amount: 1,
                unit: DateUnit::Weeks
            }
        )
    );
}

#[test]
fn reads_a_bare_now_as_ghost_does() {
    assert_eq!(
        parsed("published_at:>now"),
        cond("published_at", Op::Gt, Value::Now)
    );
    assert_eq!(
        parsed("published_at:<=now"),
        cond("published_at", Op::Lte, Value::Now)
    );
    assert_eq!(
        parsed("published_at:<=now-30d"),
        cond("published_at", Op::Lte, days_ago(30))
    );
    assert_eq!(
        parsed("(published_at:>=now,featured:true)"),
        Filter::Or(vec![
            cond("published_at", Op::Gte, Value::Now),
            eq("featured", Value::Bool(true)),
        ])
    );
    assert_eq!(
        parsed("at:[now, now-1d]"),
        cond("at", Op::In, list(&[Value::Now, days_ago(1)]))
    );
    assert_eq!(parsed("at:-now"), cond("at", Op::Ne, Value::Now));
    assert_eq!(parsed("at:now "), eq("at", Value::Now));
    // Only the lower-case keyword; longer words and quoted text stay text.
    assert_eq!(parsed("at:NOW"), eq("at", text("NOW")));
    assert_eq!(parsed("at:now-"), eq("at", text("now-")));
    assert_eq!(parsed("at:now-tag"), eq("at", text("now-tag")));
    assert_eq!(parsed("at:'now'"), eq("at", text("now")));
    assert_eq!(
        parsed("title:~now"),
        cond("title", Op::Contains, text("now"))
    );
}

#[test]
fn resolves_relative_dates_in_utc_with_calendar_months() {
    // 2024-03-31T12:00:00Z.
    let now = 1_711_886_400_000;
    let at = |sign, amount, unit| resolve_relative_date(now, sign, amount, unit);
    assert_eq!(at(-1, 30, DateUnit::Seconds), Ok(now - 30_000));
    assert_eq!(at(1, 2, DateUnit::Minutes), Ok(now + 120_000));
    assert_eq!(at(-1, 3, DateUnit::Hours), Ok(now - 3 * 3_600_000));
    assert_eq!(at(-1, 30, DateUnit::Days), Ok(now - 30 * 86_400_000));
    assert_eq!(at(1, 1, DateUnit::Weeks), Ok(now + 7 * 86_400_000));
    // March 31st minus a month is the last day of February (a leap year).
    assert_eq!(at(-1, 1, DateUnit::Months), Ok(1_709_208_000_000));
    // 2023-03-31T12:00:00Z.
    assert_eq!(at(-1, 1, DateUnit::Years), Ok(1_680_264_000_000));
    assert_eq!(at(1, 0, DateUnit::Years), Ok(now));
}

#[test]
fn relative_dates_beyond_the_calendar_are_errors_not_overflows() {
    let now = 1_711_886_400_000;
    for unit in [
        DateUnit::Seconds,
        DateUnit::Minutes,
        DateUnit::Hours,
        DateUnit::Days,
        DateUnit::Weeks,
        DateUnit::Months,
        DateUnit::Years,
    ] {
        for sign in [-1, 1] {
            for clock in [now, i64::MIN, i64::MAX, 0] {
                // Never panics, whatever the clock and amount.
                let _ = resolve_relative_date(clock, sign, u32::MAX, unit);
                let _ = resolve_relative_date(clock, sign, unit.max_amount(), unit);
            }
        }
    }
    assert_eq!(
        resolve_relative_date(now, -1, u32::MAX, DateUnit::Years),
        Err(DateOutOfRange("now-4294967295y".to_owned()))
    );
    assert_eq!(
        resolve_relative_date(now, 1, 19_998, DateUnit::Years)
            .map_err(|e| e.to_string()),
        Err("Query Error: the relative date now+19998y falls outside the dates that can be computed (years -9999 to 9999)".to_owned())
    );
    assert!(resolve_relative_date(now, -1, 12_000, DateUnit::Years).is_ok());
    assert!(resolve_relative_date(i64::MAX, -1, 1, DateUnit::Seconds).is_err());
}

#[test]
fn tells_relative_dates_from_words_and_conjunctions() {
    // "+" inside a relative date is not AND…
    assert_eq!(
        parsed("at:>now+1d+tag:x"),
        Filter::And(vec![
            cond(
                "at",
                Op::Gt,
                Value::RelativeDate {
                    sign: 1,
                    amount: 1,
                    unit: DateUnit::Days
                }
            ),
            eq("tag", text("x")),
        ])
    );
    // …but after a bare "now" it is.
    assert_eq!(
        parsed("slug:now+tag:x"),
        Filter::And(vec![eq("slug", Value::Now), eq("tag", text("x"))])
    );
    assert_eq!(parsed("slug:now-1dx"), eq("slug", text("now-1dx")));
    assert_eq!(parsed("slug:now-d"), eq("slug", text("now-d")));
    assert_eq!(parsed("slug:nowhere"), eq("slug", text("nowhere")));
    // A relative date ends at whitespace or punctuation, as any word does.
    assert_eq!(parsed("(at:>now-30d )"), cond("at", Op::Gt, days_ago(30)));
    assert_eq!(parsed("(at:>now-30d)"), cond("at", Op::Gt, days_ago(30)));
    assert_eq!(
        parsed("at:[now-1d, now-2d]"),
        cond("at", Op::In, list(&[days_ago(1), days_ago(2)]))
    );
}

#[test]
fn reads_lists_with_mixed_members_and_spaces() {
    assert_eq!(
        parsed("tag:[ news , 'two words', 3, null, 'a,b' ]"),
        cond(
            "tag",
            Op::In,
            list(&[
                text("news"),
                text("two words"),
                Value::Int(3),
                Value::Null,
                text("a,b"),
            ])
        )
    );
    assert_eq!(
        parsed("tag:-[x]"),
        cond("tag", Op::NotIn, list(&[text("x")]))
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let (a, b, c) = (
        eq("a", Value::Int(1)),
        eq("b", Value::Int(2)),
        eq("c", Value::Int(3)),
    );
    assert_eq!(
        parsed("a:1,b:2+c:3"),
        Filter::Or(vec![a.clone(), Filter::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        parsed("a:1+b:2,c:3"),
        Filter::Or(vec![Filter::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        parsed("a:1+b:2+c:3"),
        Filter::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(parsed("a:1,b:2,c:3"), Filter::Or(vec![a, b, c]));
}

#[test]
fn groups_with_parentheses_and_flattens_same_kind() {
    let (a, b, c) = (
        eq("a", Value::Int(1)),
        eq("b", Value::Int(2)),
        eq("c", Value::Int(3)),
    );
    assert_eq!(
        parsed("(a:1,b:2)+c:3"),
        Filter::And(vec![Filter::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        parsed("(a:1+b:2)+c:3"),
        Filter::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        parsed("a:1,(b:2,c:3)"),
        Filter::Or(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(parsed("((((a:1))))"), a.clone());
    assert_eq!(
        parsed("a:1+(b:2,(c:3+a:1))"),
        Filter::And(vec![
            a.clone(),
            Filter::Or(vec![b, Filter::And(vec![c, a])]),
        ])
    );
}

#[test]
fn ignores_whitespace_between_tokens() {
    assert_eq!(
        parsed("  ( tag : - [ a , b ] ,\tfeatured :true )  +  title: ~ 'x y'  "),
        parsed("(tag:-[a,b],featured:true)+title:~'x y'")
    );
}

#[test]
fn expands_post_shortcuts() {
    let filter =
        parsed("tag:a+tags:b+author:c+(authors:-d,primary_tag:e,primary_author:f,tags.name:g)");
    assert_eq!(
        expand_post_shortcuts(filter).to_string(),
        "tags.slug:a+tags.slug:b+authors.slug:c+(authors.slug:-d,primary_tag:e,primary_author:f,tags.name:g)"
    );
}

#[test]
fn prints_canonical_nql() {
    for (input, canonical) in [
        ("  tag : - [ a , 'b c' ] ", "tag:-[a,'b c']"),
        ("(a:1,b:2)+c:3", "(a:1,b:2)+c:3"),
        ("a:1,(b:2+c:3)", "a:1,b:2+c:3"),
        ("f:'plain'", "f:plain"),
        ("f:'true'", "f:'true'"),
        ("f:'42'", "f:'42'"),
        ("f:'now-1d'", "f:'now-1d'"),
        ("f:'-x'", "f:'-x'"),
        ("f:'a:b'", "f:'a:b'"),
        ("f:''", "f:''"),
        (r"f:a\+b", "f:'a+b'"),
        (r#"f:'it\'s "x" \\'"#, r#"f:'it\'s \"x\" \\'"#),
        ("f:café", "f:café"),
        ("at:>=NOW", "at:>=NOW"),
        ("at:>=now", "at:>=now"),
        ("f:'now'", "f:'now'"),
        ("at:>now-0002M", "at:>now-2M"),
        ("title:-~^'2024'", "title:-~^'2024'"),
        ("n:TRUE", "n:true"),
    ] {
        assert_eq!(parsed(input).to_string(), canonical, "{input}");
    }
}

#[test]
fn prints_hand_built_filters_so_they_read_back() {
    let negative = eq("n", Value::Int(-5));
    assert_eq!(negative.to_string(), "n:'-5'");
    // Nested same-kind and single-member groups print flat.
    let odd = Filter::And(vec![
        Filter::Or(vec![Filter::Or(vec![
            eq("a", Value::Int(1)),
            eq("b", Value::Int(2)),
        ])]),
        Filter::And(vec![eq("c", Value::Int(3))]),
    ]);
    assert_eq!(odd.to_string(), "(a:1,b:2)+c:3");
    assert_eq!(parsed(&odd.to_string()), odd.normalised());
}

#[test]
fn combines_and_lists_conditions() {
    let client = parsed("tag:a,tag:b");
    let enforced = Filter::and([parsed("status:published+type:post"), client]);
    assert_eq!(
        enforced.to_string(),
        "status:published+type:post+(tag:a,tag:b)"
    );
    let fields: Vec<&str> = enforced
        .conditions()
        .iter()
        .map(|cond| cond.field.as_str())
        .collect();
    assert_eq!(fields, ["status", "type", "tag", "tag"]);
    assert_eq!(Filter::or([parsed("a:1")]), parsed("a:1"));
}

#[test]
fn accepts_up_to_the_nesting_and_length_limits() {
    let deepest = format!("{}a:1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(parsed(&deepest), eq("a", Value::Int(1)));
    let longest = format!("title:'{}'", "x".repeat(MAX_INPUT_LEN - 8));
    assert_eq!(longest.len(), MAX_INPUT_LEN);
    assert!(parse(&longest).is_ok());
}

#[test]
fn reports_typical_mistakes_exactly() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "tag:",
            4,
            r#"unexpected end of filter at position 4; expected a value after "tag:""#,
        ),
        (
            ":news",
            0,
            r#"unexpected character ":" at position 0; expected a condition such as "tag:news""#,
        ),
        (
            "tag:news+",
            9,
            r#"unexpected end of filter at position 9; expected a condition after "+""#,
        ),
        (
            "tag:a,",
            6,
            r#"unexpected end of filter at position 6; expected a condition after ",""#,
        ),
        (
            "(tag:a",
            6,
            r#"unexpected end of filter at position 6; expected "+", "," or ")" to close the "(" at position 0"#,
        ),
        (
            "()",
            1,
            r#"unexpected character ")" at position 1; expected a condition after "(""#,
        ),
        (
            "tag:a)",
            5,
            r#"unexpected character ")" at position 5; expected "+", "," or the end of the filter"#,
        ),
        (
            "tag:[a,b",
            8,
            r#"unexpected end of filter at position 8; expected "," or "]" to close the list at position 4"#,
        ),
        (
            "tag:[]",
            5,
            r#"unexpected character "]" at position 5; expected a value in the list"#,
        ),
        (
            "tag:[a,]",
            7,
            r#"unexpected character "]" at position 7; expected a value after ",""#,
        ),
        (
            "tag:[a b]",
            7,
            r#"unexpected "b" at position 7; expected "," or "]" to close the list at position 4"#,
        ),
        (
            "tag:'unterminated",
            4,
            r#"unterminated string at position 4; expected a closing "'""#,
        ),
        (
            r"tag:'ends in escape\'",
            4,
            r#"unterminated string at position 4; expected a closing "'""#,
        ),
        (
            "tag news",
            4,
            r#"unexpected "news" at position 4; expected ":" after "tag""#,
        ),
        (
            "tag",
            3,
            r#"unexpected end of filter at position 3; expected ":" after "tag""#,
        ),
        (
            "tag:>",
            5,
            r#"unexpected end of filter at position 5; expected a value after "tag:>""#,
        ),
        (
            "tag:<=",
            6,
            r#"unexpected end of filter at position 6; expected a value after "tag:<=""#,
        ),
        (
            "tag:-",
            5,
            r#"unexpected end of filter at position 5; expected a value, "[" or "~" after "tag:-""#,
        ),
        (
            "tag:->5",
            5,
            r#"unexpected character ">" at position 5; expected a value, "[" or "~" after "tag:-""#,
        ),
        (
            "title:~",
            7,
            r#"unexpected end of filter at position 7; expected text after "title:~""#,
        ),
        (
            "title:-~$(",
            9,
            r#"unexpected character "(" at position 9; expected text after "title:-~$""#,
        ),
        (
            "tag:news=x",
            8,
            r#"unexpected character "=" at position 8; expected "+", "," or the end of the filter"#,
        ),
        (
            "tag:=x",
            4,
            r#"unexpected character "=" at position 4; expected a value after "tag:""#,
        ),
        (
            "tag:a tag:b",
            6,
            r#"unexpected "tag" at position 6; expected "+", "," or the end of the filter"#,
        ),
        (
            "tag:a+,b:1",
            6,
            r#"unexpected character "," at position 6; expected a condition after "+""#,
        ),
        (
            "tags.:x",
            5,
            r#"unexpected character ":" at position 5; expected the rest of the field name after "tags.""#,
        ),
        (
            "tag-x:y",
            3,
            r#"unexpected character "-" at position 3; expected ":" after "tag""#,
        ),
        (
            "é:x",
            0,
            r#"unexpected "é" at position 0; expected a condition such as "tag:news""#,
        ),
        (
            "tag:a+😀",
            6,
            r#"unexpected character "😀" at position 6; expected a condition after "+""#,
        ),
        (
            "\u{0}",
            0,
            r#"unexpected character U+0000 at position 0; expected a condition such as "tag:news""#,
        ),
        (
            "tag:\"news\"",
            4,
            r#"unexpected character '"' at position 4; expected a value after "tag:" (strings are quoted with ', not ")"#,
        ),
        (
            "n:>-5",
            3,
            r#"unexpected character "-" at position 3; expected a value after "n:>" (quote a value that starts with "-", like '-5')"#,
        ),
        (
            "tag:--x",
            5,
            r#"unexpected character "-" at position 5; expected a value, "[" or "~" after "tag:-" (quote a value that starts with "-", like '-5')"#,
        ),
        (
            "at:>now-99999999999d",
            8,
            "relative date amount 99999999999 is too large at position 8; at most 7304484 days are allowed",
        ),
        (
            "published_at:>now-4294967295y",
            18,
            "relative date amount 4294967295 is too large at position 18; at most 19998 years are allowed",
        ),
        (
            "at:<now+4294967296s",
            8,
            "relative date amount 4294967296 is too large at position 8; at most 4294967295 seconds are allowed",
        ),
        (
            "at:<now+19999y",
            8,
            "relative date amount 19999 is too large at position 8; at most 19998 years are allowed",
        ),
        ("", 0, "the filter is empty"),
        (" \t\n ", 0, "the filter is empty"),
    ];
    for &(input, position, message) in cases {
        assert_eq!(
            error(input),
            (position, format!("Query Error: {message}")),
            "{input:?}"
        );
    }
}

#[test]
fn names_long_words_briefly_in_errors() {
    let input = format!("tag {}", "x".repeat(100));
    let (_, message) = error(&input);
    assert!(
        message.contains(&format!("unexpected \"{}…\" at position 4", "x".repeat(24))),
        "{message}"
    );
}

#[test]
fn refuses_too_deep_nesting() {
    let input = format!(
        "{}a:1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(
        error(&input),
        (
            32,
            "Query Error: parentheses nested too deeply at position 32; at most 32 levels are allowed"
                .to_owned()
        )
    );
    // Far deeper input fails just as quickly, without exhausting the stack.
    assert_eq!(error(&"(".repeat(100_000)).0, MAX_INPUT_LEN);
    assert_eq!(error(&"(".repeat(MAX_INPUT_LEN)).0, 32);
}

#[test]
fn refuses_too_long_input() {
    let input = format!("title:'{}'", "x".repeat(MAX_INPUT_LEN));
    assert_eq!(
        error(&input),
        (
            MAX_INPUT_LEN,
            "Query Error: the filter is 8200 bytes long; at most 8192 bytes are allowed".to_owned()
        )
    );
}
