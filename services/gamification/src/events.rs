//! The events the gamification service consumes and emits. Topics and payloads
//! are the shared contracts of [`vigor_common::events`].
//!
//! Consumed (consumer group [`GROUP`], [`handlers`]), each applied once by event
//! id — the change and the mark that the event was processed commit together:
//!
//! | topic | effect |
//! |---|---|
//! | `workout.logged`, `workout.updated` | the workout's contribution (XP, distance, duration, volume, records) is stored or replaced; the other workouts in `records_moved` get their record counts |
//! | `workout.deleted` | its contribution goes; `records_moved` as above |
//! | `social.kudos_given` | the owner's kudos received and the giver's kudos given count one more |
//! | `social.comment_added` | the author's comments count one more |
//! | `social.community_joined` | the member's communities count one more (once per community), and they may see and join its challenges |
//! | `social.community_left` | the membership ends: its challenges are no longer theirs to see or join (the count stays) |
//! | `user.deleted` | the user's game goes: score log first, then everything else, then their board entries |
//!
//! After each change the user's game is judged again (XP, level, streaks,
//! achievements, challenge progress, scores: see [`crate::service`]).
//!
//! Emitted through the outbox, in the transaction of the change:
//! `gamification.achievement_unlocked` (once per user, achievement and tier),
//! `gamification.achievement_revoked` (a deleted or edited workout took the
//! tier's condition away; earning it again unlocks it again, once),
//! `gamification.level_up` (once per level reached for the first time) and
//! `gamification.challenge_completed`, for social's feed. Published directly on
//! the bus after the board store was written: `leaderboard.scores_changed`
//! (live updates are best effort; the score log is the truth).

use vigor_common::bus::Handlers;
use vigor_common::events::{
    CommentAdded, CommunityJoined, CommunityLeft, KudosGiven, UserRef, WorkoutDeleted,
    WorkoutWritten, COMMENT_ADDED, COMMUNITY_JOINED, COMMUNITY_LEFT, KUDOS_GIVEN, USER_DELETED,
    WORKOUT_DELETED, WORKOUT_LOGGED, WORKOUT_UPDATED,
};
use vigor_common::Id;

use crate::domain::Contribution;
use crate::service::GamificationService;
use crate::store::{Change, SocialAct};

/// The consumer group of the gamification service.
pub const GROUP: &str = "gamification";

/// The change a `workout.logged` or `workout.updated` makes.
pub fn written(w: &WorkoutWritten) -> Change {
    Change::Workout {
        upsert: Some(Contribution::of(w)),
        remove: None,
        records_moved: moved(&w.records_moved),
    }
}

/// The change a `workout.deleted` makes.
pub fn deleted(w: &WorkoutDeleted) -> Change {
    Change::Workout {
        upsert: None,
        remove: Some(w.workout_id),
        records_moved: moved(&w.records_moved),
    }
}

fn moved(records: &[vigor_common::events::MovedRecords]) -> Vec<(Id, i64)> {
    records
        .iter()
        .map(|m| (m.workout_id, m.personal_records.len() as i64))
        .collect()
}

async fn once(
    service: &GamificationService,
    event: Id,
    user: Id,
    change: Change,
) -> anyhow::Result<()> {
    if service
        .apply(user, Some((GROUP, event)), change)
        .await?
        .is_none()
    {
        tracing::debug!(%event, "already applied");
    }
    Ok(())
}

/// The handlers of the events the service consumes.
pub fn handlers(service: GamificationService) -> Handlers {
    let (logged, updated, removed, kudos, comments, joins, leaves) = (
        service.clone(),
        service.clone(),
        service.clone(),
        service.clone(),
        service.clone(),
        service.clone(),
        service.clone(),
    );
    Handlers::new()
        .on(WORKOUT_LOGGED, move |event, w: WorkoutWritten| {
            let service = logged.clone();
            async move { once(&service, event, w.user_id, written(&w)).await }
        })
        .on(WORKOUT_UPDATED, move |event, w: WorkoutWritten| {
            let service = updated.clone();
            async move { once(&service, event, w.user_id, written(&w)).await }
        })
        .on(WORKOUT_DELETED, move |event, w: WorkoutDeleted| {
            let service = removed.clone();
            async move { once(&service, event, w.user_id, deleted(&w)).await }
        })
        .on(KUDOS_GIVEN, move |event, k: KudosGiven| {
            let service = kudos.clone();
            async move {
                // Two users' games, each applied once under its own key: the
                // whole event is marked processed for [`GROUP`] only after both
                // halves, so a redelivery after a failed second half applies it.
                let received = Change::Social(SocialAct::KudosReceived);
                service
                    .apply(k.owner_id, Some((KUDOS_OWNER_GROUP, event)), received)
                    .await?;
                let given = Change::Social(SocialAct::KudosGiven);
                service
                    .apply(k.giver_id, Some((KUDOS_GIVER_GROUP, event)), given)
                    .await?;
                Ok(())
            }
        })
        .on(COMMENT_ADDED, move |event, c: CommentAdded| {
            let service = comments.clone();
            async move {
                once(
                    &service,
                    event,
                    c.author_id,
                    Change::Social(SocialAct::Commented),
                )
                .await
            }
        })
        .on(COMMUNITY_JOINED, move |event, j: CommunityJoined| {
            let service = joins.clone();
            async move {
                once(
                    &service,
                    event,
                    j.user_id,
                    Change::Social(SocialAct::Joined(j.community_id)),
                )
                .await
            }
        })
        .on(COMMUNITY_LEFT, move |event, l: CommunityLeft| {
            let service = leaves.clone();
            async move {
                once(
                    &service,
                    event,
                    l.user_id,
                    Change::Social(SocialAct::Left(l.community_id)),
                )
                .await
            }
        })
        .on(USER_DELETED, move |_event, UserRef { user_id }| {
            let service = service.clone();
            async move {
                let (erased, entries) = service.erase_user(user_id).await?;
                tracing::info!(user = %user_id, ?erased, entries, "gamification data erased");
                Ok(())
            }
        })
}

/// The processed-events key of a kudos' owner half (kudos received).
pub const KUDOS_OWNER_GROUP: &str = "gamification.kudos_owner";
/// The processed-events key of a kudos' giver half (kudos given).
pub const KUDOS_GIVER_GROUP: &str = "gamification.kudos_giver";
