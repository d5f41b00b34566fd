//! The social service's types: communities and their members, chat channels, and
//! the follow graph. Each holds only valid values; text from clients is parsed into
//! them at the edge ([`CommunityName::parse`], [`Visibility`] by serde).

use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::Id;

/// Most members of a group chat (the creator included).
pub const MAX_GROUP_MEMBERS: usize = 50;
/// Longest community name, in characters.
pub const MAX_NAME_CHARS: usize = 80;
/// Longest community description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// The channel every community starts with.
pub const GENERAL: &str = "general";

/// Who may join a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone may join at once.
    Public,
    /// People join by invitation, or ask and are approved by an admin.
    InviteOnly,
}

/// A member's role, weakest first: each can do what the ones before it can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = CommunityRole)]
pub enum Role {
    /// Reads and writes in the channels.
    Member,
    /// Also removes messages, mutes and bans members, handles reports.
    Moderator,
    /// Also edits the community, makes channels, approves and invites, sets roles
    /// below admin.
    Admin,
    /// The one who made it: everything, including deleting it and naming admins.
    Owner,
}

/// Where a person stands with a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// A member.
    Active,
    /// Asked to join an invite-only community; an admin decides.
    Requested,
    /// Invited by an admin; joining accepts.
    Invited,
}

/// What kind of chat a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A channel of a community: its members are the community's.
    Community,
    /// A direct conversation of two people, one per pair.
    Dm,
    /// A group chat of up to [`MAX_GROUP_MEMBERS`] people.
    Group,
}

/// Where a follow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowStatus {
    /// Following.
    Active,
    /// Waiting for the approval of a private profile.
    Pending,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The stored and JSON spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text,)+
                }
            }

            /// The value of a stored spelling.
            pub fn from_stored(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use text_enum;

text_enum!(Visibility { Public => "public", InviteOnly => "invite_only" });
text_enum!(Role { Member => "member", Moderator => "moderator", Admin => "admin", Owner => "owner" });
text_enum!(MemberStatus { Active => "active", Requested => "requested", Invited => "invited" });
text_enum!(ChannelKind { Community => "community", Dm => "dm", Group => "group" });
text_enum!(FollowStatus { Active => "active", Pending => "pending" });

/// A community's name: 1 to [`MAX_NAME_CHARS`] characters, not only whitespace
/// (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityName(String);

impl CommunityName {
    /// `text` as a name, or why not.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        if text.is_empty() {
            Err("must not be empty")
        } else if text.chars().count() > MAX_NAME_CHARS {
            Err("must be at most 80 characters")
        } else if text.chars().any(char::is_control) {
            Err("must not contain control characters")
        } else {
            Ok(CommunityName(text.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A channel name in a community: 1 to 40 characters of lowercase letters,
/// digits, `-` and `_` (like `general`, `long-runs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelName(String);

impl ChannelName {
    /// `text` as a channel name, or why not.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let ok = (1..=40).contains(&text.chars().count())
            && text
                .chars()
                .all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(ChannelName(text.to_owned()))
        } else {
            Err("must be 1 to 40 lowercase letters, digits, '-' or '_'")
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A community.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Community {
    /// Its id.
    pub id: Id,
    /// Its name.
    pub name: String,
    /// What it is about.
    pub description: String,
    /// Who may join.
    pub visibility: Visibility,
    /// Who made it (and owns it).
    pub owner_id: Id,
    /// Active members.
    pub member_count: u64,
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// A person's place in a community.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Membership {
    /// The community.
    pub community_id: Id,
    /// The person.
    pub user_id: Id,
    /// Their role.
    pub role: Role,
    /// Member, asked to join, or invited.
    pub status: MemberStatus,
    /// Muted (may read, not write) until then.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub muted_until: Option<Timestamp>,
    /// Since when (joined, asked or was invited).
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

impl Membership {
    /// Whether they are a member (not only asking or invited).
    pub fn is_active(&self) -> bool {
        self.status == MemberStatus::Active
    }

    /// Whether they may write at `now` (an active member, not muted).
    pub fn may_write(&self, now: Timestamp) -> bool {
        self.is_active() && self.muted_until.is_none_or(|until| until <= now)
    }
}

/// A ban from a community.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ban {
    /// The community.
    pub community_id: Id,
    /// Who is banned.
    pub user_id: Id,
    /// Until when; `None` until lifted.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
    /// The moderator who banned them.
    pub banned_by: Id,
    /// Why, in the moderator's words.
    pub reason: String,
}

impl Ban {
    /// Whether the ban holds at `now`.
    pub fn holds(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}

/// A chat channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Channel {
    /// Its id (`chat:{id}` on the hub).
    pub id: Id,
    /// Community channel, direct message or group chat.
    pub kind: ChannelKind,
    /// The community of a community channel.
    pub community_id: Option<Id>,
    /// The name of a community channel (`general`, …).
    pub name: Option<String>,
    /// Who made it.
    pub created_by: Id,
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// One entry of the follow graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Follow {
    /// Who follows.
    pub follower_id: Id,
    /// Who is followed.
    pub followee_id: Id,
    /// Following, or waiting for approval.
    pub status: FollowStatus,
    /// Since when.
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

/// The key of the one direct-message channel of two people, whichever asks.
pub fn dm_key(a: Id, b: Id) -> String {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    format!("{low}:{high}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parsed_at_the_edge() {
        assert_eq!(
            CommunityName::parse("  Runners  ").unwrap().as_str(),
            "Runners"
        );
        assert!(CommunityName::parse("   ").is_err());
        assert!(CommunityName::parse(&"x".repeat(81)).is_err());
        assert!(CommunityName::parse("a\u{7}b").is_err());
        assert!(ChannelName::parse("long-runs_2").is_ok());
        assert!(ChannelName::parse("General").is_err());
        assert!(ChannelName::parse("").is_err());
        assert!(ChannelName::parse("has space").is_err());
    }

    #[test]
    fn roles_order_by_power_and_spellings_round_trip() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Moderator);
        assert!(Role::Moderator > Role::Member);
        for role in [Role::Member, Role::Moderator, Role::Admin, Role::Owner] {
            assert_eq!(Role::from_stored(role.as_str()), Some(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        assert_eq!(
            Visibility::from_stored("invite_only"),
            Some(Visibility::InviteOnly)
        );
        assert_eq!(Visibility::from_stored("secret"), None);
    }

    #[test]
    fn a_pair_has_one_dm_key_whoever_asks() {
        let (a, b) = (Id::from_i64(5), Id::from_i64(9));
        assert_eq!(dm_key(a, b), dm_key(b, a));
        assert_ne!(dm_key(a, b), dm_key(a, Id::from_i64(10)));
    }

    #[test]
    fn mutes_and_bans_end_on_time() {
        let now = chrono::Utc::now();
        let mut m = Membership {
            community_id: Id::from_i64(1),
            user_id: Id::from_i64(2),
            role: Role::Member,
            status: MemberStatus::Active,
            muted_until: Some(now + chrono::Duration::minutes(5)),
            since: now,
        };
        assert!(!m.may_write(now));
        m.muted_until = Some(now - chrono::Duration::seconds(1));
        assert!(m.may_write(now));
        m.status = MemberStatus::Requested;
        assert!(!m.may_write(now));
        let ban = Ban {
            community_id: Id::from_i64(1),
            user_id: Id::from_i64(2),
            until: None,
            banned_by: Id::from_i64(3),
            reason: String::new(),
        };
        assert!(ban.holds(now));
    }
}
