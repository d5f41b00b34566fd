//! What the social service does, over its two stores: who may do what in a
//! community or a chat, and what a change tells the live channels.
//!
//! Rules:
//! - A community channel's members are the community's active members without a
//!   ban that holds; a direct or group chat's are its own. A muted member reads
//!   but does not write. In a direct chat, a block either way stops writing.
//! - Anything about a community or channel the caller may not see is a 404 (an
//!   invite-only community's existence is not secret — its name is on invitations
//!   — but its channels and members are); acting beyond one's role is a 403.
//! - Whoever loses access to a channel (leaves, is removed or banned, or the
//!   community goes) is announced on the broker ([`vigor_common::access`]): every
//!   hub forgets their cached grants and ends their subscriptions at once.
//! - A message is stored before it is pushed, and pushed once per message id
//!   (`publish_once`): a retried send (same `client_msg_id`) returns the stored
//!   message and, if an earlier try stored but failed to push, pushes it then.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use moka::sync::Cache;
use serde_json::json;
use vigor_common::access::{self, AccessRevoked};
use vigor_common::api::Timestamp;
use vigor_common::broker::Broker;
use vigor_common::bus::outbox::OutboxRelay;
use vigor_common::events::{
    CommunityJoined, CommunityLeft, FollowChanged, COMMUNITY_JOINED, COMMUNITY_LEFT, FOLLOW_ENDED,
    FOLLOW_STARTED,
};
use vigor_common::live::LivePublisher;
use vigor_common::ratelimit::LocalBucket;
use vigor_common::{Id, IdGenerator, Problem};

use crate::domain::{
    Ban, Channel, ChannelKind, ChannelName, Community, CommunityName, Follow, FollowStatus,
    MemberStatus, Membership, Role, Visibility, GENERAL, MAX_GROUP_MEMBERS,
};
use crate::messages::{
    Emoji, HistoryQuery, Message, MessageBody, MessageStore, MessageStoreError, NewMessage,
    ReadState,
};
use crate::store::{AuditEntry, FeedStore, SocialStore, StoreError};

mod export;
mod feed;
mod moderation;

pub use export::SocialExport;
pub use feed::{FEED_COMMENT, FEED_KUDOS, FEED_PAGES, ITEM_PAGES};
pub use moderation::{Resolution, CHAT_MENTION, MAX_MENTIONS, REPORT_PAGES};
use vigor_common::api::Page;

/// The hub event of a stored message on `chat:{id}`.
pub const CHAT_MESSAGE: &str = "chat.message";
/// The hub event of an edited message (data: the message).
pub const CHAT_EDITED: &str = "chat.edited";
/// The hub event of a deleted message (data: `message_id`, `channel_id`).
pub const CHAT_DELETED: &str = "chat.deleted";
/// The hub event of a reaction added or taken back (data: `message_id`,
/// `channel_id`, `user_id`, `emoji`, `added`, and the message's `reactions`).
pub const CHAT_REACTION: &str = "chat.reaction";
/// The hub event, on `user:{id}`, of the member's read state in one channel.
pub const CHAT_READ: &str = "chat.read";
/// The hub event, on the followee's `user:{id}`, of a new follower (data:
/// `follower_id`).
pub const FOLLOW_NEW: &str = "follow.started";
/// The hub event, on the followee's `user:{id}`, of a request to follow their
/// profile that is not public (data: `follower_id`).
pub const FOLLOW_REQUESTED: &str = "follow.requested";
/// The hub event, on the follower's `user:{id}`, of their request approved
/// (data: `followee_id`).
pub const FOLLOW_APPROVED: &str = "follow.approved";

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Problem {
        match error {
            StoreError::Taken(what) => Problem::conflict(format!("{what} is taken")),
            other => Problem::internal(other),
        }
    }
}

impl From<MessageStoreError> for Problem {
    fn from(error: MessageStoreError) -> Problem {
        Problem::internal(error)
    }
}

/// What a person may do in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ChannelAccess {
    /// Read its history and receive its events.
    pub subscribe: bool,
    /// Send typing notices.
    pub typing: bool,
    /// Send messages and react.
    pub write: bool,
}

impl ChannelAccess {
    const NONE: ChannelAccess = ChannelAccess {
        subscribe: false,
        typing: false,
        write: false,
    };
}

/// A channel as its member sees it in their list.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MyChannel {
    /// The channel.
    #[serde(flatten)]
    pub channel: Channel,
    /// The other members of a direct or group chat.
    pub members: Vec<Id>,
    /// The member's read state.
    pub read: ReadState,
}

/// The social service's state, shared by its handlers.
#[derive(Clone)]
pub struct SocialService {
    store: Arc<dyn SocialStore>,
    feed: Arc<dyn FeedStore>,
    messages: Arc<dyn MessageStore>,
    live: Arc<dyn LivePublisher>,
    broker: Arc<dyn Broker>,
    ids: Arc<IdGenerator>,
    relay: Option<OutboxRelay>,
    send_buckets: Cache<Id, Arc<Mutex<LocalBucket>>>,
    /// Sends per second and burst per person (`social.send_rate_per_sec`,
    /// `social.send_burst`); a rate of 0 is no limit.
    send_rate: (u32, u32),
}

fn now() -> Timestamp {
    Utc::now()
}

fn no_community() -> Problem {
    Problem::not_found("no such community")
}

fn no_channel() -> Problem {
    Problem::not_found("no such channel")
}

fn no_message() -> Problem {
    Problem::not_found("no such message")
}

impl SocialService {
    /// The service over its stores, pushing live events through `live` and
    /// access notices through `broker`.
    pub fn new(
        store: Arc<dyn SocialStore>,
        feed: Arc<dyn FeedStore>,
        messages: Arc<dyn MessageStore>,
        live: Arc<dyn LivePublisher>,
        broker: Arc<dyn Broker>,
        ids: Arc<IdGenerator>,
    ) -> Self {
        SocialService {
            store,
            feed,
            messages,
            live,
            broker,
            ids,
            relay: None,
            send_buckets: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(60))
                .build(),
            send_rate: (5, 20),
        }
    }

    /// Limits each person to `per_sec` sends per second on average and `burst`
    /// at once (0 per second: no limit).
    pub fn with_send_rate(mut self, per_sec: u32, burst: u32) -> Self {
        self.send_rate = (per_sec, burst);
        self
    }

    /// Wakes `relay` after every committed event (the follow graph's).
    pub fn with_relay(mut self, relay: OutboxRelay) -> Self {
        self.relay = Some(relay);
        self
    }

    fn committed(&self) {
        if let Some(relay) = &self.relay {
            relay.wake();
        }
    }

    fn follow_event(
        &self,
        topic: vigor_common::events::Topic<FollowChanged>,
        follower: Id,
        followee: Id,
    ) -> vigor_common::bus::Event {
        topic.event(
            &self.ids,
            &FollowChanged {
                follower_id: follower,
                followee_id: followee,
            },
        )
    }

    /// The relational store.
    pub fn store(&self) -> &Arc<dyn SocialStore> {
        &self.store
    }

    // ---- communities ----

    /// Makes a community owned by `owner`, with its `general` channel.
    pub async fn create_community(
        &self,
        owner: Id,
        name: CommunityName,
        description: String,
        visibility: Visibility,
    ) -> Result<Community, Problem> {
        let at = now();
        let community = Community {
            id: self.ids.next_id(),
            name: name.as_str().to_owned(),
            description,
            visibility,
            owner_id: owner,
            member_count: 1,
            created_at: at,
        };
        let general = Channel {
            id: self.ids.next_id(),
            kind: ChannelKind::Community,
            community_id: Some(community.id),
            name: Some(GENERAL.to_owned()),
            created_by: owner,
            created_at: at,
        };
        self.store.create_community(&community, &general).await?;
        Ok(community)
    }

    /// The hub channels of a community: `community:{id}` and each of its
    /// channels' `chat:{id}`.
    async fn hub_channels_of(&self, community: Id) -> Result<Vec<String>, Problem> {
        let mut channels = vec![format!("community:{community}")];
        for channel in self.store.community_channels(community).await? {
            channels.push(format!("chat:{}", channel.id));
        }
        Ok(channels)
    }

    /// Tells every hub that `users` lost `channels`. The change is stored
    /// already, so a failure is logged, not answered: the hubs' cached grants
    /// then expire on their own (`hub.authz_cache_ttl_ms`).
    async fn revoke(&self, users: &[Id], channels: &[String]) {
        for user in users {
            let notice = AccessRevoked {
                user_id: *user,
                channels: channels.to_vec(),
            };
            if let Err(error) = access::publish(&*self.broker, &notice).await {
                tracing::warn!(user = %user, error = %error, "cannot announce a revoked access");
            }
        }
    }

    /// A community, if it exists.
    pub async fn community(&self, id: Id) -> Result<Community, Problem> {
        self.store.community(id).await?.ok_or_else(no_community)
    }

    /// `user`'s active membership, unless a ban holds.
    async fn active_member(&self, community: Id, user: Id) -> Result<Option<Membership>, Problem> {
        let Some(membership) = self.store.membership(community, user).await? else {
            return Ok(None);
        };
        if !membership.is_active() {
            return Ok(None);
        }
        if let Some(ban) = self.store.ban_of(community, user).await? {
            if ban.holds(now()) {
                return Ok(None);
            }
        }
        Ok(Some(membership))
    }

    /// The caller's membership with at least `role`: 404 for a non-member, 403
    /// for a member below it.
    pub async fn require_role(
        &self,
        community: Id,
        user: Id,
        role: Role,
    ) -> Result<Membership, Problem> {
        let membership = self
            .active_member(community, user)
            .await?
            .ok_or_else(no_community)?;
        if membership.role < role {
            return Err(Problem::forbidden(format!(
                "this needs the {} role in the community",
                role.as_str()
            )));
        }
        Ok(membership)
    }

    /// Changes a community's name, description or visibility (admins).
    pub async fn update_community(
        &self,
        caller: Id,
        id: Id,
        name: Option<CommunityName>,
        description: Option<String>,
        visibility: Option<Visibility>,
    ) -> Result<Community, Problem> {
        self.require_role(id, caller, Role::Admin).await?;
        let current = self.community(id).await?;
        let name = name.map_or(current.name, |n| n.as_str().to_owned());
        let description = description.unwrap_or(current.description);
        let visibility = visibility.unwrap_or(current.visibility);
        self.store
            .update_community(id, &name, &description, visibility)
            .await?;
        self.community(id).await
    }

    /// Deletes a community (its owner).
    pub async fn delete_community(&self, caller: Id, id: Id) -> Result<(), Problem> {
        self.require_role(id, caller, Role::Owner).await?;
        let channels = self.hub_channels_of(id).await?;
        let members = self.store.delete_community(id, &self.left(id)).await?;
        self.committed();
        self.revoke(&members, &channels).await;
        Ok(())
    }

    /// Joins a public community, accepts an invitation, or asks to join an
    /// invite-only one. Returns the membership (active or requested).
    pub async fn join(&self, caller: Id, id: Id) -> Result<Membership, Problem> {
        let community = self.community(id).await?;
        if let Some(ban) = self.store.ban_of(id, caller).await? {
            if ban.holds(now()) {
                return Err(Problem::forbidden("you are banned from this community"));
            }
        }
        let existing = self.store.membership(id, caller).await?;
        if let Some(m) = &existing {
            if m.is_active() || m.status == MemberStatus::Requested {
                return Ok(m.clone());
            }
        }
        let invited = existing.is_some_and(|m| m.status == MemberStatus::Invited);
        let status = if community.visibility == Visibility::Public || invited {
            MemberStatus::Active
        } else {
            MemberStatus::Requested
        };
        let membership = Membership {
            community_id: id,
            user_id: caller,
            role: Role::Member,
            status,
            muted_until: None,
            since: now(),
        };
        let joined = membership
            .is_active()
            .then(|| self.joined_event(id, caller));
        self.store
            .put_membership(&membership, joined.as_ref())
            .await?;
        if joined.is_some() {
            self.committed();
        }
        Ok(membership)
    }

    /// What makes the `social.community_left` of a member of `community`.
    fn left(&self, community: Id) -> impl Fn(Id) -> vigor_common::bus::Event + Send + Sync {
        let ids = self.ids.clone();
        move |user| {
            COMMUNITY_LEFT.event(
                &ids,
                &CommunityLeft {
                    community_id: community,
                    user_id: user,
                },
            )
        }
    }

    fn joined_event(&self, community: Id, user: Id) -> vigor_common::bus::Event {
        COMMUNITY_JOINED.event(
            &self.ids,
            &CommunityJoined {
                community_id: community,
                user_id: user,
            },
        )
    }

    /// Leaves a community (its owner cannot: they delete it or hand it over).
    pub async fn leave(&self, caller: Id, id: Id) -> Result<(), Problem> {
        let membership = self
            .store
            .membership(id, caller)
            .await?
            .ok_or_else(no_community)?;
        if membership.role == Role::Owner {
            return Err(Problem::conflict(
                "the owner cannot leave; delete the community instead",
            ));
        }
        self.store
            .remove_membership(id, caller, &self.left(id))
            .await?;
        self.committed();
        self.revoke(&[caller], &self.hub_channels_of(id).await?)
            .await;
        Ok(())
    }

    /// Invites `user` (admins); they join by accepting.
    pub async fn invite(&self, caller: Id, id: Id, user: Id) -> Result<Membership, Problem> {
        self.require_role(id, caller, Role::Admin).await?;
        if let Some(existing) = self.store.membership(id, user).await? {
            if existing.is_active() {
                return Ok(existing);
            }
        }
        let membership = Membership {
            community_id: id,
            user_id: user,
            role: Role::Member,
            status: MemberStatus::Invited,
            muted_until: None,
            since: now(),
        };
        self.store.put_membership(&membership, None).await?;
        self.audit(id, caller, "member.invited", Some(user), String::new())
            .await?;
        Ok(membership)
    }

    /// Approves a request to join (admins).
    pub async fn approve(&self, caller: Id, id: Id, user: Id) -> Result<Membership, Problem> {
        self.require_role(id, caller, Role::Admin).await?;
        let mut membership = self
            .store
            .membership(id, user)
            .await?
            .filter(|m| m.status == MemberStatus::Requested)
            .ok_or_else(|| Problem::not_found("no such request to join"))?;
        membership.status = MemberStatus::Active;
        membership.since = now();
        let joined = self.joined_event(id, user);
        self.store
            .put_membership(&membership, Some(&joined))
            .await?;
        self.committed();
        self.audit(id, caller, "member.approved", Some(user), String::new())
            .await?;
        Ok(membership)
    }

    /// Sets a member's role: admins set roles below admin, the owner any but
    /// owner; nobody changes someone at or above their own role.
    pub async fn set_role(
        &self,
        caller: Id,
        id: Id,
        user: Id,
        role: Role,
    ) -> Result<Membership, Problem> {
        let mine = self.require_role(id, caller, Role::Admin).await?;
        let mut theirs = self
            .active_member(id, user)
            .await?
            .ok_or_else(|| Problem::not_found("no such member"))?;
        if role == Role::Owner || role >= mine.role || theirs.role >= mine.role {
            return Err(Problem::forbidden(
                "you may only set roles below your own, of members below you",
            ));
        }
        theirs.role = role;
        self.store.put_membership(&theirs, None).await?;
        self.audit(
            id,
            caller,
            "role.changed",
            Some(user),
            role.as_str().to_owned(),
        )
        .await?;
        Ok(theirs)
    }

    /// The member `user` as a target of moderation by `caller` (moderators and
    /// up, over members below them).
    async fn moderate(&self, caller: Id, id: Id, user: Id) -> Result<Membership, Problem> {
        let mine = self.require_role(id, caller, Role::Moderator).await?;
        let theirs = self
            .store
            .membership(id, user)
            .await?
            .ok_or_else(|| Problem::not_found("no such member"))?;
        if theirs.role >= mine.role {
            return Err(Problem::forbidden(
                "you may only moderate members below your role",
            ));
        }
        Ok(theirs)
    }

    /// Removes a member (moderators, over members below them).
    pub async fn remove_member(&self, caller: Id, id: Id, user: Id) -> Result<(), Problem> {
        self.moderate(caller, id, user).await?;
        self.store
            .remove_membership(id, user, &self.left(id))
            .await?;
        self.committed();
        self.revoke(&[user], &self.hub_channels_of(id).await?).await;
        self.audit(id, caller, "member.removed", Some(user), String::new())
            .await
    }

    /// Bans a member for `duration` (none: until lifted); their membership ends.
    pub async fn ban(
        &self,
        caller: Id,
        id: Id,
        user: Id,
        duration: Option<Duration>,
        reason: String,
    ) -> Result<Ban, Problem> {
        self.moderate(caller, id, user).await?;
        let until = duration.and_then(|d| chrono::Duration::from_std(d).ok().map(|d| now() + d));
        let ban = Ban {
            community_id: id,
            user_id: user,
            until,
            banned_by: caller,
            reason: reason.clone(),
        };
        self.store.ban(&ban, &self.left(id)).await?;
        self.committed();
        self.revoke(&[user], &self.hub_channels_of(id).await?).await;
        self.audit(id, caller, "member.banned", Some(user), reason)
            .await?;
        Ok(ban)
    }

    /// Lifts a ban (moderators).
    pub async fn unban(&self, caller: Id, id: Id, user: Id) -> Result<(), Problem> {
        self.require_role(id, caller, Role::Moderator).await?;
        if !self.store.unban(id, user).await? {
            return Err(Problem::not_found("no such ban"));
        }
        self.audit(id, caller, "member.unbanned", Some(user), String::new())
            .await
    }

    /// Mutes a member for `duration`: they read but do not write.
    pub async fn mute(
        &self,
        caller: Id,
        id: Id,
        user: Id,
        duration: Duration,
    ) -> Result<Membership, Problem> {
        let mut theirs = self.moderate(caller, id, user).await?;
        let until = chrono::Duration::from_std(duration)
            .map_err(|_| Problem::invalid_field("duration_secs", "is too long"))?;
        theirs.muted_until = Some(now() + until);
        self.store.put_membership(&theirs, None).await?;
        self.audit(
            id,
            caller,
            "member.muted",
            Some(user),
            format!("{}s", duration.as_secs()),
        )
        .await?;
        Ok(theirs)
    }

    async fn audit(
        &self,
        community: Id,
        actor: Id,
        action: &str,
        target: Option<Id>,
        detail: String,
    ) -> Result<(), Problem> {
        self.store
            .audit(&AuditEntry {
                id: self.ids.next_id(),
                community_id: community,
                actor_id: actor,
                action: action.to_owned(),
                target_user: target,
                detail,
                at: now(),
            })
            .await?;
        Ok(())
    }

    /// A community's audit log (moderators).
    pub async fn audit_log(
        &self,
        caller: Id,
        id: Id,
        before: Option<Id>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, Problem> {
        self.require_role(id, caller, Role::Moderator).await?;
        Ok(self.store.audit_log(id, before, limit).await?)
    }

    /// Memberships of a community: active ones for members, requests and
    /// invitations for admins.
    pub async fn members(
        &self,
        caller: Id,
        id: Id,
        status: MemberStatus,
        after: Option<Id>,
        limit: u32,
    ) -> Result<Vec<Membership>, Problem> {
        let needed = match status {
            MemberStatus::Active => Role::Member,
            _ => Role::Admin,
        };
        self.require_role(id, caller, needed).await?;
        Ok(self.store.members(id, status, after, limit).await?)
    }

    /// A community's channels (its members).
    pub async fn community_channels(&self, caller: Id, id: Id) -> Result<Vec<Channel>, Problem> {
        self.require_role(id, caller, Role::Member).await?;
        Ok(self.store.community_channels(id).await?)
    }

    /// Adds a channel to a community (admins).
    pub async fn create_community_channel(
        &self,
        caller: Id,
        id: Id,
        name: ChannelName,
    ) -> Result<Channel, Problem> {
        self.require_role(id, caller, Role::Admin).await?;
        let channel = Channel {
            id: self.ids.next_id(),
            kind: ChannelKind::Community,
            community_id: Some(id),
            name: Some(name.as_str().to_owned()),
            created_by: caller,
            created_at: now(),
        };
        self.store.create_channel(&channel, &[]).await?;
        Ok(channel)
    }

    /// What `user` may do on the hub's `community:{id}` channel.
    pub async fn community_access(&self, user: Id, id: Id) -> Result<ChannelAccess, Problem> {
        Ok(match self.active_member(id, user).await? {
            Some(m) => ChannelAccess {
                subscribe: true,
                typing: false,
                write: m.may_write(now()),
            },
            None => ChannelAccess::NONE,
        })
    }

    // ---- chats ----

    /// The direct channel of the caller and `other` (created once per pair);
    /// `true` when made now.
    pub async fn direct_channel(&self, caller: Id, other: Id) -> Result<(Channel, bool), Problem> {
        if caller == other {
            return Err(Problem::invalid_field("user_id", "must be someone else"));
        }
        if self.store.blocked_between(caller, other).await? {
            return Err(Problem::forbidden("you cannot message this person"));
        }
        let candidate = Channel {
            id: self.ids.next_id(),
            kind: ChannelKind::Dm,
            community_id: None,
            name: None,
            created_by: caller,
            created_at: now(),
        };
        Ok(self.store.dm_channel(&candidate, caller, other).await?)
    }

    /// A group chat of the caller and `others` (at most [`MAX_GROUP_MEMBERS`]
    /// in all; nobody who blocks the caller or is blocked by them).
    pub async fn group_channel(&self, caller: Id, others: Vec<Id>) -> Result<Channel, Problem> {
        let mut members = vec![caller];
        for other in others {
            if !members.contains(&other) {
                members.push(other);
            }
        }
        if members.len() < 2 {
            return Err(Problem::invalid_field(
                "user_ids",
                "name at least one other person",
            ));
        }
        if members.len() > MAX_GROUP_MEMBERS {
            return Err(Problem::invalid_field(
                "user_ids",
                format!("a group has at most {MAX_GROUP_MEMBERS} members"),
            ));
        }
        for other in &members[1..] {
            if self.store.blocked_between(caller, *other).await? {
                return Err(Problem::forbidden(format!(
                    "you cannot add {other} to a chat"
                )));
            }
        }
        let channel = Channel {
            id: self.ids.next_id(),
            kind: ChannelKind::Group,
            community_id: None,
            name: None,
            created_by: caller,
            created_at: now(),
        };
        self.store.create_channel(&channel, &members).await?;
        Ok(channel)
    }

    /// A group chat the caller is in, for changing its members.
    async fn group_of(&self, caller: Id, id: Id) -> Result<Channel, Problem> {
        let (channel, _) = self.channel_for(caller, id).await?;
        if channel.kind != ChannelKind::Group {
            return Err(Problem::conflict("only group chats have members to change"));
        }
        Ok(channel)
    }

    /// A member adds people to a group chat (at most [`MAX_GROUP_MEMBERS`] in
    /// all; nobody with a block between them and the caller).
    pub async fn add_group_members(
        &self,
        caller: Id,
        id: Id,
        users: Vec<Id>,
    ) -> Result<Vec<Id>, Problem> {
        self.group_of(caller, id).await?;
        for user in &users {
            if self.store.blocked_between(caller, *user).await? {
                return Err(Problem::forbidden(format!(
                    "you cannot add {user} to a chat"
                )));
            }
        }
        if !self
            .store
            .add_channel_members(id, &users, now(), MAX_GROUP_MEMBERS)
            .await?
        {
            return Err(Problem::invalid_field(
                "user_ids",
                format!("a group has at most {MAX_GROUP_MEMBERS} members"),
            ));
        }
        Ok(self.store.channel_members(id).await?)
    }

    /// Takes someone out of a group chat: oneself (leaving), or anyone by the
    /// one who made it. They stop receiving it at once.
    pub async fn remove_group_member(&self, caller: Id, id: Id, user: Id) -> Result<(), Problem> {
        let channel = self.group_of(caller, id).await?;
        if user != caller && channel.created_by != caller {
            return Err(Problem::forbidden(
                "only the one who made the group removes others",
            ));
        }
        if !self.store.remove_channel_member(id, user).await? {
            return Err(Problem::not_found("no such member"));
        }
        self.revoke(&[user], &[format!("chat:{id}")]).await;
        Ok(())
    }

    /// A channel and what `user` may do in it; 404 when they may not see it.
    pub async fn channel_for(&self, user: Id, id: Id) -> Result<(Channel, ChannelAccess), Problem> {
        let channel = self.store.channel(id).await?.ok_or_else(no_channel)?;
        let access = self.access_to(user, &channel).await?;
        if !access.subscribe {
            return Err(no_channel());
        }
        Ok((channel, access))
    }

    /// What `user` may do in `channel`.
    pub async fn access_to(&self, user: Id, channel: &Channel) -> Result<ChannelAccess, Problem> {
        match (channel.kind, channel.community_id) {
            (ChannelKind::Community, Some(community)) => {
                // Typing is writing: a muted member reads but does not type.
                let mut access = self.community_access(user, community).await?;
                access.typing = access.write;
                Ok(access)
            }
            (ChannelKind::Community, None) => Ok(ChannelAccess::NONE),
            (ChannelKind::Dm | ChannelKind::Group, _) => {
                let members = self.store.channel_members(channel.id).await?;
                if !members.contains(&user) {
                    return Ok(ChannelAccess::NONE);
                }
                let mut write = true;
                if channel.kind == ChannelKind::Dm {
                    for other in members.iter().filter(|m| **m != user) {
                        if self.store.blocked_between(user, *other).await? {
                            write = false;
                        }
                    }
                }
                Ok(ChannelAccess {
                    subscribe: true,
                    typing: write,
                    write,
                })
            }
        }
    }

    /// What `user` may do on the hub's `chat:{id}`; nothing for an unknown
    /// channel.
    pub async fn channel_access(&self, user: Id, id: Id) -> Result<ChannelAccess, Problem> {
        match self.store.channel(id).await? {
            Some(channel) => self.access_to(user, &channel).await,
            None => Ok(ChannelAccess::NONE),
        }
    }

    /// The channels `user` is in, with their read state.
    pub async fn my_channels(&self, user: Id) -> Result<Vec<MyChannel>, Problem> {
        let mut mine = Vec::new();
        for channel in self.store.channels_of(user).await? {
            let members = match channel.kind {
                ChannelKind::Community => Vec::new(),
                _ => {
                    let mut members = self.store.channel_members(channel.id).await?;
                    members.retain(|m| *m != user);
                    members
                }
            };
            let read = self.messages.read_state(channel.id, user).await?;
            mine.push(MyChannel {
                channel,
                members,
                read,
            });
        }
        Ok(mine)
    }

    /// Takes one token from `user`'s send bucket; a 429 when it is empty.
    fn take_send_token(&self, user: Id) -> Result<(), Problem> {
        let (per_sec, burst) = self.send_rate;
        if per_sec == 0 {
            return Ok(());
        }
        let bucket = self.send_buckets.get_with(user, || {
            Arc::new(Mutex::new(LocalBucket::new(per_sec, burst)))
        });
        let allowed = bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if allowed {
            Ok(())
        } else {
            Err(Problem::typed(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many messages",
            )
            .with_detail("slow down: you are sending messages too fast")
            .with_retry_after(1))
        }
    }

    /// Sends a message: checked, stored, then pushed on `chat:{id}` once.
    /// Returns the message and whether it was stored now (`false`: the same
    /// `client_msg_id` was sent before, and that message comes back).
    pub async fn send(
        &self,
        author: Id,
        channel_id: Id,
        body: MessageBody,
        client_msg_id: Option<crate::messages::ClientMsgId>,
        reply_to: Option<Id>,
        mentions: &[Id],
    ) -> Result<(Message, bool), Problem> {
        if mentions.len() > MAX_MENTIONS {
            return Err(Problem::invalid_field(
                "mentions",
                "must name at most 20 members",
            ));
        }
        let (_, access) = self.channel_for(author, channel_id).await?;
        if !access.write {
            return Err(Problem::forbidden("you cannot write in this channel"));
        }
        self.take_send_token(author)?;
        if let Some(replied) = reply_to {
            if self.messages.get(channel_id, replied).await?.is_none() {
                return Err(Problem::invalid_field(
                    "reply_to",
                    "is no message of this channel",
                ));
            }
        }
        let id = self.ids.next_id();
        let message = self
            .messages
            .append(NewMessage {
                id,
                channel_id,
                author_id: author,
                body,
                client_msg_id,
                reply_to,
            })
            .await?;
        let created = message.id == id;
        self.push(channel_id, CHAT_MESSAGE, &message, &message.id.to_string())
            .await?;
        self.notify_mentions(&message, mentions).await;
        Ok((message, created))
    }

    async fn push<T: serde::Serialize>(
        &self,
        channel: Id,
        event: &str,
        data: &T,
        key: &str,
    ) -> Result<(), Problem> {
        let data = serde_json::to_value(data).map_err(Problem::internal)?;
        self.live
            .publish_once(&format!("chat:{channel}"), event, &data, key)
            .await
            .map_err(|e| {
                Problem::internal(anyhow::anyhow!(
                    "the message is stored but could not be pushed: {e}"
                ))
            })?;
        Ok(())
    }

    /// A page of a channel's history (its members).
    pub async fn history(
        &self,
        user: Id,
        channel: Id,
        query: HistoryQuery,
    ) -> Result<Page<Message>, Problem> {
        self.channel_for(user, channel).await?;
        Ok(self.messages.history(channel, query).await?)
    }

    /// The message `id` of `channel`, for a member.
    async fn message(&self, channel: Id, id: Id) -> Result<Message, Problem> {
        self.messages
            .get(channel, id)
            .await?
            .filter(|m| !m.deleted)
            .ok_or_else(no_message)
    }

    /// Edits a message (its author, while they may write).
    pub async fn edit(
        &self,
        user: Id,
        channel: Id,
        id: Id,
        body: MessageBody,
    ) -> Result<Message, Problem> {
        let (_, access) = self.channel_for(user, channel).await?;
        let message = self.message(channel, id).await?;
        if message.author_id != user || !access.write {
            return Err(Problem::forbidden("only its author can edit a message"));
        }
        let at = now();
        self.messages.edit(channel, id, &body, at).await?;
        let edited = self.message(channel, id).await?;
        self.push(
            channel,
            CHAT_EDITED,
            &edited,
            // Each edit is its own event: two edits within one millisecond
            // must not share a key.
            &format!("edit:{id}:{}", self.ids.next_id()),
        )
        .await?;
        Ok(edited)
    }

    /// Deletes a message: its author, or a moderator of its community (then it
    /// goes in the audit log).
    pub async fn delete_message(&self, user: Id, channel: Id, id: Id) -> Result<(), Problem> {
        let (found, _) = self.channel_for(user, channel).await?;
        let message = self.message(channel, id).await?;
        if message.author_id != user {
            let community = found
                .community_id
                .ok_or_else(|| Problem::forbidden("only its author can delete a message"))?;
            self.require_role(community, user, Role::Moderator).await?;
            self.audit(
                community,
                user,
                "message.removed",
                Some(message.author_id),
                id.to_string(),
            )
            .await?;
        }
        self.remove_message(channel, id).await
    }

    /// Deletes a message (a tombstone) and tells the channel.
    async fn remove_message(&self, channel: Id, id: Id) -> Result<(), Problem> {
        self.messages.delete(channel, id).await?;
        self.push(
            channel,
            CHAT_DELETED,
            &json!({"message_id": id, "channel_id": channel}),
            &format!("delete:{id}"),
        )
        .await
    }

    /// Adds (`true`) or takes back the caller's reaction; pushes the new counts.
    pub async fn react(
        &self,
        user: Id,
        channel: Id,
        id: Id,
        emoji: Emoji,
        add: bool,
    ) -> Result<Message, Problem> {
        let (_, access) = self.channel_for(user, channel).await?;
        if !access.write {
            return Err(Problem::forbidden("you cannot react in this channel"));
        }
        self.message(channel, id).await?;
        if add {
            self.messages
                .add_reaction(channel, id, user, &emoji)
                .await?;
        } else {
            self.messages
                .remove_reaction(channel, id, user, &emoji)
                .await?;
        }
        let message = self.message(channel, id).await?;
        self.push(
            channel,
            CHAT_REACTION,
            &json!({
                "message_id": id,
                "channel_id": channel,
                "user_id": user,
                "emoji": emoji.as_str(),
                "added": add,
                "reactions": message.reactions,
            }),
            &format!("react:{id}:{}", self.ids.next_id()),
        )
        .await?;
        Ok(message)
    }

    /// Records that `user` read up to `last_read`, tells their other sessions,
    /// and returns the read state.
    pub async fn mark_read(
        &self,
        user: Id,
        channel: Id,
        last_read: Id,
    ) -> Result<ReadState, Problem> {
        self.channel_for(user, channel).await?;
        self.messages.mark_read(channel, user, last_read).await?;
        let state = self.messages.read_state(channel, user).await?;
        let data =
            json!({"channel_id": channel, "last_read": state.last_read, "unread": state.unread});
        self.live
            .publish(&format!("user:{user}"), CHAT_READ, &data)
            .await
            .map_err(|e| Problem::internal(anyhow::anyhow!("read state not pushed: {e}")))?;
        Ok(state)
    }

    // ---- the graph ----

    /// The caller follows `other`: at once when `other`'s profile is public,
    /// else as a request `other` approves (they hear of it as `follow.requested`
    /// on `user:{id}`). A follow of someone who blocks them, or whom they block,
    /// is refused.
    pub async fn follow(&self, caller: Id, other: Id) -> Result<Follow, Problem> {
        if caller == other {
            return Err(Problem::invalid_field(
                "user_id",
                "you cannot follow yourself",
            ));
        }
        if self.store.blocked_between(caller, other).await? {
            return Err(Problem::forbidden("you cannot follow this person"));
        }
        let public = self
            .store
            .profile_visibility(other)
            .await?
            .is_none_or(|v| v == "public");
        let follow = Follow {
            follower_id: caller,
            followee_id: other,
            status: if public {
                FollowStatus::Active
            } else {
                FollowStatus::Pending
            },
            since: now(),
        };
        let started = self.follow_event(FOLLOW_STARTED, caller, other);
        let stored = self.store.follow(&follow, &started).await?;
        self.committed();
        let created = stored.status == follow.status
            && stored.since.timestamp_millis() == follow.since.timestamp_millis();
        if created {
            let (event, data) = match stored.status {
                FollowStatus::Active => (FOLLOW_NEW, json!({"follower_id": caller})),
                FollowStatus::Pending => (FOLLOW_REQUESTED, json!({"follower_id": caller})),
            };
            self.notify(other, event, data).await;
        }
        Ok(stored)
    }

    /// The caller approves `follower`'s request; they hear of it as
    /// `follow.approved` on `user:{id}`.
    pub async fn approve_follower(&self, caller: Id, follower: Id) -> Result<(), Problem> {
        let started = self.follow_event(FOLLOW_STARTED, follower, caller);
        if !self
            .store
            .approve_follow(follower, caller, &started)
            .await?
        {
            return Err(Problem::not_found("no such follow request"));
        }
        self.committed();
        self.notify(follower, FOLLOW_APPROVED, json!({"followee_id": caller}))
            .await;
        Ok(())
    }

    /// The caller declines `follower`'s request or removes a follower
    /// (idempotent).
    pub async fn remove_follower(&self, caller: Id, follower: Id) -> Result<(), Problem> {
        self.unfollow(follower, caller).await
    }

    /// `user.privacy_changed`: the visibility that decides whether follows of
    /// the user wait for approval.
    pub async fn set_profile_visibility(
        &self,
        group: &str,
        event: Id,
        user: Id,
        visibility: &str,
    ) -> Result<bool, Problem> {
        Ok(self
            .store
            .set_profile_visibility(group, event, user, visibility)
            .await?)
    }

    /// The caller stops following `other` (idempotent).
    pub async fn unfollow(&self, caller: Id, other: Id) -> Result<(), Problem> {
        let ended = self.follow_event(FOLLOW_ENDED, caller, other);
        if self.store.unfollow(caller, other, &ended).await? {
            self.committed();
        }
        Ok(())
    }

    /// The caller blocks `other`: follows between them end, both ways.
    pub async fn block(&self, caller: Id, other: Id) -> Result<(), Problem> {
        if caller == other {
            return Err(Problem::invalid_field(
                "user_id",
                "you cannot block yourself",
            ));
        }
        let ended = [
            self.follow_event(FOLLOW_ENDED, caller, other),
            self.follow_event(FOLLOW_ENDED, other, caller),
        ];
        self.store
            .block(caller, other, now(), [&ended[0], &ended[1]])
            .await?;
        self.committed();
        Ok(())
    }
}
