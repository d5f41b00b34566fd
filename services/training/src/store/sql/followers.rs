//! The follow graph as training knows it: learned from social's follow events,
//! for the `followers` privacy of workouts.

use vigor_common::db::{Database, TxEvents};
use vigor_common::{in_tx, on_pool, Id};

use super::super::StoreResult;

pub(super) async fn set_follow(
    db: &Database,
    group: &str,
    event_id: Id,
    owner: Id,
    follower: Id,
    following: bool,
) -> StoreResult<bool> {
    // The newest event of a pair wins, whatever order they arrive in.
    let sql = "INSERT INTO followers (owner_id, follower_id, following, event_id) \
               VALUES ($1, $2, $3, $4) ON CONFLICT (owner_id, follower_id) DO UPDATE \
               SET following = excluded.following, event_id = excluded.event_id \
               WHERE followers.event_id < excluded.event_id";
    let applied = in_tx!(db, tx => {
        if tx.mark_processed(group, event_id).await? {
            sqlx::query(sql)
                .bind(owner)
                .bind(follower)
                .bind(following)
                .bind(event_id)
                .execute(&mut *tx)
                .await?;
            true
        } else {
            false
        }
    });
    Ok(applied)
}

pub(super) async fn follows(db: &Database, follower: Id, owner: Id) -> StoreResult<bool> {
    let sql =
        "SELECT COUNT(*) FROM followers WHERE owner_id = $1 AND follower_id = $2 AND following";
    let n: i64 = on_pool!(db, pool => {
        sqlx::query_scalar(sql).bind(owner).bind(follower).fetch_one(pool).await?
    });
    Ok(n > 0)
}
