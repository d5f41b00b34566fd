//! Stored rows of the auth tables and their conversion to the domain types: a
//! malformed row becomes a [`StoreError::Corrupt`], never a panic.

use vigor_common::Id;

use super::{
    instant, split, AccountStatus, AuthorizationCode, Credential, KeyState, RefreshFamily,
    SigningKey, StoreError, StoreResult,
};
use crate::domain::client::{Client, ClientKind, GrantType};

#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    pub(super) user_id: Id,
    pub(super) email: String,
    pub(super) password_hash: String,
    pub(super) display_name: String,
    pub(super) roles: String,
    pub(super) status: String,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = StoreError;

    fn try_from(row: CredentialRow) -> StoreResult<Credential> {
        Ok(Credential {
            user_id: row.user_id,
            email: row.email,
            password_hash: row.password_hash,
            display_name: row.display_name,
            roles: split(&row.roles),
            status: AccountStatus::parse(&row.status)?,
            created_at: instant(row.created_at)?,
            updated_at: instant(row.updated_at)?,
        })
    }
}

pub(super) const CREDENTIAL_COLUMNS: &str =
    "user_id, email, password_hash, display_name, roles, status, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct ClientRow {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) confidential: bool,
    pub(super) secret_hash: Option<String>,
    pub(super) redirect_uris: String,
    pub(super) grant_types: String,
    pub(super) scopes: String,
    pub(super) first_party: bool,
    pub(super) created_at: i64,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> StoreResult<Client> {
        let grant_types = split(&row.grant_types)
            .iter()
            .map(|g| {
                g.parse::<GrantType>()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Client {
            id: row.id,
            name: row.name,
            kind: if row.confidential {
                ClientKind::Confidential
            } else {
                ClientKind::Public
            },
            secret_hash: row.secret_hash,
            redirect_uris: split(&row.redirect_uris),
            grant_types,
            scopes: split(&row.scopes),
            first_party: row.first_party,
            any_loopback_redirect: false,
            created_at: instant(row.created_at)?,
        })
    }
}

pub(super) const CLIENT_COLUMNS: &str =
    "id, name, confidential, secret_hash, redirect_uris, grant_types, scopes, first_party, created_at";

#[derive(sqlx::FromRow)]
pub(super) struct CodeRow {
    pub(super) code_hash: String,
    pub(super) client_id: String,
    pub(super) user_id: Id,
    pub(super) redirect_uri: String,
    pub(super) code_challenge: String,
    pub(super) scope: String,
    pub(super) created_at: i64,
    pub(super) expires_at: i64,
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = StoreError;

    fn try_from(row: CodeRow) -> StoreResult<AuthorizationCode> {
        Ok(AuthorizationCode {
            code_hash: row.code_hash,
            client_id: row.client_id,
            user_id: row.user_id,
            redirect_uri: row.redirect_uri,
            code_challenge: row.code_challenge,
            scope: row.scope,
            created_at: instant(row.created_at)?,
            expires_at: instant(row.expires_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct FamilyRow {
    pub(super) id: Id,
    pub(super) user_id: Id,
    pub(super) client_id: String,
    pub(super) scope: String,
    pub(super) created_at: i64,
    pub(super) revoked_at: Option<i64>,
}

impl TryFrom<FamilyRow> for RefreshFamily {
    type Error = StoreError;

    fn try_from(row: FamilyRow) -> StoreResult<RefreshFamily> {
        Ok(RefreshFamily {
            id: row.id,
            user_id: row.user_id,
            client_id: row.client_id,
            scope: row.scope,
            created_at: instant(row.created_at)?,
            revoked_at: row.revoked_at.map(instant).transpose()?,
        })
    }
}

pub(super) const FAMILY_COLUMNS: &str = "id, user_id, client_id, scope, created_at, revoked_at";

#[derive(sqlx::FromRow)]
pub(super) struct TokenStateRow {
    pub(super) id: Id,
    pub(super) user_id: Id,
    pub(super) client_id: String,
    pub(super) scope: String,
    pub(super) family_created_at: i64,
    pub(super) revoked_at: Option<i64>,
    pub(super) created_at: i64,
    pub(super) expires_at: i64,
    pub(super) rotated_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    pub(super) kid: String,
    pub(super) algorithm: String,
    pub(super) private_key: Vec<u8>,
    pub(super) public_key: Vec<u8>,
    pub(super) state: String,
    pub(super) created_at: i64,
    pub(super) retired_at: Option<i64>,
}

impl TryFrom<KeyRow> for SigningKey {
    type Error = StoreError;

    fn try_from(row: KeyRow) -> StoreResult<SigningKey> {
        Ok(SigningKey {
            kid: row.kid,
            algorithm: row.algorithm,
            private_key: row.private_key,
            public_key: row.public_key,
            state: KeyState::parse(&row.state)?,
            created_at: instant(row.created_at)?,
            retired_at: row.retired_at.map(instant).transpose()?,
        })
    }
}
