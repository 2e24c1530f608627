//! SQL functions the translation needs and SQLite lacks (or has only for ASCII): Unicode case
//! mapping, `floor`/`ceiling`, dates in the protocol's formats as microseconds or as the
//! engine's normalised text, and date parts. The engine's local store and the server store
//! register them on every connection they open, so both compute the same answers.
//!
//! The text functions refuse to make a string longer than [`MAX_TEXT_BYTES`] (SQLite's
//! "string or blob too big" error, which the server answers 400): with the translator's nesting
//! limit, a filter cannot grow one row without bound.

use chrono::{DateTime, Datelike, Timelike, Utc};
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, ffi};
use tidemark_protocol::date;

/// The longest text a registered function makes, in bytes: 4 MiB, several times the largest
/// item the server stores, so no real value comes near it. The server also sets it as the
/// length limit of its reader connections, which bounds SQLite's own `replace` and `||`.
pub const MAX_TEXT_BYTES: usize = 4 * 1024 * 1024;

/// Registers every `tidemark_*` function the translator writes on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("tidemark_micros", 1, flags, |ctx| {
        Ok(micros(ctx).map_or(Value::Null, Value::Integer))
    })?;
    conn.create_scalar_function("tidemark_date_text", 1, flags, |ctx| {
        Ok(instant(ctx).map_or(Value::Null, |d| Value::Text(date::format_date(&d))))
    })?;
    type Part = fn(&DateTime<Utc>) -> i64;
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
            Ok(instant(ctx).map_or(Value::Null, |d| Value::Integer(part(&d))))
        })?;
    }
    conn.create_scalar_function("tidemark_floor", 1, flags, |ctx| {
        Ok(round_with(ctx, f64::floor))
    })?;
    conn.create_scalar_function("tidemark_ceiling", 1, flags, |ctx| {
        Ok(round_with(ctx, f64::ceil))
    })?;
    conn.create_scalar_function("tidemark_lower", 1, flags, |ctx| {
        map_text(ctx, str::to_lowercase)
    })?;
    conn.create_scalar_function("tidemark_upper", 1, flags, |ctx| {
        map_text(ctx, str::to_uppercase)
    })?;
    Ok(())
}

/// The argument as microseconds: integers already are (the server's date columns), text is
/// parsed as a protocol date (the engine's date columns, user properties); anything else, or
/// an unparsable string, is none.
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

/// The argument as an instant (see [`micros`]).
fn instant(ctx: &Context<'_>) -> Option<DateTime<Utc>> {
    micros(ctx).and_then(date::from_micros)
}

fn round_with(ctx: &Context<'_>, f: fn(f64) -> f64) -> Value {
    match ctx.get_raw(0) {
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(f(r)),
        _ => Value::Null,
    }
}

fn map_text(ctx: &Context<'_>, f: fn(&str) -> String) -> rusqlite::Result<Value> {
    Ok(match ctx.get_raw(0) {
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => Value::Text(capped(f(s))?),
            Err(_) => Value::Null,
        },
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

/// `text`, or SQLite's "string or blob too big" error when it is longer than
/// [`MAX_TEXT_BYTES`] (case mapping can triple a string's length). The error carries no message
/// of its own: SQLite would then report a plain error instead of "too big", and callers tell
/// the two apart by their code.
fn capped(text: String) -> rusqlite::Result<String> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_TOOBIG),
            None,
        ));
    }
    Ok(text)
}
