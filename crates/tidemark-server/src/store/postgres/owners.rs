//! The PostgreSQL store's `owners` table: the key each owner's rows are stored under (see
//! [`crate::store::OwnerKeys`]).

use tokio_postgres::GenericClient;

use super::classify;
use crate::store::{Owner, StoreError};

/// `owner`'s key, when it has one (it has written before).
pub(super) async fn find<C: GenericClient>(
    client: &C,
    owner: &Owner,
) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_opt(
            "SELECT key FROM owners WHERE user_id = $1",
            &[&owner.as_str()],
        )
        .await
        .map_err(classify)?;
    row.map(|row| row.try_get(0).map_err(StoreError::internal))
        .transpose()
}

/// `owner`'s key, given now when it has none. Outside a transaction the key is committed (and
/// may be cached) before the write that needed it begins; each statement sees what other
/// processes committed before it, so two that add the same owner at once agree on its key.
pub(super) async fn find_or_add<C: GenericClient>(
    client: &C,
    owner: &Owner,
) -> Result<i64, StoreError> {
    if let Some(key) = find(client, owner).await? {
        return Ok(key);
    }
    client
        .execute(
            "INSERT INTO owners (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING",
            &[&owner.as_str()],
        )
        .await
        .map_err(classify)?;
    find(client, owner)
        .await?
        .ok_or_else(|| StoreError::internal(format!("{owner} has no key after it was added")))
}
