//! The feed's and the reports queue's types: feed items (a workout, an
//! achievement, a level, a completed challenge or a community post), their kudos
//! and comments, and reported messages. Text from clients is parsed into them at
//! the edge ([`PostBody::parse`], [`CommentBody::parse`], [`ReportReason::parse`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vigor_common::api::Timestamp;
use vigor_common::Id;

use crate::domain::text_enum;

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Longest community post, in characters.
pub const MAX_POST_CHARS: usize = 4000;
/// Longest report reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// What a feed item shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A logged workout (from training's events).
    Workout,
    /// An achievement earned (from gamification's events).
    Achievement,
    /// A level reached (from gamification's events).
    Level,
    /// A challenge completed (from gamification's events).
    Challenge,
    /// A post in a community.
    Post,
}

/// Who sees a feed item besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemPrivacy {
    /// Anyone signed in who is not blocked; in the feed of followers.
    Public,
    /// Followers (and, for a community challenge, the community's members).
    Followers,
    /// The members of the item's community (posts).
    Community,
    /// Only the owner.
    Private,
}

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Waiting for a moderator.
    Open,
    /// A moderator found nothing to do.
    Dismissed,
    /// A moderator removed the message.
    Removed,
}

text_enum!(ItemKind {
    Workout => "workout",
    Achievement => "achievement",
    Level => "level",
    Challenge => "challenge",
    Post => "post",
});
text_enum!(ItemPrivacy {
    Public => "public",
    Followers => "followers",
    Community => "community",
    Private => "private",
});
text_enum!(ReportStatus {
    Open => "open",
    Dismissed => "dismissed",
    Removed => "removed",
});

impl ItemPrivacy {
    /// A workout's privacy as training spells it; a name this version does not
    /// know is taken as the strictest.
    pub fn of_workout(text: &str) -> ItemPrivacy {
        match text {
            "public" => ItemPrivacy::Public,
            "followers" => ItemPrivacy::Followers,
            _ => ItemPrivacy::Private,
        }
    }
}

/// A feed item as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// Its id (time-ordered; given when it is first stored).
    pub id: Id,
    /// Whose it is.
    pub owner_id: Id,
    /// What it shows.
    pub kind: ItemKind,
    /// What it is of (`workout:{id}`, `achievement:{user}:{key}:{tier}`,
    /// `post:{id}`): one item per source.
    pub source_key: String,
    /// Its community (posts, community challenges).
    pub community_id: Option<Id>,
    /// Who sees it.
    pub privacy: ItemPrivacy,
    /// When it happened (a workout's start): the feed's order.
    pub occurred_at: Timestamp,
    /// What it shows, by kind (a workout's numbers, an achievement's name, a
    /// post's body).
    pub data: Value,
    /// The source's version: an older version never replaces a newer one.
    pub version: i64,
}

/// A feed item as a viewer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedItem {
    /// Its id.
    pub id: Id,
    /// Whose it is.
    pub owner_id: Id,
    /// What it shows.
    pub kind: ItemKind,
    /// Its community, if any.
    pub community_id: Option<Id>,
    /// Who sees it.
    pub privacy: ItemPrivacy,
    /// When it happened.
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: Timestamp,
    /// What it shows, by kind: a workout's `workout_id`, `sport`, `duration_s`,
    /// `distance_m`, `volume_kg`, …; an achievement's `achievement`, `name`,
    /// `tier`; a level's `level`; a challenge's `challenge_id` and `name`; a
    /// post's `body`.
    #[schema(value_type = Object)]
    pub data: Value,
    /// How many gave kudos.
    pub kudos_count: u64,
    /// How many comments it has.
    pub comment_count: u64,
    /// Whether the viewer gave kudos.
    pub kudoed: bool,
}

/// A comment on a feed item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Comment {
    /// Its id.
    pub id: Id,
    /// The item.
    pub item_id: Id,
    /// Who wrote it.
    pub author_id: Id,
    /// The text.
    pub body: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// Kudos one person gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Kudos {
    /// Who gave them.
    pub user_id: Id,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// Kudos given, as the giver's export lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GivenKudos {
    /// The item.
    pub item_id: Id,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A reported message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// Its id.
    pub id: Id,
    /// The channel of the message.
    pub channel_id: Id,
    /// The message.
    pub message_id: Id,
    /// The community of a community channel; none for direct and group chats,
    /// whose reports go to platform admins.
    pub community_id: Option<Id>,
    /// Who wrote the message.
    pub author_id: Id,
    /// Who reported it.
    pub reporter_id: Id,
    /// Why.
    pub reason: String,
    /// Where it stands.
    pub status: ReportStatus,
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Who resolved it.
    pub resolved_by: Option<Id>,
    /// When.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
}

fn text(
    raw: &str,
    max: usize,
    empty_ok: bool,
    too_long: &'static str,
) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    if trimmed.is_empty() && !empty_ok {
        Err("must not be empty")
    } else if trimmed.chars().count() > max {
        Err(too_long)
    } else if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        Err("must not contain control characters other than newlines and tabs")
    } else {
        Ok(trimmed.to_owned())
    }
}

/// A comment's text: 1 to [`MAX_COMMENT_CHARS`] characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

impl CommentBody {
    /// `raw` as a comment, or why not.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        text(
            raw,
            MAX_COMMENT_CHARS,
            false,
            "must be at most 2000 characters",
        )
        .map(CommentBody)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A community post's text: 1 to [`MAX_POST_CHARS`] characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostBody(String);

impl PostBody {
    /// `raw` as a post, or why not.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        text(
            raw,
            MAX_POST_CHARS,
            false,
            "must be at most 4000 characters",
        )
        .map(PostBody)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a message is reported: up to [`MAX_REASON_CHARS`] characters (may be
/// empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportReason(String);

impl ReportReason {
    /// `raw` as a reason, or why not.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        text(
            raw,
            MAX_REASON_CHARS,
            true,
            "must be at most 500 characters",
        )
        .map(ReportReason)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(
            CommentBody::parse("  nice run \n").unwrap().as_str(),
            "nice run"
        );
        assert!(CommentBody::parse("   ").is_err());
        assert!(CommentBody::parse(&"x".repeat(MAX_COMMENT_CHARS + 1)).is_err());
        assert!(CommentBody::parse(&"ж".repeat(MAX_COMMENT_CHARS)).is_ok());
        assert!(PostBody::parse("a\u{7}b").is_err());
        assert!(PostBody::parse("line one\nline two").is_ok());
        assert_eq!(ReportReason::parse("").unwrap().as_str(), "");
        assert!(ReportReason::parse(&"x".repeat(MAX_REASON_CHARS + 1)).is_err());
    }

    #[test]
    fn stored_names_round_trip_and_unknown_privacy_is_private() {
        for kind in [
            ItemKind::Workout,
            ItemKind::Achievement,
            ItemKind::Level,
            ItemKind::Challenge,
            ItemKind::Post,
        ] {
            assert_eq!(ItemKind::from_stored(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(ItemPrivacy::of_workout("followers"), ItemPrivacy::Followers);
        assert_eq!(ItemPrivacy::of_workout("friends"), ItemPrivacy::Private);
        assert_eq!(
            ReportStatus::from_stored("removed"),
            Some(ReportStatus::Removed)
        );
    }
}
