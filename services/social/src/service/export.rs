//! The social part of the account export (`GET /v1/social/me/export`, joined
//! into `GET /v1/users/me/export`): everything social keeps about the caller
//! that is theirs — the follow graph around them, their blocks and memberships,
//! their feed items, the comments, kudos and reports they made, and the chat
//! messages they wrote in the channels they are in.

use std::future::Future;

use chrono::Utc;
use serde::Serialize;
use vigor_common::api::Timestamp;
use vigor_common::{Id, Problem};

use super::SocialService;
use crate::domain::{Follow, FollowStatus, Membership};
use crate::feed::{Comment, FeedItem, GivenKudos, Report};
use crate::messages::{HistoryQuery, Message, Position};
use crate::store::StoreError;

/// Rows read per store call while exporting.
const PAGE: u32 = 500;
/// Messages read per history page while exporting (the store's largest page).
const HISTORY_PAGE: u32 = 100;

/// The caller's social data.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SocialExport {
    /// Whose.
    pub user_id: Id,
    /// When it was gathered.
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: Timestamp,
    /// Whom they follow.
    pub following: Vec<Follow>,
    /// Who follows them.
    pub followers: Vec<Follow>,
    /// Who asks to follow them.
    pub follow_requests: Vec<Follow>,
    /// Whom they block.
    pub blocks: Vec<Id>,
    /// Their community memberships, requests and invitations.
    pub memberships: Vec<Membership>,
    /// Their feed items (workouts, achievements, posts, …) with counts.
    pub items: Vec<FeedItem>,
    /// The comments they wrote.
    pub comments: Vec<Comment>,
    /// The kudos they gave.
    pub kudos: Vec<GivenKudos>,
    /// The messages they reported.
    pub reports: Vec<Report>,
    /// The chat messages they wrote, in the channels they are in.
    pub messages: Vec<Message>,
}

/// Every row of a list read `PAGE` at a time, each page resuming after the id
/// `key` gives of the last row.
async fn all_pages<T, F, Fut>(key: fn(&T) -> Id, mut fetch: F) -> Result<Vec<T>, StoreError>
where
    F: FnMut(Option<Id>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(after).await?;
        let full = page.len() == PAGE as usize;
        after = page.last().map(key);
        rows.extend(page);
        if !full {
            return Ok(rows);
        }
    }
}

impl SocialService {
    /// The caller's social data (see the module docs).
    pub async fn export(&self, user: Id) -> Result<SocialExport, Problem> {
        let (store, feed) = (&self.store, &self.feed);
        let following = all_pages(
            |f: &Follow| f.followee_id,
            |after| store.following(user, after, PAGE),
        )
        .await?;
        let followers = all_pages(
            |f: &Follow| f.follower_id,
            |after| store.followers(user, FollowStatus::Active, after, PAGE),
        )
        .await?;
        let follow_requests = all_pages(
            |f: &Follow| f.follower_id,
            |after| store.followers(user, FollowStatus::Pending, after, PAGE),
        )
        .await?;
        let items = all_pages(
            |i: &FeedItem| i.id,
            |after| feed.items_of(user, after, PAGE),
        )
        .await?;
        let comments = all_pages(
            |c: &Comment| c.id,
            |after| feed.comments_by(user, after, PAGE),
        )
        .await?;
        let kudos = all_pages(
            |k: &GivenKudos| k.item_id,
            |after| feed.kudos_by(user, after, PAGE),
        )
        .await?;
        let reports = all_pages(
            |r: &Report| r.id,
            |after| feed.reports_by(user, after, PAGE),
        )
        .await?;
        Ok(SocialExport {
            user_id: user,
            exported_at: Utc::now(),
            following,
            followers,
            follow_requests,
            blocks: store.blocks_of(user).await?,
            memberships: store.memberships_of(user).await?,
            items,
            comments,
            kudos,
            reports,
            messages: self.messages_written_by(user).await?,
        })
    }

    /// The messages `user` wrote in the channels they are in, oldest channel
    /// first, each channel newest first: a walk of each channel's history (the
    /// message store is keyed by channel, not by author).
    async fn messages_written_by(&self, user: Id) -> Result<Vec<Message>, Problem> {
        let mut written = Vec::new();
        for channel in self.store.channels_of(user).await? {
            let mut query = HistoryQuery::latest(HISTORY_PAGE);
            loop {
                let page = self.messages.history(channel.id, query).await?;
                written.extend(page.items.iter().filter(|m| m.author_id == user).cloned());
                match (page.next_cursor, page.items.last()) {
                    (Some(_), Some(oldest)) => {
                        query = HistoryQuery {
                            position: Position::Before(oldest.id),
                            limit: HISTORY_PAGE,
                        }
                    }
                    _ => break,
                }
            }
        }
        Ok(written)
    }
}
