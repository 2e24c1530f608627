//! Edits of an item deleted on another device: recorded as such (not as a conflict that comes
//! back on every push), "keep mine" brings the item back with the edit (undelete, then the
//! update), "keep theirs" lets it go. The stock server's twins are in `tests/stock.rs`.

use tidemark_client::{OperationError, Problem};

use crate::common::{Device, Mode, TestResult, server, server_rows, server_text};

/// Device `a` deleted item `x` and pushed; device `b`, which had it, edited it and pushed:
/// the server answered 404 and the error is recorded.
async fn edit_of_a_deleted_item(
    mode: Mode,
) -> anyhow::Result<(
    tidemark_testkit::server::TestServer,
    Device,
    Device,
    String,
    OperationError,
)> {
    let server = server().await;
    let a = Device::open_in(server.url(), mode).await?;
    let b = Device::open_in(server.url(), mode).await?;
    let x = a.add_synced("shared").await?;
    b.pull_all().await?;
    a.table().delete(&x).await?;
    a.push_ok().await?;
    b.set_text(&x, "edited on b").await?;
    let pushed = b.ctx.push().await;
    anyhow::ensure!(pushed.errors.len() == 1, "one refusal: {pushed:?}");
    let error = b.ctx.errors().await?.remove(0);
    Ok((server, a, b, x, error))
}

both_modes! {
    async fn an_edit_of_an_item_deleted_elsewhere_is_recorded_as_deleted_elsewhere(mode) -> TestResult {
        let (_server, _a, b, x, error) = edit_of_a_deleted_item(mode).await?;
        assert_eq!(error.problem(), Problem::DeletedElsewhere, "{error:?}");
        assert!(!error.is_conflict());
        assert_eq!(error.item_id, x);
        // The local edit is kept as the user left it, waiting for the decision.
        assert_eq!(b.text(&x).await?.as_deref(), Some("edited on b"));
        assert_eq!(b.ctx.pending_operations().await?, 1);
        Ok(())
    }
}

both_modes! {
    async fn keep_mine_brings_an_item_deleted_elsewhere_back_with_the_edit(mode) -> TestResult {
        let (server, a, b, x, error) = edit_of_a_deleted_item(mode).await?;
        b.ctx.restore_and_keep_local(&error).await?;
        assert!(b.ctx.errors().await?.is_empty());
        b.push_ok().await?;
        assert_eq!(b.ctx.pending_operations().await?, 0);
        assert_eq!(
            server_text(server.url(), &x).await?.as_deref(),
            Some("edited on b")
        );
        // Exactly one copy on the server, live, and the other device gets it back.
        assert_eq!(server_rows(server.url()).await?.len(), 1);
        a.pull_all().await?;
        assert_eq!(a.text(&x).await?.as_deref(), Some("edited on b"));
        // Nothing comes back on the next sync.
        b.pull_all().await?;
        assert!(b.ctx.errors().await?.is_empty());
        assert_eq!(b.text(&x).await?.as_deref(), Some("edited on b"));
        Ok(())
    }
}

both_modes! {
    async fn keep_theirs_lets_an_item_deleted_elsewhere_go(mode) -> TestResult {
        let (server, _a, b, x, error) = edit_of_a_deleted_item(mode).await?;
        b.ctx.cancel_and_take_server_item(&error).await?;
        assert_eq!(b.table().lookup(&x).await?, None);
        assert_eq!(b.ctx.pending_operations().await?, 0);
        assert!(b.ctx.errors().await?.is_empty());
        b.pull_all().await?;
        assert_eq!(b.table().lookup(&x).await?, None);
        assert_eq!(server_text(server.url(), &x).await?, None);
        Ok(())
    }
}

#[tokio::test]
async fn keep_mine_is_refused_for_an_ordinary_conflict() -> TestResult {
    let server = server().await;
    let a = Device::open(server.url()).await?;
    let b = Device::open(server.url()).await?;
    let x = a.add_synced("original").await?;
    b.pull_all().await?;
    a.set_text(&x, "from a").await?;
    a.push_ok().await?;
    b.set_text(&x, "from b").await?;
    let error = b.ctx.push().await.errors.remove(0);
    assert_eq!(error.problem(), Problem::Conflict);
    let refused = b.ctx.restore_and_keep_local(&error).await;
    assert!(
        matches!(
            refused,
            Err(tidemark_client::ClientError::InvalidInput { .. })
        ),
        "{refused:?}"
    );
    assert_eq!(b.ctx.errors().await?.len(), 1);
    Ok(())
}
