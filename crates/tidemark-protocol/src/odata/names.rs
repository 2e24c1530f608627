//! The keywords of the query language: operator words with their precedence, function names
//! with their arity, and sort directions. The parser and the renderer both read these tables,
//! so the two can never disagree on a spelling.

use super::ast::{BinaryOp, Direction, Function, UnaryOp};

impl BinaryOp {
    /// Every binary operator.
    pub const ALL: [BinaryOp; 13] = [
        BinaryOp::Or,
        BinaryOp::And,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Mod,
    ];

    /// The operator's word as written in a filter (`eq`, `and`, …).
    pub fn keyword(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Mod => "mod",
        }
    }

    /// The operator written as `word` (operators are lowercase, as in OData v3).
    pub fn from_keyword(word: &str) -> Option<BinaryOp> {
        BinaryOp::ALL.into_iter().find(|op| op.keyword() == word)
    }

    /// OData v3 precedence, higher binds tighter: or < and < equality < relational <
    /// additive < multiplicative.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 6,
        }
    }
}

impl UnaryOp {
    /// The operator as written before its operand (`not`, `-`).
    pub fn keyword(self) -> &'static str {
        match self {
            UnaryOp::Not => "not",
            UnaryOp::Negate => "-",
        }
    }
}

impl Function {
    /// Every built-in function.
    pub const ALL: [Function; 20] = [
        Function::SubstringOf,
        Function::StartsWith,
        Function::EndsWith,
        Function::ToLower,
        Function::ToUpper,
        Function::Length,
        Function::Trim,
        Function::Concat,
        Function::IndexOf,
        Function::Substring,
        Function::Replace,
        Function::Year,
        Function::Month,
        Function::Day,
        Function::Hour,
        Function::Minute,
        Function::Second,
        Function::Round,
        Function::Floor,
        Function::Ceiling,
    ];

    /// The function's name as written in a filter.
    pub fn name(self) -> &'static str {
        match self {
            Function::SubstringOf => "substringof",
            Function::StartsWith => "startswith",
            Function::EndsWith => "endswith",
            Function::ToLower => "tolower",
            Function::ToUpper => "toupper",
            Function::Length => "length",
            Function::Trim => "trim",
            Function::Concat => "concat",
            Function::IndexOf => "indexof",
            Function::Substring => "substring",
            Function::Replace => "replace",
            Function::Year => "year",
            Function::Month => "month",
            Function::Day => "day",
            Function::Hour => "hour",
            Function::Minute => "minute",
            Function::Second => "second",
            Function::Round => "round",
            Function::Floor => "floor",
            Function::Ceiling => "ceiling",
        }
    }

    /// The function called `name` (function names are lowercase, as in OData v3).
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The fewest and the most arguments the function takes.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Function::SubstringOf
            | Function::StartsWith
            | Function::EndsWith
            | Function::Concat
            | Function::IndexOf => (2, 2),
            Function::Substring => (2, 3),
            Function::Replace => (3, 3),
            Function::ToLower
            | Function::ToUpper
            | Function::Length
            | Function::Trim
            | Function::Year
            | Function::Month
            | Function::Day
            | Function::Hour
            | Function::Minute
            | Function::Second
            | Function::Round
            | Function::Floor
            | Function::Ceiling => (1, 1),
        }
    }
}

impl Direction {
    /// The direction's word in `$orderby` (`asc`, `desc`).
    pub fn keyword(self) -> &'static str {
        match self {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_keyword_maps_back_to_its_operator() {
        for op in BinaryOp::ALL {
            assert_eq!(BinaryOp::from_keyword(op.keyword()), Some(op));
        }
        assert_eq!(BinaryOp::from_keyword("EQ"), None);
    }

    #[test]
    fn every_function_name_maps_back_to_its_function() {
        for f in Function::ALL {
            assert_eq!(Function::from_name(f.name()), Some(f));
        }
        assert_eq!(Function::from_name("foo"), None);
    }

    #[test]
    fn substring_takes_two_or_three_arguments() {
        assert_eq!(Function::Substring.arity(), (2, 3));
        assert_eq!(Function::Replace.arity(), (3, 3));
        assert_eq!(Function::ToLower.arity(), (1, 1));
    }
}
