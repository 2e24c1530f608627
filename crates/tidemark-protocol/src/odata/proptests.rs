//! Property tests of the query language: any tree renders to text that parses back to the same
//! tree, and no input (random, token soup, or a mutated valid filter) makes a parser panic.
//!
//! Case counts are proptest's default (256) so the suite stays fast; set `PROPTEST_CASES` to
//! run more.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime};
use proptest::prelude::*;

use super::ast::{BinaryOp, Direction, Expr, Function, Literal, OrderBy, UnaryOp};
use super::{TableQuery, parse_filter, parse_orderby, parse_select};
use crate::date::with_offset;

/// Words the lexer or parser read as something other than a property name.
fn is_reserved(name: &str) -> bool {
    BinaryOp::from_keyword(name).is_some()
        || ["not", "true", "false", "null"].contains(&name)
        || ((name.starts_with("NaN") || name.starts_with("INF")) && name.len() <= 4)
}

fn property_name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,8}".prop_filter("reserved word", |s| !is_reserved(s))
}

fn finite_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |v| v.is_finite())
}

/// Any instant the grammar can write (four-digit years), to the nanosecond.
fn naive() -> impl Strategy<Value = NaiveDateTime> {
    (
        1i32..=9999,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
        prop_oneof![Just(0u32), 0u32..1_000_000_000],
    )
        .prop_filter_map("valid date", |(y, mo, d, h, mi, s, n)| {
            NaiveDate::from_ymd_opt(y, mo, d).and_then(|date| date.and_hms_nano_opt(h, mi, s, n))
        })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i32>().prop_map(Literal::Int32),
        any::<i64>().prop_map(Literal::Int64),
        finite_f64().prop_map(Literal::Double),
        finite_f64().prop_map(Literal::Single),
        "-?[0-9]{1,12}(\\.[0-9]{1,8})?".prop_map(Literal::Decimal),
        "(?s).{0,12}".prop_map(Literal::String),
        naive().prop_map(Literal::DateTime),
        (naive(), -1439i32..=1439).prop_filter_map("in range", |(n, minutes)| {
            FixedOffset::east_opt(minutes * 60)
                .and_then(|o| with_offset(n, o))
                .map(Literal::DateTimeOffset)
        }),
        any::<u128>().prop_map(|v| Literal::Guid(uuid::Uuid::from_u128(v))),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    proptest::sample::select(BinaryOp::ALL.to_vec())
}

fn function() -> impl Strategy<Value = Function> {
    proptest::sample::select(Function::ALL.to_vec())
}

/// Trees of bounded depth with every kind of node, calls always with a valid arity.
fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        literal().prop_map(Expr::Literal),
        property_name().prop_map(Expr::Property),
    ];
    leaf.prop_recursive(6, 48, 3, |inner| {
        prop_oneof![
            (
                prop_oneof![Just(UnaryOp::Not), Just(UnaryOp::Negate)],
                inner.clone()
            )
                .prop_map(|(op, e)| Expr::Unary {
                    op,
                    operand: Box::new(e)
                }),
            (binary_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::Binary {
                op,
                left: Box::new(l),
                right: Box::new(r)
            }),
            function().prop_flat_map(move |func| {
                let (min, max) = func.arity();
                proptest::collection::vec(inner.clone(), min..=max)
                    .prop_map(move |args| Expr::Call { func, args })
            }),
        ]
    })
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::Asc), Just(Direction::Desc)]
}

fn table_query() -> impl Strategy<Value = TableQuery> {
    (
        proptest::option::of(expr()),
        proptest::collection::vec((property_name(), direction()), 0..4),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        proptest::collection::vec(property_name(), 0..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(filter, orderby, top, skip, select, inline_count, include_deleted)| TableQuery {
                filter,
                orderby: orderby
                    .into_iter()
                    .map(|(p, direction)| OrderBy {
                        expr: Expr::Property(p),
                        direction,
                    })
                    .collect(),
                top,
                skip,
                select,
                inline_count,
                include_deleted,
            },
        )
}

/// Fragments that mean something to the lexer or parser, to build near-valid inputs from.
const SOUP: &[&str] = &[
    "(",
    ")",
    ",",
    "-",
    "not",
    "and",
    "or",
    "eq",
    "ne",
    "gt",
    "le",
    "add",
    "mul",
    "mod",
    "a",
    "text",
    "1",
    "-7",
    "2.5",
    "1E5",
    "3L",
    "4f",
    "5M",
    "'x'",
    "''",
    "'it''s'",
    "true",
    "null",
    "INF",
    "-INF",
    "substring",
    "tolower",
    "concat",
    "substringof",
    "year",
    "foo",
    "asc",
    "desc",
    "datetime'2024-01-02T03:04:05Z'",
    "datetimeoffset'2024-01-02T03:04:05.1234567+02:00'",
    "guid'0f8fad5b-d9cb-469f-a165-70867728950e'",
    "'",
    "*",
    "/",
    "é",
    " ",
];

fn soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (
            proptest::sample::select(SOUP.to_vec()),
            prop_oneof![Just(""), Just(" ")],
        ),
        0..30,
    )
    .prop_map(|parts| parts.into_iter().flat_map(|(t, sep)| [t, sep]).collect())
}

/// One edit of `text`: delete, insert, replace, duplicate a slice, or truncate.
fn mutate(text: &str, kind: u8, at: usize, len: usize, c: char) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + len).min(chars.len());
    let mut out: Vec<char> = chars[..at].to_vec();
    match kind % 5 {
        0 => {}
        1 => {
            out.push(c);
            out.extend_from_slice(&chars[at..]);
            return out.into_iter().collect();
        }
        2 => out.push(c),
        3 => {
            out.extend_from_slice(&chars[at..end]);
            out.extend_from_slice(&chars[at..end]);
        }
        _ => return out.into_iter().collect(),
    }
    out.extend_from_slice(&chars[end..]);
    out.into_iter().collect()
}

/// A filter that parsed must render to text that parses back to the same tree.
fn assert_render_round_trips(text: &str) -> Result<(), TestCaseError> {
    if let Ok(expr) = parse_filter(text) {
        let rendered = expr.to_string();
        prop_assert_eq!(
            parse_filter(&rendered),
            Ok(expr),
            "{} rendered as {}",
            text,
            rendered
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn any_tree_renders_to_text_that_parses_back(e in expr()) {
        let text = e.to_string();
        prop_assert_eq!(parse_filter(&text), Ok(e), "{}", text);
    }

    #[test]
    fn any_query_renders_to_a_query_string_that_parses_back(q in table_query()) {
        let raw = q.to_query_string();
        prop_assert_eq!(TableQuery::from_query_string(&raw), Ok(q), "{}", raw);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_strings(s in "(?s).{0,200}") {
        let _ = parse_filter(&s);
        let _ = parse_orderby(&s);
        let _ = parse_select(&s);
        let _ = TableQuery::from_query_string(&s);
        let _ = TableQuery::from_query_string(&format!("$filter={s}"));
    }

    #[test]
    fn token_soup_never_panics_and_what_parses_round_trips(s in soup()) {
        let _ = parse_orderby(&s);
        let _ = parse_select(&s);
        assert_render_round_trips(&s)?;
    }

    #[test]
    fn mutated_valid_filters_never_panic(
        e in expr(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), 0usize..8, any::<char>()), 1..4),
    ) {
        let mut text = e.to_string();
        for (kind, at, len, c) in edits {
            text = mutate(&text, kind, at, len, c);
        }
        let _ = parse_orderby(&text);
        let _ = TableQuery::from_query_string(&format!("$filter={text}&$orderby={text}"));
        assert_render_round_trips(&text)?;
    }
}

#[test]
fn parsing_at_the_depth_limit_fits_in_a_small_stack() {
    // Tokio's worker threads have 2 MiB; a bounded parser should need far less than that.
    let run = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            let nested = format!("{}a{}", "(".repeat(64), ")".repeat(64));
            let calls = format!("{}a{}", "tolower(".repeat(63), ")".repeat(63));
            let nots = format!("{}a", "not ".repeat(63));
            [nested, calls, nots]
                .iter()
                .map(|s| parse_filter(s).is_ok())
                .collect::<Vec<_>>()
        })
        .map(|handle| handle.join().ok());
    assert_eq!(run.ok().flatten(), Some(vec![true, true, true]));
}
