//! The OpenID Connect verifier against a provider served from 127.0.0.1: a discovery document
//! and a key set with keys the test generates, and counters of how often each is fetched.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tidemark_server::accounts::oidc::{OidcConfig, OidcError, OidcIdentity, OidcVerifier};

const AUDIENCE: &str = "tidemark-test";

/// The provider's state: the keys it serves and how often it was asked.
#[derive(Default)]
struct ProviderState {
    issuer: RwLock<String>,
    keys: RwLock<Vec<Jwk>>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

/// A provider on a free loopback port, stopped when dropped.
struct Provider {
    issuer: String,
    state: Arc<ProviderState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Provider {
    async fn start(keys: &[&SigningKey]) -> Self {
        let state = Arc::new(ProviderState::default());
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(jwks))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        *state.issuer.write().expect("lock") = issuer.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let provider = Self {
            issuer,
            state,
            task,
        };
        provider.serve_keys(keys);
        provider
    }

    fn serve_keys(&self, keys: &[&SigningKey]) {
        *self.state.keys.write().expect("lock") = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    fn verifier(&self) -> OidcVerifier {
        OidcVerifier::new(OidcConfig {
            issuer: self.issuer.clone(),
            audience: AUDIENCE.into(),
        })
        .expect("verifier")
    }

    fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    /// Claims that verify: this issuer, our audience, valid for the next hour.
    fn claims(&self, sub: &str) -> Value {
        let now = now();
        json!({"iss": self.issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now - 5,
               "exp": now + 3600})
    }
}

async fn discovery(State(state): State<Arc<ProviderState>>) -> Json<Value> {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = state.issuer.read().expect("lock").clone();
    Json(
        json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys"),
                "id_token_signing_alg_values_supported": ["RS256", "ES256"]}),
    )
}

async fn jwks(State(state): State<Arc<ProviderState>>) -> Json<Value> {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let keys = state.keys.read().expect("lock").clone();
    Json(json!({ "keys": keys }))
}

/// A private key the test signs with, and its public JWK as the provider serves it.
struct SigningKey {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    jwk: Jwk,
}

impl SigningKey {
    fn ec(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
        Self::from_pkcs8(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(&pair.serialize_der()),
        )
    }

    fn rsa(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
        Self::from_pkcs8(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_der(pkcs1_of_pkcs8(&pair.serialize_der())),
        )
    }

    fn from_pkcs8(kid: &str, alg: Algorithm, key: EncodingKey) -> Self {
        let mut jwk = Jwk::from_encoding_key(&key, alg).expect("jwk");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            alg,
            key,
            jwk,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// Signs with this key but names key id `kid` in the header.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (what rcgen writes; the RSA
/// signer of jsonwebtoken's aws-lc backend takes PKCS#1): SEQUENCE { INTEGER version,
/// SEQUENCE algorithm, OCTET STRING key }.
fn pkcs1_of_pkcs8(der: &[u8]) -> &[u8] {
    /// Splits one DER element off `der`: (tag, content, rest).
    fn element(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (der[0], der[1]);
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            let len = der[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        (tag, &der[header..header + len], &der[header + len..])
    }
    let (_, info, _) = element(der);
    let (_, _version, rest) = element(info);
    let (_, _algorithm, rest) = element(rest);
    let (tag, key, _) = element(rest);
    assert_eq!(tag, 0x04, "PKCS#8 private key is an OCTET STRING");
    key
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// Checks that `token` is refused with an error like `expected` that does not quote it.
async fn refused(verifier: &OidcVerifier, token: &str, expected: fn(&OidcError) -> bool) {
    let e = verifier
        .verify(token)
        .await
        .expect_err("the token must be refused");
    assert!(expected(&e), "unexpected error: {e:?}");
    assert!(
        !e.to_string().contains(token),
        "the error quotes the token: {e}"
    );
}

#[tokio::test]
async fn a_valid_token_verifies_to_its_issuer_and_subject() {
    let ec = SigningKey::ec("ec-1");
    let rsa = SigningKey::rsa("rsa-1");
    let provider = Provider::start(&[&ec, &rsa]).await;
    let verifier = provider.verifier();
    let claims = provider.claims("alice");
    let exp = claims["exp"].as_i64().expect("exp");
    for key in [&ec, &rsa] {
        let identity = verifier.verify(&key.sign(&claims)).await.expect("verifies");
        assert_eq!(
            identity,
            OidcIdentity {
                issuer: provider.issuer.clone(),
                subject: "alice".into(),
                expires_at: exp,
            }
        );
        assert_eq!(
            identity.owner_id(),
            format!("oidc:{}#alice", provider.issuer)
        );
    }
    // An audience list containing ours is fine; the keys were fetched once for all of it.
    let listed = with(claims, "aud", json!(["other", AUDIENCE]));
    assert!(verifier.verify(&ec.sign(&listed)).await.is_ok());
    assert_eq!((provider.discovery_hits(), provider.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn hostile_tokens_are_refused() {
    let key = SigningKey::ec("k1");
    let provider = Provider::start(&[&key]).await;
    let verifier = provider.verifier();
    let good = provider.claims("alice");
    let now = now();

    // Signed by another key that claims the provider's key id.
    let intruder = SigningKey::ec("k1");
    refused(&verifier, &intruder.sign(&good), |e| {
        *e == OidcError::BadSignature
    })
    .await;
    // The same with an RSA key under the EC key's id: the algorithm does not fit the key.
    let rsa = SigningKey::rsa("k1");
    refused(&verifier, &rsa.sign(&good), |e| {
        matches!(e, OidcError::UnknownKey(_))
    })
    .await;
    // Unsigned: `alg: none` with an empty signature.
    let valid = key.sign(&good);
    let mut parts = valid.split('.');
    let (_, payload) = (parts.next(), parts.next().expect("payload"));
    let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoiazEifQ";
    refused(&verifier, &format!("{none_header}.{payload}."), |e| {
        matches!(
            e,
            OidcError::Malformed(_) | OidcError::UnsupportedAlgorithm(_)
        )
    })
    .await;
    // HMAC with the public key material as the secret (the classic confusion attack) or any
    // other secret.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("k1".into());
    let hmac = jsonwebtoken::encode(&hs, &good, &EncodingKey::from_secret(b"k1").expect("key"))
        .expect("sign");
    refused(&verifier, &hmac, |e| {
        matches!(e, OidcError::UnsupportedAlgorithm(_))
    })
    .await;
    // Expired beyond the leeway; not valid yet beyond the leeway.
    let expired = with(good.clone(), "exp", json!(now - 120));
    refused(&verifier, &key.sign(&expired), |e| *e == OidcError::Expired).await;
    let early = with(good.clone(), "nbf", json!(now + 120));
    refused(&verifier, &key.sign(&early), |e| {
        *e == OidcError::NotYetValid
    })
    .await;
    // Another issuer, another audience, no subject.
    let issuer = with(good.clone(), "iss", json!("https://evil.example.com"));
    refused(&verifier, &key.sign(&issuer), |e| {
        *e == OidcError::WrongIssuer
    })
    .await;
    let audience = with(good.clone(), "aud", json!("someone-else"));
    refused(&verifier, &key.sign(&audience), |e| {
        *e == OidcError::WrongAudience
    })
    .await;
    let mut anonymous = good.clone();
    anonymous.as_object_mut().expect("object").remove("sub");
    refused(&verifier, &key.sign(&anonymous), |e| {
        matches!(e, OidcError::Malformed(_))
    })
    .await;
    // A tampered payload under the original signature.
    let other = key.sign(&provider.claims("mallory"));
    let forged_payload = other.split('.').nth(1).expect("payload");
    let mut parts: Vec<&str> = valid.split('.').collect();
    parts[1] = forged_payload;
    refused(&verifier, &parts.join("."), |e| {
        *e == OidcError::BadSignature
    })
    .await;
    // Within the leeway (30 s) a just-expired token still passes: clocks differ a little.
    let just_expired = with(good, "exp", json!(now - 10));
    assert!(verifier.verify(&key.sign(&just_expired)).await.is_ok());
}

#[tokio::test]
async fn a_rotated_key_is_picked_up() {
    let old = SigningKey::ec("2026-01");
    let new = SigningKey::rsa("2026-02");
    let provider = Provider::start(&[&old]).await;
    let verifier = provider
        .verifier()
        .with_refetch_interval(Duration::from_millis(200));
    let claims = provider.claims("bob");
    verifier.verify(&old.sign(&claims)).await.expect("old key");
    provider.serve_keys(&[&new]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let identity = verifier.verify(&new.sign(&claims)).await.expect("new key");
    assert_eq!(identity.subject, "bob");
    assert_eq!(provider.jwks_hits(), 2);
    // The key set is found again under the known jwks_uri: no second discovery.
    assert_eq!(provider.discovery_hits(), 1);
    // The withdrawn key stops working with the refreshed set; asking for it again within the
    // refetch interval fetches nothing.
    refused(&verifier, &old.sign(&claims), |e| {
        matches!(e, OidcError::UnknownKey(_))
    })
    .await;
    assert_eq!(provider.jwks_hits(), 2);
}

#[tokio::test]
async fn unknown_key_ids_do_not_hammer_the_provider() {
    let key = SigningKey::ec("real");
    let provider = Provider::start(&[&key]).await;
    let verifier = Arc::new(provider.verifier());
    let claims = provider.claims("carol");
    // Concurrent first tokens: one discovery and one key set fetch between them.
    let firsts: Vec<_> = (0..8)
        .map(|_| {
            let verifier = Arc::clone(&verifier);
            let token = key.sign(&claims);
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for first in firsts {
        first.await.expect("task").expect("verifies");
    }
    assert_eq!((provider.discovery_hits(), provider.jwks_hits()), (1, 1));
    for i in 0..50 {
        let token = key.sign_as(&format!("made-up-{i}"), &claims);
        refused(&verifier, &token, |e| matches!(e, OidcError::UnknownKey(_))).await;
    }
    assert_eq!(
        provider.jwks_hits(),
        1,
        "unknown key ids refetched the key set"
    );
    // A huge made-up key id is not echoed whole into the error (which may be logged).
    let long = key.sign_as(&"x".repeat(5000), &claims);
    match verifier.verify(&long).await {
        Err(OidcError::UnknownKey(kid)) => assert!(kid.len() <= 64, "{}", kid.len()),
        other => panic!("{other:?}"),
    }
    assert!(verifier.verify(&key.sign(&claims)).await.is_ok());
}

#[tokio::test]
async fn an_unreachable_provider_is_an_error_that_says_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let verifier = OidcVerifier::new(OidcConfig {
        issuer,
        audience: AUDIENCE.into(),
    })
    .expect("verifier");
    let key = SigningKey::ec("k");
    let token = key.sign(&json!({"sub": "x", "exp": now() + 60}));
    refused(&verifier, &token, |e| matches!(e, OidcError::Provider(_))).await;
}

/// The server end to end: with `--oidc-issuer`, the provider's tokens are accepted on the table
/// routes (in `X-ZUMO-AUTH` and as a bearer token), each subject sees only its own rows, and a
/// token the verifier refuses is answered 401 with nothing written.
#[tokio::test]
async fn the_server_accepts_the_providers_tokens_and_keeps_each_subjects_rows_apart() {
    use tidemark_server::ServerConfig;
    use tidemark_server::accounts::{AccountsConfig, AuthMode};
    use tidemark_testkit::server::TestServer;

    let key = SigningKey::ec("ec-1");
    let stranger = SigningKey::ec("ec-1");
    let provider = Provider::start(&[&key]).await;
    let server = TestServer::start_with(ServerConfig {
        auth: AuthMode::Accounts(AccountsConfig {
            oidc: Some(OidcConfig {
                issuer: provider.issuer.clone(),
                audience: AUDIENCE.into(),
            }),
            ..AccountsConfig::default()
        }),
        ..ServerConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let items = format!("{}/tables/todoitem", server.url());
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request
            .header("ZUMO-API-VERSION", "2.0.0")
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status, body)
    };
    let alice = key.sign(&provider.claims("alice"));
    let bob = key.sign(&provider.claims("bob"));

    let (status, _) = send(
        http.post(&items)
            .header("X-ZUMO-AUTH", &alice)
            .json(&json!({"id": "a1", "text": "alice's"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = send(http.get(&items).bearer_auth(&alice)).await;
    assert_eq!((status, body[0]["id"].clone()), (200, json!("a1")));
    let (status, body) = send(http.get(&items).header("X-ZUMO-AUTH", &bob)).await;
    assert_eq!(
        (status, body),
        (200, json!([])),
        "bob sees none of alice's rows"
    );
    let (status, _) = send(http.get(format!("{items}/a1")).header("X-ZUMO-AUTH", &bob)).await;
    assert_eq!(status, 404);

    let (status, me) = send(
        http.get(format!("{}/.auth/me", server.url()))
            .header("X-ZUMO-AUTH", &alice),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["provider"], json!("oidc"));
    assert_eq!(
        me["userId"],
        json!(format!("oidc:{}#alice", provider.issuer))
    );

    // Signed by a key the provider does not publish (same key id): refused, nothing written.
    let forged = stranger.sign(&provider.claims("alice"));
    let (status, _) = send(
        http.post(&items)
            .header("X-ZUMO-AUTH", &forged)
            .json(&json!({"id": "forged"})),
    )
    .await;
    assert_eq!(status, 401);
    let (_, body) = send(http.get(&items).header("X-ZUMO-AUTH", &alice)).await;
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
}
