//! The OData functions: each one's arity and its spelling in every dialect, in one table.
//!
//! A template marks argument `i` as `%<role>i` (see [`Role`](crate::Role)): `%r` as rendered,
//! `%t` text, `%v` value, `%n` number, `%d` date. SQLite is dynamically typed, so its templates
//! use `%r` (and `%d`, which the core converts); PostgreSQL's say which type they need. The
//! `tidemark_*` functions are registered by [`crate::sqlite::register`], the `tm_*` ones by the
//! server's PostgreSQL migrations.

use tidemark_protocol::odata::Function;

/// How one function (with a given number of arguments) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spelling {
    /// The function.
    pub func: Function,
    /// The SQLite template.
    pub sqlite: &'static str,
    /// The PostgreSQL template.
    pub postgres: &'static str,
    /// True when the result is a condition rather than a value.
    pub predicate: bool,
}

/// The spelling of `func` called with `arity` arguments, or `None` when it does not take that
/// many.
pub(crate) fn spelling(func: Function, arity: usize) -> Option<Spelling> {
    use Function as F;
    // (sqlite, postgres, predicate)
    let (sqlite, postgres, predicate) = match (func, arity) {
        (F::SubstringOf, 2) => ("(instr(%r1, %r0) > 0)", "(strpos(%t1, %t0) > 0)", true),
        (F::StartsWith, 2) => ("(instr(%r0, %r1) = 1)", "(strpos(%t0, %t1) = 1)", true),
        // From (length - suffix length + 1): never equal when the suffix is longer. PostgreSQL
        // compares the last length(suffix) characters with the suffix as a value, so the text
        // '1' does not equal the number 1 (as in SQLite).
        (F::EndsWith, 2) => (
            "(substr(%r0, length(%r0) - length(%r1) + 1) = %r1)",
            "(CASE WHEN length(%t0) < length(%t1) THEN false \
              ELSE tm_cmp(to_jsonb(right(%t0, length(%t1))), %v1) = 0 END)",
            true,
        ),
        (F::ToLower, 1) => ("tidemark_lower(%r0)", "tm_lower(%v0)", false),
        (F::ToUpper, 1) => ("tidemark_upper(%r0)", "tm_upper(%v0)", false),
        (F::Length, 1) => ("length(%r0)", "to_jsonb(length(%t0))", false),
        (F::Trim, 1) => ("trim(%r0)", "to_jsonb(btrim(%t0, ' '))", false),
        (F::Concat, 2) => ("(%r0 || %r1)", "to_jsonb(%t0 || %t1)", false),
        (F::IndexOf, 2) => (
            "(instr(%r0, %r1) - 1)",
            "to_jsonb(strpos(%t0, %t1) - 1)",
            false,
        ),
        (F::Substring, 2) => (
            "substr(%r0, %r1 + 1)",
            "to_jsonb(substr(%t0, trunc(%n1)::integer + 1))",
            false,
        ),
        (F::Substring, 3) => (
            "substr(%r0, %r1 + 1, %r2)",
            "to_jsonb(substr(%t0, trunc(%n1)::integer + 1, greatest(trunc(%n2)::integer, 0)))",
            false,
        ),
        (F::Replace, 3) => (
            "replace(%r0, %r1, %r2)",
            "to_jsonb(replace(%t0, %t1, %t2))",
            false,
        ),
        (F::Year, 1) => ("tidemark_year(%d0)", "tm_date_part('year', %d0)", false),
        (F::Month, 1) => ("tidemark_month(%d0)", "tm_date_part('month', %d0)", false),
        (F::Day, 1) => ("tidemark_day(%d0)", "tm_date_part('day', %d0)", false),
        (F::Hour, 1) => ("tidemark_hour(%d0)", "tm_date_part('hour', %d0)", false),
        (F::Minute, 1) => ("tidemark_minute(%d0)", "tm_date_part('minute', %d0)", false),
        (F::Second, 1) => ("tidemark_second(%d0)", "tm_date_part('second', %d0)", false),
        // SQLite's round always gives a real, rounding halves away from zero as numeric's round
        // does; floor and ceiling keep integers, reals stay reals.
        (F::Round, 1) => ("round(%r0)", "tm_real(round(%n0)::float8)", false),
        (F::Floor, 1) => ("tidemark_floor(%r0)", "tm_round_with('floor', %v0)", false),
        (F::Ceiling, 1) => (
            "tidemark_ceiling(%r0)",
            "tm_round_with('ceiling', %v0)",
            false,
        ),
        _ => return None,
    };
    Some(Spelling {
        func,
        sqlite,
        postgres,
        predicate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    /// The argument indexes a template uses, each at most once per role letter.
    fn uses(template: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let bytes = template.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'%' {
                assert!(Role::from_letter(bytes[i + 1]).is_some(), "{template}");
                out.push(usize::from(bytes[i + 2] - b'0'));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn every_function_has_a_spelling_for_its_arity_using_every_argument() {
        for func in Function::ALL {
            let arities: Vec<_> = (0..5).filter(|n| spelling(func, *n).is_some()).collect();
            let (min, max) = func.arity();
            assert_eq!(arities, (min..=max).collect::<Vec<_>>(), "{func:?}");
            for n in arities {
                let s = spelling(func, n).unwrap_or_else(|| panic!("{func:?}"));
                let all: Vec<usize> = (0..n).collect();
                assert_eq!(uses(s.sqlite), all, "{func:?} sqlite");
                assert_eq!(uses(s.postgres), all, "{func:?} postgres");
            }
        }
    }
}
