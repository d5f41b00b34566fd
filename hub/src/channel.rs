//! Channel names: the one place their grammar lives.
//!
//! A [`Channel`] can only hold a valid, *canonical* name, so the rest of the hub
//! never re-checks one: `user:7` parses, `user:007` does not (two spellings of one
//! channel would be two broker channels, and a subscriber of one would never see
//! what is published on the other).
//!
//! | name | who may subscribe |
//! |---|---|
//! | `user:{id}` | that user only |
//! | `chat:{id}` | members of the chat (the social service's rule) |
//! | `community:{id}` | members of the community (the social service's rule) |
//! | `leaderboard:{board}:{window}` | any signed-in user |
//! | `leaderboard:{board}:{window}:community:{id}` | whoever may subscribe to `community:{id}` |
//! | `leaderboard:{board}:{window}:challenge:{id}` | any signed-in user (challenges are public) |
//! | `presence:chat:{id}`, `presence:community:{id}` | whoever may subscribe to the inner channel |
//!
//! Ids are positive 64-bit integers in decimal; `board` and `window` are 1–64 of
//! `a-z 0-9 _ - .`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use vigor_common::Id;

/// Longest accepted `board` or `window` segment of a leaderboard channel.
pub const MAX_SEGMENT_LEN: usize = 64;

/// What a channel is about, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// `user:{id}`: pushes for one user (achievements, level-ups, notifications).
    User(Id),
    /// `chat:{id}`: a chat channel's messages, edits, reactions, reads and typing.
    Chat(Id),
    /// `community:{id}`: a community's live updates.
    Community(Id),
    /// `leaderboard:{board}:{window}` (a global board) or
    /// `leaderboard:{board}:{window}:{scope}` (one community's or challenge's
    /// instance): live top-N changes of one board.
    Leaderboard {
        /// The board, e.g. `xp`.
        board: Box<str>,
        /// The window, e.g. `weekly`.
        window: Box<str>,
        /// Whose ranking; `None` for global boards.
        scope: Option<BoardScope>,
    },
    /// `presence:{scope}`: who is online in a chat or community.
    Presence(PresenceScope),
}

/// The community or challenge a scoped leaderboard channel ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoardScope {
    /// `…:community:{id}`: the members of one community.
    Community(Id),
    /// `…:challenge:{id}`: the participants of one challenge.
    Challenge(Id),
}

/// The channel a `presence:` channel tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceScope {
    /// `presence:chat:{id}`.
    Chat(Id),
    /// `presence:community:{id}`.
    Community(Id),
}

impl PresenceScope {
    /// The channel whose members are tracked.
    pub fn channel(self) -> Channel {
        match self {
            PresenceScope::Chat(id) => Channel::chat(id),
            PresenceScope::Community(id) => Channel::community(id),
        }
    }
}

/// A valid channel: its canonical name and what it is about.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Channel {
    name: Arc<str>,
    kind: ChannelKind,
}

/// Why a string is not a channel name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a channel: {reason}")]
pub struct InvalidChannel {
    /// The refused name, shortened to 80 characters.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Channel {
    /// `user:{id}`.
    pub fn user(id: Id) -> Channel {
        Channel::from_kind(ChannelKind::User(id))
    }

    /// `chat:{id}`.
    pub fn chat(id: Id) -> Channel {
        Channel::from_kind(ChannelKind::Chat(id))
    }

    /// `community:{id}`.
    pub fn community(id: Id) -> Channel {
        Channel::from_kind(ChannelKind::Community(id))
    }

    /// `leaderboard:{board}:{window}`.
    pub fn leaderboard(board: &str, window: &str) -> Result<Channel, InvalidChannel> {
        format!("leaderboard:{board}:{window}").parse()
    }

    /// `presence:{scope}`.
    pub fn presence(scope: PresenceScope) -> Channel {
        Channel::from_kind(ChannelKind::Presence(scope))
    }

    fn from_kind(kind: ChannelKind) -> Channel {
        let name = match &kind {
            ChannelKind::User(id) => format!("user:{id}"),
            ChannelKind::Chat(id) => format!("chat:{id}"),
            ChannelKind::Community(id) => format!("community:{id}"),
            ChannelKind::Leaderboard {
                board,
                window,
                scope: None,
            } => format!("leaderboard:{board}:{window}"),
            ChannelKind::Leaderboard {
                board,
                window,
                scope: Some(BoardScope::Community(id)),
            } => format!("leaderboard:{board}:{window}:community:{id}"),
            ChannelKind::Leaderboard {
                board,
                window,
                scope: Some(BoardScope::Challenge(id)),
            } => format!("leaderboard:{board}:{window}:challenge:{id}"),
            ChannelKind::Presence(PresenceScope::Chat(id)) => format!("presence:chat:{id}"),
            ChannelKind::Presence(PresenceScope::Community(id)) => {
                format!("presence:community:{id}")
            }
        };
        Channel {
            name: name.into(),
            kind,
        }
    }

    /// The canonical name, e.g. `chat:42`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The canonical name, shared.
    pub fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    /// What the channel is about.
    pub fn kind(&self) -> &ChannelKind {
        &self.kind
    }

    /// Whether events on it get a `seq` and are kept for resume. Presence channels
    /// carry only ephemeral `presence.join` / `presence.leave` events.
    pub fn has_history(&self) -> bool {
        !matches!(self.kind, ChannelKind::Presence(_))
    }

    /// The `presence:` channel tracking this one, for chats and communities.
    pub fn presence_channel(&self) -> Option<Channel> {
        match self.kind {
            ChannelKind::Chat(id) => Some(Channel::presence(PresenceScope::Chat(id))),
            ChannelKind::Community(id) => Some(Channel::presence(PresenceScope::Community(id))),
            ChannelKind::Presence(_) => Some(self.clone()),
            _ => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({})", self.name)
    }
}

impl FromStr for Channel {
    type Err = InvalidChannel;

    fn from_str(name: &str) -> Result<Channel, InvalidChannel> {
        let invalid = |reason| InvalidChannel {
            name: name.chars().take(80).collect(),
            reason,
        };
        let (prefix, rest) = name
            .split_once(':')
            .ok_or_else(|| invalid("expected `kind:…`"))?;
        let kind = match prefix {
            "user" => ChannelKind::User(parse_id(rest).map_err(invalid)?),
            "chat" => ChannelKind::Chat(parse_id(rest).map_err(invalid)?),
            "community" => ChannelKind::Community(parse_id(rest).map_err(invalid)?),
            "leaderboard" => {
                let expected = "expected `leaderboard:{board}:{window}`, optionally with \
                                `:community:{id}` or `:challenge:{id}`";
                let (board, rest) = rest.split_once(':').ok_or_else(|| invalid(expected))?;
                let (window, scope) = match rest.split_once(':') {
                    None => (rest, None),
                    Some((window, scope)) => {
                        let (kind, id) = scope.split_once(':').ok_or_else(|| invalid(expected))?;
                        let id = parse_id(id).map_err(invalid)?;
                        let scope = match kind {
                            "community" => BoardScope::Community(id),
                            "challenge" => BoardScope::Challenge(id),
                            _ => return Err(invalid(expected)),
                        };
                        (window, Some(scope))
                    }
                };
                check_segment(board).map_err(invalid)?;
                check_segment(window).map_err(invalid)?;
                ChannelKind::Leaderboard {
                    board: board.into(),
                    window: window.into(),
                    scope,
                }
            }
            "presence" => {
                let (inner, id) = rest.split_once(':').ok_or_else(|| {
                    invalid("expected `presence:chat:{id}` or `presence:community:{id}`")
                })?;
                let id = parse_id(id).map_err(invalid)?;
                match inner {
                    "chat" => ChannelKind::Presence(PresenceScope::Chat(id)),
                    "community" => ChannelKind::Presence(PresenceScope::Community(id)),
                    _ => {
                        return Err(invalid(
                            "presence is tracked for `chat:` and `community:` channels",
                        ))
                    }
                }
            }
            _ => return Err(invalid("unknown channel kind")),
        };
        Ok(Channel {
            name: name.into(),
            kind,
        })
    }
}

/// A positive 64-bit decimal id without sign or leading zeros.
fn parse_id(s: &str) -> Result<Id, &'static str> {
    let id: Id = s
        .parse()
        .map_err(|_| "the id must be a positive 64-bit integer in decimal")?;
    if s.starts_with('0') {
        return Err("the id must not have leading zeros");
    }
    Ok(id)
}

fn check_segment(s: &str) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > MAX_SEGMENT_LEN {
        return Err("board and window are 1 to 64 characters");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err("board and window use only `a-z 0-9 _ - .`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_parse_and_keep_their_spelling() {
        for name in [
            "user:1",
            "user:9223372036854775807",
            "chat:42",
            "community:7",
            "leaderboard:xp:weekly",
            "leaderboard:bench-press_1rm:2024.w05",
            "leaderboard:xp:weekly:community:7",
            "leaderboard:distance:all_time:challenge:9",
            "presence:chat:42",
            "presence:community:7",
        ] {
            let channel: Channel = name.parse().unwrap();
            assert_eq!(channel.name(), name);
            assert_eq!(channel.to_string(), name);
        }
        assert_eq!(
            "chat:42".parse::<Channel>().unwrap().kind(),
            &ChannelKind::Chat(Id::from_i64(42))
        );
    }

    #[test]
    fn invalid_names_are_refused() {
        for name in [
            "",
            "user",
            "user:",
            "user:0",
            "user:007",
            "user:-1",
            "user:+1",
            "user: 1",
            "user:9223372036854775808",
            "user:1:2",
            "chat:abc",
            "room:1",
            "USER:1",
            "leaderboard:xp",
            "leaderboard::weekly",
            "leaderboard:xp:",
            "leaderboard:XP:weekly",
            "leaderboard:xp:weekly:extra",
            "leaderboard:xp:weekly:community",
            "leaderboard:xp:weekly:community:07",
            "leaderboard:xp:weekly:team:7",
            "leaderboard:xp:weekly:community:7:x",
            "leaderboard:x p:weekly",
            "presence:user:1",
            "presence:chat",
            "presence:chat:01",
        ] {
            assert!(
                name.parse::<Channel>().is_err(),
                "{name:?} should be refused"
            );
        }
        let long = format!("leaderboard:{}:weekly", "a".repeat(MAX_SEGMENT_LEN + 1));
        assert!(long.parse::<Channel>().is_err());
    }

    #[test]
    fn constructors_match_parsing() {
        let id = Id::from_i64(5);
        assert_eq!(Channel::user(id), "user:5".parse().unwrap());
        assert_eq!(Channel::chat(id), "chat:5".parse().unwrap());
        assert_eq!(Channel::community(id), "community:5".parse().unwrap());
        assert_eq!(
            Channel::presence(PresenceScope::Chat(id)),
            "presence:chat:5".parse().unwrap()
        );
        assert_eq!(
            Channel::leaderboard("xp", "all_time").unwrap(),
            "leaderboard:xp:all_time".parse().unwrap()
        );
        assert_eq!(
            Channel::chat(id).presence_channel().unwrap().name(),
            "presence:chat:5"
        );
        assert!(Channel::user(id).presence_channel().is_none());
        assert!(!Channel::presence(PresenceScope::Community(id)).has_history());
        assert!(Channel::chat(id).has_history());
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_accepted_names_are_canonical(s in "\\PC{0,40}") {
            if let Ok(channel) = s.parse::<Channel>() {
                proptest::prop_assert_eq!(channel.name(), s.as_str());
                let again = Channel::from_kind(channel.kind().clone());
                proptest::prop_assert_eq!(again, channel);
            }
        }

        #[test]
        fn generated_names_round_trip(
            id in 1i64..=i64::MAX,
            board in "[a-z0-9_.-]{1,64}",
            window in "[a-z0-9_.-]{1,64}",
        ) {
            let id = Id::from_i64(id);
            for channel in [
                Channel::user(id),
                Channel::chat(id),
                Channel::community(id),
                Channel::presence(PresenceScope::Chat(id)),
                Channel::leaderboard(&board, &window).unwrap(),
                format!("leaderboard:{board}:{window}:community:{id}").parse().unwrap(),
                format!("leaderboard:{board}:{window}:challenge:{id}").parse().unwrap(),
            ] {
                proptest::prop_assert_eq!(channel.name().parse::<Channel>().unwrap(), channel);
            }
        }
    }
}
