//! Reports and mentions.
//!
//! - **Reports**: anyone who can read a message can report it (once; not their
//!   own). A community channel's reports queue for the community's moderators;
//!   those of direct and group chats for the platform's admins (the `admin`
//!   role), since a private chat has no moderators. A moderator dismisses a
//!   report or removes the message, which resolves every open report of that
//!   message and goes into the community's audit log.
//! - **Mentions**: a send may name members to notify (`mentions`): each one who
//!   can read the channel, is not the author and has no block with the author
//!   gets `chat.mention` on `user:{id}` once per message.

use chrono::Utc;
use serde_json::json;
use vigor_common::api::{Cursor, Keyset, Page};
use vigor_common::{Id, Problem};

use super::SocialService;
use crate::domain::{ChannelKind, Role};
use crate::feed::{Report, ReportReason, ReportStatus};
use crate::messages::Message;

/// Most members one message may mention.
pub const MAX_MENTIONS: usize = 20;
/// The hub event, on `user:{id}`, of a message that mentions them (data:
/// `channel_id` and the `message`).
pub const CHAT_MENTION: &str = "chat.mention";

/// Pages of a reports queue: by report id, oldest first.
pub const REPORT_PAGES: Keyset<()> = Keyset::new("social.reports");

/// What a moderator does with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Nothing to do.
    Dismiss,
    /// Remove the message (a tombstone, pushed as `chat.deleted`).
    Remove,
}

fn no_report() -> Problem {
    Problem::not_found("no such report")
}

impl SocialService {
    /// Reports a message the caller can read.
    pub async fn report_message(
        &self,
        reporter: Id,
        channel: Id,
        message: Id,
        reason: ReportReason,
    ) -> Result<Report, Problem> {
        let (found, _) = self.channel_for(reporter, channel).await?;
        let reported = self.message(channel, message).await?;
        if reported.author_id == reporter {
            return Err(Problem::invalid_field(
                "message_id",
                "you cannot report your own message",
            ));
        }
        let report = Report {
            id: self.ids.next_id(),
            channel_id: channel,
            message_id: message,
            community_id: (found.kind == ChannelKind::Community)
                .then_some(found.community_id)
                .flatten(),
            author_id: reported.author_id,
            reporter_id: reporter,
            reason: reason.as_str().to_owned(),
            status: ReportStatus::Open,
            created_at: Utc::now(),
            resolved_by: None,
            resolved_at: None,
        };
        Ok(self.feed.report(&report).await?)
    }

    /// May `caller` handle the reports of `community` (`None`: of private
    /// chats)? Moderators of the community; platform admins for private chats.
    async fn require_moderator(
        &self,
        caller: Id,
        is_admin: bool,
        community: Option<Id>,
    ) -> Result<(), Problem> {
        match community {
            Some(community) => {
                self.require_role(community, caller, Role::Moderator)
                    .await?;
                Ok(())
            }
            None if is_admin => Ok(()),
            None => Err(Problem::forbidden(
                "reports of direct and group chats are for platform admins",
            )),
        }
    }

    /// A page of a reports queue in one status.
    pub async fn reports(
        &self,
        caller: Id,
        is_admin: bool,
        community: Option<Id>,
        status: ReportStatus,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Report>, Problem> {
        self.require_moderator(caller, is_admin, community).await?;
        let after = REPORT_PAGES.parse(cursor)?.map(|c| c.id);
        let rows = self
            .feed
            .reports(community, status, after, limit + 1)
            .await?;
        Ok(REPORT_PAGES.page(rows, limit, |r| Cursor::new((), r.id)))
    }

    /// Resolves a report, and with it every open report of its message.
    pub async fn resolve_report(
        &self,
        caller: Id,
        is_admin: bool,
        id: Id,
        resolution: Resolution,
    ) -> Result<Report, Problem> {
        let report = self.feed.report_by_id(id).await?.ok_or_else(no_report)?;
        self.require_moderator(caller, is_admin, report.community_id)
            .await?;
        if report.status != ReportStatus::Open {
            return Err(Problem::conflict("the report is resolved already"));
        }
        let status = match resolution {
            Resolution::Dismiss => ReportStatus::Dismissed,
            Resolution::Remove => {
                self.remove_message(report.channel_id, report.message_id)
                    .await?;
                ReportStatus::Removed
            }
        };
        self.feed
            .resolve_reports(report.message_id, status, caller, Utc::now())
            .await?;
        if let Some(community) = report.community_id {
            self.audit(
                community,
                caller,
                &format!("report.{}", status.as_str()),
                Some(report.author_id),
                format!("message {} (report {})", report.message_id, report.id),
            )
            .await?;
        }
        self.feed.report_by_id(id).await?.ok_or_else(no_report)
    }

    /// Tells each of `mentioned` who may read `message`'s channel and has no
    /// block with its author (see the module docs).
    pub(super) async fn notify_mentions(&self, message: &Message, mentioned: &[Id]) {
        let mut notified: Vec<Id> = Vec::new();
        for &user in mentioned {
            if user == message.author_id || notified.contains(&user) {
                continue;
            }
            notified.push(user);
            let may = match self.channel_access(user, message.channel_id).await {
                Ok(access) => access.subscribe,
                Err(_) => false,
            };
            let blocked = self
                .store
                .blocked_between(user, message.author_id)
                .await
                .unwrap_or(true);
            if !may || blocked {
                continue;
            }
            let data = json!({"channel_id": message.channel_id, "message": message});
            if let Err(error) = self
                .live
                .publish_once(
                    &format!("user:{user}"),
                    CHAT_MENTION,
                    &data,
                    &format!("mention:{}", message.id),
                )
                .await
            {
                tracing::warn!(%user, %error, "a mention could not be pushed");
            }
        }
    }
}
