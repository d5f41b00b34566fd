//! The social service's relational storage: communities, memberships, bans,
//! channels and their members, the follow graph, blocks and the audit log
//! ([`SocialStore`]); the feed, kudos, comments and reports ([`FeedStore`]).
//!
//! [`SocialStore`] is the seam (see `vigor_common::db`): one implementation on
//! SQL ([`sql::SqlStore`], SQLite all-in-one and PostgreSQL distributed), pinned
//! by one conformance suite run on both. Chat messages are not here: they live
//! behind [`crate::messages::MessageStore`], on SQL or on a CQL cluster.
//!
//! The store keeps what is true and checks only what a key can check (a
//! community's channel names, one direct-message channel per pair, one follow per
//! pair); who may do what is decided by [`crate::service`], which reads first.

pub mod feed;
pub mod sql;

#[cfg(test)]
mod conformance;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::bus::Event;
use vigor_common::Id;

use crate::domain::{
    Ban, Channel, Community, Follow, FollowStatus, MemberStatus, Membership, Visibility,
};

pub use feed::{Applied, FeedPosition, FeedStore};
pub use sql::SqlStore;

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key says the thing exists already (a channel name in its
    /// community).
    #[error("{0} is taken")]
    Taken(&'static str),
    /// The database failed.
    #[error("the social database failed")]
    Sql(#[from] sqlx::Error),
    /// A stored row holds a value this version does not know.
    #[error("a stored row is corrupt: {0}")]
    Corrupt(String),
}

/// The store's results.
pub type StoreResult<T> = Result<T, StoreError>;

/// One line of a community's audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Its id (time-ordered).
    pub id: Id,
    /// The community.
    pub community_id: Id,
    /// Who did it.
    pub actor_id: Id,
    /// What (`member.banned`, `message.removed`, `role.changed`, …).
    pub action: String,
    /// Whom it was done to, if anyone.
    pub target_user: Option<Id>,
    /// The details (a reason, a role, a message id).
    pub detail: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// Makes the `social.community_left` event of a member (by user id) whose
/// membership ends.
pub type Left = dyn Fn(Id) -> Event + Send + Sync;

/// The storage of the social graph and communities.
#[async_trait]
pub trait SocialStore: Send + Sync {
    /// Stores a new community, its owner's membership and its first channel.
    async fn create_community(
        &self,
        community: &Community,
        general: &Channel,
    ) -> StoreResult<Membership>;

    /// A community with its count of active members.
    async fn community(&self, id: Id) -> StoreResult<Option<Community>>;

    /// Replaces a community's name, description and visibility.
    async fn update_community(
        &self,
        id: Id,
        name: &str,
        description: &str,
        visibility: Visibility,
    ) -> StoreResult<()>;

    /// Deletes a community with its memberships, bans and channels; returns who
    /// its active members were. `left` makes the `social.community_left` of each,
    /// which goes into the outbox with it.
    async fn delete_community(&self, id: Id, left: &Left) -> StoreResult<Vec<Id>>;

    /// A person's membership (active, requested or invited).
    async fn membership(&self, community: Id, user: Id) -> StoreResult<Option<Membership>>;

    /// Stores a membership, replacing the person's earlier one; `joined` (a
    /// `social.community_joined`) goes into the outbox with it.
    async fn put_membership(
        &self,
        membership: &Membership,
        joined: Option<&Event>,
    ) -> StoreResult<()>;

    /// Removes a membership; whether there was one. When it was active, the
    /// `social.community_left` that `left` makes goes into the outbox with it.
    async fn remove_membership(&self, community: Id, user: Id, left: &Left) -> StoreResult<bool>;

    /// Memberships of one status, by user id, after `after`.
    async fn members(
        &self,
        community: Id,
        status: MemberStatus,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Membership>>;

    /// A person's memberships (active, requested or invited), by community id.
    async fn memberships_of(&self, user: Id) -> StoreResult<Vec<Membership>>;

    /// Bans a person (replacing an earlier ban) and ends their membership (an
    /// active one with the `social.community_left` that `left` makes).
    async fn ban(&self, ban: &Ban, left: &Left) -> StoreResult<()>;

    /// Lifts a ban; whether there was one.
    async fn unban(&self, community: Id, user: Id) -> StoreResult<bool>;

    /// A person's ban, whether or not it still holds.
    async fn ban_of(&self, community: Id, user: Id) -> StoreResult<Option<Ban>>;

    /// Stores a channel with the members of a group chat (a community channel's
    /// members are the community's). A community channel's name is unique in it.
    async fn create_channel(&self, channel: &Channel, members: &[Id]) -> StoreResult<()>;

    /// The direct-message channel of `a` and `b`: the one stored, or `candidate`
    /// stored now with both as members (`true`). Concurrent calls agree.
    async fn dm_channel(&self, candidate: &Channel, a: Id, b: Id) -> StoreResult<(Channel, bool)>;

    /// A channel.
    async fn channel(&self, id: Id) -> StoreResult<Option<Channel>>;

    /// A community's channels, oldest first.
    async fn community_channels(&self, community: Id) -> StoreResult<Vec<Channel>>;

    /// The members of a direct or group chat, by id.
    async fn channel_members(&self, channel: Id) -> StoreResult<Vec<Id>>;

    /// Adds people to a group chat (those already in it stay), unless the chat
    /// would then have more than `max` members (`false`: nobody is added).
    async fn add_channel_members(
        &self,
        channel: Id,
        users: &[Id],
        at: Timestamp,
        max: usize,
    ) -> StoreResult<bool>;

    /// Takes a person out of a direct or group chat; whether they were in it.
    async fn remove_channel_member(&self, channel: Id, user: Id) -> StoreResult<bool>;

    /// The channels a person is in: of their communities, and their direct and
    /// group chats; oldest first.
    async fn channels_of(&self, user: Id) -> StoreResult<Vec<Channel>>;

    /// Stores `follow` unless the pair has one; returns the pair's follow.
    /// `started` (a `social.follow_started`) goes into the outbox with it when
    /// an active follow is stored now.
    async fn follow(&self, follow: &Follow, started: &Event) -> StoreResult<Follow>;

    /// Ends a follow (or withdraws a request); whether there was one. `ended`
    /// (a `social.follow_ended`) goes into the outbox with it when an active
    /// follow ended.
    async fn unfollow(&self, follower: Id, followee: Id, ended: &Event) -> StoreResult<bool>;

    /// The follow of a pair.
    async fn follow_of(&self, follower: Id, followee: Id) -> StoreResult<Option<Follow>>;

    /// Approves a pending follow; whether there was one (then `started` goes
    /// into the outbox with it).
    async fn approve_follow(
        &self,
        follower: Id,
        followee: Id,
        started: &Event,
    ) -> StoreResult<bool>;

    /// Who follows `user` (or asks to), by follower id, after `after`.
    async fn followers(
        &self,
        user: Id,
        status: FollowStatus,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Follow>>;

    /// Whom `user` follows (actively), by followee id, after `after`.
    async fn following(&self, user: Id, after: Option<Id>, limit: u32) -> StoreResult<Vec<Follow>>;

    /// `blocker` blocks `blocked`: follows between them end, both ways; returns
    /// the follows that ended. `ended` holds the `social.follow_ended` of
    /// blocker → blocked and of blocked → blocker: each goes into the outbox when
    /// that active follow ended.
    async fn block(
        &self,
        blocker: Id,
        blocked: Id,
        at: Timestamp,
        ended: [&Event; 2],
    ) -> StoreResult<Vec<Follow>>;

    /// Lifts a block; whether there was one.
    async fn unblock(&self, blocker: Id, blocked: Id) -> StoreResult<bool>;

    /// Whether either of `a` and `b` blocks the other.
    async fn blocked_between(&self, a: Id, b: Id) -> StoreResult<bool>;

    /// Whom `user` blocks, by id.
    async fn blocks_of(&self, user: Id) -> StoreResult<Vec<Id>>;

    /// Applies `user.privacy_changed` event `event_id` of `group` once: the
    /// profile's visibility, unless a newer event set it; whether it applied.
    async fn set_profile_visibility(
        &self,
        group: &str,
        event_id: Id,
        user: Id,
        visibility: &str,
    ) -> StoreResult<bool>;

    /// The visibility of `user`'s profile as users last announced it (`None`:
    /// never announced, i.e. public).
    async fn profile_visibility(&self, user: Id) -> StoreResult<Option<String>>;

    /// Appends to a community's audit log.
    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()>;

    /// A community's audit log, newest first, before `before`.
    async fn audit_log(
        &self,
        community: Id,
        before: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>>;

    /// Forgets a deleted user, once per `user.deleted` event `event_id` of
    /// consumer group `group` (`false`: done before): their follows and blocks
    /// both ways, memberships, bans and chat memberships, their feed items with
    /// the kudos and comments on them, the kudos and comments they gave, and the
    /// reports they made or that name their messages. Communities they owned are
    /// deleted with their channels.
    async fn erase_user(&self, group: &str, event_id: Id, user: Id) -> StoreResult<bool>;
}
