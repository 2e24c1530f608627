//! STUB, replaced by the edge package's OIDC verifier at merge (the lead keeps the edge
//! version). Only the contract's types and signatures, so the accounts code that calls it
//! compiles; this stub refuses every token.

use std::fmt;

/// Which identity provider's tokens are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer URL (`iss`), whose discovery document names the JWKS.
    pub issuer: String,
    /// The audience (`aud`) tokens must be for.
    pub audience: String,
}

/// Who an accepted OIDC token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The token's `iss`.
    pub issuer: String,
    /// The token's `sub`.
    pub subject: String,
    /// The token's `exp`, Unix seconds.
    pub expires_at: i64,
}

impl OidcIdentity {
    /// The owner id of this user's rows: `oidc:<issuer>#<subject>`.
    pub fn owner_id(&self) -> String {
        format!("oidc:{}#{}", self.issuer, self.subject)
    }
}

/// Why an OIDC token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// This stub verifies nothing.
    #[error("OIDC tokens are not supported by this build")]
    Unsupported,
}

/// Checks tokens of one identity provider.
pub struct OidcVerifier {
    config: OidcConfig,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier for `config`'s issuer and audience.
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        Ok(Self { config })
    }

    /// The identity `token` proves (stub: never).
    pub async fn verify(&self, _token: &str) -> Result<OidcIdentity, OidcError> {
        Err(OidcError::Unsupported)
    }
}
