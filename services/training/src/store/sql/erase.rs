//! Erasing a user (the `user.deleted` consumer): every row they own, in one
//! transaction with the consumer's deduplication of the event.

use vigor_common::db::{Database, TxEvents};
use vigor_common::{in_owner_tx, Id};

use super::super::{Erased, StoreResult};

/// Runs the statements erasing `$user` on transaction `$tx`; the [`Erased`] counts.
macro_rules! erase_statements {
    ($tx:ident, $user:expr) => {{
        let user: Id = $user;
        let run = |sql: &'static str| sqlx::query(sql).bind(user);
        run("DELETE FROM workout_sets WHERE workout_id IN (SELECT id FROM workouts WHERE owner_id = $1)")
            .execute(&mut *$tx)
            .await?;
        run("DELETE FROM workout_records WHERE owner_id = $1").execute(&mut *$tx).await?;
        let workouts = run("DELETE FROM workouts WHERE owner_id = $1").execute(&mut *$tx).await?.rows_affected();
        let schedules = run("DELETE FROM schedules WHERE owner_id = $1").execute(&mut *$tx).await?.rows_affected();
        let plans = run("DELETE FROM plans WHERE owner_id = $1").execute(&mut *$tx).await?.rows_affected();
        let exercises = run("DELETE FROM exercises WHERE owner_id = $1").execute(&mut *$tx).await?.rows_affected();
        run("DELETE FROM coach_links WHERE coach_id = $1 OR athlete_id = $1").execute(&mut *$tx).await?;
        run("DELETE FROM athlete_settings WHERE user_id = $1").execute(&mut *$tx).await?;
        run("DELETE FROM followers WHERE owner_id = $1 OR follower_id = $1").execute(&mut *$tx).await?;
        // Plans they assigned as a coach stay with their athletes, unattributed.
        run("UPDATE plans SET assigned_by = NULL WHERE assigned_by = $1").execute(&mut *$tx).await?;
        // Stored answers of their idempotent requests hold their data too.
        sqlx::query("DELETE FROM idempotency_keys WHERE scope LIKE $1")
            .bind(format!("{user}:%"))
            .execute(&mut *$tx)
            .await?;
        Erased { workouts, plans, schedules, exercises }
    }};
}

pub(super) async fn erase_user(
    db: &Database,
    group: &str,
    event_id: Id,
    user: Id,
) -> StoreResult<Option<Erased>> {
    // Serialised with every other write of the user (`in_owner_tx!`), like the
    // workout writes: a write that began before the erasure commits first and is
    // erased with the rest, never half-seen.
    let erased = in_owner_tx!(db, user, tx => {
        if tx.mark_processed(group, event_id).await? {
            Some(erase_statements!(tx, user))
        } else {
            None
        }
    });
    Ok(erased)
}
