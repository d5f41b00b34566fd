//! [`AccountStore`]: the lifecycle of credentials after sign-up — email and
//! password changes, deactivation, deletion, and what an export lists.
//!
//! A separate trait (a supertrait of [`AuthStore`](super::AuthStore)) because it is
//! a seam of its own: the users service drives it through events
//! (`user.deactivated`, `user.deleted`) and the account endpoints through
//! requests, while the OAuth flows never touch it. It has its own conformance
//! suite (`lifecycle_conformance.rs`), run on both backends.

use async_trait::async_trait;
use vigor_common::api::Timestamp;
use vigor_common::bus::Event;
use vigor_common::db::TxEvents;
use vigor_common::{in_tx, on_pool, Id};

use super::rows::{FamilyRow, FAMILY_COLUMNS};
use super::sql::{conflict_on, CREDENTIALS_EMAIL};
use super::{millis, AccountStatus, RefreshFamily, SqlStore, StoreResult};

/// The lifecycle of credentials.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Sets whether the account may sign in; `false` when there is no such user.
    async fn set_status(
        &self,
        user_id: Id,
        status: AccountStatus,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Erases the credentials with every code, refresh family and token of the
    /// user, and the failure count of their email; `false` when there were none.
    async fn delete_account(&self, user_id: Id) -> StoreResult<bool>;
    /// Every refresh family (sign-in session) of the user, newest first.
    async fn user_families(&self, user_id: Id) -> StoreResult<Vec<RefreshFamily>>;
    /// Revokes every active family of the user but `keep`; how many.
    async fn revoke_other_families(
        &self,
        user_id: Id,
        keep: Option<Id>,
        now: Timestamp,
    ) -> StoreResult<u64>;
    /// Replaces the password hash; `false` when there is no such user.
    async fn set_password_hash(&self, user_id: Id, hash: &str, now: Timestamp)
        -> StoreResult<bool>;
    /// Changes the (normalised) email and enqueues `events` in the same
    /// transaction; [`StoreError::Conflict`](super::StoreError::Conflict) when another account has it, `false`
    /// (and nothing enqueued) when there is no such user.
    async fn set_email(
        &self,
        user_id: Id,
        email: &str,
        events: &[Event],
        now: Timestamp,
    ) -> StoreResult<bool>;
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn set_status(
        &self,
        user_id: Id,
        status: AccountStatus,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let sql = "UPDATE credentials SET status = $2, updated_at = $3 WHERE user_id = $1";
        let done = on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(user_id)
            .bind(status.as_str())
            .bind(millis(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    async fn delete_account(&self, user_id: Id) -> StoreResult<bool> {
        // Delete first (the credentials row last, returning the email), so the
        // transaction writes before it reads and SQLite never upgrades a lock.
        let statements = [
            "DELETE FROM authorization_codes WHERE user_id = $1",
            "DELETE FROM refresh_tokens WHERE family_id IN \
               (SELECT id FROM refresh_families WHERE user_id = $1)",
            "DELETE FROM refresh_families WHERE user_id = $1",
        ];
        // The account's failure counts: from all addresses, and from each one
        // (see `login::per_address_prefix`).
        let forget = "DELETE FROM login_failures WHERE subject = $1 OR substr(subject, 1, $3) = $2";
        let delete = "DELETE FROM credentials WHERE user_id = $1 RETURNING email";
        let email: Option<String> = in_tx!(&self.db, tx => {
            for sql in statements {
                sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
            }
            let email: Option<String> = sqlx::query_scalar(delete)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(email) = &email {
                let account = format!("account:{email}");
                let per_address = crate::login::per_address_prefix(&account);
                let prefix_len = i32::try_from(per_address.chars().count()).unwrap_or(i32::MAX);
                sqlx::query(forget)
                    .bind(account)
                    .bind(per_address)
                    .bind(prefix_len)
                    .execute(&mut *tx)
                    .await?;
            }
            email
        });
        Ok(email.is_some())
    }

    async fn user_families(&self, user_id: Id) -> StoreResult<Vec<RefreshFamily>> {
        let sql = format!(
            "SELECT {FAMILY_COLUMNS} FROM refresh_families WHERE user_id = $1 \
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<FamilyRow> = on_pool!(&self.db, pool => sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(RefreshFamily::try_from).collect()
    }

    async fn revoke_other_families(
        &self,
        user_id: Id,
        keep: Option<Id>,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let sql = "UPDATE refresh_families SET revoked_at = $2 \
                   WHERE user_id = $1 AND revoked_at IS NULL AND ($3 IS NULL OR id <> $3)";
        let done = on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(user_id)
            .bind(millis(now))
            .bind(keep)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    async fn set_password_hash(
        &self,
        user_id: Id,
        hash: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let sql = "UPDATE credentials SET password_hash = $2, updated_at = $3 WHERE user_id = $1";
        let done = on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(user_id)
            .bind(hash)
            .bind(millis(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    async fn set_email(
        &self,
        user_id: Id,
        email: &str,
        events: &[Event],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let sql = "UPDATE credentials SET email = $2, updated_at = $3 WHERE user_id = $1";
        macro_rules! update {
            ($tx:expr) => {
                sqlx::query(sql)
                    .bind(user_id)
                    .bind(email)
                    .bind(millis(now))
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected()
                    == 1
            };
        }
        let result: Result<bool, sqlx::Error> = async {
            Ok(in_tx!(&self.db, tx => {
                if !update!(tx) {
                    return Ok(false);
                }
                tx.enqueue_all(events).await?;
                true
            }))
        }
        .await;
        result.map_err(|e| conflict_on(e, &[CREDENTIALS_EMAIL], "email"))
    }
}
