//! Splits filter, orderby and select text into tokens, each with its character offset.
//!
//! Literals are fully decoded here (strings unescaped, numbers typed, dates and guids parsed),
//! so the parser only deals with structure. The lexer is a loop over the characters: it cannot
//! recurse, whatever the input.

use chrono::FixedOffset;

use super::ast::Literal;
use super::parser::ParseError;
use crate::date::{parse_iso, with_offset};

/// Fractional second digits accepted in date literals: up to nanoseconds, so that any instant
/// the renderer writes parses back (stock clients write at most 7).
const DATE_LITERAL_FRACTION_DIGITS: usize = 9;
/// How much of an identifier an error message repeats.
const ECHO_CHARS: usize = 64;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A word: a property name, an operator, a function name or a keyword.
    Ident(String),
    /// A decoded literal.
    Literal(Literal),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `-` not directly followed by a number (a negation).
    Minus,
    /// `*` (only meaningful in `$select`).
    Star,
    /// The end of the input.
    Eof,
}

/// A token and the character offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub pos: usize,
}

impl TokenKind {
    /// How an error message names this token.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(s) => format!("'{}'", echo(s)),
            TokenKind::Literal(Literal::String(_)) => "a string literal".into(),
            TokenKind::Literal(_) => "a literal".into(),
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::Comma => "','".into(),
            TokenKind::Minus => "'-'".into(),
            TokenKind::Star => "'*'".into(),
            TokenKind::Eof => "end of input".into(),
        }
    }
}

/// At most [`ECHO_CHARS`] characters of `s`, so hostile input cannot bloat error bodies.
pub(crate) fn echo(s: &str) -> String {
    s.chars().take(ECHO_CHARS).collect()
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `chars` into tokens; the last one is always [`TokenKind::Eof`].
pub(crate) fn tokenize(chars: &[char]) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer { chars, i: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    chars: &'a [char],
    i: usize,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        while self.at(self.i).is_some_and(char::is_whitespace) {
            self.i += 1;
        }
        let pos = self.i;
        let Some(c) = self.at(pos) else {
            return Ok(Token {
                kind: TokenKind::Eof,
                pos,
            });
        };
        let punct = match c {
            '(' => Some(TokenKind::LParen),
            ')' => Some(TokenKind::RParen),
            ',' => Some(TokenKind::Comma),
            '*' => Some(TokenKind::Star),
            _ => None,
        };
        let kind = if let Some(kind) = punct {
            self.i += 1;
            kind
        } else if c == '\'' {
            TokenKind::Literal(Literal::String(self.quoted()?))
        } else if c.is_ascii_digit()
            || (c == '-' && self.at(pos + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            TokenKind::Literal(self.number()?)
        } else if c == '-' {
            self.i += 1;
            // `-INF` is one literal (negative infinity), not a negation of `INF`.
            let word = self.word_at(self.i);
            match non_finite(&word) {
                Some(lit) => {
                    self.i += word.chars().count();
                    TokenKind::Literal(negate_non_finite(lit))
                }
                None => TokenKind::Minus,
            }
        } else if is_ident_start(c) {
            let word = self.word_at(pos);
            self.i += word.chars().count();
            if self.at(self.i) == Some('\'') {
                TokenKind::Literal(self.typed_literal(&word, pos)?)
            } else if let Some(lit) = non_finite(&word) {
                TokenKind::Literal(lit)
            } else {
                TokenKind::Ident(word)
            }
        } else {
            return Err(ParseError::new(
                pos,
                format!("unexpected character '{}'", c.escape_debug()),
            ));
        };
        Ok(Token { kind, pos })
    }

    /// The identifier characters starting at `start` (possibly none).
    fn word_at(&self, start: usize) -> String {
        self.chars
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| is_ident_char(**c))
            .collect()
    }

    /// A `'…'` string at `self.i`, with `''` standing for one quote.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        let mut i = start + 1;
        let mut out = String::new();
        loop {
            match self.at(i) {
                None => {
                    return Err(ParseError::new(start, "unterminated string literal"));
                }
                Some('\'') if self.at(i + 1) == Some('\'') => {
                    out.push('\'');
                    i += 2;
                }
                Some('\'') => {
                    self.i = i + 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    /// `datetime'…'`, `datetimeoffset'…'` or `guid'…'`; `self.i` is at the opening quote.
    fn typed_literal(&mut self, prefix: &str, pos: usize) -> Result<Literal, ParseError> {
        let text = self.quoted()?;
        let bad = |what: &str, reason: &str| {
            ParseError::new(pos, format!("invalid {what} literal: {reason}"))
        };
        match prefix.to_ascii_lowercase().as_str() {
            "datetime" => {
                let (naive, offset) = parse_iso(&text, DATE_LITERAL_FRACTION_DIGITS)
                    .map_err(|r| bad("datetime", r))?;
                // An Edm.DateTime has no offset; one written anyway is folded into UTC.
                match offset {
                    None => Ok(Literal::DateTime(naive)),
                    Some(offset) => with_offset(naive, offset)
                        .map(|dt| Literal::DateTime(dt.naive_utc()))
                        .ok_or_else(|| bad("datetime", "out of range")),
                }
            }
            "datetimeoffset" => {
                let (naive, offset) = parse_iso(&text, DATE_LITERAL_FRACTION_DIGITS)
                    .map_err(|r| bad("datetimeoffset", r))?;
                let offset: FixedOffset = offset.ok_or_else(|| {
                    bad("datetimeoffset", "expected 'Z' or an offset like +00:00")
                })?;
                with_offset(naive, offset)
                    .map(Literal::DateTimeOffset)
                    .ok_or_else(|| bad("datetimeoffset", "out of range"))
            }
            "guid" => uuid::Uuid::parse_str(&text)
                .map(Literal::Guid)
                .map_err(|_| bad("guid", "expected 32 hexadecimal digits")),
            _ => Err(ParseError::new(
                pos,
                format!("unknown literal prefix '{}'", echo(prefix)),
            )),
        }
    }

    /// A number at `self.i`, with an optional leading `-` and an optional type suffix.
    fn number(&mut self) -> Result<Literal, ParseError> {
        let start = self.i;
        let digit_at = |i: usize| self.at(i).is_some_and(|c| c.is_ascii_digit());
        let mut i = start;
        if self.at(i) == Some('-') {
            i += 1;
        }
        while digit_at(i) {
            i += 1;
        }
        let mut integral = true;
        let mut exponent = false;
        if self.at(i) == Some('.') && digit_at(i + 1) {
            integral = false;
            i += 1;
            while digit_at(i) {
                i += 1;
            }
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.at(i + 1), Some('+' | '-')));
            if digit_at(i + 1 + sign) {
                integral = false;
                exponent = true;
                i += 1 + sign;
                while digit_at(i) {
                    i += 1;
                }
            }
        }
        let text: String = self
            .chars
            .get(start..i)
            .unwrap_or_default()
            .iter()
            .collect();
        let suffix = match self.at(i) {
            Some(c @ ('L' | 'l' | 'F' | 'f' | 'D' | 'd' | 'M' | 'm')) => {
                i += 1;
                Some(c.to_ascii_lowercase())
            }
            _ => None,
        };
        if self.at(i).is_some_and(is_ident_char) {
            return Err(ParseError::new(start, "invalid number literal"));
        }
        self.i = i;
        let err = |message: &str| ParseError::new(start, message);
        let float = || match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(err("number literal out of range")),
        };
        match suffix {
            Some('l') if !integral => Err(err("the L suffix needs an integer")),
            Some('l') => text
                .parse()
                .map(Literal::Int64)
                .map_err(|_| err("integer literal out of range")),
            Some('m') if exponent => Err(err("a decimal literal cannot have an exponent")),
            Some('m') => Ok(Literal::Decimal(text)),
            Some('f') => float().map(Literal::Single),
            Some(_) => float().map(Literal::Double),
            None if integral => match text.parse::<i32>() {
                Ok(v) => Ok(Literal::Int32(v)),
                Err(_) => text
                    .parse()
                    .map(Literal::Int64)
                    .map_err(|_| err("integer literal out of range")),
            },
            None => float().map(Literal::Double),
        }
    }
}

/// OData's words for the non-finite floating-point values: `NaN`, `INF` (with an optional
/// `d` or `f` suffix).
fn non_finite(word: &str) -> Option<Literal> {
    let value = match word.get(..3)? {
        "NaN" => f64::NAN,
        "INF" => f64::INFINITY,
        _ => return None,
    };
    let suffix = word.get(3..)?;
    match suffix {
        "" | "d" | "D" => Some(Literal::Double(value)),
        "f" | "F" => Some(Literal::Single(value)),
        _ => None,
    }
}

fn negate_non_finite(lit: Literal) -> Literal {
    match lit {
        Literal::Single(v) => Literal::Single(-v),
        Literal::Double(v) => Literal::Double(-v),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Result<Vec<TokenKind>, ParseError> {
        let chars: Vec<char> = s.chars().collect();
        tokenize(&chars).map(|ts| ts.into_iter().map(|t| t.kind).collect())
    }

    fn one(s: &str) -> Result<TokenKind, ParseError> {
        kinds(s).map(|mut k| k.swap_remove(0))
    }

    fn lit(l: Literal) -> Result<TokenKind, ParseError> {
        Ok(TokenKind::Literal(l))
    }

    #[test]
    fn positions_are_character_offsets() {
        let chars: Vec<char> = "'é' eq x".chars().collect();
        let pos: Vec<usize> = tokenize(&chars)
            .map(|ts| ts.iter().map(|t| t.pos).collect())
            .unwrap_or_default();
        assert_eq!(pos, vec![0, 4, 7, 8]);
    }

    #[test]
    fn strings_unescape_doubled_quotes() {
        assert_eq!(one("'it''s'"), lit(Literal::String("it's".into())));
        assert_eq!(one("''"), lit(Literal::String(String::new())));
        assert_eq!(one("''''"), lit(Literal::String("'".into())));
    }

    #[test]
    fn unterminated_string_points_at_its_quote() {
        assert_eq!(
            kinds("a eq 'abc"),
            Err(ParseError::new(5, "unterminated string literal"))
        );
        assert_eq!(
            kinds("'it''"),
            Err(ParseError::new(0, "unterminated string literal"))
        );
    }

    #[test]
    fn integers_are_int32_when_they_fit() {
        assert_eq!(one("42"), lit(Literal::Int32(42)));
        assert_eq!(one("-2147483648"), lit(Literal::Int32(i32::MIN)));
        assert_eq!(one("2147483648"), lit(Literal::Int64(2_147_483_648)));
        assert_eq!(one("7L"), lit(Literal::Int64(7)));
        assert_eq!(one("-7l"), lit(Literal::Int64(-7)));
        assert!(one("99999999999999999999").is_err());
    }

    #[test]
    fn fractions_and_exponents_are_doubles() {
        assert_eq!(one("1.5"), lit(Literal::Double(1.5)));
        assert_eq!(one("1E3"), lit(Literal::Double(1000.0)));
        assert_eq!(one("2.5e-1"), lit(Literal::Double(0.25)));
        assert_eq!(one("3d"), lit(Literal::Double(3.0)));
        assert_eq!(one("3.5F"), lit(Literal::Single(3.5)));
        assert_eq!(one("-1.50M"), lit(Literal::Decimal("-1.50".into())));
        assert!(one("1e999").is_err());
        assert!(one("1.5L").is_err());
        assert!(one("1e5M").is_err());
    }

    #[test]
    fn non_finite_words_are_literals() {
        assert!(matches!(one("NaN"), Ok(TokenKind::Literal(Literal::Double(v))) if v.is_nan()));
        assert_eq!(one("INF"), lit(Literal::Double(f64::INFINITY)));
        assert_eq!(one("-INFf"), lit(Literal::Single(f64::NEG_INFINITY)));
        assert_eq!(one("INFINITY"), Ok(TokenKind::Ident("INFINITY".into())));
    }

    #[test]
    fn minus_before_a_digit_is_part_of_the_number() {
        assert_eq!(one("-5"), lit(Literal::Int32(-5)));
        assert_eq!(
            kinds("-x"),
            Ok(vec![
                TokenKind::Minus,
                TokenKind::Ident("x".into()),
                TokenKind::Eof
            ])
        );
        assert_eq!(kinds("- 5").map(|k| k[0].clone()), Ok(TokenKind::Minus));
    }

    #[test]
    fn number_glued_to_a_word_is_an_error() {
        assert_eq!(
            kinds("a eq 1and"),
            Err(ParseError::new(5, "invalid number literal"))
        );
    }

    #[test]
    fn typed_literals_are_decoded() {
        let g = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert!(
            matches!(one(&format!("guid'{g}'")), Ok(TokenKind::Literal(Literal::Guid(u))) if u.to_string() == g)
        );
        assert!(matches!(
            one("datetimeoffset'2024-05-01T10:00:00.0000000+00:00'"),
            Ok(TokenKind::Literal(Literal::DateTimeOffset(_)))
        ));
        assert!(matches!(
            one("datetime'2024-05-01T10:00:00'"),
            Ok(TokenKind::Literal(Literal::DateTime(_)))
        ));
        assert!(one("datetimeoffset'2024-05-01T10:00:00'").is_err());
        assert!(one("guid'xyz'").is_err());
        assert_eq!(
            one("X'00'"),
            Err(ParseError::new(0, "unknown literal prefix 'X'"))
        );
    }

    #[test]
    fn unknown_characters_are_errors_with_position() {
        assert_eq!(
            kinds("a/b"),
            Err(ParseError::new(1, "unexpected character '/'"))
        );
        assert_eq!(
            kinds("a eq 1."),
            Err(ParseError::new(6, "unexpected character '.'"))
        );
    }
}
