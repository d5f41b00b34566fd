//! The events the social service consumes (consumer group [`GROUP`],
//! [`handlers`]) and what it makes of them. What it emits is listed in
//! [`vigor_common::events`] (`social.follow_started`, `social.follow_ended`,
//! `social.kudos_given`, `social.comment_added`, `social.community_joined`, all
//! through its outbox, in the transaction of the change).
//!
//! - `workout.logged` / `workout.updated` (training): the workout's feed item,
//!   the newest version winning whatever order events arrive in;
//!   `workout.deleted`: the item goes with its kudos and comments, and a late
//!   event of that workout does not bring it back.
//! - `gamification.achievement_unlocked`, `gamification.level_up`,
//!   `gamification.challenge_completed`: feed items of their user (a community
//!   challenge also in its community's feed).
//! - `user.deleted` (users): everything of the user goes
//!   ([`crate::store::SocialStore::erase_user`]).
//! - `user.privacy_changed` (users): the profile's visibility; follows of a
//!   profile that is not public wait for the owner's approval (the newest event
//!   of a user wins).
//!
//! Each is applied once: the change and the mark that the event was processed
//! commit together, so a redelivery changes nothing.

use vigor_common::bus::Handlers;
use vigor_common::events::{
    AchievementUnlocked, ChallengeCompleted, LevelUp, PrivacyChanged, UserRef, WorkoutDeleted,
    WorkoutWritten, ACHIEVEMENT_UNLOCKED, CHALLENGE_COMPLETED, LEVEL_UP, USER_DELETED,
    USER_PRIVACY_CHANGED, WORKOUT_DELETED, WORKOUT_LOGGED, WORKOUT_UPDATED,
};

use crate::service::SocialService;

/// The consumer group of the social service.
pub const GROUP: &str = "social";

/// Registers `handle` for `topic`, with a clone of `service` per event.
macro_rules! on {
    ($handlers:expr, $service:expr, $topic:expr, |$s:ident, $event:ident, $data:ident: $ty:ty| $body:expr) => {{
        let service = $service.clone();
        $handlers.on($topic, move |$event, $data: $ty| {
            let $s = service.clone();
            async move {
                $body;
                Ok(())
            }
        })
    }};
}

/// The handlers of the events the service consumes.
pub fn handlers(service: SocialService) -> Handlers {
    let h = Handlers::new();
    let h = on!(h, service, WORKOUT_LOGGED, |s, event, w: WorkoutWritten| {
        s.apply_workout(GROUP, event, &w).await?
    });
    let h = on!(
        h,
        service,
        WORKOUT_UPDATED,
        |s, event, w: WorkoutWritten| { s.apply_workout(GROUP, event, &w).await? }
    );
    let h = on!(
        h,
        service,
        WORKOUT_DELETED,
        |s, event, w: WorkoutDeleted| { s.remove_workout(GROUP, event, &w).await? }
    );
    let h = on!(
        h,
        service,
        ACHIEVEMENT_UNLOCKED,
        |s, event, a: AchievementUnlocked| { s.apply_achievement(GROUP, event, &a).await? }
    );
    let h = on!(h, service, LEVEL_UP, |s, event, l: LevelUp| {
        s.apply_level(GROUP, event, &l).await?
    });
    let h = on!(
        h,
        service,
        CHALLENGE_COMPLETED,
        |s, event, c: ChallengeCompleted| { s.apply_challenge(GROUP, event, &c).await? }
    );
    let h = on!(
        h,
        service,
        USER_PRIVACY_CHANGED,
        |s, event, p: PrivacyChanged| {
            s.set_profile_visibility(GROUP, event, p.user_id, &p.profile_visibility)
                .await?
        }
    );
    on!(h, service, USER_DELETED, |s, event, u: UserRef| {
        if s.erase_user(GROUP, event, u.user_id).await? {
            tracing::info!(user = %u.user_id, "social data erased");
        }
    })
}
