//! Session tokens: JWTs signed with HS256 under the server's key, and the key file.
//!
//! Only HS256 is accepted: the header's `alg` must be exactly that (so `none` and any
//! asymmetric algorithm, the classic confusion attacks, are refused), the signature must
//! verify, and `iss`, `aud`, `exp` and `nbf` are all required and checked. A valid signature
//! is not enough on its own: the caller then checks that the session (`sid`) still exists.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The `iss` and `aud` of every token this server signs.
pub const TOKEN_ISSUER: &str = "tidemark";
/// The fewest key bytes accepted (HS256 wants at least the hash's 32 bytes).
pub const MIN_KEY_BYTES: usize = 32;
/// The bytes of a key file this server creates.
const NEW_KEY_BYTES: usize = 64;
/// Clock skew tolerated between server processes when checking `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 5;

/// The key tokens are signed with; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey(Vec<u8>);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// Why the key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Fewer than [`MIN_KEY_BYTES`] bytes.
    #[error("a token key is at least {MIN_KEY_BYTES} bytes, this one is {0}")]
    TooShort(usize),
    /// The key file may be read by others than its owner.
    #[error(
        "the token key file {0} may be read by group or others (mode {1:o}); \
         make it private: chmod 600 {0}"
    )]
    NotPrivate(String, u32),
    /// The key file cannot be read or written.
    #[error("token key file {0}: {1}")]
    Io(String, #[source] std::io::Error),
}

impl TokenKey {
    /// A fresh random key, for a server whose tokens need not outlive it (tests, defaults).
    pub fn random() -> Self {
        let mut bytes = vec![0u8; NEW_KEY_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A key of these bytes (at least [`MIN_KEY_BYTES`]).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, KeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The key in the file at `path` (its bytes, whatever they are), creating the file with
    /// fresh random bytes and mode 0600 when it does not exist. A file readable by group or
    /// others is refused: anyone who reads it can sign tokens for every user.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let io = |e| KeyError::Io(shown.clone(), e);
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(mut file) => {
                let key = Self::random();
                file.write_all(&key.0)
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                log::info!("created a new token key in {shown}");
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mut file = std::fs::File::open(path).map_err(io)?;
                let mode = file.metadata().map_err(io)?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(KeyError::NotPrivate(shown, mode & 0o777));
                }
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map_err(io)?;
                Self::from_bytes(bytes)
            }
            Err(e) => Err(io(e)),
        }
    }
}

/// The claims of a session token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Always [`TOKEN_ISSUER`].
    pub iss: String,
    /// Always [`TOKEN_ISSUER`].
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not valid before, Unix seconds.
    pub nbf: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// This token's own random id: two tokens are never equal, even when made in the same
    /// second for the same session (a refresh right after sign-in).
    pub jti: String,
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not secret on their own, but the session id is half of what a token names.
        f.debug_struct("Claims")
            .field("sub", &self.sub)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

/// Why a token was refused, in words for the 401's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Past its `exp`.
    #[error("the token has expired; sign in again")]
    Expired,
    /// Anything else: bad signature, algorithm, issuer, audience, `nbf`, shape.
    #[error("the token is not valid")]
    Invalid,
}

/// Signs and checks session tokens with one key.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSigner(<key redacted>)")
    }
}

impl TokenSigner {
    /// A signer with `key`.
    pub fn new(key: &TokenKey) -> Result<Self, String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_audience(&[TOKEN_ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let unusable = |e: jsonwebtoken::errors::Error| format!("the token key is not usable: {e}");
        Ok(Self {
            encoding: EncodingKey::from_secret(&key.0).map_err(unusable)?,
            decoding: DecodingKey::from_secret(&key.0).map_err(unusable)?,
            validation,
        })
    }

    /// A token for session `sid` of user `sub`, valid from `now` until `expires_at`.
    pub fn issue(&self, sub: &str, sid: &str, now: i64, expires_at: i64) -> Result<String, String> {
        let claims = Claims {
            iss: TOKEN_ISSUER.into(),
            aud: TOKEN_ISSUER.into(),
            sub: sub.into(),
            sid: sid.into(),
            iat: now,
            nbf: now,
            exp: expires_at,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("cannot sign a token: {e}"))
    }

    /// The claims of `token` once its algorithm, signature and claims are checked.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// The `iss` a token claims, read without checking anything: only to pick the verifier.
pub fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Issuer>(token)
        .ok()
        .and_then(|c| c.iss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("token.key");
        let key = TokenKey::load_or_create(&path).expect("created");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(TokenKey::load_or_create(&path).expect("read"), key);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        assert!(matches!(
            TokenKey::load_or_create(&path),
            Err(KeyError::NotPrivate(..))
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::write(&path, b"short").expect("write");
        assert!(matches!(
            TokenKey::load_or_create(&path),
            Err(KeyError::TooShort(5))
        ));
    }

    #[test]
    fn tokens_verify_under_their_key_only() {
        let signer = TokenSigner::new(&TokenKey::random()).expect("signer");
        let now = chrono::Utc::now().timestamp();
        let token = signer.issue("u", "s", now, now + 60).expect("signs");
        assert_eq!(signer.verify(&token).map(|c| c.sid), Ok("s".into()));
        assert_eq!(unverified_issuer(&token), Some(TOKEN_ISSUER.into()));
        let other = TokenSigner::new(&TokenKey::random()).expect("signer");
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));
        let old = signer.issue("u", "s", now - 120, now - 60).expect("signs");
        assert_eq!(signer.verify(&old), Err(TokenError::Expired));
    }
}
