//! The one conformance suite of [`SocialStore`], run on SQLite and on PostgreSQL.

use std::sync::Arc;

use chrono::{Duration, DurationRound, Utc};
use vigor_common::api::Timestamp;
use vigor_common::db::Database;
use vigor_common::{Id, IdGenerator};

use super::*;
use crate::domain::{ChannelKind, Role, GENERAL};
use crate::feed::{Comment, ItemKind, ItemPrivacy, NewItem, Report, ReportStatus};
use vigor_common::events::{
    CommunityLeft, FollowChanged, COMMUNITY_LEFT, FOLLOW_ENDED, FOLLOW_STARTED,
};

fn now() -> Timestamp {
    // Stored to the millisecond.
    Utc::now()
        .duration_trunc(Duration::milliseconds(1))
        .unwrap()
}

struct Fixture {
    store: SqlStore,
    ids: IdGenerator,
    db: Database,
}

impl Fixture {
    fn new(db: Database) -> Self {
        Fixture {
            store: SqlStore::new(db.clone()),
            ids: IdGenerator::new(4).unwrap(),
            db,
        }
    }

    fn id(&self) -> Id {
        self.ids.next_id()
    }

    fn channel(&self, kind: ChannelKind, community: Option<Id>, name: Option<&str>) -> Channel {
        Channel {
            id: self.id(),
            kind,
            community_id: community,
            name: name.map(str::to_owned),
            created_by: self.id(),
            created_at: now(),
        }
    }

    async fn community(&self, owner: Id, visibility: Visibility) -> (Community, Channel) {
        let community = Community {
            id: self.id(),
            name: "Runners".into(),
            description: "We run.".into(),
            visibility,
            owner_id: owner,
            member_count: 1,
            created_at: now(),
        };
        let general = self.channel(ChannelKind::Community, Some(community.id), Some(GENERAL));
        let owner = self
            .store
            .create_community(&community, &general)
            .await
            .unwrap();
        assert_eq!(
            (owner.role, owner.status),
            (Role::Owner, MemberStatus::Active)
        );
        (community, general)
    }

    fn member(&self, community: Id, user: Id, status: MemberStatus) -> Membership {
        Membership {
            community_id: community,
            user_id: user,
            role: Role::Member,
            status,
            muted_until: None,
            since: now(),
        }
    }

    /// A follow event of `topic` for the pair.
    fn event(
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

    async fn start(&self, follow: &Follow) -> Follow {
        let started = self.event(FOLLOW_STARTED, follow.follower_id, follow.followee_id);
        self.store.follow(follow, &started).await.unwrap()
    }

    async fn block(&self, blocker: Id, blocked: Id) -> Vec<Follow> {
        let a = self.event(FOLLOW_ENDED, blocker, blocked);
        let b = self.event(FOLLOW_ENDED, blocked, blocker);
        self.store
            .block(blocker, blocked, now(), [&a, &b])
            .await
            .unwrap()
    }

    /// The outbox: each event's topic and its (follower, followee).
    async fn outbox(&self) -> Vec<(String, Id, Id)> {
        let sql = "SELECT topic, CAST(event AS TEXT) FROM outbox ORDER BY id";
        let rows: Vec<(String, String)> = vigor_common::on_pool!(&self.db, pool => {
            sqlx::query_as(sql).fetch_all(pool).await.unwrap()
        });
        rows.into_iter()
            .map(|(topic, payload)| {
                let event: serde_json::Value = serde_json::from_str(&payload).unwrap();
                let data: FollowChanged = serde_json::from_value(event["data"].clone()).unwrap();
                (topic, data.follower_id, data.followee_id)
            })
            .collect()
    }

    /// What makes the `social.community_left` events of `community`.
    fn left(&self, community: Id) -> impl Fn(Id) -> vigor_common::bus::Event + Send + Sync {
        // Its own node: the store keeps the closure beyond the fixture's borrow.
        let ids = IdGenerator::new(5).unwrap();
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

    /// The `social.community_left` events in the outbox: (community, user).
    async fn left_events(&self) -> Vec<(Id, Id)> {
        let sql = "SELECT CAST(event AS TEXT) FROM outbox WHERE topic = 'social.community_left' ORDER BY id";
        let rows: Vec<String> = vigor_common::on_pool!(&self.db, pool => {
            sqlx::query_scalar(sql).fetch_all(pool).await.unwrap()
        });
        rows.into_iter()
            .map(|payload| {
                let event: serde_json::Value = serde_json::from_str(&payload).unwrap();
                let data: CommunityLeft = serde_json::from_value(event["data"].clone()).unwrap();
                (data.community_id, data.user_id)
            })
            .collect()
    }

    fn follow(&self, follower: Id, followee: Id, status: FollowStatus) -> Follow {
        Follow {
            follower_id: follower,
            followee_id: followee,
            status,
            since: now(),
        }
    }
}

async fn a_community_keeps_its_members_and_channels(db: Database) {
    let f = Fixture::new(db);
    let (owner, ann, bob) = (f.id(), f.id(), f.id());
    let (community, general) = f.community(owner, Visibility::Public).await;
    assert_eq!(
        f.store.community(community.id).await.unwrap(),
        Some(community.clone())
    );
    assert_eq!(
        f.store.community_channels(community.id).await.unwrap(),
        vec![general.clone()]
    );

    f.store
        .put_membership(&f.member(community.id, ann, MemberStatus::Active), None)
        .await
        .unwrap();
    f.store
        .put_membership(&f.member(community.id, bob, MemberStatus::Requested), None)
        .await
        .unwrap();
    let stored = f.store.community(community.id).await.unwrap().unwrap();
    assert_eq!(stored.member_count, 2, "requests are not members");
    let active = f
        .store
        .members(community.id, MemberStatus::Active, None, 10)
        .await
        .unwrap();
    assert_eq!(
        active.iter().map(|m| m.user_id).collect::<Vec<_>>(),
        vec![owner, ann]
    );
    // Paging by user id: the second page starts after the first.
    let first = f
        .store
        .members(community.id, MemberStatus::Active, None, 1)
        .await
        .unwrap();
    let second = f
        .store
        .members(
            community.id,
            MemberStatus::Active,
            Some(first[0].user_id),
            1,
        )
        .await
        .unwrap();
    assert_eq!((first[0].user_id, second[0].user_id), (owner, ann));

    // Approving a request replaces it; a mute is kept.
    let mut approved = f.member(community.id, bob, MemberStatus::Active);
    approved.muted_until = Some(now() + Duration::minutes(10));
    f.store.put_membership(&approved, None).await.unwrap();
    assert_eq!(
        f.store.membership(community.id, bob).await.unwrap(),
        Some(approved)
    );

    // Channels of a community are its members' channels.
    let runs = f.channel(
        ChannelKind::Community,
        Some(community.id),
        Some("long-runs"),
    );
    f.store.create_channel(&runs, &[]).await.unwrap();
    let taken = f.channel(
        ChannelKind::Community,
        Some(community.id),
        Some("long-runs"),
    );
    assert!(matches!(
        f.store.create_channel(&taken, &[]).await,
        Err(StoreError::Taken(_))
    ));
    let ids: Vec<Id> = f
        .store
        .channels_of(ann)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec![general.id, runs.id]);

    // Leaving takes the channels away, and is announced once.
    let left = f.left(community.id);
    assert!(f
        .store
        .remove_membership(community.id, ann, &left)
        .await
        .unwrap());
    assert!(!f
        .store
        .remove_membership(community.id, ann, &left)
        .await
        .unwrap());
    assert!(f.store.channels_of(ann).await.unwrap().is_empty());
    assert_eq!(f.left_events().await, vec![(community.id, ann)]);

    // Deleting it says who was in it and leaves nothing behind.
    let members = f.store.delete_community(community.id, &left).await.unwrap();
    assert_eq!(members, vec![owner, bob]);
    assert_eq!(
        f.left_events().await,
        vec![
            (community.id, ann),
            (community.id, owner),
            (community.id, bob)
        ]
    );
    assert_eq!(f.store.community(community.id).await.unwrap(), None);
    assert_eq!(f.store.channel(general.id).await.unwrap(), None);
    assert_eq!(f.store.membership(community.id, bob).await.unwrap(), None);
    assert!(f.store.channels_of(owner).await.unwrap().is_empty());
}

async fn a_ban_ends_the_membership_until_lifted(db: Database) {
    let f = Fixture::new(db);
    let (owner, ann) = (f.id(), f.id());
    let (community, _) = f.community(owner, Visibility::Public).await;
    f.store
        .put_membership(&f.member(community.id, ann, MemberStatus::Active), None)
        .await
        .unwrap();
    let ban = Ban {
        community_id: community.id,
        user_id: ann,
        until: Some(now() + Duration::hours(1)),
        banned_by: owner,
        reason: "spam".into(),
    };
    f.store.ban(&ban, &f.left(community.id)).await.unwrap();
    assert_eq!(f.store.membership(community.id, ann).await.unwrap(), None);
    assert_eq!(f.left_events().await, vec![(community.id, ann)]);
    // Banning someone who is no member announces nothing.
    let stranger = Ban {
        user_id: f.id(),
        ..ban.clone()
    };
    f.store.ban(&stranger, &f.left(community.id)).await.unwrap();
    assert_eq!(f.left_events().await.len(), 1);
    assert_eq!(f.store.ban_of(community.id, ann).await.unwrap(), Some(ban));
    assert!(f.store.channels_of(ann).await.unwrap().is_empty());
    assert!(f.store.unban(community.id, ann).await.unwrap());
    assert_eq!(f.store.ban_of(community.id, ann).await.unwrap(), None);
}

async fn a_pair_has_one_direct_channel_even_when_both_ask_at_once(db: Database) {
    let f = Arc::new(Fixture::new(db));
    let (ann, bob) = (f.id(), f.id());
    let mut tasks = Vec::new();
    for n in 0..8 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let candidate = f.channel(ChannelKind::Dm, None, None);
            let (x, y) = if n % 2 == 0 { (ann, bob) } else { (bob, ann) };
            f.store.dm_channel(&candidate, x, y).await.unwrap()
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|(_, created)| *created).count(), 1);
    let channel = answers[0].0.clone();
    assert!(answers.iter().all(|(c, _)| c.id == channel.id));
    assert_eq!(channel.kind, ChannelKind::Dm);
    assert_eq!(
        f.store.channel_members(channel.id).await.unwrap(),
        vec![ann, bob]
    );
    // Another pair gets another channel.
    let carol = f.id();
    let (other, created) = f
        .store
        .dm_channel(&f.channel(ChannelKind::Dm, None, None), ann, carol)
        .await
        .unwrap();
    assert!(created && other.id != channel.id);
    let ids: Vec<Id> = f
        .store
        .channels_of(ann)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec![channel.id, other.id]);
}

async fn group_chats_keep_their_members(db: Database) {
    let f = Fixture::new(db);
    let (ann, bob, carol) = (f.id(), f.id(), f.id());
    let group = f.channel(ChannelKind::Group, None, None);
    f.store.create_channel(&group, &[ann, bob]).await.unwrap();
    assert!(f
        .store
        .add_channel_members(group.id, &[bob, carol], now(), 3)
        .await
        .unwrap());
    // A fourth member would pass a maximum of three: nobody is added.
    assert!(!f
        .store
        .add_channel_members(group.id, &[f.id()], now(), 3)
        .await
        .unwrap());
    assert_eq!(
        f.store.channel_members(group.id).await.unwrap(),
        vec![ann, bob, carol]
    );
    assert!(f.store.remove_channel_member(group.id, bob).await.unwrap());
    assert!(!f.store.remove_channel_member(group.id, bob).await.unwrap());
    assert_eq!(
        f.store.channel_members(group.id).await.unwrap(),
        vec![ann, carol]
    );
    assert_eq!(f.store.channel(group.id).await.unwrap(), Some(group));
}

async fn follows_are_one_per_pair_and_blocks_end_them_both_ways(db: Database) {
    let f = Fixture::new(db);
    let (ann, bob, carol) = (f.id(), f.id(), f.id());
    let first = f.follow(ann, bob, FollowStatus::Pending);
    assert_eq!(f.start(&first).await, first);
    // Asking again changes nothing: the stored follow comes back.
    let again = f.follow(ann, bob, FollowStatus::Active);
    assert_eq!(f.start(&again).await, first);
    assert!(f.outbox().await.is_empty(), "a request starts no follow");
    assert!(f.store.following(ann, None, 10).await.unwrap().is_empty());
    assert_eq!(
        f.store
            .followers(bob, FollowStatus::Pending, None, 10)
            .await
            .unwrap(),
        vec![first.clone()]
    );
    let started = f.event(FOLLOW_STARTED, ann, bob);
    assert!(f.store.approve_follow(ann, bob, &started).await.unwrap());
    assert!(!f.store.approve_follow(ann, bob, &started).await.unwrap());
    let started = (FOLLOW_STARTED.name().to_owned(), ann, bob);
    assert_eq!(f.outbox().await, vec![started.clone()]);
    let active = f.store.follow_of(ann, bob).await.unwrap().unwrap();
    assert_eq!(active.status, FollowStatus::Active);
    f.start(&f.follow(carol, bob, FollowStatus::Active)).await;
    let followers = f
        .store
        .followers(bob, FollowStatus::Active, None, 10)
        .await
        .unwrap();
    assert_eq!(
        followers.iter().map(|x| x.follower_id).collect::<Vec<_>>(),
        vec![ann, carol]
    );
    let page = f
        .store
        .followers(bob, FollowStatus::Active, Some(ann), 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].follower_id, carol);

    f.start(&f.follow(bob, ann, FollowStatus::Active)).await;
    let ended = f.block(bob, ann).await;
    assert_eq!(ended.len(), 2, "both directions end");
    let topics = f.outbox().await;
    let tail: Vec<_> = topics[topics.len() - 2..].to_vec();
    assert!(tail.contains(&(FOLLOW_ENDED.name().to_owned(), ann, bob)));
    assert!(tail.contains(&(FOLLOW_ENDED.name().to_owned(), bob, ann)));
    assert!(f.store.blocked_between(ann, bob).await.unwrap());
    assert!(f.store.blocked_between(bob, ann).await.unwrap());
    assert!(!f.store.blocked_between(ann, carol).await.unwrap());
    assert_eq!(f.store.follow_of(ann, bob).await.unwrap(), None);
    assert_eq!(f.store.follow_of(bob, ann).await.unwrap(), None);
    assert_eq!(f.store.blocks_of(bob).await.unwrap(), vec![ann]);
    assert!(f.store.unblock(bob, ann).await.unwrap());
    assert!(!f.store.blocked_between(ann, bob).await.unwrap());
    let ended = f.event(FOLLOW_ENDED, carol, bob);
    assert!(f.store.unfollow(carol, bob, &ended).await.unwrap());
    assert!(!f.store.unfollow(carol, bob, &ended).await.unwrap());
    let outbox = f.outbox().await;
    assert_eq!(
        outbox.last(),
        Some(&(FOLLOW_ENDED.name().to_owned(), carol, bob))
    );
    assert_eq!(
        outbox
            .iter()
            .filter(|(t, ..)| t == FOLLOW_ENDED.name())
            .count(),
        3,
        "an unfollow of no follow announces nothing"
    );
}

async fn the_audit_log_reads_newest_first(db: Database) {
    let f = Fixture::new(db);
    let (owner, ann) = (f.id(), f.id());
    let (community, _) = f.community(owner, Visibility::InviteOnly).await;
    let mut entries = Vec::new();
    for action in ["member.muted", "member.banned", "message.removed"] {
        let entry = AuditEntry {
            id: f.id(),
            community_id: community.id,
            actor_id: owner,
            action: action.into(),
            target_user: Some(ann),
            detail: String::new(),
            at: now(),
        };
        f.store.audit(&entry).await.unwrap();
        entries.push(entry);
    }
    entries.reverse();
    assert_eq!(
        f.store.audit_log(community.id, None, 10).await.unwrap(),
        entries
    );
    assert_eq!(
        f.store
            .audit_log(community.id, Some(entries[0].id), 1)
            .await
            .unwrap(),
        vec![entries[1].clone()]
    );
}

async fn an_erased_user_leaves_nothing_behind(db: Database) {
    let f = Fixture::new(db);
    let (ann, bob) = (f.id(), f.id());
    let (owned, owned_general) = f.community(ann, Visibility::Public).await;
    let (other, _) = f.community(bob, Visibility::Public).await;
    f.store
        .put_membership(&f.member(other.id, ann, MemberStatus::Active), None)
        .await
        .unwrap();
    f.start(&f.follow(ann, bob, FollowStatus::Active)).await;
    f.start(&f.follow(bob, ann, FollowStatus::Active)).await;
    f.block(ann, f.id()).await;
    let (dm, _) = f
        .store
        .dm_channel(&f.channel(ChannelKind::Dm, None, None), ann, bob)
        .await
        .unwrap();

    let event = f.id();
    assert!(f.store.erase_user("social", event, ann).await.unwrap());
    assert!(!f.store.erase_user("social", event, ann).await.unwrap());
    assert_eq!(f.store.community(owned.id).await.unwrap(), None);
    assert_eq!(f.store.channel(owned_general.id).await.unwrap(), None);
    assert_eq!(f.store.membership(other.id, ann).await.unwrap(), None);
    assert!(f.store.channels_of(ann).await.unwrap().is_empty());
    assert!(f.store.blocks_of(ann).await.unwrap().is_empty());
    assert_eq!(f.store.follow_of(bob, ann).await.unwrap(), None);
    assert!(f.store.following(ann, None, 10).await.unwrap().is_empty());
    assert_eq!(f.store.channel_members(dm.id).await.unwrap(), vec![bob]);
    // Others keep theirs.
    assert_eq!(
        f.store
            .community(other.id)
            .await
            .unwrap()
            .unwrap()
            .member_count,
        1
    );
}

// ---- the feed ----

fn item(
    f: &Fixture,
    owner: Id,
    privacy: ItemPrivacy,
    community: Option<Id>,
    at_ms: i64,
) -> NewItem {
    let id = f.id();
    NewItem {
        id,
        owner_id: owner,
        kind: if community.is_some() {
            ItemKind::Post
        } else {
            ItemKind::Workout
        },
        source_key: format!("test:{id}"),
        community_id: community,
        privacy,
        occurred_at: chrono::DateTime::from_timestamp_millis(at_ms).unwrap(),
        data: serde_json::json!({"n": at_ms}),
        version: 1,
    }
}

async fn feed_ids(f: &Fixture, viewer: Id, page: u32) -> Vec<Id> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let rows = f.store.feed(viewer, after, page).await.unwrap();
        let Some(last) = rows.last() else { break };
        after = Some(FeedPosition {
            occurred_at_ms: last.occurred_at.timestamp_millis(),
            id: last.id,
        });
        all.extend(rows.iter().map(|r| r.id));
    }
    all
}

async fn the_feed_shows_what_the_viewer_may_see_newest_first(db: Database) {
    let f = Fixture::new(db);
    let (ann, bob, cid, dan) = (f.id(), f.id(), f.id(), f.id());
    f.start(&f.follow(ann, bob, FollowStatus::Active)).await;
    f.start(&f.follow(ann, dan, FollowStatus::Pending)).await;
    let (mine, _) = f.community(cid, Visibility::Public).await;
    f.store
        .put_membership(&f.member(mine.id, ann, MemberStatus::Active), None)
        .await
        .unwrap();
    let (theirs, _) = f.community(cid, Visibility::InviteOnly).await;

    let bob_public = item(&f, bob, ItemPrivacy::Public, None, 1_000);
    let bob_followers = item(&f, bob, ItemPrivacy::Followers, None, 2_000);
    let bob_private = item(&f, bob, ItemPrivacy::Private, None, 3_000);
    let stranger = item(&f, cid, ItemPrivacy::Public, None, 4_000);
    let ann_private = item(&f, ann, ItemPrivacy::Private, None, 5_000);
    let post_here = item(&f, cid, ItemPrivacy::Community, Some(mine.id), 6_000);
    let post_there = item(&f, cid, ItemPrivacy::Community, Some(theirs.id), 7_000);
    let pending = item(&f, dan, ItemPrivacy::Public, None, 8_000);
    // Same instant as bob_followers: the id breaks the tie.
    let same_time = item(&f, bob, ItemPrivacy::Public, None, 2_000);
    for i in [
        &bob_public,
        &bob_followers,
        &bob_private,
        &stranger,
        &ann_private,
        &post_here,
        &post_there,
        &pending,
        &same_time,
    ] {
        f.store.put_item(None, i).await.unwrap();
    }

    let expected = vec![
        post_here.id,
        ann_private.id,
        same_time.id,
        bob_followers.id,
        bob_public.id,
    ];
    for page in [1, 2, 3, 50] {
        assert_eq!(feed_ids(&f, ann, page).await, expected, "page size {page}");
    }
    // Single items follow the same rule.
    assert!(f.store.item(ann, bob_followers.id).await.unwrap().is_some());
    assert!(f.store.item(ann, bob_private.id).await.unwrap().is_none());
    assert!(f.store.item(ann, post_there.id).await.unwrap().is_none());
    assert!(
        f.store.item(ann, stranger.id).await.unwrap().is_some(),
        "public items are seen by anyone, though only followers get them in the feed"
    );
    assert!(f.store.item(bob, bob_private.id).await.unwrap().is_some());
    // Someone who follows nobody sees their own only.
    assert!(feed_ids(&f, f.id(), 10).await.is_empty());

    // A block either way hides the blocked person's items at once.
    f.block(bob, ann).await;
    let after_block = feed_ids(&f, ann, 10).await;
    assert_eq!(after_block, vec![post_here.id, ann_private.id]);
    assert!(f.store.item(ann, bob_public.id).await.unwrap().is_none());

    // The community feed: its items, not private ones, without blocked people.
    let community = f
        .store
        .community_feed(mine.id, ann, None, 10)
        .await
        .unwrap();
    assert_eq!(
        community.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![post_here.id]
    );
}

async fn source_events_apply_once_newest_version_winning(db: Database) {
    let f = Fixture::new(db);
    let (ann, bob) = (f.id(), f.id());
    f.start(&f.follow(bob, ann, FollowStatus::Active)).await;
    let mut v1 = item(&f, ann, ItemPrivacy::Public, None, 1_000);
    v1.source_key = "workout:77".into();
    let (e1, e2, e3) = (f.id(), f.id(), f.id());
    assert_eq!(
        f.store.put_item(Some(("social", e1)), &v1).await.unwrap(),
        Applied::Done
    );
    assert_eq!(
        f.store.put_item(Some(("social", e1)), &v1).await.unwrap(),
        Applied::Nothing
    );
    let stored = f.store.item(ann, v1.id).await.unwrap().unwrap();

    // A newer version replaces the content and keeps the id.
    let mut v3 = v1.clone();
    v3.id = f.id();
    v3.version = 3;
    v3.privacy = ItemPrivacy::Private;
    v3.data = serde_json::json!({"n": 3});
    f.store.put_item(Some(("social", e3)), &v3).await.unwrap();
    // An older one arriving late changes nothing.
    let mut v2 = v1.clone();
    v2.id = f.id();
    v2.version = 2;
    v2.data = serde_json::json!({"n": 2});
    f.store.put_item(Some(("social", e2)), &v2).await.unwrap();
    let newest = f.store.item(ann, stored.id).await.unwrap().unwrap();
    assert_eq!(newest.data, serde_json::json!({"n": 3}));
    assert_eq!(newest.privacy, ItemPrivacy::Private);
    assert!(
        f.store.item(bob, stored.id).await.unwrap().is_none(),
        "now private"
    );

    // Kudos and comments go with a removed source, which stays removed.
    let kudos = f.id();
    let given = f.event(FOLLOW_STARTED, kudos, kudos);
    f.store
        .give_kudos(stored.id, bob, now(), &given)
        .await
        .unwrap();
    let given = f.event(FOLLOW_STARTED, kudos, kudos);
    let comment = Comment {
        id: f.id(),
        item_id: stored.id,
        author_id: bob,
        body: "nice".into(),
        created_at: now(),
    };
    f.store.add_comment(&comment, &given).await.unwrap();
    let gone = f.id();
    assert_eq!(
        f.store
            .remove_source("social", gone, "workout:77")
            .await
            .unwrap(),
        Applied::Done
    );
    assert_eq!(
        f.store
            .remove_source("social", gone, "workout:77")
            .await
            .unwrap(),
        Applied::Nothing
    );
    assert!(f.store.item(ann, stored.id).await.unwrap().is_none());
    assert_eq!(f.store.comment(comment.id).await.unwrap(), None);
    let mut v4 = v1.clone();
    v4.version = 4;
    f.store
        .put_item(Some(("social", f.id())), &v4)
        .await
        .unwrap();
    assert!(
        feed_ids(&f, ann, 10).await.is_empty(),
        "a removed source stays removed"
    );
}

async fn kudos_are_once_per_person_and_comments_keep_their_order(db: Database) {
    let f = Fixture::new(db);
    let (ann, bob, cy) = (f.id(), f.id(), f.id());
    let it = item(&f, ann, ItemPrivacy::Public, None, 1_000);
    f.store.put_item(None, &it).await.unwrap();
    let given = |who: Id| f.event(FOLLOW_STARTED, who, ann);
    assert!(f
        .store
        .give_kudos(it.id, bob, now(), &given(bob))
        .await
        .unwrap());
    assert!(!f
        .store
        .give_kudos(it.id, bob, now(), &given(bob))
        .await
        .unwrap());
    assert!(f
        .store
        .give_kudos(it.id, cy, now(), &given(cy))
        .await
        .unwrap());
    // One outbox event per kudos given, none for the repeat.
    assert_eq!(f.outbox().await.len(), 2);
    let seen = f.store.item(bob, it.id).await.unwrap().unwrap();
    assert_eq!((seen.kudos_count, seen.kudoed), (2, true));
    let owner_view = f.store.item(ann, it.id).await.unwrap().unwrap();
    assert!(!owner_view.kudoed);
    let page = f.store.kudos(it.id, None, 1).await.unwrap();
    let rest = f
        .store
        .kudos(it.id, Some(page[0].user_id), 10)
        .await
        .unwrap();
    let mut users: Vec<Id> = page.iter().chain(&rest).map(|k| k.user_id).collect();
    users.sort();
    let mut expected = vec![bob, cy];
    expected.sort();
    assert_eq!(users, expected);
    assert!(f.store.take_kudos(it.id, bob).await.unwrap());
    assert!(!f.store.take_kudos(it.id, bob).await.unwrap());
    assert_eq!(
        f.store.item(ann, it.id).await.unwrap().unwrap().kudos_count,
        1
    );

    let mut ids = Vec::new();
    for (n, who) in [bob, cy, bob].into_iter().enumerate() {
        let c = Comment {
            id: f.id(),
            item_id: it.id,
            author_id: who,
            body: format!("comment {n}"),
            created_at: now(),
        };
        f.store.add_comment(&c, &given(who)).await.unwrap();
        ids.push(c.id);
    }
    let first = f.store.comments(it.id, None, 2).await.unwrap();
    let second = f.store.comments(it.id, Some(first[1].id), 2).await.unwrap();
    let read: Vec<Id> = first.iter().chain(&second).map(|c| c.id).collect();
    assert_eq!(read, ids);
    assert_eq!(
        f.store
            .item(ann, it.id)
            .await
            .unwrap()
            .unwrap()
            .comment_count,
        3
    );
    assert!(f.store.delete_comment(ids[1]).await.unwrap());
    assert_eq!(f.store.comment(ids[1]).await.unwrap(), None);
    assert_eq!(
        f.store
            .item(ann, it.id)
            .await
            .unwrap()
            .unwrap()
            .comment_count,
        2
    );
    assert!(f.store.delete_item(it.id).await.unwrap());
    assert!(f.store.comments(it.id, None, 10).await.unwrap().is_empty());
}

async fn reports_are_once_per_reporter_and_resolve_together(db: Database) {
    let f = Fixture::new(db);
    let (community, channel, message, author) = (f.id(), f.id(), f.id(), f.id());
    let report = |reporter: Id, community: Option<Id>, message: Id| Report {
        id: f.id(),
        channel_id: channel,
        message_id: message,
        community_id: community,
        author_id: author,
        reporter_id: reporter,
        reason: "spam".into(),
        status: ReportStatus::Open,
        created_at: now(),
        resolved_by: None,
        resolved_at: None,
    };
    let (ann, bob) = (f.id(), f.id());
    let first = f
        .store
        .report(&report(ann, Some(community), message))
        .await
        .unwrap();
    let again = f
        .store
        .report(&report(ann, Some(community), message))
        .await
        .unwrap();
    assert_eq!(first, again, "one report per reporter and message");
    let second = f
        .store
        .report(&report(bob, Some(community), message))
        .await
        .unwrap();
    let private = f.store.report(&report(ann, None, f.id())).await.unwrap();

    let open = f
        .store
        .reports(Some(community), ReportStatus::Open, None, 10)
        .await
        .unwrap();
    assert_eq!(open, vec![first.clone(), second.clone()]);
    let page = f
        .store
        .reports(Some(community), ReportStatus::Open, Some(first.id), 10)
        .await
        .unwrap();
    assert_eq!(page, vec![second.clone()]);
    assert_eq!(
        f.store
            .reports(None, ReportStatus::Open, None, 10)
            .await
            .unwrap(),
        vec![private.clone()]
    );

    let moderator = f.id();
    let done = f
        .store
        .resolve_reports(message, ReportStatus::Removed, moderator, now())
        .await
        .unwrap();
    assert_eq!(done, 2);
    assert!(f
        .store
        .reports(Some(community), ReportStatus::Open, None, 10)
        .await
        .unwrap()
        .is_empty());
    let resolved = f.store.report_by_id(first.id).await.unwrap().unwrap();
    assert_eq!(resolved.status, ReportStatus::Removed);
    assert_eq!(resolved.resolved_by, Some(moderator));
    assert_eq!(
        f.store
            .resolve_reports(message, ReportStatus::Dismissed, moderator, now())
            .await
            .unwrap(),
        0,
        "only open reports resolve"
    );
}

async fn an_erased_user_s_feed_kudos_and_comments_go(db: Database) {
    let f = Fixture::new(db);
    let (ann, bob) = (f.id(), f.id());
    f.start(&f.follow(bob, ann, FollowStatus::Active)).await;
    let anns = item(&f, ann, ItemPrivacy::Public, None, 1_000);
    let bobs = item(&f, bob, ItemPrivacy::Public, None, 2_000);
    f.store.put_item(None, &anns).await.unwrap();
    f.store.put_item(None, &bobs).await.unwrap();
    let e = f.event(FOLLOW_STARTED, ann, bob);
    f.store.give_kudos(bobs.id, ann, now(), &e).await.unwrap();
    let e = f.event(FOLLOW_STARTED, ann, bob);
    let c = Comment {
        id: f.id(),
        item_id: bobs.id,
        author_id: ann,
        body: "hi".into(),
        created_at: now(),
    };
    f.store.add_comment(&c, &e).await.unwrap();

    // What the export reads, one person's rows at a time.
    let items = f.store.items_of(ann, None, 10).await.unwrap();
    assert_eq!(
        items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![anns.id]
    );
    assert!(f
        .store
        .items_of(ann, Some(anns.id), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        f.store.comments_by(ann, None, 10).await.unwrap(),
        vec![c.clone()]
    );
    let kudos = f.store.kudos_by(ann, None, 10).await.unwrap();
    assert_eq!(
        kudos.iter().map(|k| k.item_id).collect::<Vec<_>>(),
        vec![bobs.id]
    );
    assert!(f.store.kudos_by(bob, None, 10).await.unwrap().is_empty());
    let (club, _) = f.community(bob, Visibility::Public).await;
    f.store
        .put_membership(&f.member(club.id, ann, MemberStatus::Invited), None)
        .await
        .unwrap();
    let memberships = f.store.memberships_of(ann).await.unwrap();
    assert_eq!(
        memberships
            .iter()
            .map(|m| (m.community_id, m.status))
            .collect::<Vec<_>>(),
        vec![(club.id, MemberStatus::Invited)]
    );

    assert!(f.store.erase_user("social", f.id(), ann).await.unwrap());
    assert!(f.store.item(bob, anns.id).await.unwrap().is_none());
    assert!(f.store.memberships_of(ann).await.unwrap().is_empty());
    // A late event of the erased user (another stream) brings nothing back.
    let mut late = item(&f, ann, ItemPrivacy::Public, None, 3_000);
    late.source_key = "workout:late".into();
    f.store
        .put_item(Some(("social", f.id())), &late)
        .await
        .unwrap();
    assert!(f.store.items_of(ann, None, 10).await.unwrap().is_empty());
    let left = f.store.item(bob, bobs.id).await.unwrap().unwrap();
    assert_eq!((left.kudos_count, left.comment_count), (0, 0));
}

async fn the_newest_privacy_event_of_a_user_wins(db: Database) {
    let f = Fixture::new(db);
    let ann = f.id();
    assert_eq!(f.store.profile_visibility(ann).await.unwrap(), None);
    let (older, newer) = (f.id(), f.id());
    assert!(f
        .store
        .set_profile_visibility("social", newer, ann, "private")
        .await
        .unwrap());
    assert!(!f
        .store
        .set_profile_visibility("social", newer, ann, "private")
        .await
        .unwrap());
    // An older event arriving late is marked processed but changes nothing.
    assert!(f
        .store
        .set_profile_visibility("social", older, ann, "public")
        .await
        .unwrap());
    assert_eq!(
        f.store.profile_visibility(ann).await.unwrap().as_deref(),
        Some("private")
    );
    f.store.erase_user("social", f.id(), ann).await.unwrap();
    assert_eq!(f.store.profile_visibility(ann).await.unwrap(), None);
}

vigor_common::sql_conformance!(
    Some(&crate::MIGRATIONS);
    a_community_keeps_its_members_and_channels,
    a_ban_ends_the_membership_until_lifted,
    a_pair_has_one_direct_channel_even_when_both_ask_at_once,
    group_chats_keep_their_members,
    follows_are_one_per_pair_and_blocks_end_them_both_ways,
    the_audit_log_reads_newest_first,
    an_erased_user_leaves_nothing_behind,
    the_feed_shows_what_the_viewer_may_see_newest_first,
    source_events_apply_once_newest_version_winning,
    kudos_are_once_per_person_and_comments_keep_their_order,
    reports_are_once_per_reporter_and_resolve_together,
    an_erased_user_s_feed_kudos_and_comments_go,
    the_newest_privacy_event_of_a_user_wins,
);
