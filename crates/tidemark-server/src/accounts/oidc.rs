//! Tokens of an organisation's OpenID Connect provider (`--oidc-issuer URL --oidc-audience AUD`).
//!
//! [`OidcVerifier`] finds the provider's signing keys through its discovery document
//! (`<issuer>/.well-known/openid-configuration`, then `jwks_uri`), keeps them, and checks a
//! token's signature (RS256 or ES256 only: `none`, HMAC and everything else are refused), its
//! `iss` (exactly the configured issuer), `aud` (contains the configured audience), `exp` and
//! `nbf` (with [`CLOCK_LEEWAY_SECS`] of leeway for clock skew).
//!
//! Keys are fetched on first use, again when a token names a key id not in the cache (the
//! provider rotated its keys), and when the cache is older than [`KEYS_MAX_AGE`]; never more
//! often than once per [`REFETCH_INTERVAL`], so tokens with made-up key ids cannot make the
//! server hammer the provider. Fetches have a timeout and a size limit. A token never appears in
//! an error message or a log line.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Url;
use serde::Deserialize;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const CLOCK_LEEWAY_SECS: u64 = 30;
/// The shortest time between two key fetches (an unknown key id waits for the next one).
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Keys older than this are fetched again on the next token (so a withdrawn key stops working).
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// The largest discovery document or key set read, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The longest one fetch from the provider may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest connecting to the provider may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most characters of a token's key id quoted in [`OidcError::UnknownKey`].
const MAX_KID_CHARS: usize = 64;
/// The discovery document's path under the issuer (OpenID Connect Discovery 1.0, section 4).
const DISCOVERY_PATH: &str = ".well-known/openid-configuration";

/// Which provider's tokens to accept and for which audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer URL, exactly as the provider writes it in `iss` (e.g.
    /// `https://login.example.com/realms/staff`). `http://` only on a loopback host.
    pub issuer: String,
    /// The audience this server is (the client id registered at the provider); a token's `aud`
    /// must contain it.
    pub audience: String,
}

/// Who a verified token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The token's issuer (the configured one).
    pub issuer: String,
    /// The provider's user id (`sub`).
    pub subject: String,
    /// When the token expires (`exp`), in seconds since the Unix epoch.
    pub expires_at: i64,
}

impl OidcIdentity {
    /// The owner id of this user's rows: `oidc:<issuer>#<subject>`.
    pub fn owner_id(&self) -> String {
        format!("oidc:{}#{}", self.issuer, self.subject)
    }
}

/// Why a token was refused or the provider could not be asked. No message contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The configuration cannot be used (bad issuer URL, empty audience).
    #[error("OIDC configuration: {0}")]
    Config(String),
    /// The token is not a well-formed JWT, or its claims lack or mistype `sub`, `exp`, ….
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token's algorithm is not RS256 or ES256 (e.g. `none` or HS256).
    #[error("token algorithm {0} is not accepted (only RS256 and ES256)")]
    UnsupportedAlgorithm(String),
    /// The provider has no key with the token's key id (or no key fitting its algorithm).
    #[error("the identity provider has no key {0:?} for this token")]
    UnknownKey(String),
    /// The signature does not verify with the provider's key.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` has passed.
    #[error("token has expired")]
    Expired,
    /// `nbf` is still to come.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("token is from another issuer")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("token is for another audience")]
    WrongAudience,
    /// The provider's discovery document or key set cannot be fetched or read.
    #[error("identity provider unavailable: {0}")]
    Provider(String),
}

/// Checks tokens of one OpenID Connect provider; share one per server (it caches the keys).
pub struct OidcVerifier {
    config: OidcConfig,
    discovery_url: Url,
    http: reqwest::Client,
    keys: RwLock<KeyCache>,
    /// The shortest time between two key fetches ([`REFETCH_INTERVAL`] unless set).
    refetch_interval: Duration,
    /// Held while fetching, so concurrent verifications of a new key id fetch once.
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The provider's keys as last fetched.
#[derive(Default)]
struct KeyCache {
    /// Key id (empty for a key without one) → key.
    keys: HashMap<String, ProviderKey>,
    /// When the keys were fetched successfully.
    fetched_at: Option<Instant>,
    /// When a fetch was last tried, successful or not (for the refetch interval).
    tried_at: Option<Instant>,
    /// The discovery document's `jwks_uri`, once known.
    jwks_uri: Option<Url>,
}

/// One usable key: RSA, or EC on P-256.
#[derive(Clone)]
struct ProviderKey {
    key: DecodingKey,
    algorithm: Algorithm,
}

/// The part of the discovery document we use.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// A key set whose keys are parsed one by one, so one key of an unknown kind does not hide the
/// others.
#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// The claims read from a token (the rest are checked by `jsonwebtoken` or ignored).
#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
}

impl OidcVerifier {
    /// A verifier for `config`; nothing is fetched until the first token.
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        if config.audience.trim().is_empty() {
            return Err(OidcError::Config("the audience is empty".into()));
        }
        let issuer = Url::parse(&config.issuer)
            .map_err(|e| OidcError::Config(format!("issuer {:?}: {e}", config.issuer)))?;
        check_transport(&issuer).map_err(OidcError::Config)?;
        // Discovery appends to the issuer's path (a realm path stays): `<issuer>/.well-known/…`.
        let discovery_url = Url::parse(&format!(
            "{}/{DISCOVERY_PATH}",
            config.issuer.trim_end_matches('/')
        ))
        .map_err(|e| OidcError::Config(format!("issuer {:?}: {e}", config.issuer)))?;
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect could lead from https to http or to another host; providers serve
            // both documents directly.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OidcError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            config,
            discovery_url,
            http,
            keys: RwLock::new(KeyCache::default()),
            refetch_interval: REFETCH_INTERVAL,
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// Sets the shortest time between two key fetches (default [`REFETCH_INTERVAL`]); tests
    /// shorten it to see a key rotation without waiting.
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// The configuration this verifier checks against.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Checks `token`'s signature and claims and says whose it is.
    pub async fn verify(&self, token: &str) -> Result<OidcIdentity, OidcError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
                OidcError::UnsupportedAlgorithm("in the header".into())
            }
            // `alg: none` and unknown names fail to parse as an algorithm.
            ErrorKind::Json(_) => OidcError::Malformed(
                "the header is not JSON with a known algorithm (e.g. alg: none)".into(),
            ),
            _ => OidcError::Malformed("not a JWT (header.payload.signature)".into()),
        })?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(OidcError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.unwrap_or_default();
        let key = self.key_for(&kid, header.alg).await?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation(header.alg))
            .map_err(|e| claim_error(e.kind()))?
            .claims;
        Ok(OidcIdentity {
            issuer: self.config.issuer.clone(),
            subject: claims.sub,
            expires_at: claims.exp,
        })
    }

    /// What `jsonwebtoken` checks: the one algorithm, issuer, audience, times, required claims.
    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.leeway = CLOCK_LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation
    }

    /// The key `kid` for `alg`, fetching the key set when it is unknown or the cache is old
    /// (at most once per [`REFETCH_INTERVAL`]).
    async fn key_for(&self, kid: &str, alg: Algorithm) -> Result<ProviderKey, OidcError> {
        let (found, stale) = self.cached(kid, alg);
        if let (Some(key), false) = (&found, stale) {
            return Ok(key.clone());
        }
        let _fetching = self.refresh.lock().await;
        // Another task may have fetched while this one waited.
        let (again, stale) = self.cached(kid, alg);
        if let (Some(key), false) = (&again, stale) {
            return Ok(key.clone());
        }
        let may_fetch = self
            .read_cache()
            .tried_at
            .is_none_or(|t| t.elapsed() >= self.refetch_interval);
        if may_fetch {
            match self.fetch_keys().await {
                Ok(()) => {}
                // Stale keys still serve while the provider is away; a key never seen cannot.
                Err(e) if again.is_some() => {
                    log::warn!(
                        "OIDC: keeping the cached keys of {}: {e}",
                        self.config.issuer
                    );
                }
                Err(e) => return Err(e),
            }
        }
        // The key id comes from the caller: keep the message (which may be logged) short.
        self.cached(kid, alg)
            .0
            .ok_or_else(|| OidcError::UnknownKey(kid.chars().take(MAX_KID_CHARS).collect()))
    }

    /// The cached key `kid` usable for `alg` (a token without `kid` takes the only key of its
    /// algorithm), and whether the cache is due for a refresh.
    fn cached(&self, kid: &str, alg: Algorithm) -> (Option<ProviderKey>, bool) {
        let cache = self.read_cache();
        let stale = cache.fetched_at.is_none_or(|t| t.elapsed() >= KEYS_MAX_AGE);
        let key = if kid.is_empty() {
            let mut fitting = cache.keys.values().filter(|k| k.algorithm == alg);
            match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        } else {
            cache.keys.get(kid).filter(|k| k.algorithm == alg).cloned()
        };
        (key, stale)
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, KeyCache> {
        // A poisoned lock only means a panic elsewhere; the cache inside is still whole.
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, KeyCache> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fetches the key set (discovering its URL first when not known) into the cache.
    async fn fetch_keys(&self) -> Result<(), OidcError> {
        self.write_cache().tried_at = Some(Instant::now());
        let known = self.read_cache().jwks_uri.clone();
        let jwks_uri = match known {
            Some(uri) => uri,
            None => self.discover().await?,
        };
        let fetched = self.fetch_json::<RawKeySet>("key set", &jwks_uri).await;
        let set = match fetched {
            Ok(set) => set,
            Err(e) => {
                // The provider may have moved its keys: discover again next time.
                self.write_cache().jwks_uri = None;
                return Err(e);
            }
        };
        let keys = parse_keys(set);
        log::info!(
            "OIDC: fetched {} usable signing key(s) of {}",
            keys.len(),
            self.config.issuer
        );
        let mut cache = self.write_cache();
        cache.keys = keys;
        cache.fetched_at = Some(Instant::now());
        cache.jwks_uri = Some(jwks_uri);
        Ok(())
    }

    /// Reads the discovery document and returns its checked `jwks_uri`.
    async fn discover(&self) -> Result<Url, OidcError> {
        let doc: Discovery = self
            .fetch_json("discovery document", &self.discovery_url)
            .await?;
        if doc.issuer != self.config.issuer {
            return Err(OidcError::Provider(format!(
                "the discovery document names issuer {:?}, not the configured {:?}",
                doc.issuer, self.config.issuer
            )));
        }
        let uri = Url::parse(&doc.jwks_uri)
            .map_err(|e| OidcError::Provider(format!("jwks_uri {:?}: {e}", doc.jwks_uri)))?;
        check_transport(&uri).map_err(OidcError::Provider)?;
        Ok(uri)
    }

    /// GETs `url` and parses its JSON body, reading at most [`MAX_DOCUMENT_BYTES`].
    async fn fetch_json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        url: &Url,
    ) -> Result<T, OidcError> {
        let fail = |reason: String| OidcError::Provider(format!("{what} at {url}: {reason}"));
        let mut response = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("answered {}", response.status())));
        }
        let too_big = || fail(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| fail(format!("not the expected JSON: {e}")))
    }
}

/// The usable keys of a key set: signing keys that are RSA (RS256) or EC on P-256 (ES256), whose
/// declared `alg`, if any, agrees. Others are skipped (and logged at debug level).
fn parse_keys(set: RawKeySet) -> HashMap<String, ProviderKey> {
    let mut keys = HashMap::new();
    for raw in set.keys {
        let jwk: Jwk = match serde_json::from_value(raw) {
            Ok(jwk) => jwk,
            Err(e) => {
                log::debug!("OIDC: skipping a key that is not a JWK: {e}");
                continue;
            }
        };
        let kid = jwk.common.key_id.clone().unwrap_or_default();
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            _ => {
                log::debug!("OIDC: skipping key {kid:?}: neither RSA nor EC P-256");
                continue;
            }
        };
        let declared_fits = match jwk.common.key_algorithm {
            None => true,
            Some(KeyAlgorithm::RS256) => algorithm == Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => algorithm == Algorithm::ES256,
            Some(_) => false,
        };
        let for_signing = !matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        );
        if !declared_fits || !for_signing {
            log::debug!("OIDC: skipping key {kid:?}: not an RS256/ES256 signing key");
            continue;
        }
        match DecodingKey::from_jwk(&jwk) {
            Ok(key) => {
                keys.insert(kid, ProviderKey { key, algorithm });
            }
            Err(e) => log::debug!("OIDC: skipping key {kid:?}: {e}"),
        }
    }
    keys
}

/// An `https` URL, or `http` to a loopback host (a provider on the same machine, or a test).
fn check_transport(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{url} is plain http to a non-loopback host; keys must come over https"
        )),
        other => Err(format!("{url}: scheme {other} is not http(s)")),
    }
}

/// True when `url`'s host is `localhost` or a loopback address.
fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The [`OidcError`] for a failed signature or claim check (never quoting the token).
fn claim_error(kind: &ErrorKind) -> OidcError {
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => {
            OidcError::BadSignature
        }
        ErrorKind::ExpiredSignature => OidcError::Expired,
        ErrorKind::ImmatureSignature => OidcError::NotYetValid,
        ErrorKind::InvalidIssuer => OidcError::WrongIssuer,
        ErrorKind::InvalidAudience => OidcError::WrongAudience,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            OidcError::UnsupportedAlgorithm("for this key".into())
        }
        ErrorKind::MissingRequiredClaim(claim) => {
            OidcError::Malformed(format!("the {claim} claim is missing"))
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            OidcError::Malformed(format!("the {claim} claim has the wrong type"))
        }
        // serde's messages can quote claim values: say only what failed.
        ErrorKind::Json(_) | ErrorKind::Utf8(_) | ErrorKind::Base64(_) => {
            OidcError::Malformed("the payload is not base64url JSON with sub and exp".into())
        }
        _ => OidcError::Malformed("the token cannot be checked".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str) -> OidcConfig {
        OidcConfig {
            issuer: issuer.into(),
            audience: "tidemark".into(),
        }
    }

    #[test]
    fn plain_http_issuers_are_allowed_on_loopback_only() {
        for ok in [
            "https://login.example.com/realms/x",
            "http://127.0.0.1:8081",
            "http://localhost:9000/",
            "http://[::1]:9000",
        ] {
            assert!(OidcVerifier::new(config(ok)).is_ok(), "{ok}");
        }
        for bad in ["http://login.example.com", "ftp://127.0.0.1", "not a url"] {
            assert!(
                matches!(OidcVerifier::new(config(bad)), Err(OidcError::Config(_))),
                "{bad}"
            );
        }
        let mut empty_audience = config("https://login.example.com");
        empty_audience.audience = " ".into();
        assert!(OidcVerifier::new(empty_audience).is_err());
    }

    #[test]
    fn the_discovery_url_keeps_the_issuer_path() {
        let v = OidcVerifier::new(config("https://idp.example.com/realms/staff/")).expect("ok");
        assert_eq!(
            v.discovery_url.as_str(),
            "https://idp.example.com/realms/staff/.well-known/openid-configuration"
        );
    }

    #[test]
    fn the_owner_id_names_issuer_and_subject() {
        let id = OidcIdentity {
            issuer: "https://idp".into(),
            subject: "u1".into(),
            expires_at: 0,
        };
        assert_eq!(id.owner_id(), "oidc:https://idp#u1");
    }

    #[tokio::test]
    async fn garbage_and_unsigned_tokens_are_malformed_without_quoting_them() {
        let v = OidcVerifier::new(config("http://127.0.0.1:1")).expect("ok");
        let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzZWNyZXQtc3ViIn0.";
        for token in ["garbage-secret", none] {
            let e = v.verify(token).await.expect_err("refused");
            assert!(
                matches!(
                    e,
                    OidcError::Malformed(_) | OidcError::UnsupportedAlgorithm(_)
                ),
                "{e:?}"
            );
            assert!(!e.to_string().contains(token), "{e}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
    }
}
