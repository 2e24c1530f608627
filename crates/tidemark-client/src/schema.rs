//! User table definitions: which columns a local table keeps and of which type. The system
//! columns (`id`, `createdAt`, `updatedAt`, `version`, `deleted`) are implied.

use tidemark_protocol::system;

use crate::error::{ClientError, Result};
pub use crate::item::Item;

/// The type of a user column, deciding how its JSON value is kept in SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// A JSON string.
    Text,
    /// A JSON integer (64-bit).
    Integer,
    /// A JSON number.
    Real,
    /// A JSON boolean.
    Boolean,
    /// An ISO-8601 date string, kept normalised to UTC so that it sorts and compares as text.
    DateTime,
    /// Any JSON value, kept as its JSON text.
    Json,
}

/// One user column of a local table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The property name, as on the wire (e.g. `text`, `complete`).
    pub name: String,
    /// Its type.
    pub column_type: ColumnType,
}

impl Column {
    /// A column with the given name and type.
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Self {
        Self {
            name: name.into(),
            column_type,
        }
    }
}

/// A local table: its name (the server's table name) and the user columns it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// The table name, the same locally and on the server.
    pub name: String,
    /// The user columns; system columns are implied and must not be listed.
    pub columns: Vec<Column>,
}

impl TableDefinition {
    /// A table with no user columns yet; add them with [`TableDefinition::column`].
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            columns: Vec::new(),
        }
    }

    /// Adds a user column (builder style).
    pub fn column(mut self, name: impl Into<String>, column_type: ColumnType) -> Self {
        self.columns.push(Column::new(name, column_type));
        self
    }

    /// The type of a column by name: user columns and the system columns.
    pub fn column_type(&self, name: &str) -> Option<ColumnType> {
        if let Some(t) = system_column_type(name) {
            return Some(t);
        }
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.column_type)
    }

    /// Every column, system columns first, as (name, type).
    pub fn all_columns(&self) -> Vec<(&str, ColumnType)> {
        let mut out: Vec<(&str, ColumnType)> = SYSTEM_COLUMNS.to_vec();
        out.extend(
            self.columns
                .iter()
                .map(|c| (c.name.as_str(), c.column_type)),
        );
        out
    }

    /// Checks the names: identifiers only (they are SQL identifiers locally), no reserved
    /// prefix, no duplicate and no system column among the user columns.
    pub fn validate(&self) -> Result<()> {
        if !is_identifier(&self.name) || self.name.starts_with("__") {
            return Err(ClientError::invalid(format!(
                "table name '{}' must be letters, digits and '_', start with a letter, and not start with '__'",
                self.name
            )));
        }
        for (i, c) in self.columns.iter().enumerate() {
            if !is_identifier(&c.name) {
                return Err(ClientError::invalid(format!(
                    "column name '{}' of table '{}' must be letters, digits and '_'",
                    c.name, self.name
                )));
            }
            if system::is_system_property(&c.name) {
                return Err(ClientError::invalid(format!(
                    "column '{}' of table '{}' is a system column and is implied",
                    c.name, self.name
                )));
            }
            if self.columns[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&c.name))
            {
                return Err(ClientError::invalid(format!(
                    "column '{}' of table '{}' is defined twice",
                    c.name, self.name
                )));
            }
        }
        Ok(())
    }
}

/// The implied system columns and their local types.
const SYSTEM_COLUMNS: [(&str, ColumnType); 5] = [
    (system::ID, ColumnType::Text),
    (system::CREATED_AT, ColumnType::DateTime),
    (system::UPDATED_AT, ColumnType::DateTime),
    (system::VERSION, ColumnType::Text),
    (system::DELETED, ColumnType::Boolean),
];

fn system_column_type(name: &str) -> Option<ColumnType> {
    SYSTEM_COLUMNS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// True for the system columns the server owns (everything but `id`).
pub(crate) fn is_server_owned(name: &str) -> bool {
    name != system::ID && system_column_type(name).is_some()
}

/// ASCII letters, digits and `_`, starting with a letter or `_`, at most 128 characters:
/// such names can be quoted as SQLite identifiers without any escaping question.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_definition_passes() {
        let t = TableDefinition::new("todoitem")
            .column("text", ColumnType::Text)
            .column("complete", ColumnType::Boolean);
        assert!(t.validate().is_ok());
        assert_eq!(t.column_type("complete"), Some(ColumnType::Boolean));
        assert_eq!(t.column_type("updatedAt"), Some(ColumnType::DateTime));
        assert_eq!(t.column_type("nope"), None);
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(TableDefinition::new("a b").validate().is_err());
        assert!(TableDefinition::new("__operations").validate().is_err());
        assert!(
            TableDefinition::new("t")
                .column("version", ColumnType::Text)
                .validate()
                .is_err()
        );
        assert!(
            TableDefinition::new("t")
                .column("x", ColumnType::Text)
                .column("X", ColumnType::Text)
                .validate()
                .is_err()
        );
        assert!(
            TableDefinition::new("t")
                .column("a\"b", ColumnType::Text)
                .validate()
                .is_err()
        );
    }
}
