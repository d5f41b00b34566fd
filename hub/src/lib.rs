//! The real-time hub: WebSocket sessions, channels, presence, resume and fan-out
//! across gateway nodes. The gateway mounts [`router`] at `/v1/ws`; services push
//! with [`Hub::publish`] (in-process) or a [`Publisher`] (from any target).
//!
//! The shape follows mini-redis: [`protocol`] parses client frames into a typed
//! [`ClientFrame`] (all validation at the edge, channel names in [`channel`]),
//! the session (`session/`) executes typed frames, and the registry
//! (`registry/`) fans events out. What varies between all-in-one and distributed
//! mode sits behind traits:
//!
//! | seam | all-in-one | distributed |
//! |---|---|---|
//! | tokens ([`Authenticator`]) | the shared [`vigor_common::auth::Verifier`] | same |
//! | channel access ([`ChannelAuthorizer`]) | [`Rules`] + rules the owning services register | same |
//! | chat membership and sends ([`SocialRule`], [`ServiceClient`]) | social's router, in-process | social's REST API over HTTP |
//! | between nodes ([`vigor_common::broker::Broker`]) | in-process | Redis pub/sub |
//! | seq + resume ring ([`History`]) | [`history::memory::MemoryHistory`] | [`history::redis::RedisHistory`] |
//! | presence ([`PresenceStore`]) | [`presence::memory::MemoryPresence`] | [`presence::redis::RedisPresence`] |
//!
//! How `seq` stays strictly increasing across nodes, and why the ring is shared
//! rather than per node, is explained in [`history`]. The wire protocol is
//! specified in `hub/PROTOCOL.md`.

pub mod auth;
pub mod authz;
pub mod channel;
pub mod history;
mod http;
mod hub;
pub mod metrics;
pub mod presence;
pub mod protocol;
mod redis;
mod registry;
pub mod services;
mod session;
pub mod social;
mod wire;

pub use auth::{AuthError, Authenticator, BearerToken, Principal};
pub use authz::{
    Access, AuthzError, CachedAuthorizer, ChannelAuthorizer, ChannelRule, RuleKind, Rules,
};
pub use channel::{BoardScope, Channel, ChannelKind, InvalidChannel, PresenceScope};
pub use history::{History, HistoryError, Replay};
pub use http::{openapi, router, PUBLISH_SCOPE};
pub use hub::{Hub, HubParts, PublishError, Publisher};
pub use presence::{Members, PresenceError, PresenceStore};
pub use protocol::{ClientFrame, ErrorCode, FrameError};
pub use services::{ServiceClient, ServiceError, ServiceReply};
pub use social::SocialRule;
pub use vigor_common::config::hub::{HubConfig, InvalidHubConfig};
