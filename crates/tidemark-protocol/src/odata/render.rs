//! Turns the syntax tree back into filter text, written the way the .NET client writes it:
//! every binary expression in parentheses, no reliance on precedence, so the text parses back
//! to the same tree on our server and on stock servers alike.

use std::fmt;

use chrono::{Datelike, FixedOffset, NaiveDateTime, Timelike};

use super::ast::{Expr, Literal, OrderBy};

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(lit) => write!(f, "{lit}"),
            Expr::Property(name) => f.write_str(name),
            Expr::Unary { op, operand } => {
                let keyword = op.keyword();
                // A binary operand already brings its parentheses. Anything else gets its own,
                // so that `-(5)` (a negation) never reads as the literal `-5`.
                if matches!(operand.as_ref(), Expr::Binary { .. }) {
                    write!(f, "{keyword}{operand}")
                } else {
                    write!(f, "{keyword}({operand})")
                }
            }
            Expr::Binary { op, left, right } => {
                write!(f, "({left} {} {right})", op.keyword())
            }
            Expr::Call { func, args } => {
                write!(f, "{}(", func.name())?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int32(v) => write!(f, "{v}"),
            Literal::Int64(v) => write!(f, "{v}L"),
            Literal::Double(v) => f.write_str(&float_text(*v)),
            Literal::Single(v) => write!(f, "{}f", float_text(*v)),
            Literal::Decimal(text) => write!(f, "{text}M"),
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::DateTime(naive) => write!(f, "datetime'{}Z'", local_text(naive)),
            Literal::DateTimeOffset(dt) => {
                let offset = *dt.offset();
                if offset.local_minus_utc() % 60 == 0 {
                    write!(
                        f,
                        "datetimeoffset'{}{}'",
                        local_text(&dt.naive_local()),
                        offset_text(offset)
                    )
                } else {
                    // `±hh:mm` cannot carry seconds: write the same instant in UTC instead.
                    write!(f, "datetimeoffset'{}Z'", local_text(&dt.naive_utc()))
                }
            }
            Literal::Guid(g) => write!(f, "guid'{}'", g.hyphenated()),
        }
    }
}

impl fmt::Display for OrderBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.expr, self.direction.keyword())
    }
}

/// Renders `$orderby`: `updatedAt asc,id asc`.
pub fn render_orderby(keys: &[OrderBy]) -> String {
    keys.iter()
        .map(OrderBy::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A float that parses back as the same value and as a floating-point literal: Rust's `Debug`
/// form is the shortest exact one and always has a `.` or an exponent; OData spells the
/// exponent `E` and the non-finite values `NaN`, `INF`, `-INF`.
fn float_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "INF".into() } else { "-INF".into() }
    } else {
        format!("{v:?}").replace('e', "E")
    }
}

/// `yyyy-mm-ddThh:mm:ss[.fffffffff]` with as many fractional digits as the value needs.
fn local_text(dt: &NaiveDateTime) -> String {
    // chrono represents a leap second as nanos >= 1e9; clamp to stay within nine digits.
    let nanos = dt.nanosecond().min(999_999_999);
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text
}

/// `Z` for UTC, otherwise `±hh:mm`.
fn offset_text(offset: FixedOffset) -> String {
    let seconds = offset.local_minus_utc();
    if seconds == 0 {
        return "Z".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::ast::Direction;
    use crate::odata::builder::*;
    use crate::odata::parse_filter;
    use chrono::{DateTime, NaiveDate};

    #[test]
    fn every_binary_expression_is_parenthesised() {
        let e = prop("a").equals(1).and(prop("b").gt(2));
        assert_eq!(e.to_string(), "((a eq 1) and (b gt 2))");
    }

    #[test]
    fn strings_double_their_quotes() {
        assert_eq!(prop("text").equals("it's").to_string(), "(text eq 'it''s')");
    }

    #[test]
    fn calls_list_arguments_without_spaces() {
        let e = substringof("milk", tolower(prop("text")));
        assert_eq!(e.to_string(), "substringof('milk',tolower(text))");
    }

    #[test]
    fn numbers_carry_their_type() {
        assert_eq!(lit(5).to_string(), "5");
        assert_eq!(lit(-5).to_string(), "-5");
        assert_eq!(lit(5i64).to_string(), "5L");
        assert_eq!(lit(5.0).to_string(), "5.0");
        assert_eq!(lit(0.1).to_string(), "0.1");
        assert_eq!(lit(1e300).to_string(), "1E300");
        assert_eq!(lit(-2.5e-8).to_string(), "-2.5E-8");
        assert_eq!(Literal::Single(1.5).to_string(), "1.5f");
        assert_eq!(Literal::Decimal("12.50".into()).to_string(), "12.50M");
        assert_eq!(lit(f64::NAN).to_string(), "NaN");
        assert_eq!(lit(f64::NEG_INFINITY).to_string(), "-INF");
        assert_eq!(Literal::Single(f64::INFINITY).to_string(), "INFf");
    }

    #[test]
    fn negation_never_looks_like_a_negative_literal() {
        assert_eq!(lit(5).neg().to_string(), "-(5)");
        assert_eq!(lit(-5).neg().to_string(), "-(-5)");
        assert_eq!(prop("a").add(1).neg().to_string(), "-(a add 1)");
        assert_eq!(prop("done").not().to_string(), "not(done)");
        assert_eq!(prop("a").equals(1).not().to_string(), "not(a eq 1)");
    }

    #[test]
    fn dates_keep_their_offset_and_needed_digits() {
        let dt = DateTime::parse_from_rfc3339("2024-01-02T03:04:05.1234567+02:00").ok();
        assert_eq!(
            dt.map(|d| lit(d).to_string()).as_deref(),
            Some("datetimeoffset'2024-01-02T03:04:05.1234567+02:00'")
        );
        let utc = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z").ok();
        assert_eq!(
            utc.map(|d| lit(d.to_utc()).to_string()).as_deref(),
            Some("datetimeoffset'2024-05-01T10:00:00Z'")
        );
        let naive =
            NaiveDate::from_ymd_opt(2024, 1, 2).and_then(|d| d.and_hms_milli_opt(3, 4, 5, 120));
        assert_eq!(
            naive.map(|n| lit(n).to_string()).as_deref(),
            Some("datetime'2024-01-02T03:04:05.12Z'")
        );
    }

    #[test]
    fn offsets_with_seconds_are_written_in_utc() {
        let offset = FixedOffset::east_opt(3600 + 30);
        let dt = offset.and_then(|o| {
            NaiveDate::from_ymd_opt(2024, 1, 1)
                .and_then(|d| d.and_hms_opt(12, 0, 30))
                .and_then(|n| crate::date::with_offset(n, o))
        });
        let lit = dt.map(Literal::DateTimeOffset);
        assert_eq!(
            lit.as_ref().map(ToString::to_string).as_deref(),
            Some("datetimeoffset'2024-01-01T11:00:00Z'")
        );
        assert_eq!(
            lit.as_ref().and_then(|l| parse_filter(&l.to_string()).ok()),
            lit.map(Expr::Literal)
        );
    }

    #[test]
    fn guids_are_hyphenated() {
        let g = uuid::Uuid::from_u128(0x0f8fad5b_d9cb_469f_a165_70867728950e);
        assert_eq!(
            lit(g).to_string(),
            "guid'0f8fad5b-d9cb-469f-a165-70867728950e'"
        );
    }

    #[test]
    fn orderby_renders_each_key_with_its_direction() {
        let keys = [
            OrderBy {
                expr: prop("updatedAt"),
                direction: Direction::Asc,
            },
            OrderBy {
                expr: prop("id"),
                direction: Direction::Desc,
            },
        ];
        assert_eq!(render_orderby(&keys), "updatedAt asc,id desc");
        assert_eq!(render_orderby(&[]), "");
    }

    #[test]
    fn rendered_real_filters_parse_back() {
        for text in [
            "(updatedAt ge datetimeoffset'2024-05-01T10:00:00.0000000+00:00')",
            "((complete eq false) and substringof('milk',tolower(text)))",
            "not (a eq -1) or - b lt 2.5e3 and c ne 'x''y'",
            "(price mul 2M) gt 10.5d and n eq 5L and f eq 1.25f and g eq -INF",
        ] {
            let parsed = parse_filter(text).map_err(|e| format!("{text}: {e}"));
            let reparsed = parsed
                .clone()
                .and_then(|e| parse_filter(&e.to_string()).map_err(|e| e.to_string()));
            assert_eq!(reparsed, parsed);
        }
    }
}
