//! Coaching: a coach (a user with the `coach` role) invites an athlete, the
//! athlete accepts or declines, and either side can end it. Only an accepted
//! relationship grants the coach anything: reading the athlete's workouts
//! (private ones included), records, stats and schedule, and assigning plans.
//!
//! The states move one way: `pending → accepted | declined | ended`,
//! `accepted → ended`. Declined and ended relationships are kept as history; a
//! new invitation is a new relationship. At most one relationship per pair is
//! open (pending or accepted) at a time.

use serde::Serialize;
use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::kinds::LinkStatus;

/// The role that may coach.
pub const COACH_ROLE: &str = "coach";

/// A coaching relationship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CoachLink {
    /// Its id.
    pub id: Id,
    /// The coach.
    pub coach_id: Id,
    /// The athlete.
    pub athlete_id: Id,
    /// Where it stands.
    pub status: LinkStatus,
    /// When the coach invited.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// A change of a relationship that its state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the relationship is {status}: {reason}")]
pub struct BadTransition {
    /// Where it stands.
    pub status: LinkStatus,
    /// What cannot be done.
    pub reason: &'static str,
}

impl LinkStatus {
    /// Whether the coach may see the athlete's data and assign plans.
    pub fn grants_access(self) -> bool {
        self == LinkStatus::Accepted
    }

    /// Whether it is pending or accepted (one per pair at most).
    pub fn is_open(self) -> bool {
        matches!(self, LinkStatus::Pending | LinkStatus::Accepted)
    }

    /// The athlete's answer to an invitation.
    pub fn answer(self, accept: bool) -> Result<LinkStatus, BadTransition> {
        match self {
            LinkStatus::Pending if accept => Ok(LinkStatus::Accepted),
            LinkStatus::Pending => Ok(LinkStatus::Declined),
            status => Err(BadTransition {
                status,
                reason: "only a pending invitation can be answered",
            }),
        }
    }

    /// Either side ending it (a coach withdrawing an invitation, too).
    pub fn end(self) -> Result<LinkStatus, BadTransition> {
        if self.is_open() {
            Ok(LinkStatus::Ended)
        } else {
            Err(BadTransition {
                status: self,
                reason: "only a pending or accepted relationship can be ended",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LinkStatus::*;

    #[test]
    fn states_move_one_way() {
        assert_eq!(Pending.answer(true), Ok(Accepted));
        assert_eq!(Pending.answer(false), Ok(Declined));
        for s in [Accepted, Declined, Ended] {
            assert!(s.answer(true).is_err(), "{s}");
        }
        assert_eq!(Pending.end(), Ok(Ended));
        assert_eq!(Accepted.end(), Ok(Ended));
        assert!(Declined.end().is_err());
        assert!(Ended.end().is_err());
        // Only an accepted relationship grants access.
        let granting: Vec<LinkStatus> = LinkStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.grants_access())
            .collect();
        assert_eq!(granting, vec![Accepted]);
    }
}
