//! The engine against the real server with accounts on: sign-in, per-user sync, a revoked
//! session stopping the sync with the queue kept and sent after signing in again, the offline
//! queue of a signed-out store sent by the first signed-in sync, token renewal, a store bound
//! to one account, and each typed `/.auth` error.

use std::time::Duration;

use chrono::Utc;
use tidemark_client::{
    AuthClient, AuthError, ClientError, PushStatus, Query, RemoteConfig, Session, SyncContext,
};
use tidemark_server::ServerConfig;
use tidemark_server::accounts::{AccountsConfig, AuthMode};
use tidemark_testkit::server::TestServer;

use crate::common::{Device, Mode, TestResult, todo_table};

const PASSWORD: &str = "correct horse battery";

/// A server requiring accounts, with sign-up open and tokens living `lifetime`.
async fn accounts_server(lifetime: Duration) -> TestServer {
    TestServer::start_with(ServerConfig {
        auth: AuthMode::Accounts(AccountsConfig {
            signup_open: true,
            token_lifetime: lifetime,
            ..AccountsConfig::default()
        }),
        ..ServerConfig::default()
    })
    .await
}

async fn open_server() -> TestServer {
    accounts_server(Duration::from_secs(3600)).await
}

fn auth(server: &TestServer) -> anyhow::Result<AuthClient> {
    Ok(AuthClient::new(&RemoteConfig::new(server.url()))?)
}

/// A device of `server` signed in with `session` (or signed out).
async fn device(server: &TestServer, session: Option<Session>) -> anyhow::Result<Device> {
    let mut config = Mode::Batch.config(server.url());
    config.session = session;
    Device::open_with_config(Mode::Batch, config, todo_table()).await
}

/// Signs `device` in with `session` (what the app does after its sign-in screen).
fn sign_in(device: &Device, server: &TestServer, session: &Session) -> anyhow::Result<()> {
    let config = Mode::Batch
        .config(server.url())
        .with_session(session.clone());
    Ok(device.ctx.set_remote(config)?)
}

#[tokio::test]
async fn two_users_sync_their_own_todos_only() -> TestResult {
    let server = open_server().await;
    let alice = auth(&server)?.sign_up("alice", PASSWORD).await?;
    let bob = auth(&server)?.sign_up("bob", PASSWORD).await?;
    let a1 = device(&server, Some(alice.clone())).await?;
    a1.add("alice's").await?;
    a1.push_ok().await?;
    let a2 = device(
        &server,
        Some(auth(&server)?.sign_in("alice", PASSWORD).await?),
    )
    .await?;
    assert_eq!(a2.pull_all().await?.received, 1);
    let b = device(&server, Some(bob)).await?;
    assert_eq!(b.pull_all().await?.received, 0);
    let me = auth(&server)?.me(&alice).await?;
    assert_eq!(me.user_name.as_deref(), Some("alice"));
    assert_eq!(me.user_id, alice.user_id);
    Ok(())
}

#[tokio::test]
async fn a_revoked_session_stops_the_sync_keeps_the_queue_and_signing_in_sends_it() -> TestResult {
    let server = open_server().await;
    let session = auth(&server)?.sign_up("alice", PASSWORD).await?;
    let device = device(&server, Some(session.clone())).await?;
    device.add("a").await?;
    device.add("b").await?;
    auth(&server)?.logout(&session).await?;
    let result = device.ctx.push().await;
    assert_eq!(result.status, PushStatus::CancelledBySignInRequired);
    assert_eq!(device.ctx.pending_operations().await?, 2);
    let pulled = device.table().pull(Some("all"), &Query::new()).await;
    assert!(
        matches!(pulled, Err(ClientError::PushFailed(_))),
        "{pulled:?}"
    );
    let again = auth(&server)?.sign_in("alice", PASSWORD).await?;
    sign_in(&device, &server, &again)?;
    device.push_ok().await?;
    assert_eq!(device.ctx.pending_operations().await?, 0);
    let other = self::device(&server, Some(again)).await?;
    assert_eq!(other.pull_all().await?.received, 2);
    Ok(())
}

#[tokio::test]
async fn edits_made_signed_out_are_kept_and_pushed_by_the_first_signed_in_sync() -> TestResult {
    let server = open_server().await;
    let device = device(&server, None).await?;
    device.add("offline 1").await?;
    device.add("offline 2").await?;
    // Signed out against a server requiring accounts: 401, typed, nothing lost.
    assert_eq!(
        device.ctx.push().await.status,
        PushStatus::CancelledBySignInRequired
    );
    assert_eq!(device.ctx.pending_operations().await?, 2);
    assert_eq!(device.ctx.bound_account().await?, None);
    let session = auth(&server)?.sign_up("alice", PASSWORD).await?;
    sign_in(&device, &server, &session)?;
    device.push_ok().await?;
    assert_eq!(device.ctx.pending_operations().await?, 0);
    let bound = device.ctx.bound_account().await?;
    assert_eq!(bound.map(|b| b.user_id), Some(session.user_id.clone()));
    let other = self::device(&server, Some(session)).await?;
    assert_eq!(other.pull_all().await?.received, 2);
    Ok(())
}

#[tokio::test]
async fn a_token_close_to_expiry_is_renewed_before_the_sync() -> TestResult {
    let server = accounts_server(Duration::from_secs(600)).await;
    let mut session = auth(&server)?.sign_up("alice", PASSWORD).await?;
    // As if received a day ago: ten minutes left of a day is less than a tenth of its life.
    session.obtained_at = Some(Utc::now() - chrono::Duration::days(1));
    let device = device(&server, Some(session.clone())).await?;
    device.add("a").await?;
    device.push_ok().await?;
    let renewed = device.ctx.remote_config().session;
    let renewed = renewed.ok_or_else(|| anyhow::anyhow!("no session after the sync"))?;
    assert_ne!(renewed.token, session.token);
    assert_eq!(renewed.user_id, session.user_id);
    assert!(renewed.expires_at >= session.expires_at);
    assert!(auth(&server)?.me(&renewed).await.is_ok());
    Ok(())
}

#[tokio::test]
async fn a_store_of_one_user_is_never_synced_as_another() -> TestResult {
    let server = open_server().await;
    let alice = auth(&server)?.sign_up("alice", PASSWORD).await?;
    let bob = auth(&server)?.sign_up("bob", PASSWORD).await?;
    let device = device(&server, Some(alice)).await?;
    device.add("alice's").await?;
    device.push_ok().await?;
    device.add("alice's, queued").await?;
    sign_in(&device, &server, &bob)?;
    assert_eq!(
        device.ctx.push().await.status,
        PushStatus::CancelledByAuthenticationError
    );
    assert_eq!(device.ctx.pending_operations().await?, 1);
    let bobs = self::device(&server, Some(bob.clone())).await?;
    assert_eq!(bobs.pull_all().await?.received, 0);
    let config = Mode::Batch.config(server.url()).with_session(bob);
    let opened = SyncContext::open(device.path(), vec![todo_table()], config).await;
    assert!(
        matches!(opened, Err(ClientError::WrongAccount { .. })),
        "{opened:?}"
    );
    Ok(())
}

#[tokio::test]
async fn each_sign_in_refusal_is_typed() -> TestResult {
    let closed = TestServer::start_with(ServerConfig::default()).await;
    let e = auth(&closed)?.sign_up("alice", PASSWORD).await.err();
    assert!(matches!(e, Some(AuthError::SignupClosed)), "{e:?}");
    let server = open_server().await;
    auth(&server)?.sign_up("alice", PASSWORD).await?;
    let e = auth(&server)?.sign_up("ALICE", PASSWORD).await.err();
    assert!(matches!(e, Some(AuthError::NameTaken)), "{e:?}");
    let e = auth(&server)?.sign_up("carol", "short").await.err();
    assert!(
        matches!(&e, Some(AuthError::BadInput(m)) if m.contains('8')),
        "{e:?}"
    );
    let e = auth(&server)?
        .sign_in("alice", "wrong password")
        .await
        .err();
    assert!(matches!(e, Some(AuthError::WrongPassword)), "{e:?}");
    let e = auth(&server)?.sign_in("nobody", PASSWORD).await.err();
    assert!(matches!(e, Some(AuthError::WrongPassword)), "{e:?}");
    let mut throttled = None;
    for _ in 0..100 {
        match auth(&server)?.sign_in("alice", "wrong password").await {
            Err(AuthError::Throttled { retry_after }) => {
                throttled = Some(retry_after);
                break;
            }
            Err(AuthError::WrongPassword) => {}
            other => anyhow::bail!("unexpected: {other:?}"),
        }
    }
    assert!(
        matches!(throttled, Some(Some(wait)) if wait > Duration::ZERO),
        "{throttled:?}"
    );
    Ok(())
}
