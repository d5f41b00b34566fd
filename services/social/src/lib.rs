//! The social service: follows, feed, kudos, comments, communities, chat channels and moderation.
//!
//! It owns its own database (`social`: PostgreSQL distributed, SQLite embedded) with the
//! shared tables (event outbox, processed events, idempotency keys) already migrated;
//! its routes live under `/v1/social`.
//!
//! - [`domain`]: communities, memberships, channels, follows, as valid values;
//! - [`store`]: the relational storage ([`store::SocialStore`] on SQL);
//! - [`messages`]: chat messages, reactions and read state behind the
//!   [`messages::MessageStore`] trait, on SQL or on ScyllaDB/Cassandra;
//! - [`feed`]: feed items, kudos, comments and reports, as valid values (stored
//!   behind [`store::FeedStore`]);
//! - [`service`]: who may do what, and the live pushes;
//! - [`events`]: the events it consumes (workouts and gamification's news for
//!   the feed, deleted users);
//! - [`http`]: the REST API.

pub mod domain;
pub mod events;
pub mod feed;
pub mod http;
pub mod messages;
pub mod service;
pub mod store;

use std::sync::Arc;

use utoipa::OpenApi;
use vigor_common::api::BearerSecurity;
use vigor_common::bus::ServiceEvents;

use vigor_common::config::social::MessageBackend;
use vigor_common::config::{Config, ServiceName};
use vigor_common::db::Migrations;
use vigor_common::service::{ReadinessCheck, RunningService, ServiceContext, ServiceSpec};

/// The service's own migrations (versions from 1000).
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("migrations/sqlite"),
    postgres: sqlx::migrate!("migrations/postgres"),
};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Social,
        prefixes: &["/v1/social"],
        uploads: &[],
        sql: true,
        migrations: Some(&MIGRATIONS),
        openapi,
        build: |ctx| Box::pin(build(ctx)),
    }
}

/// Starts the service: relational data on its database, chat messages on the
/// store `social.messages` names (its CQL keyspace created first when
/// `migrate_on_start`), checked by `/readyz`.
async fn build(ctx: ServiceContext) -> anyhow::Result<RunningService> {
    let config = &ctx.config;
    let db = ctx.database().clone();
    let store = Arc::new(store::SqlStore::new(db.clone()));
    let messages = messages::open(&config.social, &db, config.migrate_on_start).await?;
    let pinged = messages.clone();
    let check: ReadinessCheck = Arc::new(move || {
        let messages = pinged.clone();
        Box::pin(async move { Ok(messages.ping().await?) })
    });
    let events = ServiceEvents::start(&ctx);
    let service = service::SocialService::new(
        store.clone(),
        store,
        messages,
        ctx.live.clone(),
        ctx.broker.clone(),
        ctx.ids.clone(),
    )
    .with_relay(events.relay())
    .with_send_rate(config.social.send_rate_per_sec, config.social.send_burst);
    events
        .consume(
            crate::events::GROUP,
            crate::events::handlers(service.clone()),
        )
        .await?;
    Ok(RunningService {
        router: http::router(service),
        checks: vec![("social messages".to_owned(), check)],
    })
}

/// `vigor migrate`'s part beyond SQL: with `social.messages = "cql"`, creates the
/// chat keyspace (replicated as `social.cql.replication`) and its tables when
/// missing. Returns whether there was anything to do.
pub async fn migrate_messages(config: &Config) -> anyhow::Result<bool> {
    if config.social.messages != MessageBackend::Cql {
        return Ok(false);
    }
    let settings = messages::cql::CqlSettings::from_config(&config.social)?;
    messages::cql::CqlMessages::open(settings, true).await?;
    Ok(true)
}

#[derive(OpenApi)]
#[openapi(
    paths(
        http::communities::create,
        http::communities::get,
        http::communities::update,
        http::communities::delete,
        http::communities::join,
        http::communities::leave,
        http::communities::access,
        http::communities::channels,
        http::communities::create_channel,
        http::communities::members,
        http::communities::invite,
        http::communities::approve,
        http::communities::set_role,
        http::communities::mute,
        http::communities::remove_member,
        http::communities::ban,
        http::communities::unban,
        http::communities::audit,
        http::chats::direct,
        http::chats::group,
        http::chats::add_members,
        http::chats::remove_member,
        http::chats::mine,
        http::chats::access,
        http::chats::history,
        http::chats::send,
        http::chats::edit,
        http::chats::delete,
        http::chats::react,
        http::chats::unreact,
        http::chats::read,
        http::graph::follow,
        http::graph::unfollow,
        http::graph::following,
        http::graph::followers,
        http::graph::block,
        http::graph::unblock,
        http::graph::blocks,
        http::graph::follow_requests,
        http::graph::approve,
        http::graph::remove_follower,
        http::graph::export,
        http::feed::feed,
        http::feed::community_feed,
        http::feed::post,
        http::feed::item,
        http::feed::delete_item,
        http::feed::give_kudos,
        http::feed::take_kudos,
        http::feed::kudos,
        http::feed::comment,
        http::feed::comments,
        http::feed::delete_comment,
        http::feed::report,
        http::feed::community_reports,
        http::feed::chat_reports,
        http::feed::resolve,
    ),
    components(schemas(
        domain::Community,
        domain::Membership,
        domain::Ban,
        domain::Channel,
        domain::Follow,
        domain::Visibility,
        domain::Role,
        domain::MemberStatus,
        domain::ChannelKind,
        domain::FollowStatus,
        store::AuditEntry,
        messages::Message,
        messages::ReadState,
        service::ChannelAccess,
        service::MyChannel,
        http::communities::NewCommunity,
        http::communities::CommunityPatch,
        http::communities::NewChannel,
        http::communities::Invitee,
        http::communities::RoleChange,
        http::communities::MuteRequest,
        http::communities::BanRequest,
        http::chats::DirectRequest,
        http::chats::GroupRequest,
        http::chats::SendRequest,
        http::chats::EditRequest,
        http::chats::ReadRequest,
        http::feed::TextRequest,
        http::feed::ReportRequest,
        http::feed::ResolveRequest,
        feed::FeedItem,
        feed::ItemKind,
        feed::ItemPrivacy,
        feed::Comment,
        feed::Kudos,
        feed::Report,
        feed::ReportStatus,
        service::Resolution,
        service::SocialExport,
        feed::GivenKudos,
        vigor_common::problem::Problem,
    )),
    modifiers(&BearerSecurity),
    tags(
        (name = "social", description = "Communities, chats and their messages, follows and blocks, the feed with kudos and comments, and moderation."),
    )
)]
struct ApiDoc;

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
