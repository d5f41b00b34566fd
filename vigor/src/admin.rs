//! `vigor admin …`: operations on a deployment's data, run against the databases
//! the configuration names (the same `--config` / `VIGOR_*` as `vigor serve`).
//!
//! - `vigor admin clients list|create|delete`: the OAuth client registry. A
//!   confidential client's secret is printed once, at creation; only its hash is kept.
//! - `vigor admin rotate-keys`: a new signing key signs from now on; the old keys stay
//!   published until every token they signed has expired, so nobody is signed out.
//! - `vigor admin users set-roles ID ROLE…`: how an operator makes the first admin.
//!   The users database is the truth (its outbox tells every service); the auth
//!   database's copy is updated at once too, so the user's next token carries the
//!   roles even before a users target relays the event.
//! - `vigor admin events dead-letters [list]` and
//!   `vigor admin events dead-letters replay TOPIC GROUP (--id ID | --all)`: the
//!   events consumer groups gave up on after `bus.max_delivery_attempts`
//!   deliveries, read from and replayed to the Redis bus of a distributed
//!   deployment. The all-in-one bus lives in the memory of its `vigor serve`
//!   process, out of this command's reach: there it refuses and says so.
//! - `vigor admin leaderboards rebuild`: reloads every leaderboard instance of
//!   the Redis board store from the gamification score log (the durable truth);
//!   an in-memory store lives in its `vigor serve` process, which fills it from
//!   the log at every start, so there the command refuses and says so.
//! - `vigor admin achievements backfill`: judges every player against the
//!   achievement rules again, so rules or tiers added since reach those who
//!   already qualify (unlocks, ledger rows and feed events, each once; no live
//!   pushes from this process).

use clap::Subcommand;
use std::sync::Arc;
use vigor_auth::domain::{ClientKind, GrantType};
use vigor_auth::{AuthService, NewClient};

use anyhow::Context;
use vigor_common::bus::dead_letter::{self, Selection};
use vigor_common::bus::redis::RedisBus;
use vigor_common::bus::{DeadLetter, EventBus};
use vigor_common::config::{Config, ServiceName};
use vigor_common::db::Database;
use vigor_common::{Id, IdGenerator};
use vigor_users::domain::Roles;
use vigor_users::UsersService;

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
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Inspect the event bus (distributed mode: needs redis.url).
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Leaderboards: rebuild the board store from the score log.
    Leaderboards {
        #[command(subcommand)]
        command: LeaderboardsCommand,
    },
    /// Achievements: apply the rules to every player again.
    Achievements {
        #[command(subcommand)]
        command: AchievementsCommand,
    },
}

/// `vigor admin leaderboards …`.
#[derive(Debug, Subcommand)]
pub enum LeaderboardsCommand {
    /// Reload every board instance of the Redis board store from the
    /// gamification score log.
    Rebuild,
}

/// `vigor admin achievements …`.
#[derive(Debug, Subcommand)]
pub enum AchievementsCommand {
    /// Judge every player against the current rules (retroactive unlocks).
    Backfill,
}

/// What `vigor admin leaderboards rebuild` says for an in-memory board store.
const IN_PROCESS_BOARDS: &str = "the board store is the in-memory one (leaderboards.store = memory, or no Redis URL): it lives in the running `vigor serve` process, which fills it from the gamification score log at every start. Set leaderboards.redis_url (or redis.url) as the deployment does to rebuild a Redis board store.";

/// The gamification service on its database, as `vigor admin` runs it.
async fn gamification(
    config: &Config,
    boards: Arc<dyn vigor_leaderboards::BoardStore>,
) -> anyhow::Result<vigor_gamification::GamificationService> {
    let db = Database::connect(&config.database_url(ServiceName::Gamification)).await?;
    db.migrate(Some(&vigor_gamification::MIGRATIONS)).await?;
    let ids = Arc::new(IdGenerator::new(config.node_id)?);
    vigor_gamification::service(config, db, boards, ids)
}

/// `vigor admin leaderboards …` and `vigor admin achievements …`.
async fn game(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    use vigor_common::config::BoardStoreKind;
    match command {
        AdminCommand::Leaderboards {
            command: LeaderboardsCommand::Rebuild,
        } => {
            if config.leaderboards.store_kind(&config.redis) == BoardStoreKind::Memory {
                anyhow::bail!(IN_PROCESS_BOARDS);
            }
            let boards = vigor_leaderboards::store::open(config).await?;
            let rebuilt = gamification(config, boards)
                .await?
                .rebuild(false, config.leaderboards.window_grace())
                .await?;
            println!(
                "rebuilt {} board instances with {} entries from the score log ({} expired or unknown left out)",
                rebuilt.instances, rebuilt.entries, rebuilt.skipped
            );
        }
        AdminCommand::Achievements {
            command: AchievementsCommand::Backfill,
        } => {
            let boards = vigor_leaderboards::store::open(config).await?;
            let unlocked = gamification(config, boards).await?.backfill().await?;
            println!("backfill done: {unlocked} new unlocks");
        }
        _ => anyhow::bail!("not a gamification command"),
    }
    Ok(())
}

/// `vigor admin events …`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Events a consumer group gave up on after `bus.max_delivery_attempts`
    /// deliveries: lists them, or replays them with `replay`. Reads the Redis bus
    /// (redis.url); an all-in-one process keeps its bus in its own memory, which
    /// this command cannot reach.
    #[command(name = "dead-letters")]
    DeadLetters {
        #[command(subcommand)]
        command: Option<DeadLettersCommand>,
    },
}

/// `vigor admin events dead-letters …`.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// List the dead letters by topic and group (the default).
    List {
        /// Only this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Only this consumer group.
        #[arg(long)]
        group: Option<String>,
    },
    /// Publish dead letters on their topic again and remove them; every group of
    /// the topic sees the event again, and those that applied it skip it by id.
    Replay {
        /// The topic, e.g. `user.deleted`.
        topic: String,
        /// The consumer group that gave up, e.g. `training`.
        group: String,
        /// Only the letter of this event.
        #[arg(
            long,
            value_name = "ID",
            conflicts_with = "all",
            required_unless_present = "all"
        )]
        id: Option<Id>,
        /// All the letters of the topic and group.
        #[arg(long)]
        all: bool,
    },
}

/// `vigor admin users …`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Replace a user's roles (user, coach, moderator, admin).
    SetRoles {
        /// The user's id.
        id: Id,
        /// The roles; `user` is implied.
        #[arg(required = true)]
        roles: Vec<String>,
    },
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
        /// A scope it may ask for (repeat): one of the README's scopes (`api`,
        /// `account`, `profile:read`, `training:write`, `hub.publish`, …);
        /// `introspect` makes a confidential client a resource server, allowed
        /// to use the introspection endpoint.
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
    if let AdminCommand::Events {
        command: EventsCommand::DeadLetters { command },
    } = command
    {
        return dead_letters(&config, command).await;
    }
    if matches!(
        command,
        AdminCommand::Leaderboards { .. } | AdminCommand::Achievements { .. }
    ) {
        return game(&config, command).await;
    }
    let auth = AuthService::connect(&config).await?;
    match command {
        AdminCommand::Events { .. }
        | AdminCommand::Leaderboards { .. }
        | AdminCommand::Achievements { .. } => {
            unreachable!("events and game commands returned above")
        }
        AdminCommand::Users {
            command: UsersCommand::SetRoles { id, roles },
        } => {
            let mut words: Vec<&str> = roles.iter().map(String::as_str).collect();
            words.push("user");
            let roles = Roles::parse(words).map_err(|e| anyhow::anyhow!("{e}"))?;
            let db = Database::connect(&config.database_url(ServiceName::Users)).await?;
            db.migrate(Some(&vigor_users::MIGRATIONS)).await?;
            let ids = Arc::new(IdGenerator::new(config.node_id)?);
            let exporter = vigor_users::export::Exporter::from_config(&config)?;
            let users = UsersService::new(db, ids, exporter);
            users
                .set_roles(id, &roles)
                .await?
                .with_context(|| format!("no user {id}"))?;
            auth.set_roles(id, &roles.to_strings()).await?;
            println!("user {id} now has roles {}", roles.to_strings().join(","));
        }
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

/// What `vigor admin events` says when there is no Redis bus to reach.
const IN_PROCESS_BUS: &str = "redis.url is not set, so the event bus is the in-process one of \
all-in-one mode: its events and dead letters live in the memory of the running `vigor serve` \
process, which this command cannot reach. There, a dead-lettered event is logged at error level \
(\"event dead-lettered\", with topic, group, event id and error) and counted in \
vigor_bus_dead_letters_total, and it is gone when the process stops. Set redis.url \
(VIGOR_REDIS_URL) and redis.prefix as the deployment does to manage a distributed bus.";

/// `vigor admin events dead-letters …` against the configured Redis bus.
async fn dead_letters(config: &Config, command: Option<DeadLettersCommand>) -> anyhow::Result<()> {
    let url = config
        .redis
        .url
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!(IN_PROCESS_BUS))?;
    let bus = RedisBus::connect(url, &config.redis.prefix)
        .await
        .context("connecting to the event bus on Redis")?;
    match command.unwrap_or(DeadLettersCommand::List {
        topic: None,
        group: None,
    }) {
        DeadLettersCommand::List { topic, group } => {
            let mut letters: Vec<DeadLetter> = bus
                .dead_letters()
                .await?
                .into_iter()
                .filter(|l| topic.as_ref().is_none_or(|t| *t == l.topic))
                .filter(|l| group.as_ref().is_none_or(|g| *g == l.group))
                .collect();
            letters.sort_by(|a, b| (&a.topic, &a.group).cmp(&(&b.topic, &b.group)));
            if letters.is_empty() {
                println!("no dead letters");
                return Ok(());
            }
            println!(
                "{:<24} {:<16} {:<20} {:>8} {:<25} ERROR",
                "TOPIC", "GROUP", "EVENT", "ATTEMPTS", "DEAD_AT"
            );
            for letter in &letters {
                println!(
                    "{:<24} {:<16} {:<20} {:>8} {:<25} {}",
                    letter.topic,
                    letter.group,
                    letter.event.id,
                    letter.attempts,
                    letter.dead_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    letter.error.replace('\n', " ")
                );
            }
        }
        DeadLettersCommand::Replay {
            topic,
            group,
            id,
            all,
        } => {
            let selection = match (id, all) {
                (Some(id), _) => Selection::Event(id),
                (None, true) => Selection::All,
                (None, false) => anyhow::bail!("name the event with --id ID, or pass --all"),
            };
            let replayed = dead_letter::replay(&bus, &topic, &group, selection).await?;
            if replayed.is_empty() {
                anyhow::bail!("no matching dead letters of {topic} in group {group}");
            }
            for id in &replayed {
                println!("replayed {topic} event {id} (dead letter of group {group} removed)");
            }
        }
    }
    Ok(())
}
