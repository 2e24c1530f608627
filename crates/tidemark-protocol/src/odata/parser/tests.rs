//! Tests of the `$filter`, `$orderby` and `$select` parsers: precedence, literals, limits and
//! the positions their errors name.

use super::*;
use crate::odata::builder::*;
use chrono::{DateTime, NaiveDate};

fn filter(s: &str) -> Expr {
    parse_filter(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn error(s: &str) -> String {
    match parse_filter(s) {
        Ok(e) => panic!("{s} parsed as {e:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn comparison_of_property_and_string() {
    assert_eq!(filter("text eq 'milk'"), prop("text").equals("milk"));
    assert_eq!(filter("(text eq 'milk')"), prop("text").equals("milk"));
}

#[test]
fn dotnet_incremental_sync_filter() {
    let expected = DateTime::parse_from_rfc3339("2024-05-01T10:00:00+00:00")
        .map(|d| prop("updatedAt").ge(d))
        .ok();
    assert_eq!(
        Some(filter(
            "(updatedAt ge datetimeoffset'2024-05-01T10:00:00.0000000+00:00')"
        )),
        expected
    );
}

#[test]
fn dotnet_search_filter() {
    assert_eq!(
        filter("((complete eq false) and substringof('milk',tolower(text)))"),
        prop("complete")
            .equals(false)
            .and(substringof("milk", tolower(prop("text"))))
    );
}

#[test]
fn javascript_client_filters() {
    assert_eq!(
        filter("(id eq 'a1') and (deleted eq false)"),
        prop("id").equals("a1").and(prop("deleted").equals(false))
    );
    assert_eq!(
        filter("startswith(text,'Buy') or endswith(text, 'now')"),
        startswith(prop("text"), "Buy").or(endswith(prop("text"), "now"))
    );
    assert_eq!(
        filter("priority ne null"),
        prop("priority").not_equals(null())
    );
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(
        filter("a eq 1 or b eq 2 and c eq 3"),
        prop("a")
            .equals(1)
            .or(prop("b").equals(2).and(prop("c").equals(3)))
    );
}

#[test]
fn relational_binds_tighter_than_equality() {
    assert_eq!(filter("a gt 1 eq true"), prop("a").gt(1).equals(true));
}

#[test]
fn arithmetic_follows_the_usual_precedence() {
    assert_eq!(
        filter("a add b mul c gt 10"),
        prop("a").add(prop("b").mul(prop("c"))).gt(10)
    );
    assert_eq!(
        filter("a sub b sub c eq 0"),
        prop("a").sub(prop("b")).sub(prop("c")).equals(0)
    );
    assert_eq!(
        filter("a div 2 mod 3 eq 1"),
        prop("a").div(2).modulo(3).equals(1)
    );
}

#[test]
fn not_binds_tighter_than_comparison() {
    assert_eq!(filter("not a eq b"), prop("a").not().equals(prop("b")));
    assert_eq!(filter("not (a eq b)"), prop("a").equals(prop("b")).not());
    assert_eq!(filter("not(complete)"), prop("complete").not());
}

#[test]
fn minus_glued_to_a_number_is_a_negative_literal() {
    assert_eq!(filter("a gt -5"), prop("a").gt(-5));
    assert_eq!(filter("a gt - 5"), prop("a").gt(lit(5).neg()));
    assert_eq!(filter("-a eq 5"), prop("a").neg().equals(5));
    assert_eq!(filter("a sub-1 eq 0"), prop("a").sub(-1).equals(0));
}

#[test]
fn literals_of_every_kind() {
    assert_eq!(filter("true"), lit(true));
    assert_eq!(filter("null"), null());
    assert_eq!(filter("5"), lit(5));
    assert_eq!(filter("5L"), lit(5i64));
    assert_eq!(filter("3000000000"), lit(3_000_000_000i64));
    assert_eq!(filter("2.5"), lit(2.5));
    assert_eq!(filter("2.5f"), Expr::Literal(Literal::Single(2.5)));
    assert_eq!(
        filter("2.5M"),
        Expr::Literal(Literal::Decimal("2.5".into()))
    );
    assert_eq!(filter("'it''s'"), lit("it's"));
    let naive = NaiveDate::from_ymd_opt(2024, 1, 2).and_then(|d| d.and_hms_milli_opt(3, 4, 5, 123));
    assert_eq!(
        Some(filter("datetime'2024-01-02T03:04:05.123Z'")),
        naive.map(lit)
    );
    assert_eq!(
        Some(filter("datetime'2024-01-02T05:04:05.123+02:00'")),
        naive.map(lit)
    );
    let g = uuid::Uuid::from_u128(0x0f8fad5b_d9cb_469f_a165_70867728950e);
    assert_eq!(filter("guid'0f8fad5b-d9cb-469f-a165-70867728950e'"), lit(g));
}

#[test]
fn every_function_with_its_arity() {
    assert_eq!(
        filter("substring(text,1) eq 'x'"),
        substring(prop("text"), 1).equals("x")
    );
    assert_eq!(
        filter("substring(text,1,2) eq 'x'"),
        substring_len(prop("text"), 1, 2).equals("x")
    );
    assert_eq!(
        filter("replace(text,'a','b') eq concat(trim(x),toupper(y))"),
        replace(prop("text"), "a", "b").equals(concat(trim(prop("x")), toupper(prop("y"))))
    );
    assert_eq!(
        filter("year(d) eq 2024 and month(d) eq 5 and day(d) eq 1"),
        year(prop("d"))
            .equals(2024)
            .and(month(prop("d")).equals(5))
            .and(day(prop("d")).equals(1))
    );
    assert_eq!(
        filter("hour(d) add minute(d) add second(d) gt 0"),
        hour(prop("d"))
            .add(minute(prop("d")))
            .add(second(prop("d")))
            .gt(0)
    );
    assert_eq!(
        filter("round(p) eq floor(p) or ceiling(p) eq length(t) or indexof(t,'x') eq -1"),
        round(prop("p"))
            .equals(floor(prop("p")))
            .or(ceiling(prop("p")).equals(length(prop("t"))))
            .or(indexof(prop("t"), "x").equals(-1))
    );
}

#[test]
fn wrong_arity_is_rejected() {
    assert_eq!(
        error("substring(text) eq 'x'"),
        "function 'substring' takes 2 or 3 arguments, found 1 at position 0"
    );
    assert_eq!(
        error("tolower(a, b) eq 'x'"),
        "function 'tolower' takes 1 argument, found more at position 0"
    );
    assert_eq!(
        error("a eq concat()"),
        "function 'concat' takes 2 arguments, found 0 at position 5"
    );
}

#[test]
fn unknown_function_is_rejected_at_its_name() {
    assert_eq!(error("foo(x)"), "unknown function 'foo' at position 0");
    assert_eq!(
        error("a eq Tolower(b)"),
        "unknown function 'Tolower' at position 5"
    );
}

#[test]
fn missing_close_paren_is_reported_where_it_was_expected() {
    assert_eq!(
        error("(a eq 1 and b eq 2"),
        "expected ')', found end of input at position 18"
    );
    assert_eq!(
        error("startswith(a,'x' eq true"),
        "expected ',' or ')', found end of input at position 24"
    );
}

#[test]
fn trailing_garbage_is_rejected() {
    assert_eq!(
        error("a eq 1 b"),
        "expected an operator or end of input, found 'b' at position 7"
    );
    assert_eq!(
        error("a eq 1)"),
        "expected an operator or end of input, found ')' at position 6"
    );
    assert_eq!(
        error("a equals 1"),
        "expected an operator or end of input, found 'equals' at position 2"
    );
}

#[test]
fn operator_words_are_not_operands() {
    assert_eq!(
        error("eq eq 1"),
        "expected an expression, found operator 'eq' at position 0"
    );
    assert_eq!(
        error("a eq and"),
        "expected an expression, found operator 'and' at position 5"
    );
    assert_eq!(
        error(""),
        "expected an expression, found end of input at position 0"
    );
    assert_eq!(
        error("a eq"),
        "expected an expression, found end of input at position 4"
    );
}

#[test]
fn member_access_and_other_syntax_is_rejected() {
    assert_eq!(error("a/b eq 1"), "unexpected character '/' at position 1");
    assert_eq!(error("a == 1"), "unexpected character '=' at position 2");
    assert_eq!(
        error("a eq 'x"),
        "unterminated string literal at position 5"
    );
}

#[test]
fn bad_literals_are_rejected_with_position() {
    assert_eq!(
        error("d gt datetimeoffset'yesterday'"),
        "invalid datetimeoffset literal: expected a four-digit year at position 5"
    );
    assert_eq!(
        error("n eq 99999999999999999999"),
        "integer literal out of range at position 5"
    );
}

#[test]
fn positions_count_characters_not_bytes() {
    assert_eq!(
        parse_filter("text eq 'ééé' bogus")
            .err()
            .map(|e| e.position),
        Some(14)
    );
}

#[test]
fn input_longer_than_the_limit_is_rejected() {
    let long = format!("a eq '{}'", "x".repeat(MAX_INPUT_LEN));
    assert_eq!(
        error(&long),
        "input longer than 8192 characters at position 8192"
    );
    let just_fits = format!("a eq '{}'", "x".repeat(MAX_INPUT_LEN - 7));
    assert!(parse_filter(&just_fits).is_ok());
    let huge = "é".repeat(10 * MAX_INPUT_LEN);
    assert!(parse_filter(&huge).is_err());
}

#[test]
fn nesting_up_to_the_limit_is_accepted() {
    let s = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(parse_filter(&s), Ok(prop("a")));
    let s = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(
        parse_filter(&s).err().map(|e| e.message),
        Some("expression nested deeper than 64 levels".to_string())
    );
}

#[test]
fn deep_nesting_is_rejected_without_overflowing_the_stack() {
    // 8190 characters of each kind of nesting; the stack would overflow long before if
    // the parser recursed once per level without a limit.
    let cases = [
        "(".repeat(MAX_INPUT_LEN - 2) + "a",
        "not ".repeat(2047) + "a",
        "-".repeat(MAX_INPUT_LEN - 1) + "a",
        "tolower(".repeat(1000) + "a",
        "a eq 1 or ".repeat(800) + "a",
        "a add ".repeat(1300) + "a",
    ];
    for s in cases {
        let err = parse_filter(&s).err().map(|e| e.message);
        assert_eq!(
            err.as_deref(),
            Some("expression nested deeper than 64 levels")
        );
    }
}

#[test]
fn a_hundred_thousand_open_parens_are_rejected_quickly() {
    let s = "(".repeat(100_000);
    assert!(parse_filter(&s).is_err());
    // Also past the length check: the recursion limit alone must hold.
    let s = "(".repeat(MAX_INPUT_LEN);
    assert!(parse_filter(&s).is_err());
}

#[test]
fn orderby_keys_with_directions() {
    let keys = parse_orderby("updatedAt desc, id,text asc");
    assert_eq!(
        keys,
        Ok(vec![
            OrderBy {
                expr: prop("updatedAt"),
                direction: Direction::Desc
            },
            OrderBy {
                expr: prop("id"),
                direction: Direction::Asc
            },
            OrderBy {
                expr: prop("text"),
                direction: Direction::Asc
            },
        ])
    );
    assert_eq!(parse_orderby(""), Ok(vec![]));
    assert_eq!(parse_orderby("length(text) desc").map(|k| k.len()), Ok(1));
}

#[test]
fn orderby_rejects_malformed_lists() {
    let err = |s: &str| parse_orderby(s).err().map(|e| e.to_string());
    assert_eq!(
        err("text sideways"),
        Some("expected ',', 'asc', 'desc' or end of input, found 'sideways' at position 5".into())
    );
    assert_eq!(
        err("text,"),
        Some("expected an expression, found end of input at position 5".into())
    );
    let many = vec!["a"; MAX_ORDERBY_KEYS + 1].join(",");
    assert_eq!(
        err(&many),
        Some("too many sort keys (at most 32) at position 64".into())
    );
    assert!(parse_orderby(&vec!["a"; MAX_ORDERBY_KEYS].join(",")).is_ok());
}

#[test]
fn select_lists_property_names() {
    assert_eq!(
        parse_select("id, text,complete"),
        Ok(vec!["id".into(), "text".into(), "complete".into()])
    );
    assert_eq!(parse_select(""), Ok(vec![]));
    assert_eq!(parse_select("*"), Ok(vec![]));
}

#[test]
fn select_rejects_anything_but_names() {
    let err = |s: &str| parse_select(s).err().map(|e| e.to_string());
    assert_eq!(
        err("id,"),
        Some("expected a property name, found end of input at position 3".into())
    );
    assert_eq!(
        err("id text"),
        Some("expected ',' or end of input, found 'text' at position 3".into())
    );
    assert_eq!(
        err("'id'"),
        Some("expected a property name, found a string literal at position 0".into())
    );
    let many = vec!["a"; MAX_SELECT_NAMES + 1].join(",");
    assert!(err(&many).is_some_and(|m| m.starts_with("too many names (at most 256)")));
}
