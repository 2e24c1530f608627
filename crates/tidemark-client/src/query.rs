//! The query of the engine's API: a filter, an order, skip and take. The same value runs on the
//! local store (translated to SQL in the store) and renders the OData [`TableQuery`] a pull
//! sends, so there is one query model, built on the protocol crate's [`Expr`].

use tidemark_protocol::odata::{Direction, Expr, OrderBy, TableQuery};

/// A query over one table: filter, order, skip, take (and a `$select` for online queries).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// The filter (`$filter`), if any; build it with `tidemark_protocol::odata::builder`.
    pub filter: Option<Expr>,
    /// Sort keys in priority order (`$orderby`); `id` is always the final tie-breaker.
    pub order_by: Vec<OrderBy>,
    /// Rows to skip (`$skip`).
    pub skip: Option<u64>,
    /// Rows to return at most (`$top`).
    pub take: Option<u64>,
    /// Properties to return (`$select`); only for online queries, a pull refuses it.
    pub select: Vec<String>,
}

impl Query {
    /// The query of every row.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a filter, and-ed with any filter already set.
    pub fn filter(mut self, expr: Expr) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(expr),
            None => expr,
        });
        self
    }

    /// Adds an ascending sort key on a property.
    pub fn order_by(self, property: &str) -> Self {
        self.order_by_expr(Expr::Property(property.to_string()), Direction::Asc)
    }

    /// Adds a descending sort key on a property.
    pub fn order_by_desc(self, property: &str) -> Self {
        self.order_by_expr(Expr::Property(property.to_string()), Direction::Desc)
    }

    /// Adds a sort key on any expression.
    pub fn order_by_expr(mut self, expr: Expr, direction: Direction) -> Self {
        self.order_by.push(OrderBy { expr, direction });
        self
    }

    /// Skips the first `n` rows.
    pub fn skip(mut self, n: u64) -> Self {
        self.skip = Some(n);
        self
    }

    /// Returns at most `n` rows.
    pub fn take(mut self, n: u64) -> Self {
        self.take = Some(n);
        self
    }

    /// Returns only these properties (online queries only).
    pub fn select<I, S>(mut self, properties: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.select = properties.into_iter().map(Into::into).collect();
        self
    }

    /// True when the query has neither filter nor skip/take: it names the whole table.
    pub fn is_whole_table(&self) -> bool {
        self.filter.is_none() && self.skip.is_none() && self.take.is_none()
    }

    /// The protocol query this query sends to the server.
    pub fn to_table_query(&self) -> TableQuery {
        TableQuery {
            filter: self.filter.clone(),
            orderby: self.order_by.clone(),
            top: self.take,
            skip: self.skip,
            select: self.select.clone(),
            ..TableQuery::default()
        }
    }
}
