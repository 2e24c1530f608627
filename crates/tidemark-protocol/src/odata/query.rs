//! A whole table query: the query-string parameters of `GET /tables/{table}`, parsed from a raw
//! URL query (server side) or built and rendered (client side).

use serde::{Deserialize, Serialize};

use super::ast::{Direction, Expr, OrderBy};
use super::builder::prop;
use super::parser::{ParseError, parse_filter, parse_orderby, parse_select};
use super::render::render_orderby;

/// The query-string parameter names of a table query, for code that must name one (an error
/// message, a route's documentation); requests themselves are built with [`TableQuery`].
pub mod params {
    /// The `$filter` parameter.
    pub const FILTER: &str = "$filter";
    /// The `$orderby` parameter.
    pub const ORDERBY: &str = "$orderby";
    /// The `$top` parameter.
    pub const TOP: &str = "$top";
    /// The `$skip` parameter.
    pub const SKIP: &str = "$skip";
    /// The `$select` parameter.
    pub const SELECT: &str = "$select";
    /// The `$inlinecount` parameter (`allpages` asks for the total count).
    pub const INLINE_COUNT: &str = "$inlinecount";
    /// The protocol's parameter asking for soft-deleted items too.
    pub const INCLUDE_DELETED: &str = "__includeDeleted";
}

use params::{FILTER, INCLUDE_DELETED, INLINE_COUNT, ORDERBY, SELECT, SKIP, TOP};

/// How much of a bad value an error message repeats.
const ECHO_CHARS: usize = 32;

/// The parameters of a table query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableQuery {
    /// `$filter`: which items.
    pub filter: Option<Expr>,
    /// `$orderby`: in which order (the server appends `id` as the final tie-breaker).
    pub orderby: Vec<OrderBy>,
    /// `$top`: at most this many items.
    pub top: Option<u64>,
    /// `$skip`: skip this many items first.
    pub skip: Option<u64>,
    /// `$select`: only these properties (empty means all).
    pub select: Vec<String>,
    /// `$inlinecount=allpages`: answer `{"results": […], "count": N}`.
    pub inline_count: bool,
    /// `__includeDeleted=true`: include soft-deleted items.
    pub include_deleted: bool,
}

/// The body of a query answered with `$inlinecount=allpages`: `{"results": [...], "count": N}`,
/// the page and the number of all matching items (without `$inlinecount` the body is the bare
/// array of items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountedPage<T> {
    /// The items of this page.
    pub results: T,
    /// How many items match the query, on every page together.
    pub count: u64,
}

/// Why a query string was rejected; the message names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `$filter`, `$orderby` or `$select` did not parse.
    #[error("invalid {parameter}: {source}")]
    Parse {
        /// The parameter, e.g. `$filter`.
        parameter: &'static str,
        /// What is wrong, and where in the parameter's value.
        source: ParseError,
    },
    /// A parameter has a value outside what it accepts.
    #[error("invalid {parameter}: {message}")]
    Value {
        /// The parameter, e.g. `$top`.
        parameter: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A parameter was given more than once.
    #[error("{parameter} is given more than once")]
    Repeated {
        /// The parameter.
        parameter: &'static str,
    },
}

impl TableQuery {
    /// A query for every item, in the server's default order.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `$filter`, replacing any earlier one.
    pub fn with_filter(mut self, filter: impl Into<Expr>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Adds a condition: `(earlier and filter)`, or just `filter` when there was none.
    pub fn and_filter(mut self, filter: impl Into<Expr>) -> Self {
        let filter = filter.into();
        self.filter = Some(match self.filter.take() {
            Some(earlier) => earlier.and(filter),
            None => filter,
        });
        self
    }

    /// Appends a sort key on a property.
    pub fn order_by(mut self, property: impl Into<String>, direction: Direction) -> Self {
        self.orderby.push(OrderBy {
            expr: prop(property),
            direction,
        });
        self
    }

    /// Sets `$top`.
    pub fn with_top(mut self, top: u64) -> Self {
        self.top = Some(top);
        self
    }

    /// Sets `$skip`.
    pub fn with_skip(mut self, skip: u64) -> Self {
        self.skip = Some(skip);
        self
    }

    /// Sets `$select` (empty means all properties).
    pub fn with_select<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.select = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `$inlinecount=allpages` (true) or leaves it out (false).
    pub fn with_inline_count(mut self, inline_count: bool) -> Self {
        self.inline_count = inline_count;
        self
    }

    /// Sets `__includeDeleted=true` (true) or leaves it out (false).
    pub fn with_include_deleted(mut self, include_deleted: bool) -> Self {
        self.include_deleted = include_deleted;
        self
    }

    /// Parses a raw URL query string (without or with its leading `?`): percent-decodes it,
    /// reads `+` as a space, ignores parameters it does not know (such as `ZUMO-API-VERSION`),
    /// and rejects repeated or malformed known ones. An empty `$filter`, `$orderby` or
    /// `$select` counts as absent.
    pub fn from_query_string(raw: &str) -> Result<Self, QueryError> {
        let raw = raw.strip_prefix('?').unwrap_or(raw);
        let mut query = TableQuery::default();
        let mut seen: Vec<&'static str> = Vec::new();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            let Some(parameter) = [
                FILTER,
                ORDERBY,
                TOP,
                SKIP,
                SELECT,
                INLINE_COUNT,
                INCLUDE_DELETED,
            ]
            .into_iter()
            .find(|p| *p == key) else {
                continue;
            };
            if seen.contains(&parameter) {
                return Err(QueryError::Repeated { parameter });
            }
            seen.push(parameter);
            let parse_err = |source| QueryError::Parse { parameter, source };
            let blank = value.trim().is_empty();
            match parameter {
                FILTER if blank => {}
                FILTER => query.filter = Some(parse_filter(&value).map_err(parse_err)?),
                ORDERBY => query.orderby = parse_orderby(&value).map_err(parse_err)?,
                SELECT => query.select = parse_select(&value).map_err(parse_err)?,
                TOP => query.top = Some(count(parameter, &value)?),
                SKIP => query.skip = Some(count(parameter, &value)?),
                INLINE_COUNT => {
                    query.inline_count = match value.as_ref() {
                        "allpages" => true,
                        "none" => false,
                        other => {
                            return Err(bad_value(parameter, "'allpages' or 'none'", other));
                        }
                    }
                }
                _ => {
                    query.include_deleted = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad_value(parameter, "'true' or 'false'", &value)),
                    }
                }
            }
        }
        Ok(query)
    }

    /// The query's parameters as (name, value) pairs, unencoded, leaving out defaults.
    pub fn to_query_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut push = |name: &str, value: String| pairs.push((name.to_string(), value));
        if let Some(filter) = &self.filter {
            push(FILTER, filter.to_string());
        }
        if !self.orderby.is_empty() {
            push(ORDERBY, render_orderby(&self.orderby));
        }
        if let Some(skip) = self.skip {
            push(SKIP, skip.to_string());
        }
        if let Some(top) = self.top {
            push(TOP, top.to_string());
        }
        if !self.select.is_empty() {
            push(SELECT, self.select.join(","));
        }
        if self.inline_count {
            push(INLINE_COUNT, "allpages".to_string());
        }
        if self.include_deleted {
            push(INCLUDE_DELETED, "true".to_string());
        }
        pairs
    }

    /// The query as a percent-encoded query string (without the leading `?`).
    pub fn to_query_string(&self) -> String {
        self.to_query_string_with(None)
    }

    /// The query as a percent-encoded query string (without the leading `?`), followed by
    /// `extra` (a parameter the query does not model, such as the API version, which a client
    /// may send as a query parameter instead of a header).
    pub fn to_query_string_with(&self, extra: Option<(&str, &str)>) -> String {
        // Our names are plain ASCII and `$` is legal in a query, so they are written as they
        // are (stock servers expect `$filter`, not `%24filter`); an extra name is encoded.
        let extra = extra.map(|(name, value)| {
            let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
            (name, value.to_owned())
        });
        let mut out = String::new();
        for (name, value) in self.to_query_pairs().into_iter().chain(extra) {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&name);
            out.push('=');
            out.extend(form_urlencoded::byte_serialize(value.as_bytes()));
        }
        out
    }

    /// The query of the page after a page of `page_size` items answered to this one: the same
    /// query with `$skip` moved on by `page_size` (what a server's `Link: <…>; rel=next` says).
    pub fn next_page(&self, page_size: u64) -> TableQuery {
        TableQuery {
            skip: Some(self.skip.unwrap_or(0).saturating_add(page_size)),
            ..self.clone()
        }
    }
}

/// A non-negative integer value of `$top` or `$skip`.
fn count(parameter: &'static str, value: &str) -> Result<u64, QueryError> {
    let trimmed = value.trim();
    // `u64::from_str` alone would also take a leading `+`; only plain digits are a count.
    let digits = !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit());
    match trimmed.parse() {
        Ok(n) if digits => Ok(n),
        _ => Err(bad_value(parameter, "a non-negative integer", value)),
    }
}

fn bad_value(parameter: &'static str, expected: &str, found: &str) -> QueryError {
    let found: String = found.chars().take(ECHO_CHARS).collect();
    QueryError::Value {
        parameter,
        message: format!("expected {expected}, found '{found}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<TableQuery, String> {
        TableQuery::from_query_string(raw).map_err(|e| e.to_string())
    }

    #[test]
    fn empty_query_string_is_the_default_query() {
        assert_eq!(parse(""), Ok(TableQuery::new()));
        assert_eq!(parse("?"), Ok(TableQuery::new()));
    }

    #[test]
    fn stock_client_pull_query() {
        let raw = "$filter=(updatedAt%20ge%20datetimeoffset'2024-05-01T10%3A00%3A00.0000000%2B00%3A00')\
                   &$orderby=updatedAt&$skip=0&$top=50&__includeDeleted=true&ZUMO-API-VERSION=2.0.0";
        let expected = chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:00+00:00")
            .map(|d| {
                TableQuery::new()
                    .with_filter(prop("updatedAt").ge(d))
                    .order_by("updatedAt", Direction::Asc)
                    .with_skip(0)
                    .with_top(50)
                    .with_include_deleted(true)
            })
            .map_err(|e| e.to_string());
        assert_eq!(parse(raw), expected);
    }

    #[test]
    fn plus_is_a_space_and_a_leading_question_mark_is_ignored() {
        assert_eq!(
            parse("?$filter=text+eq+'a+b'"),
            Ok(TableQuery::new().with_filter(prop("text").equals("a b")))
        );
    }

    #[test]
    fn select_inlinecount_and_include_deleted() {
        assert_eq!(
            parse("$select=id,text&$inlinecount=allpages&__includeDeleted=false"),
            Ok(TableQuery::new()
                .with_select(["id", "text"])
                .with_inline_count(true))
        );
        assert_eq!(parse("$inlinecount=none"), Ok(TableQuery::new()));
    }

    #[test]
    fn empty_expression_parameters_count_as_absent() {
        assert_eq!(parse("$filter=&$orderby=&$select="), Ok(TableQuery::new()));
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        assert_eq!(
            parse("foo=bar&$expand=x&ZUMO-API-VERSION=2.0.0"),
            Ok(TableQuery::new())
        );
    }

    #[test]
    fn filter_errors_name_the_parameter_and_position() {
        assert_eq!(
            parse("$filter=foo(x)"),
            Err("invalid $filter: unknown function 'foo' at position 0".into())
        );
        assert_eq!(
            parse("$orderby=text%20up"),
            Err("invalid $orderby: expected ',', 'asc', 'desc' or end of input, found 'up' at position 5".into())
        );
        assert_eq!(
            parse("$select=a,,b"),
            Err("invalid $select: expected a property name, found ',' at position 2".into())
        );
    }

    #[test]
    fn bad_counts_are_rejected() {
        for raw in [
            "$top=-1",
            "$top=abc",
            "$top=",
            "$skip=1.5",
            "$top=99999999999999999999999",
            "$top=%2B5",
        ] {
            assert!(parse(raw).is_err(), "{raw}");
        }
        assert_eq!(
            parse("$top=ten"),
            Err("invalid $top: expected a non-negative integer, found 'ten'".into())
        );
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert_eq!(
            parse("$inlinecount=yes"),
            Err("invalid $inlinecount: expected 'allpages' or 'none', found 'yes'".into())
        );
        assert_eq!(
            parse("__includeDeleted=1"),
            Err("invalid __includeDeleted: expected 'true' or 'false', found '1'".into())
        );
        assert_eq!(
            parse("__includeDeleted=True"),
            Ok(TableQuery::new().with_include_deleted(true))
        );
    }

    #[test]
    fn repeated_parameters_are_rejected() {
        assert_eq!(
            parse("$top=1&$top=2"),
            Err("$top is given more than once".into())
        );
        assert_eq!(
            parse("$filter=a eq 1&$filter=b eq 2"),
            Err("$filter is given more than once".into())
        );
    }

    #[test]
    fn and_filter_combines_conditions() {
        let q = TableQuery::new()
            .and_filter(prop("a").equals(1))
            .and_filter(prop("b").equals(2));
        assert_eq!(q.filter, Some(prop("a").equals(1).and(prop("b").equals(2))));
    }

    #[test]
    fn pairs_leave_out_defaults() {
        let q = TableQuery::new()
            .with_filter(prop("complete").equals(false))
            .order_by("updatedAt", Direction::Asc)
            .order_by("id", Direction::Asc)
            .with_top(50)
            .with_skip(100)
            .with_include_deleted(true);
        let pairs = q.to_query_pairs();
        let expected = [
            ("$filter", "(complete eq false)"),
            ("$orderby", "updatedAt asc,id asc"),
            ("$skip", "100"),
            ("$top", "50"),
            ("__includeDeleted", "true"),
        ];
        assert_eq!(
            pairs,
            expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
        assert!(TableQuery::new().to_query_pairs().is_empty());
    }

    #[test]
    fn a_counted_page_reads_and_writes_results_and_count() {
        let page: CountedPage<Vec<u32>> =
            serde_json::from_str(r#"{"results":[1,2],"count":7}"#).unwrap();
        assert_eq!(
            page,
            CountedPage {
                results: vec![1, 2],
                count: 7
            }
        );
        assert_eq!(
            serde_json::to_string(&page).unwrap(),
            r#"{"results":[1,2],"count":7}"#
        );
    }

    #[test]
    fn next_page_moves_skip_on_and_keeps_the_rest() {
        let q = TableQuery::new()
            .with_filter(prop("text").equals("a b"))
            .order_by("id", Direction::Desc)
            .with_include_deleted(true);
        assert_eq!(q.next_page(50), q.clone().with_skip(50));
        assert_eq!(
            q.clone().with_skip(50).next_page(50),
            q.clone().with_skip(100)
        );
        assert_eq!(
            q.clone().with_skip(u64::MAX - 1).next_page(50).skip,
            Some(u64::MAX)
        );
        assert_eq!(
            q.next_page(50).to_query_string(),
            "$filter=%28text+eq+%27a+b%27%29&$orderby=id+desc&$skip=50&__includeDeleted=true"
        );
    }

    #[test]
    fn an_extra_parameter_is_appended_encoded_and_ignored_when_parsed() {
        let q = TableQuery::new().with_top(5);
        assert_eq!(q.to_query_string_with(None), "$top=5");
        let s = q.to_query_string_with(Some(("ZUMO-API-VERSION", "2.0.0")));
        assert_eq!(s, "$top=5&ZUMO-API-VERSION=2.0.0");
        assert_eq!(TableQuery::from_query_string(&s), Ok(q));
        assert_eq!(
            TableQuery::new().to_query_string_with(Some(("a&b", "c d"))),
            "a%26b=c+d"
        );
    }

    #[test]
    fn query_string_is_percent_encoded_and_parses_back() {
        let q = TableQuery::new()
            .with_filter(prop("text").equals("a&b=c+d 'e' é"))
            .order_by("text", Direction::Desc)
            .with_select(["id", "text"])
            .with_inline_count(true);
        let s = q.to_query_string();
        assert!(
            s.starts_with("$filter=%28text+eq+%27a%26b%3Dc%2Bd+%27%27e%27%27+%C3%A9%27%29&"),
            "{s}"
        );
        assert_eq!(TableQuery::from_query_string(&s), Ok(q));
    }
}
