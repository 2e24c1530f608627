//! SQL functions the filter translation needs and SQLite lacks (or has only for ASCII): date
//! parsing and parts in the protocol's date formats, `floor`/`ceiling`, Unicode case mapping.
//! Registered on every connection the store opens.

use chrono::{Datelike, Timelike};
use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use tidemark_protocol::date;

/// Registers every `tidemark_*` function on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("tidemark_micros", 1, flags, |ctx| {
        Ok(micros(ctx).map_or(Value::Null, Value::Integer))
    })?;
    type Part = fn(&chrono::DateTime<chrono::Utc>) -> i64;
    let parts: [(&str, Part); 6] = [
        ("tidemark_year", |d| i64::from(d.year())),
        ("tidemark_month", |d| i64::from(d.month())),
        ("tidemark_day", |d| i64::from(d.day())),
        ("tidemark_hour", |d| i64::from(d.hour())),
        ("tidemark_minute", |d| i64::from(d.minute())),
        ("tidemark_second", |d| i64::from(d.second())),
    ];
    for (name, part) in parts {
        conn.create_scalar_function(name, 1, flags, move |ctx| {
            Ok(micros(ctx)
                .and_then(date::from_micros)
                .map_or(Value::Null, |d| Value::Integer(part(&d))))
        })?;
    }
    conn.create_scalar_function("tidemark_floor", 1, flags, |ctx| {
        Ok(round_with(ctx, f64::floor))
    })?;
    conn.create_scalar_function("tidemark_ceiling", 1, flags, |ctx| {
        Ok(round_with(ctx, f64::ceil))
    })?;
    conn.create_scalar_function("tidemark_lower", 1, flags, |ctx| {
        Ok(map_text(ctx, str::to_lowercase))
    })?;
    conn.create_scalar_function("tidemark_upper", 1, flags, |ctx| {
        Ok(map_text(ctx, str::to_uppercase))
    })?;
    Ok(())
}

/// The argument as microseconds: integers are already microseconds (date columns), text is
/// parsed as a protocol date; anything else, or an unparsable string, is null.
fn micros(ctx: &Context<'_>) -> Option<i64> {
    match ctx.get_raw(0) {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| date::parse_date(s).ok())
            .map(|d| date::to_micros(&d)),
        _ => None,
    }
}

fn round_with(ctx: &Context<'_>, f: fn(f64) -> f64) -> Value {
    match ctx.get_raw(0) {
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(f(r)),
        _ => Value::Null,
    }
}

fn map_text(ctx: &Context<'_>, f: fn(&str) -> String) -> Value {
    match ctx.get_raw(0) {
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => Value::Text(f(s)),
            Err(_) => Value::Null,
        },
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}
