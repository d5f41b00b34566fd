//! [`AuthStore`] on SQL: SQLite (all-in-one) and PostgreSQL (distributed).
//!
//! The statements are written once with `$n` parameters, which both sqlx drivers
//! accept, and run on whichever pool the [`Database`] holds (`on_pool!` and
//! `in_tx!` of [`vigor_common::db`]). Rows are
//! read into private row structs and converted to the domain types here, so a
//! malformed row is a [`StoreError::Corrupt`], never a panic.

use async_trait::async_trait;
use vigor_common::api::Timestamp;
use vigor_common::bus::Event;
use vigor_common::db::{unique_violation, Database, TxEvents, UniqueKey};
use vigor_common::{in_tx, on_pool, Id};

use super::rows::{
    ClientRow, CodeRow, CredentialRow, FamilyRow, KeyRow, TokenStateRow, CLIENT_COLUMNS,
    CREDENTIAL_COLUMNS, FAMILY_COLUMNS,
};
use super::{
    instant, join, millis, AuthStore, AuthorizationCode, CodeRedemption, Credential, KeyState,
    LoginFailures, NewRefreshToken, RefreshFamily, RefreshTokenState, Rotation, SigningKey,
    StoreError, StoreResult,
};
use crate::domain::client::{Client, ClientKind};

/// The SQL store of the auth service.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(super) db: Database,
}

impl SqlStore {
    /// A store on a migrated database.
    pub fn new(db: Database) -> Self {
        SqlStore { db }
    }
}

/// One account per email (`credentials_email_key`).
pub(super) const CREDENTIALS_EMAIL: UniqueKey = UniqueKey {
    name: "credentials_email_key",
    table: "credentials",
    columns: &["email"],
};

/// Client ids are unique.
const OAUTH_CLIENTS_ID: UniqueKey = UniqueKey {
    name: "oauth_clients_pkey",
    table: "oauth_clients",
    columns: &["id"],
};

/// Key ids are unique.
const SIGNING_KEYS_KID: UniqueKey = UniqueKey {
    name: "signing_keys_pkey",
    table: "signing_keys",
    columns: &["kid"],
};

/// At most one active signing key (`signing_keys_one_active`).
const SIGNING_KEYS_ONE_ACTIVE: UniqueKey = UniqueKey {
    name: "signing_keys_one_active",
    table: "signing_keys",
    columns: &["state"],
};

/// `error` as a [`StoreError::Conflict`] on `what` when it violates one of
/// `keys`; any other error (another key's violation included) as it is.
pub(super) fn conflict_on(
    error: sqlx::Error,
    keys: &[UniqueKey],
    what: &'static str,
) -> StoreError {
    if unique_violation(&error, keys).is_some() {
        StoreError::Conflict(what)
    } else {
        StoreError::Backend(error)
    }
}

const INSERT_KEY: &str = "INSERT INTO signing_keys \
     (kid, algorithm, private_key, public_key, state, created_at, retired_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

fn key_conflict(error: sqlx::Error) -> StoreError {
    conflict_on(
        error,
        &[SIGNING_KEYS_KID, SIGNING_KEYS_ONE_ACTIVE],
        "signing key (an active key exists, or the kid is taken)",
    )
}

#[async_trait]
impl AuthStore for SqlStore {
    async fn insert_credential(&self, c: &Credential, events: &[Event]) -> StoreResult<()> {
        let sql = "INSERT INTO credentials \
             (user_id, email, password_hash, display_name, roles, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        macro_rules! insert {
            () => {
                sqlx::query(sql)
                    .bind(c.user_id)
                    .bind(&c.email)
                    .bind(&c.password_hash)
                    .bind(&c.display_name)
                    .bind(join(&c.roles))
                    .bind(c.status.as_str())
                    .bind(millis(c.created_at))
                    .bind(millis(c.updated_at))
            };
        }
        // The events go into the outbox in the same transaction as the row.
        let result: Result<(), sqlx::Error> = async {
            in_tx!(&self.db, tx => {
                insert!().execute(&mut *tx).await?;
                tx.enqueue_all(events).await?;
            });
            Ok(())
        }
        .await;
        result.map_err(|e| conflict_on(e, &[CREDENTIALS_EMAIL], "email"))
    }

    async fn credential_by_email(&self, email: &str) -> StoreResult<Option<Credential>> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE email = $1");
        let row: Option<CredentialRow> = on_pool!(&self.db, pool => sqlx::query_as(&sql)
            .bind(email)
            .fetch_optional(pool)
            .await)?;
        row.map(Credential::try_from).transpose()
    }

    async fn credential(&self, user_id: Id) -> StoreResult<Option<Credential>> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE user_id = $1");
        let row: Option<CredentialRow> = on_pool!(&self.db, pool => sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_optional(pool)
            .await)?;
        row.map(Credential::try_from).transpose()
    }

    async fn set_roles(&self, user_id: Id, roles: &[String], now: Timestamp) -> StoreResult<bool> {
        let sql = "UPDATE credentials SET roles = $2, updated_at = $3 WHERE user_id = $1";
        let done = on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(user_id)
            .bind(join(roles))
            .bind(millis(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    async fn insert_client(&self, c: &Client) -> StoreResult<()> {
        let sql = format!("INSERT INTO oauth_clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        let grants: Vec<String> = c
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect();
        let result = on_pool!(&self.db, pool => sqlx::query(&sql)
            .bind(&c.id)
            .bind(&c.name)
            .bind(c.kind == ClientKind::Confidential)
            .bind(&c.secret_hash)
            .bind(join(&c.redirect_uris))
            .bind(join(&grants))
            .bind(join(&c.scopes))
            .bind(c.first_party)
            .bind(millis(c.created_at))
            .execute(pool)
            .await
            .map(drop));
        result.map_err(|e| conflict_on(e, &[OAUTH_CLIENTS_ID], "client id"))
    }

    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = $1");
        let row: Option<ClientRow> = on_pool!(&self.db, pool => sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(Client::try_from).transpose()
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients ORDER BY id");
        let rows: Vec<ClientRow> =
            on_pool!(&self.db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        let deleted = in_tx!(&self.db, tx => {
            let deleted = sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM authorization_codes WHERE client_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM refresh_tokens WHERE family_id IN \
                 (SELECT id FROM refresh_families WHERE client_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM refresh_families WHERE client_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            deleted
        });
        Ok(deleted == 1)
    }

    async fn insert_code(&self, c: &AuthorizationCode) -> StoreResult<()> {
        let sql = "INSERT INTO authorization_codes \
             (code_hash, client_id, user_id, redirect_uri, code_challenge, scope, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(&c.code_hash)
            .bind(&c.client_id)
            .bind(c.user_id)
            .bind(&c.redirect_uri)
            .bind(&c.code_challenge)
            .bind(&c.scope)
            .bind(millis(c.created_at))
            .bind(millis(c.expires_at))
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn redeem_code(&self, code_hash: &str, now: Timestamp) -> StoreResult<CodeRedemption> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let spent: Option<CodeRow> = sqlx::query_as(
                "UPDATE authorization_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL \
                 RETURNING code_hash, client_id, user_id, redirect_uri, code_challenge, scope, created_at, expires_at",
            )
            .bind(code_hash)
            .bind(millis(now))
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = spent {
                tx.commit().await?;
                return Ok(CodeRedemption::Redeemed(row.try_into()?));
            }
            let used: Option<(Option<Id>,)> =
                sqlx::query_as("SELECT family_id FROM authorization_codes WHERE code_hash = $1")
                    .bind(code_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
            let outcome = match used {
                None => CodeRedemption::Unknown,
                Some((family,)) => {
                    if let Some(family) = family {
                        sqlx::query("UPDATE refresh_families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                            .bind(family)
                            .bind(millis(now))
                            .execute(&mut *tx)
                            .await?;
                    }
                    CodeRedemption::Reused { revoked_family: family }
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    async fn link_code_family(&self, code_hash: &str, family_id: Id) -> StoreResult<()> {
        let sql = "UPDATE authorization_codes SET family_id = $2 WHERE code_hash = $1";
        on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(code_hash)
            .bind(family_id)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn delete_expired_codes(&self, before: Timestamp) -> StoreResult<u64> {
        let sql = "DELETE FROM authorization_codes WHERE expires_at < $1";
        Ok(on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(millis(before))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    async fn create_family(&self, f: &RefreshFamily, token: &NewRefreshToken) -> StoreResult<()> {
        in_tx!(&self.db, tx => {
            sqlx::query(&format!(
                "INSERT INTO refresh_families ({FAMILY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(f.id)
            .bind(f.user_id)
            .bind(&f.client_id)
            .bind(&f.scope)
            .bind(millis(f.created_at))
            .bind(f.revoked_at.map(millis))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&token.token_hash)
            .bind(f.id)
            .bind(millis(token.created_at))
            .bind(millis(token.expires_at))
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        next: &NewRefreshToken,
        now: Timestamp,
    ) -> StoreResult<Rotation> {
        on_pool!(&self.db, pool => {
            // Write first: the UPDATE takes the write lock, so concurrent uses of
            // one token are serialised and only one of them rotates it.
            let mut tx = pool.begin().await?;
            let rotated: Option<(Id,)> = sqlx::query_as(
                "UPDATE refresh_tokens SET rotated_at = $2 \
                 WHERE token_hash = $1 AND rotated_at IS NULL AND expires_at > $2 \
                 AND family_id IN (SELECT id FROM refresh_families WHERE revoked_at IS NULL) \
                 RETURNING family_id",
            )
            .bind(token_hash)
            .bind(millis(now))
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((family_id,)) = rotated {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&next.token_hash)
                .bind(family_id)
                .bind(millis(next.created_at))
                .bind(millis(next.expires_at))
                .execute(&mut *tx)
                .await?;
                let family: FamilyRow =
                    sqlx::query_as(&format!("SELECT {FAMILY_COLUMNS} FROM refresh_families WHERE id = $1"))
                        .bind(family_id)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                return Ok(Rotation::Rotated(family.try_into()?));
            }
            let previous: Option<(Id, Option<i64>)> =
                sqlx::query_as("SELECT family_id, rotated_at FROM refresh_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
            let outcome = match previous {
                Some((family_id, Some(_))) => {
                    sqlx::query("UPDATE refresh_families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                        .bind(family_id)
                        .bind(millis(now))
                        .execute(&mut *tx)
                        .await?;
                    Rotation::Reused { family_id }
                }
                _ => Rotation::Invalid,
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshTokenState>> {
        let sql = "SELECT f.id, f.user_id, f.client_id, f.scope, f.created_at AS family_created_at, f.revoked_at, \
                   t.created_at, t.expires_at, t.rotated_at \
                   FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
                   WHERE t.token_hash = $1";
        let row: Option<TokenStateRow> = on_pool!(&self.db, pool => sqlx::query_as(sql)
            .bind(token_hash)
            .fetch_optional(pool)
            .await)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(RefreshTokenState {
            family: RefreshFamily {
                id: row.id,
                user_id: row.user_id,
                client_id: row.client_id,
                scope: row.scope,
                created_at: instant(row.family_created_at)?,
                revoked_at: row.revoked_at.map(instant).transpose()?,
            },
            created_at: instant(row.created_at)?,
            expires_at: instant(row.expires_at)?,
            rotated: row.rotated_at.is_some(),
        }))
    }

    async fn family(&self, id: Id) -> StoreResult<Option<RefreshFamily>> {
        let sql = format!("SELECT {FAMILY_COLUMNS} FROM refresh_families WHERE id = $1");
        let row: Option<FamilyRow> = on_pool!(&self.db, pool => sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(RefreshFamily::try_from).transpose()
    }

    async fn revoke_family(&self, id: Id, now: Timestamp) -> StoreResult<bool> {
        let sql =
            "UPDATE refresh_families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
        let done = on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(id)
            .bind(millis(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    async fn revoke_user_families(&self, user_id: Id, now: Timestamp) -> StoreResult<u64> {
        let sql =
            "UPDATE refresh_families SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";
        Ok(on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(user_id)
            .bind(millis(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    async fn delete_expired_refresh_tokens(&self, before: Timestamp) -> StoreResult<u64> {
        // A family outlives its expired tokens only as long as it has live ones.
        let deleted = in_tx!(&self.db, tx => {
            let deleted = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
                .bind(millis(before))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(
                "DELETE FROM refresh_families WHERE created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.id)",
            )
            .bind(millis(before))
            .execute(&mut *tx)
            .await?;
            deleted
        });
        Ok(deleted)
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        let sql = "SELECT kid, algorithm, private_key, public_key, state, created_at, retired_at \
                   FROM signing_keys ORDER BY created_at DESC, kid DESC";
        let rows: Vec<KeyRow> =
            on_pool!(&self.db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter().map(SigningKey::try_from).collect()
    }

    async fn insert_signing_key(&self, k: &SigningKey) -> StoreResult<()> {
        let result = on_pool!(&self.db, pool => sqlx::query(INSERT_KEY)
            .bind(&k.kid)
            .bind(&k.algorithm)
            .bind(&k.private_key)
            .bind(&k.public_key)
            .bind(k.state.as_str())
            .bind(millis(k.created_at))
            .bind(k.retired_at.map(millis))
            .execute(pool)
            .await
            .map(drop));
        result.map_err(key_conflict)
    }

    async fn rotate_signing_key(&self, next: &SigningKey, now: Timestamp) -> StoreResult<()> {
        let result: Result<(), sqlx::Error> = async {
            in_tx!(&self.db, tx => {
            sqlx::query("UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE state = 'active'")
                .bind(millis(now))
                .execute(&mut *tx)
                .await?;
            sqlx::query(INSERT_KEY)
                .bind(&next.kid)
                .bind(&next.algorithm)
                .bind(&next.private_key)
                .bind(&next.public_key)
                .bind(KeyState::Active.as_str())
                .bind(millis(next.created_at))
                .bind(None::<i64>)
                .execute(&mut *tx)
                .await?;
            });
            Ok(())
        }
        .await;
        result.map_err(key_conflict)
    }

    async fn replace_private_key(
        &self,
        kid: &str,
        current: &[u8],
        replacement: &[u8],
    ) -> StoreResult<bool> {
        let sql = "UPDATE signing_keys SET private_key = $1 WHERE kid = $2 AND private_key = $3";
        Ok(on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(replacement)
            .bind(kid)
            .bind(current)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))?)
    }

    async fn delete_retired_keys(&self, before: Timestamp) -> StoreResult<u64> {
        let sql = "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1";
        Ok(on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(millis(before))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    async fn record_login_failure(
        &self,
        subject: &str,
        now: Timestamp,
        window: chrono::Duration,
    ) -> StoreResult<LoginFailures> {
        let sql = "INSERT INTO login_failures (subject, failures, window_start) VALUES ($1, 1, $2) \
                   ON CONFLICT (subject) DO UPDATE SET \
                   failures = CASE WHEN login_failures.window_start <= $3 THEN 1 ELSE login_failures.failures + 1 END, \
                   window_start = CASE WHEN login_failures.window_start <= $3 THEN $2 ELSE login_failures.window_start END \
                   RETURNING failures, window_start";
        let (count, start): (i64, i64) = on_pool!(&self.db, pool => sqlx::query_as(sql)
            .bind(subject)
            .bind(millis(now))
            .bind(millis(now - window))
            .fetch_one(pool)
            .await)?;
        Ok(LoginFailures {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            window_start: instant(start)?,
        })
    }

    async fn login_failures(
        &self,
        subject: &str,
        now: Timestamp,
        window: chrono::Duration,
    ) -> StoreResult<LoginFailures> {
        let sql = "SELECT failures, window_start FROM login_failures WHERE subject = $1 AND window_start > $2";
        let row: Option<(i64, i64)> = on_pool!(&self.db, pool => sqlx::query_as(sql)
            .bind(subject)
            .bind(millis(now - window))
            .fetch_optional(pool)
            .await)?;
        Ok(match row {
            Some((count, start)) => LoginFailures {
                count: u32::try_from(count).unwrap_or(u32::MAX),
                window_start: instant(start)?,
            },
            None => LoginFailures {
                count: 0,
                window_start: now,
            },
        })
    }

    async fn forgive_login_failure(
        &self,
        subject: &str,
        window_start: Timestamp,
    ) -> StoreResult<()> {
        let sql = "UPDATE login_failures SET failures = failures - 1 \
                   WHERE subject = $1 AND window_start = $2 AND failures > 0";
        on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(subject)
            .bind(millis(window_start))
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn clear_login_failures(&self, subject: &str) -> StoreResult<()> {
        let sql = "DELETE FROM login_failures WHERE subject = $1";
        on_pool!(&self.db, pool => sqlx::query(sql).bind(subject).execute(pool).await.map(drop))?;
        Ok(())
    }

    async fn delete_stale_login_failures(&self, before: Timestamp) -> StoreResult<u64> {
        let sql = "DELETE FROM login_failures WHERE window_start < $1";
        Ok(on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(millis(before))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }
}
