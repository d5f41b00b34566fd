//! The feed: items from training's and gamification's events and from community
//! posts, read by followers and members; kudos and comments with pushes to the
//! item's owner.
//!
//! # Fan-out on read
//!
//! The feed is assembled when it is read: one indexed query over the items of
//! the people the reader follows, of the communities they are in and their own
//! (`FeedStore::feed`), filtered by the one visibility rule. We chose this over
//! fan-out on write (copying each item into every follower's inbox) because:
//!
//! - every change to who may see what takes effect at once and everywhere: an
//!   unfollow, a block, a workout made private, a member leaving a community, a
//!   deleted account — with inboxes each of these would have to rewrite or
//!   filter copies, and a missed one leaks a private item;
//! - a write costs one row whatever the owner's follower count (no celebrity
//!   problem, no backlog after a popular athlete logs a run), and a new item
//!   shows up in every follower's next read at once;
//! - the reads stay cheap at the sizes a fitness community has (following
//!   hundreds, not millions): the query walks `(owner_id, occurred_at, id)` and
//!   `(community_id, occurred_at, id)` indexes newest first and stops at the
//!   page size.
//!
//! If following lists grow to tens of thousands, the next step is a hybrid:
//! fan-out on write for ordinary owners into bounded inboxes, read-time merge for
//! the few with huge audiences — the API and the visibility rule stay the same.
//!
//! The feed is ordered by when things happened (a workout's start), newest
//! first, with a keyset cursor `(occurred_at, id)`, so a back-dated import lands
//! where it belongs and pages never skip or repeat when new items arrive.

use chrono::Utc;
use serde_json::{json, Value};
use vigor_common::api::{Cursor, Keyset, Page, Timestamp};
use vigor_common::events::{
    AchievementUnlocked, ChallengeCompleted, CommentAdded, KudosGiven, LevelUp, WorkoutDeleted,
    WorkoutWritten, COMMENT_ADDED, KUDOS_GIVEN,
};
use vigor_common::{Id, Problem};

use super::{no_community, SocialService};
use crate::domain::{Role, Visibility};
use crate::feed::{
    Comment, CommentBody, FeedItem, ItemKind, ItemPrivacy, Kudos, NewItem, PostBody,
};
use crate::store::{Applied, FeedPosition};

/// The feed's pages (the home feed and community feeds): keyed by the item's
/// time in Unix milliseconds.
pub const FEED_PAGES: Keyset<i64> = Keyset::new("social.feed");
/// Pages of an item's kudos and comments: by id.
pub const ITEM_PAGES: Keyset<()> = Keyset::new("social.item_pages");

/// The hub event, on the owner's `user:{id}`, of kudos given to their item
/// (data: `item_id`, `user_id`, `kudos_count`).
pub const FEED_KUDOS: &str = "feed.kudos";
/// The hub event, on the owner's `user:{id}`, of a comment on their item (data:
/// the comment).
pub const FEED_COMMENT: &str = "feed.comment";

fn no_item() -> Problem {
    Problem::not_found("no such feed item")
}

fn position(cursor: Option<Cursor<i64>>) -> Option<FeedPosition> {
    cursor.map(|c| FeedPosition {
        occurred_at_ms: c.key,
        id: c.id,
    })
}

fn feed_page(rows: Vec<FeedItem>, limit: u32) -> Page<FeedItem> {
    FEED_PAGES.page(rows, limit, |item| {
        Cursor::new(item.occurred_at.timestamp_millis(), item.id)
    })
}

/// What a workout item shows: the numbers of the event, not the sets.
fn workout_data(w: &WorkoutWritten) -> Value {
    json!({
        "workout_id": w.workout_id,
        "sport": w.sport,
        "started_at": w.started_at,
        "ended_at": w.ended_at,
        "duration_s": w.duration_s,
        "moving_time_s": w.moving_time_s,
        "distance_m": w.distance_m,
        "elevation_gain_m": w.elevation_gain_m,
        "volume_kg": w.volume_kg,
        "working_sets": w.working_sets,
        "personal_records": w.personal_records.len(),
    })
}

impl SocialService {
    // ---- consuming events ----

    /// `workout.logged` / `workout.updated`: the workout's item, newest version
    /// winning.
    pub async fn apply_workout(
        &self,
        group: &str,
        event: Id,
        w: &WorkoutWritten,
    ) -> Result<Applied, Problem> {
        let item = NewItem {
            id: self.ids.next_id(),
            owner_id: w.user_id,
            kind: ItemKind::Workout,
            source_key: format!("workout:{}", w.workout_id),
            community_id: None,
            privacy: ItemPrivacy::of_workout(&w.privacy),
            occurred_at: w.started_at,
            data: workout_data(w),
            version: w.version,
        };
        Ok(self.feed.put_item(Some((group, event)), &item).await?)
    }

    /// `workout.deleted`: its item goes, with kudos and comments.
    pub async fn remove_workout(
        &self,
        group: &str,
        event: Id,
        w: &WorkoutDeleted,
    ) -> Result<Applied, Problem> {
        let key = format!("workout:{}", w.workout_id);
        Ok(self.feed.remove_source(group, event, &key).await?)
    }

    /// An event of gamification as an item of its user, visible to followers.
    async fn put_event_item(
        &self,
        group: &str,
        event: Id,
        (owner, kind, key): (Id, ItemKind, String),
        community: Option<Id>,
        at: Timestamp,
        data: Value,
    ) -> Result<Applied, Problem> {
        let item = NewItem {
            id: self.ids.next_id(),
            owner_id: owner,
            kind,
            source_key: key,
            community_id: community,
            privacy: ItemPrivacy::Followers,
            occurred_at: at,
            data,
            version: 1,
        };
        Ok(self.feed.put_item(Some((group, event)), &item).await?)
    }

    /// `gamification.achievement_unlocked`.
    pub async fn apply_achievement(
        &self,
        group: &str,
        event: Id,
        a: &AchievementUnlocked,
    ) -> Result<Applied, Problem> {
        let key = format!("achievement:{}:{}:{}", a.user_id, a.achievement, a.tier);
        let data = json!({"achievement": a.achievement, "name": a.name, "tier": a.tier, "points": a.points});
        self.put_event_item(
            group,
            event,
            (a.user_id, ItemKind::Achievement, key),
            None,
            a.unlocked_at,
            data,
        )
        .await
    }

    /// `gamification.level_up`.
    pub async fn apply_level(
        &self,
        group: &str,
        event: Id,
        l: &LevelUp,
    ) -> Result<Applied, Problem> {
        let key = format!("level:{}:{}", l.user_id, l.level);
        let data = json!({"level": l.level, "xp": l.xp});
        self.put_event_item(
            group,
            event,
            (l.user_id, ItemKind::Level, key),
            None,
            l.at,
            data,
        )
        .await
    }

    /// `gamification.challenge_completed`: also in its community's feed.
    pub async fn apply_challenge(
        &self,
        group: &str,
        event: Id,
        c: &ChallengeCompleted,
    ) -> Result<Applied, Problem> {
        let key = format!("challenge:{}:{}", c.user_id, c.challenge_id);
        let data = json!({"challenge_id": c.challenge_id, "name": c.name});
        self.put_event_item(
            group,
            event,
            (c.user_id, ItemKind::Challenge, key),
            c.community_id,
            c.completed_at,
            data,
        )
        .await
    }

    /// `user.deleted`: everything of the user goes (see
    /// [`crate::store::SocialStore::erase_user`]); `false` when done before.
    pub async fn erase_user(&self, group: &str, event: Id, user: Id) -> Result<bool, Problem> {
        Ok(self.store.erase_user(group, event, user).await?)
    }

    // ---- reading ----

    /// A page of `viewer`'s feed after `cursor`.
    pub async fn feed(
        &self,
        viewer: Id,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<FeedItem>, Problem> {
        let after = position(FEED_PAGES.parse(cursor)?);
        let rows = self.feed.feed(viewer, after, limit + 1).await?;
        Ok(feed_page(rows, limit))
    }

    /// A page of a community's feed: anyone signed in for a public community,
    /// members for an invite-only one (others: 404).
    pub async fn community_feed(
        &self,
        viewer: Id,
        community: Id,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<FeedItem>, Problem> {
        let found = self.community(community).await?;
        if found.visibility != Visibility::Public
            && self.active_member(community, viewer).await?.is_none()
        {
            return Err(no_community());
        }
        let after = position(FEED_PAGES.parse(cursor)?);
        let rows = self
            .feed
            .community_feed(community, viewer, after, limit + 1)
            .await?;
        Ok(feed_page(rows, limit))
    }

    /// One item, if `viewer` may see it (else 404).
    pub async fn feed_item(&self, viewer: Id, id: Id) -> Result<FeedItem, Problem> {
        self.feed.item(viewer, id).await?.ok_or_else(no_item)
    }

    // ---- posts ----

    /// A member posts in a community (muted members cannot).
    pub async fn post(
        &self,
        author: Id,
        community: Id,
        body: PostBody,
    ) -> Result<FeedItem, Problem> {
        let member = self
            .active_member(community, author)
            .await?
            .ok_or_else(no_community)?;
        if !member.may_write(Utc::now()) {
            return Err(Problem::forbidden("you are muted in this community"));
        }
        self.take_send_token(author)?;
        let id = self.ids.next_id();
        let item = NewItem {
            id,
            owner_id: author,
            kind: ItemKind::Post,
            source_key: format!("post:{id}"),
            community_id: Some(community),
            privacy: ItemPrivacy::Community,
            occurred_at: Utc::now(),
            data: json!({"body": body.as_str()}),
            version: 1,
        };
        self.feed.put_item(None, &item).await?;
        self.feed_item(author, id).await
    }

    /// Deletes a post: its author, or a moderator of its community. Other items
    /// go with what they show (a workout, an account).
    pub async fn delete_item(&self, caller: Id, id: Id) -> Result<(), Problem> {
        let item = self.feed_item(caller, id).await?;
        if item.kind != ItemKind::Post {
            return Err(Problem::conflict(
                "only posts are deleted here; other items go with what they show",
            ));
        }
        if item.owner_id != caller {
            let community = item.community_id.ok_or_else(no_item)?;
            self.require_role(community, caller, Role::Moderator)
                .await?;
            self.audit(
                community,
                caller,
                "post.removed",
                Some(item.owner_id),
                id.to_string(),
            )
            .await?;
        }
        self.feed.delete_item(id).await?;
        Ok(())
    }

    // ---- kudos and comments ----

    /// Gives kudos (once; not to one's own item). Returns the item and whether
    /// they were given now; the owner hears of it on `user:{id}`.
    pub async fn give_kudos(&self, caller: Id, id: Id) -> Result<(FeedItem, bool), Problem> {
        let item = self.feed_item(caller, id).await?;
        if item.owner_id == caller {
            return Err(Problem::invalid_field(
                "item_id",
                "you cannot give kudos to your own item",
            ));
        }
        let given = KUDOS_GIVEN.event(
            &self.ids,
            &KudosGiven {
                item_id: id,
                item_kind: item.kind.as_str().to_owned(),
                owner_id: item.owner_id,
                giver_id: caller,
            },
        );
        let now = self.feed.give_kudos(id, caller, Utc::now(), &given).await?;
        let item = self.feed_item(caller, id).await?;
        if now {
            self.committed();
            self.notify(
                item.owner_id,
                FEED_KUDOS,
                json!({"item_id": id, "user_id": caller, "kudos_count": item.kudos_count}),
            )
            .await;
        }
        Ok((item, now))
    }

    /// Takes kudos back (idempotent).
    pub async fn take_kudos(&self, caller: Id, id: Id) -> Result<(), Problem> {
        self.feed_item(caller, id).await?;
        self.feed.take_kudos(id, caller).await?;
        Ok(())
    }

    /// Who gave kudos to an item.
    pub async fn kudos(
        &self,
        viewer: Id,
        id: Id,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Kudos>, Problem> {
        self.feed_item(viewer, id).await?;
        let after = ITEM_PAGES.parse(cursor)?.map(|c| c.id);
        let rows = self.feed.kudos(id, after, limit + 1).await?;
        Ok(ITEM_PAGES.page(rows, limit, |k| Cursor::new((), k.user_id)))
    }

    /// Comments on an item; its owner hears of it on `user:{id}`.
    pub async fn add_comment(
        &self,
        author: Id,
        id: Id,
        body: CommentBody,
    ) -> Result<Comment, Problem> {
        let item = self.feed_item(author, id).await?;
        self.take_send_token(author)?;
        let comment = Comment {
            id: self.ids.next_id(),
            item_id: id,
            author_id: author,
            body: body.as_str().to_owned(),
            created_at: Utc::now(),
        };
        let added = COMMENT_ADDED.event(
            &self.ids,
            &CommentAdded {
                comment_id: comment.id,
                item_id: id,
                item_kind: item.kind.as_str().to_owned(),
                owner_id: item.owner_id,
                author_id: author,
            },
        );
        self.feed.add_comment(&comment, &added).await?;
        self.committed();
        if item.owner_id != author {
            let data = serde_json::to_value(&comment).map_err(Problem::internal)?;
            self.notify(item.owner_id, FEED_COMMENT, data).await;
        }
        Ok(comment)
    }

    /// An item's comments, oldest first.
    pub async fn comments(
        &self,
        viewer: Id,
        id: Id,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Comment>, Problem> {
        self.feed_item(viewer, id).await?;
        let after = ITEM_PAGES.parse(cursor)?.map(|c| c.id);
        let rows = self.feed.comments(id, after, limit + 1).await?;
        Ok(ITEM_PAGES.page(rows, limit, |c| Cursor::new((), c.id)))
    }

    /// Deletes a comment: its author or the item's owner.
    pub async fn delete_comment(&self, caller: Id, id: Id, comment: Id) -> Result<(), Problem> {
        let item = self.feed_item(caller, id).await?;
        let found = self
            .feed
            .comment(comment)
            .await?
            .filter(|c| c.item_id == id)
            .ok_or_else(|| Problem::not_found("no such comment"))?;
        if found.author_id != caller && item.owner_id != caller {
            return Err(Problem::forbidden(
                "only its author or the item's owner can delete a comment",
            ));
        }
        self.feed.delete_comment(comment).await?;
        Ok(())
    }

    /// Pushes `event` to `user:{user}`; a failed push is logged, not returned:
    /// what it tells is stored and read again on the next fetch.
    pub(super) async fn notify(&self, user: Id, event: &str, data: Value) {
        if let Err(error) = self
            .live
            .publish(&format!("user:{user}"), event, &data)
            .await
        {
            tracing::warn!(%user, event, %error, "a live notice could not be pushed");
        }
    }
}
