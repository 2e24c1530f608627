//! Conversion between an item's JSON values and the SQLite values of typed columns.

use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::{Number, Value};
use tidemark_protocol::date;

use crate::error::{ClientError, Result};
use crate::schema::ColumnType;

/// The SQLite value kept for `value` in a column of type `ty`; `column` names it in errors.
pub(crate) fn to_sql(column: &str, ty: ColumnType, value: &Value) -> Result<SqlValue> {
    if value.is_null() {
        return Ok(SqlValue::Null);
    }
    let wrong = |what: &str| {
        ClientError::invalid(format!(
            "column '{column}' holds {what}, but {value} was given"
        ))
    };
    Ok(match ty {
        ColumnType::Text => match value {
            Value::String(s) => SqlValue::Text(s.clone()),
            _ => return Err(wrong("text")),
        },
        ColumnType::Integer => match value {
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => SqlValue::Integer(i),
                // 3.0 from a server that writes every number as a double is still 3.
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    SqlValue::Integer(f as i64)
                }
                _ => return Err(wrong("an integer")),
            },
            _ => return Err(wrong("an integer")),
        },
        ColumnType::Real => match value.as_f64() {
            Some(f) => SqlValue::Real(f),
            None => return Err(wrong("a number")),
        },
        ColumnType::Boolean => match value {
            Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
            // Some stores (SQLite-backed stock servers) answer booleans as 0/1.
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                SqlValue::Integer(n.as_i64().unwrap_or(0))
            }
            _ => return Err(wrong("a boolean")),
        },
        ColumnType::DateTime => match value {
            Value::String(s) => match date::parse_date(s) {
                Ok(d) => SqlValue::Text(date::format_date(&d)),
                Err(_) => return Err(wrong("a date")),
            },
            _ => return Err(wrong("a date")),
        },
        ColumnType::Json => SqlValue::Text(value.to_string()),
    })
}

/// The JSON value of a stored SQLite value of a column of type `ty`.
pub(crate) fn from_sql(ty: ColumnType, value: ValueRef<'_>) -> Value {
    match (ty, value) {
        (_, ValueRef::Null) => Value::Null,
        (ColumnType::Boolean, ValueRef::Integer(i)) => Value::Bool(i != 0),
        (ColumnType::Json, ValueRef::Text(t)) => {
            serde_json::from_slice(t).unwrap_or_else(|_| text(t))
        }
        (_, ValueRef::Integer(i)) => Value::Number(i.into()),
        (_, ValueRef::Real(f)) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        (_, ValueRef::Text(t)) => text(t),
        (_, ValueRef::Blob(b)) => text(b),
    }
}

fn text(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(ty: ColumnType, v: Value) -> Value {
        let sql = to_sql("c", ty, &v).ok().unwrap_or(SqlValue::Null);
        let r: ValueRef<'_> = (&sql).into();
        from_sql(ty, r)
    }

    #[test]
    fn typed_values_round_trip() {
        assert_eq!(round_trip(ColumnType::Text, json!("a")), json!("a"));
        assert_eq!(round_trip(ColumnType::Integer, json!(42)), json!(42));
        assert_eq!(round_trip(ColumnType::Integer, json!(3.0)), json!(3));
        assert_eq!(round_trip(ColumnType::Real, json!(1.5)), json!(1.5));
        assert_eq!(round_trip(ColumnType::Boolean, json!(true)), json!(true));
        assert_eq!(round_trip(ColumnType::Boolean, json!(0)), json!(false));
        assert_eq!(
            round_trip(ColumnType::Json, json!({"a": [1, 2]})),
            json!({"a": [1, 2]})
        );
        assert_eq!(round_trip(ColumnType::Text, Value::Null), Value::Null);
    }

    #[test]
    fn dates_are_normalised_to_utc() {
        assert_eq!(
            round_trip(ColumnType::DateTime, json!("2024-01-02T05:04:05.5+02:00")),
            json!("2024-01-02T03:04:05.500000Z")
        );
    }

    #[test]
    fn wrong_types_are_refused_with_the_column_name() {
        let err = to_sql("done", ColumnType::Boolean, &json!("yes"))
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|m| m.contains("done")));
        assert!(to_sql("n", ColumnType::Integer, &json!(1.5)).is_err());
        assert!(to_sql("t", ColumnType::Text, &json!(1)).is_err());
    }
}
