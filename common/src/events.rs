//! The event contracts: every topic that crosses a service boundary, with the
//! type of its data, in one place.
//!
//! A producer and its consumers live in different crates (and, in distributed
//! mode, in different processes of possibly different versions), so the shape of
//! an event is a contract between them. Here each topic is a typed constant
//! ([`Topic<T>`]): the producer builds its event with [`Topic::event`], a consumer
//! registers a handler for it ([`crate::bus::Handlers::on`]) and gets a `T`. No
//! service spells a topic name or defines a payload of its own.
//!
//! | topic | producer | consumers | data |
//! |---|---|---|---|
//! | `user.signed_up` | auth | users | [`UserSignedUp`] |
//! | `user.email_changed` | auth | users | [`EmailChanged`] |
//! | `user.roles_changed` | users | auth | [`RolesChanged`] |
//! | `user.deactivated` | users | auth | [`UserRef`] |
//! | `user.reactivated` | users | auth | [`UserRef`] |
//! | `user.deleted` | users | auth, training, social | [`UserRef`] |
//! | `user.privacy_changed` | users | social | [`PrivacyChanged`] |
//! | `workout.logged` | training | (gamification, social) | [`WorkoutWritten`] |
//! | `workout.updated` | training | (gamification, social) | [`WorkoutWritten`] |
//! | `workout.deleted` | training | (gamification, social) | [`WorkoutDeleted`] |
//! | `social.follow_started` | social | training | [`FollowChanged`] |
//! | `social.follow_ended` | social | training | [`FollowChanged`] |
//! | `social.kudos_given` | social | gamification | [`KudosGiven`] |
//! | `social.comment_added` | social | gamification | [`CommentAdded`] |
//! | `social.community_joined` | social | gamification | [`CommunityJoined`] |
//! | `social.community_left` | social | gamification | [`CommunityLeft`] |
//! | `gamification.achievement_unlocked` | gamification | social (feed) | [`AchievementUnlocked`] |
//! | `gamification.level_up` | gamification | social (feed) | [`LevelUp`] |
//! | `gamification.achievement_revoked` | gamification | (none yet) | [`AchievementRevoked`] |
//! | `gamification.challenge_completed` | gamification | social (feed) | [`ChallengeCompleted`] |
//! | `leaderboard.scores_changed` | gamification | leaderboards (live updates) | [`ScoresChanged`] |
//!
//! # Versioning
//!
//! Events outlive deploys: an outbox or a stream can hold events written by the
//! previous version, and a new producer can run beside old consumers. So:
//!
//! - **Compatible changes keep the topic**: adding a field that consumers may
//!   ignore, which a newer consumer reads with a default when it is missing
//!   (`#[serde(default)]` or an `Option`). Consumers never reject unknown fields.
//!   Values that will grow (sports, privacy levels, sources) travel as their
//!   lowercase names, not as closed enums, so a new one does not break an older
//!   consumer.
//! - **Anything else is a new version of the topic**: removing or renaming a field,
//!   changing its type, unit or meaning. The new version is a new topic with a
//!   `.v2` (`.v3`, …) suffix and its own payload type; the producer publishes both
//!   until every consumer reads the new one, then stops the old. A topic without a
//!   suffix is version 1.
//!
//! The unit tests below keep payloads of older producers parsing.

use std::fmt;
use std::marker::PhantomData;

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::Timestamp;
use crate::bus::Event;
use crate::id::{Id, IdGenerator};

/// A topic and the type of its events' data.
pub struct Topic<T> {
    name: &'static str,
    data: PhantomData<fn() -> T>,
}

impl<T> Topic<T> {
    const fn new(name: &'static str) -> Self {
        Topic {
            name,
            data: PhantomData,
        }
    }

    /// The topic's name, e.g. `user.deleted`.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Whether `event` is of this topic.
    pub fn is(&self, event: &Event) -> bool {
        event.name == self.name
    }
}

impl<T: Serialize> Topic<T> {
    /// A new event of this topic with `data`, happening now.
    pub fn event(&self, ids: &IdGenerator, data: &T) -> Event {
        Event {
            id: ids.next_id(),
            name: self.name.to_owned(),
            occurred_at: Utc::now(),
            data: serde_json::to_value(data)
                .expect("event payloads are plain data with string keys and always serialize"),
        }
    }
}

impl<T: DeserializeOwned> Topic<T> {
    /// The data of `event`, which must be of this topic.
    pub fn decode(&self, event: &Event) -> Result<T, serde_json::Error> {
        serde_json::from_value(event.data.clone())
    }
}

// Manual impls: a derive would ask `T` for the same traits.
impl<T> Clone for Topic<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Topic<T> {}
impl<T> fmt::Debug for Topic<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
impl<T> fmt::Display for Topic<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// An account was created (by auth).
pub const USER_SIGNED_UP: Topic<UserSignedUp> = Topic::new("user.signed_up");
/// The owner changed their sign-in email (in auth).
pub const USER_EMAIL_CHANGED: Topic<EmailChanged> = Topic::new("user.email_changed");
/// The users service changed a user's roles.
pub const USER_ROLES_CHANGED: Topic<RolesChanged> = Topic::new("user.roles_changed");
/// The owner deactivated their account.
pub const USER_DEACTIVATED: Topic<UserRef> = Topic::new("user.deactivated");
/// An admin reactivated an account.
pub const USER_REACTIVATED: Topic<UserRef> = Topic::new("user.reactivated");
/// An account was deleted: every service erases or anonymises the user's data.
pub const USER_DELETED: Topic<UserRef> = Topic::new("user.deleted");
/// The owner set who may see their profile (social asks followers of a
/// profile that is not public for approval).
pub const USER_PRIVACY_CHANGED: Topic<PrivacyChanged> = Topic::new("user.privacy_changed");
/// A workout was created (logged or imported).
pub const WORKOUT_LOGGED: Topic<WorkoutWritten> = Topic::new("workout.logged");
/// A workout was changed.
pub const WORKOUT_UPDATED: Topic<WorkoutWritten> = Topic::new("workout.updated");
/// A workout was deleted.
pub const WORKOUT_DELETED: Topic<WorkoutDeleted> = Topic::new("workout.deleted");

/// Someone started following someone (by social; a follow that waited for
/// approval starts when it is approved).
pub const FOLLOW_STARTED: Topic<FollowChanged> = Topic::new("social.follow_started");
/// A follow ended: unfollowed, or by a block either way.
pub const FOLLOW_ENDED: Topic<FollowChanged> = Topic::new("social.follow_ended");

/// Someone gave kudos to a feed item (once per person and item).
pub const KUDOS_GIVEN: Topic<KudosGiven> = Topic::new("social.kudos_given");
/// Someone commented on a feed item.
pub const COMMENT_ADDED: Topic<CommentAdded> = Topic::new("social.comment_added");
/// Someone became a member of a community (joined, was approved or accepted an
/// invitation).
pub const COMMUNITY_JOINED: Topic<CommunityJoined> = Topic::new("social.community_joined");

/// Someone stopped being a member of a community (left, was removed or
/// banned, or the community was deleted).
pub const COMMUNITY_LEFT: Topic<CommunityLeft> = Topic::new("social.community_left");

/// A user earned an achievement (exactly once per user, achievement and tier).
pub const ACHIEVEMENT_UNLOCKED: Topic<AchievementUnlocked> =
    Topic::new("gamification.achievement_unlocked");
/// A user lost an achievement tier: a deleted or edited workout took its
/// condition away (its points are taken back in the ledger). Earning it again
/// is a new `gamification.achievement_unlocked`.
pub const ACHIEVEMENT_REVOKED: Topic<AchievementRevoked> =
    Topic::new("gamification.achievement_revoked");
/// A user reached a new level.
pub const LEVEL_UP: Topic<LevelUp> = Topic::new("gamification.level_up");
/// A user completed a challenge.
pub const CHALLENGE_COMPLETED: Topic<ChallengeCompleted> =
    Topic::new("gamification.challenge_completed");
/// Gamification changed entries of leaderboard instances (after writing them to
/// its score log and to the board store); leaderboards pushes the live updates.
pub const SCORES_CHANGED: Topic<ScoresChanged> = Topic::new("leaderboard.scores_changed");

/// The name of every topic above.
pub const TOPICS: &[&str] = &[
    USER_SIGNED_UP.name(),
    USER_EMAIL_CHANGED.name(),
    USER_ROLES_CHANGED.name(),
    USER_DEACTIVATED.name(),
    USER_REACTIVATED.name(),
    USER_DELETED.name(),
    USER_PRIVACY_CHANGED.name(),
    WORKOUT_LOGGED.name(),
    WORKOUT_UPDATED.name(),
    WORKOUT_DELETED.name(),
    FOLLOW_STARTED.name(),
    FOLLOW_ENDED.name(),
    KUDOS_GIVEN.name(),
    COMMENT_ADDED.name(),
    COMMUNITY_JOINED.name(),
    COMMUNITY_LEFT.name(),
    ACHIEVEMENT_UNLOCKED.name(),
    ACHIEVEMENT_REVOKED.name(),
    LEVEL_UP.name(),
    CHALLENGE_COMPLETED.name(),
    SCORES_CHANGED.name(),
];

/// The data of `social.kudos_given`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KudosGiven {
    /// The feed item.
    pub item_id: Id,
    /// What the item is (`workout`, `achievement`, `challenge`, `post`).
    pub item_kind: String,
    /// The item's owner, who receives the kudos.
    pub owner_id: Id,
    /// Who gave it.
    pub giver_id: Id,
}

/// The data of `social.comment_added`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentAdded {
    /// The comment.
    pub comment_id: Id,
    /// The feed item it is on.
    pub item_id: Id,
    /// What the item is (`workout`, `achievement`, `challenge`, `post`).
    pub item_kind: String,
    /// The item's owner.
    pub owner_id: Id,
    /// Who wrote the comment.
    pub author_id: Id,
}

/// The data of `social.community_joined`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityJoined {
    /// The community.
    pub community_id: Id,
    /// The new member.
    pub user_id: Id,
}

/// The data of `social.community_left`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityLeft {
    /// The community.
    pub community_id: Id,
    /// The former member.
    pub user_id: Id,
}

/// The data of `gamification.achievement_unlocked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AchievementUnlocked {
    /// The user.
    pub user_id: Id,
    /// The achievement's key in the rules file (`first_workout`).
    pub achievement: String,
    /// Its display name.
    pub name: String,
    /// The tier reached (1 for achievements without tiers).
    pub tier: u32,
    /// Reward points it granted.
    pub points: i64,
    /// When it was earned.
    pub unlocked_at: Timestamp,
}

/// The data of `gamification.achievement_revoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AchievementRevoked {
    /// The user.
    pub user_id: Id,
    /// The achievement's key in the rules file (`first_workout`).
    pub achievement: String,
    /// Its display name.
    pub name: String,
    /// The tier lost.
    pub tier: u32,
    /// Reward points taken back.
    pub points: i64,
    /// When.
    pub revoked_at: Timestamp,
}

/// The data of `gamification.level_up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelUp {
    /// The user.
    pub user_id: Id,
    /// The level reached.
    pub level: u32,
    /// The user's XP total then.
    pub xp: i64,
    /// When.
    pub at: Timestamp,
}

/// The data of `gamification.challenge_completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeCompleted {
    /// The user.
    pub user_id: Id,
    /// The challenge.
    pub challenge_id: Id,
    /// Its name.
    pub name: String,
    /// The community it belongs to, if any.
    pub community_id: Option<Id>,
    /// When the goal was reached.
    pub completed_at: Timestamp,
}

/// The data of `leaderboard.scores_changed`: the entries one user's change moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoresChanged {
    /// The user whose entries changed.
    pub user_id: Id,
    /// One per board instance whose entry changed.
    pub changes: Vec<ScoreChange>,
}

/// One board instance's changed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreChange {
    /// The board (`xp`, `distance`, …).
    pub board: String,
    /// The window (`daily`, `weekly`, `monthly`, `all_time`).
    pub window: String,
    /// Whose ranking (`global`, `community:{id}`, `challenge:{id}`).
    pub scope: String,
    /// The instance's period label (`2026-W49`), naming the instance together
    /// with board and scope.
    pub period: String,
    /// The score before (`null`: no entry).
    pub old: Option<i64>,
    /// The score now (`null`: the entry was removed).
    pub new: Option<i64>,
    /// When the new score was reached.
    pub at: Timestamp,
}

/// The data of `social.follow_started` and `social.follow_ended`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowChanged {
    /// Who follows (or followed).
    pub follower_id: Id,
    /// Whom.
    pub followee_id: Id,
}

/// The data of `user.signed_up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSignedUp {
    /// The new user.
    pub user_id: Id,
    /// The normalised email.
    pub email: String,
    /// The display name given at sign-up.
    pub display_name: String,
    /// The initial roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The data of `user.email_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailChanged {
    /// The user.
    pub user_id: Id,
    /// The new normalised sign-in email.
    pub email: String,
}

/// The data of `user.roles_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolesChanged {
    /// The user.
    pub user_id: Id,
    /// All of the user's roles now (not a difference).
    pub roles: Vec<String>,
}

/// The data of `user.deactivated`, `user.reactivated` and `user.deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The user.
    pub user_id: Id,
}

/// The data of `user.privacy_changed`: the setting now (not a difference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyChanged {
    /// The user.
    pub user_id: Id,
    /// Who may see the profile: `public`, `followers` or `private`.
    pub profile_visibility: String,
}

/// The data of `workout.logged` and `workout.updated`: the numbers consumers
/// need (XP, streaks, records, the feed), so none of them calls back for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkoutWritten {
    /// The workout.
    pub workout_id: Id,
    /// Its owner.
    pub user_id: Id,
    /// Its sport, as training spells it (`run`, `strength`, …).
    pub sport: String,
    /// Who may see it (`public`, `followers`, `private`): social shows only what
    /// the owner shares.
    pub privacy: String,
    /// Start.
    pub started_at: Timestamp,
    /// End.
    pub ended_at: Timestamp,
    /// Length in seconds.
    pub duration_s: f64,
    /// Time moving in seconds, when known.
    pub moving_time_s: Option<f64>,
    /// Distance in metres, when known.
    pub distance_m: Option<f64>,
    /// Climb in metres, when known.
    pub elevation_gain_m: Option<f64>,
    /// Volume load in kg (0 without weighted sets).
    pub volume_kg: f64,
    /// Sets done (not counting warm-ups).
    pub working_sets: u32,
    /// Where it came from (`manual`, `gpx`, `fit`).
    pub source: String,
    /// The workout's version after the change.
    pub version: i64,
    /// Personal records the workout holds.
    pub personal_records: Vec<RecordSet>,
    /// Other workouts of the user whose records the change moved.
    #[serde(default)]
    pub records_moved: Vec<MovedRecords>,
}

/// The data of `workout.deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkoutDeleted {
    /// The workout.
    pub workout_id: Id,
    /// Its owner.
    pub user_id: Id,
    /// Other workouts of the user whose records the deletion moved.
    #[serde(default)]
    pub records_moved: Vec<MovedRecords>,
}

/// The records one of the user's other workouts holds after a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovedRecords {
    /// The workout.
    pub workout_id: Id,
    /// All the personal records it holds now (empty: it lost them all).
    pub personal_records: Vec<RecordSet>,
}

/// Which record a workout set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// Heaviest load of an exercise (kg).
    MaxWeight,
    /// Best estimated 1RM of an exercise (kg).
    BestE1rm,
    /// Biggest session volume of an exercise (kg).
    MaxSessionVolume,
    /// Fastest time over a standard distance (s).
    FastestEffort,
    /// Longest distance of a sport (m).
    LongestDistance,
}

/// A personal record a workout set when it was logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordSet {
    /// Which record.
    pub kind: RecordKind,
    /// The exercise, for strength records.
    pub exercise_id: Option<Id>,
    /// The effort (`5k`) or sport (`run`), for endurance records.
    pub name: Option<String>,
    /// The new best.
    pub value: f64,
    /// The best before it; `null` when this was the first.
    pub previous: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids() -> IdGenerator {
        IdGenerator::new(1).expect("node 1 is valid")
    }

    #[test]
    fn every_topic_is_listed_once_and_none_is_versioned_yet() {
        let mut names = TOPICS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TOPICS.len());
        assert!(TOPICS.iter().all(|t| !t.contains(".v")), "{TOPICS:?}");
    }

    #[test]
    fn an_event_round_trips_through_its_topic() {
        let data = RolesChanged {
            user_id: Id::from_i64(7),
            roles: vec!["user".into(), "coach".into()],
        };
        let event = USER_ROLES_CHANGED.event(&ids(), &data);
        assert_eq!(event.name, "user.roles_changed");
        assert!(USER_ROLES_CHANGED.is(&event));
        assert!(!USER_DELETED.is(&event));
        assert_eq!(
            event.data,
            json!({"user_id": "7", "roles": ["user", "coach"]})
        );
        assert_eq!(USER_ROLES_CHANGED.decode(&event).unwrap(), data);
    }

    #[test]
    fn a_sign_up_of_an_older_producer_without_roles_still_parses() {
        let old = json!({"user_id": "1", "email": "a@b.c", "display_name": "A"});
        let parsed: UserSignedUp = serde_json::from_value(old).unwrap();
        assert!(parsed.roles.is_empty());
    }

    #[test]
    fn a_newer_producer_s_extra_fields_are_ignored() {
        let newer = json!({"user_id": "1", "reason": "requested", "at": "later"});
        let parsed: UserRef = serde_json::from_value(newer).unwrap();
        assert_eq!(parsed.user_id, Id::from_i64(1));
    }

    #[test]
    fn workout_events_without_records_moved_still_parse() {
        let deleted = json!({"workout_id": "5", "user_id": "1"});
        let parsed: WorkoutDeleted = serde_json::from_value(deleted).unwrap();
        assert!(parsed.records_moved.is_empty());

        let written = json!({
            "workout_id": "5", "user_id": "1", "sport": "run", "privacy": "public",
            "started_at": "2026-01-01T10:00:00Z", "ended_at": "2026-01-01T10:30:00Z",
            "duration_s": 1800.0, "moving_time_s": null, "distance_m": 5000.0,
            "elevation_gain_m": null, "volume_kg": 0.0, "working_sets": 0,
            "source": "manual", "version": 1,
            "personal_records": [{"kind": "longest_distance", "exercise_id": null,
                                  "name": "run", "value": 5000.0, "previous": null}]
        });
        let parsed: WorkoutWritten = serde_json::from_value(written.clone()).unwrap();
        assert!(parsed.records_moved.is_empty());
        assert_eq!(parsed.personal_records[0].kind, RecordKind::LongestDistance);
        // And what it writes is what it read, plus the defaulted field.
        let mut again = serde_json::to_value(&parsed).unwrap();
        again.as_object_mut().unwrap().remove("records_moved");
        assert_eq!(again, written);
    }

    #[test]
    fn a_payload_missing_a_required_field_does_not_decode() {
        let event = Event {
            id: Id::from_i64(1),
            name: USER_DELETED.name().to_owned(),
            occurred_at: Utc::now(),
            data: json!({"id": "1"}),
        };
        assert!(USER_DELETED.decode(&event).is_err());
    }
}
