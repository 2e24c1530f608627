//! The `$filter`, `$orderby` and `$select` parsers: precedence climbing over the lexer's
//! tokens, with hard limits so that hostile input costs bounded time and stack.
//!
//! Every recursive step (parenthesis, unary operator, function call) goes through
//! [`Parser::enter`], and every node built records its depth, so neither the parser's stack nor
//! the tree handed to the server (which walks it recursively) can grow past [`MAX_DEPTH`].
//! Chains of binary operators are parsed by a loop, and the recursion between precedence
//! levels is bounded by the number of levels.

use super::ast::{BinaryOp, Direction, Expr, Function, Literal, OrderBy, UnaryOp};
use super::lexer::{Token, TokenKind, echo, tokenize};

/// The longest `$filter`, `$orderby` or `$select` text accepted, in characters.
pub const MAX_INPUT_LEN: usize = 8192;
/// The deepest nesting accepted: of parentheses, unary operators and calls while parsing, and
/// of nodes in the resulting tree.
pub const MAX_DEPTH: usize = 64;
/// The most keys a `$orderby` may have.
pub const MAX_ORDERBY_KEYS: usize = 32;
/// The most names a `$select` may have.
pub const MAX_SELECT_NAMES: usize = 256;

/// Why a `$filter`, `$orderby` or `$select` was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct ParseError {
    /// The character offset (not byte offset) of the problem in the input.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    /// An error at `position` with `message`.
    pub fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}

/// Parses a `$filter` expression.
pub fn parse_filter(input: &str) -> Result<Expr, ParseError> {
    let mut p = Parser::new(input)?;
    let (expr, _) = p.expression()?;
    p.expect_end("expected an operator or end of input")?;
    Ok(expr)
}

/// Parses a `$orderby` list: comma-separated expressions, each optionally followed by `asc` or
/// `desc`. Empty input gives an empty list.
pub fn parse_orderby(input: &str) -> Result<Vec<OrderBy>, ParseError> {
    let mut p = Parser::new(input)?;
    let mut keys = Vec::new();
    if p.peek().kind == TokenKind::Eof {
        return Ok(keys);
    }
    loop {
        let start = p.peek().pos;
        if keys.len() == MAX_ORDERBY_KEYS {
            return Err(ParseError::new(
                start,
                format!("too many sort keys (at most {MAX_ORDERBY_KEYS})"),
            ));
        }
        let (expr, _) = p.expression()?;
        let direction = match &p.peek().kind {
            TokenKind::Ident(w) if w == "asc" => Some(Direction::Asc),
            TokenKind::Ident(w) if w == "desc" => Some(Direction::Desc),
            _ => None,
        };
        if direction.is_some() {
            p.bump();
        }
        keys.push(OrderBy {
            expr,
            direction: direction.unwrap_or_default(),
        });
        if p.peek().kind == TokenKind::Comma {
            p.bump();
        } else {
            p.expect_end("expected ',', 'asc', 'desc' or end of input")?;
            return Ok(keys);
        }
    }
}

/// Parses a `$select` list of property names. Empty input and `*` give an empty list, which
/// means "every property".
pub fn parse_select(input: &str) -> Result<Vec<String>, ParseError> {
    let mut p = Parser::new(input)?;
    let mut names = Vec::new();
    match p.peek().kind {
        TokenKind::Eof => return Ok(names),
        TokenKind::Star => {
            p.bump();
            p.expect_end("expected end of input after '*'")?;
            return Ok(names);
        }
        _ => {}
    }
    loop {
        let token = p.peek().clone();
        let TokenKind::Ident(name) = token.kind else {
            return Err(ParseError::new(
                token.pos,
                format!("expected a property name, found {}", token.kind.describe()),
            ));
        };
        if names.len() == MAX_SELECT_NAMES {
            return Err(ParseError::new(
                token.pos,
                format!("too many names (at most {MAX_SELECT_NAMES})"),
            ));
        }
        p.bump();
        names.push(name);
        if p.peek().kind == TokenKind::Comma {
            p.bump();
        } else {
            p.expect_end("expected ',' or end of input")?;
            return Ok(names);
        }
    }
}

/// An expression and the depth of its tree (a leaf has depth 1).
type Parsed = Result<(Expr, usize), ParseError>;

/// Returned by [`Parser::peek`] past the end; unreachable, since the token list always ends
/// with an `Eof` that is never consumed.
static EOF: Token = Token {
    kind: TokenKind::Eof,
    pos: 0,
};

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// How many parentheses, unary operators and calls enclose the current point.
    nesting: usize,
}

impl Parser {
    fn new(input: &str) -> Result<Self, ParseError> {
        // A char is at most 4 bytes, so this rejects huge inputs without scanning them.
        if input.len() > MAX_INPUT_LEN * 4 || input.chars().count() > MAX_INPUT_LEN {
            return Err(ParseError::new(
                MAX_INPUT_LEN,
                format!("input longer than {MAX_INPUT_LEN} characters"),
            ));
        }
        let chars: Vec<char> = input.chars().collect();
        Ok(Self {
            tokens: tokenize(&chars)?,
            next: 0,
            nesting: 0,
        })
    }

    fn peek(&self) -> &Token {
        self.tokens.get(self.next).unwrap_or(&EOF)
    }

    /// Moves past the current token, staying on the final `Eof`.
    fn bump(&mut self) {
        if self.next + 1 < self.tokens.len() {
            self.next += 1;
        }
    }

    fn enter(&mut self, pos: usize) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(too_deep(pos));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    fn expect_end(&self, expected: &str) -> Result<(), ParseError> {
        let token = self.peek();
        if token.kind == TokenKind::Eof {
            Ok(())
        } else {
            Err(ParseError::new(
                token.pos,
                format!("{expected}, found {}", token.kind.describe()),
            ))
        }
    }

    fn expression(&mut self) -> Parsed {
        self.binary(1)
    }

    /// Operators of precedence `min_prec` and above; equal precedence associates to the left.
    fn binary(&mut self, min_prec: u8) -> Parsed {
        let (mut left, mut depth) = self.unary()?;
        loop {
            let token = self.peek();
            let TokenKind::Ident(word) = &token.kind else {
                break;
            };
            let Some(op) = BinaryOp::from_keyword(word) else {
                break;
            };
            if op.precedence() < min_prec {
                break;
            }
            let pos = token.pos;
            self.bump();
            let (right, right_depth) = self.binary(op.precedence() + 1)?;
            depth = 1 + depth.max(right_depth);
            if depth > MAX_DEPTH {
                return Err(too_deep(pos));
            }
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok((left, depth))
    }

    fn unary(&mut self) -> Parsed {
        let token = self.peek();
        let op = match &token.kind {
            TokenKind::Ident(w) if w == "not" => UnaryOp::Not,
            TokenKind::Minus => UnaryOp::Negate,
            _ => return self.primary(),
        };
        let pos = token.pos;
        self.bump();
        self.enter(pos)?;
        let (operand, depth) = self.unary()?;
        self.leave();
        if depth + 1 > MAX_DEPTH {
            return Err(too_deep(pos));
        }
        let expr = Expr::Unary {
            op,
            operand: Box::new(operand),
        };
        Ok((expr, depth + 1))
    }

    fn primary(&mut self) -> Parsed {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::LParen => {
                self.bump();
                self.enter(token.pos)?;
                let inner = self.expression()?;
                let close = self.peek();
                if close.kind != TokenKind::RParen {
                    return Err(ParseError::new(
                        close.pos,
                        format!("expected ')', found {}", close.kind.describe()),
                    ));
                }
                self.bump();
                self.leave();
                Ok(inner)
            }
            TokenKind::Literal(lit) => {
                self.bump();
                Ok((Expr::Literal(lit), 1))
            }
            TokenKind::Ident(word) => {
                self.bump();
                let lit = match word.as_str() {
                    "true" => Literal::Bool(true),
                    "false" => Literal::Bool(false),
                    "null" => Literal::Null,
                    w if BinaryOp::from_keyword(w).is_some() => {
                        return Err(ParseError::new(
                            token.pos,
                            format!("expected an expression, found operator '{w}'"),
                        ));
                    }
                    _ if self.peek().kind == TokenKind::LParen => {
                        return self.call(&word, token.pos);
                    }
                    _ => return Ok((Expr::Property(word), 1)),
                };
                Ok((Expr::Literal(lit), 1))
            }
            other => Err(ParseError::new(
                token.pos,
                format!("expected an expression, found {}", other.describe()),
            )),
        }
    }

    /// A call of the function `name` (at `pos`); the current token is its `(`.
    fn call(&mut self, name: &str, pos: usize) -> Parsed {
        let func = Function::from_name(name)
            .ok_or_else(|| ParseError::new(pos, format!("unknown function '{}'", echo(name))))?;
        let (min, max) = func.arity();
        self.bump();
        self.enter(pos)?;
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek().kind == TokenKind::RParen {
            self.bump();
        } else {
            loop {
                // Stop at the first surplus argument rather than parsing them all.
                if args.len() == max {
                    return Err(arity_error(func, pos, "more"));
                }
                let (arg, arg_depth) = self.expression()?;
                args.push(arg);
                depth = depth.max(arg_depth);
                let token = self.peek();
                match token.kind {
                    TokenKind::Comma => self.bump(),
                    TokenKind::RParen => {
                        self.bump();
                        break;
                    }
                    _ => {
                        return Err(ParseError::new(
                            token.pos,
                            format!("expected ',' or ')', found {}", token.kind.describe()),
                        ));
                    }
                }
            }
        }
        self.leave();
        if args.len() < min {
            return Err(arity_error(func, pos, &args.len().to_string()));
        }
        if depth + 1 > MAX_DEPTH {
            return Err(too_deep(pos));
        }
        Ok((Expr::Call { func, args }, depth + 1))
    }
}

fn too_deep(pos: usize) -> ParseError {
    ParseError::new(
        pos,
        format!("expression nested deeper than {MAX_DEPTH} levels"),
    )
}

fn arity_error(func: Function, pos: usize, found: &str) -> ParseError {
    let expected = match func.arity() {
        (1, 1) => "1 argument".to_string(),
        (min, max) if min == max => format!("{min} arguments"),
        (min, max) => format!("{min} or {max} arguments"),
    };
    ParseError::new(
        pos,
        format!("function '{}' takes {expected}, found {found}", func.name()),
    )
}

#[cfg(test)]
mod tests;
