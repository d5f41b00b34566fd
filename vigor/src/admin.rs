//! `vigor admin …`: operations on a deployment's data, run against the databases
//! the configuration names (the same `--config` / `VIGOR_*` as `vigor serve`).
//!
//! - `vigor admin clients list|create|delete`: the OAuth client registry. A
//!   confidential client's secret is printed once, at creation; only its hash is kept.
//! - `vigor admin rotate-keys`: a new signing key signs from now on; the old keys stay
//!   published until every token they signed has expired, so nobody is signed out.

use clap::Subcommand;
use vigor_auth::domain::{ClientKind, GrantType};
use vigor_auth::{AuthService, NewClient};
use vigor_common::config::Config;

/// The `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Manage OAuth clients.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Make a new token signing key active; old keys keep verifying until their
    /// tokens expire.
    RotateKeys,
}

/// `vigor admin clients …`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// List the registered clients (the built-in `vigor-web` first).
    List,
    /// Register a client; a confidential client's secret is printed once.
    Create {
        /// The client_id (letters, digits, `.`, `_`, `-`).
        id: String,
        /// A name for people, shown on the login page.
        #[arg(long)]
        name: String,
        /// A confidential client (a server that keeps a secret).
        #[arg(long)]
        confidential: bool,
        /// A redirect URI (repeat for several); needed for authorization_code.
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A grant it may use (repeat): authorization_code, refresh_token, password,
        /// client_credentials.
        #[arg(long = "grant", value_name = "GRANT", required = true)]
        grants: Vec<GrantType>,
        /// A scope it may ask for (repeat).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Made by the operator of this deployment (may use the password grant).
        #[arg(long)]
        first_party: bool,
    },
    /// Delete a client and every token it holds.
    Delete {
        /// The client_id.
        id: String,
    },
}

/// Runs an admin command.
pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    vigor_common::telemetry::init_logging(&config.log);
    let auth = AuthService::connect(&config).await?;
    match command {
        AdminCommand::RotateKeys => {
            let kid = auth.rotate_keys().await?;
            println!(
                "new signing key {kid} is active; earlier keys verify until their tokens expire"
            );
        }
        AdminCommand::Clients { command } => match command {
            ClientsCommand::List => {
                println!(
                    "{:<24} {:<12} {:<11} {:<40} NAME",
                    "CLIENT_ID", "KIND", "FIRST_PARTY", "GRANTS"
                );
                for client in auth.list_clients().await? {
                    let kind = match client.kind {
                        ClientKind::Public => "public",
                        ClientKind::Confidential => "confidential",
                    };
                    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
                    println!(
                        "{:<24} {:<12} {:<11} {:<40} {}",
                        client.id,
                        kind,
                        client.first_party,
                        grants.join(","),
                        client.name
                    );
                }
            }
            ClientsCommand::Create {
                id,
                name,
                confidential,
                redirect_uris,
                grants,
                scopes,
                first_party,
            } => {
                let created = auth
                    .create_client(NewClient {
                        id,
                        name,
                        confidential,
                        redirect_uris,
                        grant_types: grants,
                        scopes,
                        first_party,
                    })
                    .await?;
                println!("client_id={}", created.client.id);
                if let Some(secret) = created.secret {
                    println!("client_secret={secret}");
                    eprintln!("Store the secret now: it cannot be shown again.");
                }
            }
            ClientsCommand::Delete { id } => {
                if auth.delete_client(&id).await? {
                    println!("deleted client {id}");
                } else {
                    anyhow::bail!("no client {id:?}");
                }
            }
        },
    }
    Ok(())
}
