//! The database URL: its secrets hidden for logs ([`redact_url`]), and the TLS parameters
//! tokio-postgres does not know (`sslmode=verify-ca|verify-full`, `sslrootcert`) taken out of
//! it before it is parsed ([`take_tls_params`]).
//!
//! Both forms libpq accepts are handled: the URL (`postgres://user:pw@host/db?sslmode=…`) and
//! key/value (`host=… password='…' sslmode=…`).

/// Parameters whose values are secrets.
const SECRET_KEYS: [&str; 2] = ["password", "sslpassword"];

/// `url` with every password (in the user info, `?password=`, or `password=` of the key/value
/// form) replaced by `***`, safe to log or show.
pub fn redact_url(url: &str) -> String {
    let is_secret = |key: &str| SECRET_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k));
    match url.split_once("://") {
        Some((scheme, rest)) => {
            // The user info ends at the last `@`: a password may hold an unescaped `/`, `?` or
            // `@`. When a query holds an `@` this hides too much, never too little.
            let rest = match rest.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{host}"),
                    None => rest.to_owned(),
                },
                None => rest.to_owned(),
            };
            // Query parameters, wherever a `?` or `&` starts one.
            let mut out = format!("{scheme}://");
            let mut piece = String::new();
            let flush = |piece: &mut String, out: &mut String| {
                match piece.split_once('=') {
                    Some((key, _)) if is_secret(&decode(key)) => {
                        out.push_str(key);
                        out.push_str("=***");
                    }
                    _ => out.push_str(piece),
                }
                piece.clear();
            };
            for c in rest.chars() {
                if c == '?' || c == '&' {
                    flush(&mut piece, &mut out);
                    out.push(c);
                } else {
                    piece.push(c);
                }
            }
            flush(&mut piece, &mut out);
            out
        }
        None => key_values(url)
            .iter()
            .map(|(key, value)| {
                if is_secret(key) {
                    format!("{key}=***")
                } else {
                    format!("{key}={}", quote(value))
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The TLS parameters of a database URL, as libpq reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsParams {
    /// `sslmode`, lower-case, if given (libpq's default is `prefer`).
    pub mode: Option<String>,
    /// `sslrootcert`: a PEM file of trusted roots, or `system`.
    pub root_cert: Option<String>,
}

/// Splits `sslmode` and `sslrootcert` off `url`: the rest goes to tokio-postgres, which would
/// refuse both (it knows neither `sslrootcert` nor the verifying modes).
pub fn take_tls_params(url: &str) -> (String, TlsParams) {
    let mut params = TlsParams::default();
    let mut take = |key: &str, value: String| {
        if key.eq_ignore_ascii_case("sslmode") {
            params.mode = Some(value.to_ascii_lowercase());
            true
        } else if key.eq_ignore_ascii_case("sslrootcert") {
            params.root_cert = Some(value);
            true
        } else {
            false
        }
    };
    let rest = if url.contains("://") {
        match url.split_once('?') {
            Some((main, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        !take(&decode(key), decode(value))
                    })
                    .collect();
                if kept.is_empty() {
                    main.to_owned()
                } else {
                    format!("{main}?{}", kept.join("&"))
                }
            }
            None => url.to_owned(),
        }
    } else {
        key_values(url)
            .into_iter()
            .filter(|(key, value)| !take(key, value.clone()))
            .map(|(key, value)| format!("{key}={}", quote(&value)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, params)
}

/// Percent-decodes a URL query component (`+` is a space, as libpq's URLs do not use it but
/// form encoding does).
fn decode(text: &str) -> String {
    form_urlencoded::parse(format!("k={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The `key=value` pairs of libpq's key/value form; values may be single-quoted with `\`
/// escapes. A malformed tail ends the list (tokio-postgres reports it when it parses).
fn key_values(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if key.is_empty() {
            break;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            break;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())));
        }
        pairs.push((key, value));
    }
    pairs
}

/// A key/value-form value, quoted when it needs to be.
fn quote(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        return value.to_owned();
    }
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_password_form_is_redacted() {
        for (url, expected) in [
            (
                "postgres://app:s3cret@db:5432/tidemark",
                "postgres://app:***@db:5432/tidemark",
            ),
            (
                "postgresql://app@db/tidemark?password=s3cret&sslmode=require",
                "postgresql://app@db/tidemark?password=***&sslmode=require",
            ),
            (
                "postgres://app:p%40ss@db/x?PassWord=s3cret&sslpassword=s3cret",
                "postgres://app:***@db/x?PassWord=***&sslpassword=***",
            ),
            ("postgres://app:s3/cr?et@db/x", "postgres://app:***@db/x"),
            (
                "postgres://app@db/x?password=s3cret&user=me@corp",
                "postgres://app@db/x?password=***&user=me@corp",
            ),
            (
                "postgres://app:s3cret@db?password=s3cret",
                "postgres://app:***@db?password=***",
            ),
            (
                "host=db user=app password='s3 cret\\'x' dbname=t",
                "host=db user=app password=*** dbname=t",
            ),
            ("host=db password = s3cret", "host=db password=***"),
            ("postgres://db/tidemark", "postgres://db/tidemark"),
        ] {
            let redacted = redact_url(url);
            assert_eq!(redacted, expected, "{url}");
            assert!(!redacted.contains("s3"), "{redacted}");
        }
    }

    #[test]
    fn tls_params_are_taken_out_of_both_forms() {
        let (rest, params) = take_tls_params(
            "postgres://a:b@h/d?connect_timeout=3&sslmode=Verify-Full&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(rest, "postgres://a:b@h/d?connect_timeout=3");
        assert_eq!(params.mode.as_deref(), Some("verify-full"));
        assert_eq!(params.root_cert.as_deref(), Some("/tmp/ca.pem"));
        let (rest, params) = take_tls_params("postgres://h/d?sslmode=require");
        assert_eq!(rest, "postgres://h/d");
        assert_eq!(params.mode.as_deref(), Some("require"));
        let (rest, params) =
            take_tls_params("host=h sslmode=verify-ca sslrootcert='/a b.pem' user=u");
        assert_eq!(rest, "host=h user=u");
        assert_eq!(params.mode.as_deref(), Some("verify-ca"));
        assert_eq!(params.root_cert.as_deref(), Some("/a b.pem"));
        assert_eq!(
            take_tls_params("postgres://h/d"),
            ("postgres://h/d".to_owned(), TlsParams::default())
        );
    }
}
