//! Administration: the OAuth client registry and key rotation, for
//! `vigor admin clients …` and `vigor admin rotate-keys`.
//!
//! A confidential client's secret is generated here, shown once (in
//! [`CreatedClient::secret`]) and stored only as a hash.

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use vigor_common::auth::scopes;
use vigor_common::config::{Config, ServiceName};
use vigor_common::db::Database;
use vigor_common::IdGenerator;

use crate::domain::client::{check_client_id, check_redirect_uri, InvalidClient, WEB_CLIENT_ID};
use crate::domain::{secret, Client, ClientKind, GrantType, Scope};
use crate::service::AuthService;
use crate::store::StoreError;

/// A client to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// The `client_id` (letters, digits, `.`, `_`, `-`; not only digits).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// Whether it keeps a secret (servers) or not (browser and mobile apps).
    pub confidential: bool,
    /// Redirect URIs (needed for `authorization_code`).
    pub redirect_uris: Vec<String>,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    /// Whether it is made by Vigor (may use the password grant).
    pub first_party: bool,
}

impl NewClient {
    /// A public first-party app that signs users in with the password grant and
    /// may ask for `scopes` only, named `id` (what `vigor admin clients create ID
    /// --first-party --grant password --scope …` registers).
    pub fn first_party_app(id: &str, scopes: &[&str]) -> NewClient {
        NewClient {
            id: id.to_owned(),
            name: id.to_owned(),
            confidential: false,
            redirect_uris: Vec::new(),
            grant_types: vec![GrantType::Password],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            first_party: true,
        }
    }
}

/// A registered client and, for confidential clients, its secret (shown once).
#[derive(Debug, Clone)]
pub struct CreatedClient {
    /// The client.
    pub client: Client,
    /// The secret: store it now, it cannot be read again.
    pub secret: Option<String>,
}

/// Why a client registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The registration data is invalid.
    #[error("invalid client: {0}")]
    Invalid(#[from] InvalidClient),
    /// The id is taken.
    #[error("a client with id {0:?} exists already")]
    Exists(String),
    /// The built-in web client cannot be registered or deleted.
    #[error("{WEB_CLIENT_ID} is built in: configure it with the auth.web_* keys")]
    BuiltIn,
    /// Storage failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ClientError {
    ClientError::Invalid(InvalidClient {
        field,
        message: message.into(),
    })
}

fn check(new: &NewClient) -> Result<(), ClientError> {
    check_client_id(&new.id)?;
    if new.name.trim().is_empty() {
        return Err(invalid("name", "is required"));
    }
    for uri in &new.redirect_uris {
        check_redirect_uri(uri)?;
    }
    if new.grant_types.is_empty() {
        return Err(invalid("grant_types", "at least one grant is required"));
    }
    if new.grant_types.contains(&GrantType::ClientCredentials) && !new.confidential {
        return Err(invalid(
            "grant_types",
            "client_credentials needs a confidential client",
        ));
    }
    if new.grant_types.contains(&GrantType::Password) && !new.first_party {
        return Err(invalid(
            "grant_types",
            "the password grant is for first-party clients only",
        ));
    }
    if new.grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
        return Err(invalid(
            "redirect_uris",
            "authorization_code needs at least one redirect URI",
        ));
    }
    let scope =
        Scope::parse(&new.scopes.join(" ")).map_err(|e| invalid("scopes", e.to_string()))?;
    if scope.tokens().len() != new.scopes.len() {
        return Err(invalid("scopes", "scopes must be distinct single tokens"));
    }
    if let Some(unknown) = scope.tokens().iter().find(|s| scopes::find(s).is_none()) {
        let known: Vec<&str> = scopes::names().collect();
        return Err(invalid(
            "scopes",
            format!(
                "unknown scope {unknown:?}; the scopes are {}",
                known.join(", ")
            ),
        ));
    }
    Ok(())
}

impl AuthService {
    /// Opens the auth database of `config` (migrating it) for administration.
    pub async fn connect(config: &Config) -> anyhow::Result<AuthService> {
        let url = config.database_url(ServiceName::Auth);
        let db = Database::connect(&url).await?;
        db.migrate(Some(&crate::MIGRATIONS)).await?;
        let ids = IdGenerator::new(config.node_id).context("node_id")?;
        AuthService::new(db, config, Arc::new(ids))
    }

    /// Registers a client.
    pub async fn create_client(&self, new: NewClient) -> Result<CreatedClient, ClientError> {
        if new.id == WEB_CLIENT_ID {
            return Err(ClientError::BuiltIn);
        }
        check(&new)?;
        let secret = new.confidential.then(secret::generate);
        let client = Client {
            id: new.id.clone(),
            name: new.name.trim().to_owned(),
            kind: if new.confidential {
                ClientKind::Confidential
            } else {
                ClientKind::Public
            },
            secret_hash: secret.as_deref().map(secret::hash),
            redirect_uris: new.redirect_uris,
            grant_types: new.grant_types,
            scopes: new.scopes,
            first_party: new.first_party,
            any_loopback_redirect: false,
            created_at: Utc::now(),
        };
        match self.store.insert_client(&client).await {
            Ok(()) => Ok(CreatedClient { client, secret }),
            Err(StoreError::Conflict(_)) => Err(ClientError::Exists(new.id)),
            Err(e) => Err(ClientError::Internal(e.into())),
        }
    }

    /// Every client: the built-in web client, then the registered ones by id.
    pub async fn list_clients(&self) -> anyhow::Result<Vec<Client>> {
        let mut clients = vec![self.settings.web_client.clone()];
        clients.extend(self.store.clients().await?);
        Ok(clients)
    }

    /// Deletes a client with its codes and sessions; `false` when unknown.
    pub async fn delete_client(&self, id: &str) -> Result<bool, ClientError> {
        if id == WEB_CLIENT_ID {
            return Err(ClientError::BuiltIn);
        }
        Ok(self
            .store
            .delete_client(id)
            .await
            .map_err(anyhow::Error::from)?)
    }

    /// Makes a new key sign tokens; old keys keep verifying until their tokens
    /// expired. Returns the new key id.
    pub async fn rotate_keys(&self) -> anyhow::Result<String> {
        self.keys.rotate().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_client() -> NewClient {
        NewClient {
            id: "reporting".into(),
            name: "Reporting".into(),
            confidential: true,
            redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scopes: vec!["profile:read".into()],
            first_party: false,
        }
    }

    #[test]
    fn registrations_are_checked() {
        assert!(check(&new_client()).is_ok());
        let public_service = NewClient {
            confidential: false,
            ..new_client()
        };
        assert!(
            matches!(check(&public_service), Err(ClientError::Invalid(e)) if e.field == "grant_types")
        );
        let third_party_password = NewClient {
            grant_types: vec![GrantType::Password],
            ..new_client()
        };
        assert!(check(&third_party_password).is_err());
        let code_without_redirect = NewClient {
            grant_types: vec![GrantType::AuthorizationCode],
            ..new_client()
        };
        assert!(
            matches!(check(&code_without_redirect), Err(ClientError::Invalid(e)) if e.field == "redirect_uris")
        );
        let bad_scope = NewClient {
            scopes: vec!["a b".into()],
            ..new_client()
        };
        assert!(check(&bad_scope).is_err());
        let unknown_scope = NewClient {
            scopes: vec!["profile:read".into(), "reports.read".into()],
            ..new_client()
        };
        assert!(
            matches!(check(&unknown_scope), Err(ClientError::Invalid(e)) if e.field == "scopes" && e.message.contains("\"reports.read\""))
        );
        let digits = NewClient {
            id: "1234".into(),
            ..new_client()
        };
        assert!(check(&digits).is_err());
    }
}
