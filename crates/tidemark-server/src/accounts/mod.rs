//! Accounts: who a request's caller is. This branch holds only the OpenID Connect verifier; the
//! accounts package adds the rest of the module.

pub mod oidc;
