//! Boards as data: what a board ranks, in which order, how a new score combines
//! with the one before, and which periods ("windows") it keeps.
//!
//! A [`BoardDef`] is a definition (the built-in `xp`, `distance`, `workouts`
//! and `fastest_5k` boards, and the boards of challenges the gamification service makes). Scores go to one
//! *instance* of it, a [`BoardWindow`]: the definition, one window period (the
//! ISO week `2026-W49`, the day `2026-12-05`, the month `2026-12`, or `all`) and
//! one scope (everyone, one community, one challenge). Each instance is one
//! sorted set in the store, so windows and scopes never see each other's entries.
//!
//! Periods start at midnight in the board's time zone, not UTC, so a club in
//! Auckland gets its "today" reset at its own midnight. A period's instance
//! knows when it ends, and the store lets it expire a grace period later (last
//! week's winners stay readable for a while, then the keys go by themselves).
//!
//! Everything that comes from outside (a board id in a URL, a window name, a
//! scope) is parsed here into these types with an error that says what is wrong,
//! so the store never sees a malformed key part.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use vigor_common::Id;

mod window;

pub use window::{Period, Window};

/// Why a board id, window, scope or definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoardError {
    /// A board id that is empty, too long or has characters outside `a-z0-9_-`.
    #[error("board id {0:?} is not 1-64 characters of a-z, 0-9, '_' and '-'")]
    BadId(String),
    /// A window name other than `daily`, `weekly`, `monthly` or `all_time`.
    #[error("window {0:?} is not one of daily, weekly, monthly, all_time")]
    BadWindow(String),
    /// A scope other than `global`, `community:<id>` or `challenge:<id>`.
    #[error("scope {0:?} is not global, community:<id> or challenge:<id>")]
    BadScope(String),
    /// An operator other than `best`, `set` or `incr`.
    #[error("operator {0:?} is not one of best, set, incr")]
    BadOperator(String),
    /// An order other than `descending` or `ascending`.
    #[error("order {0:?} is not descending or ascending")]
    BadOrder(String),
    /// A metric this build does not know.
    #[error("metric {0:?} is not one of xp, distance, workouts, duration")]
    BadMetric(String),
    /// A time zone name not in the IANA database.
    #[error("time zone {0:?} is not an IANA time zone name")]
    BadTimeZone(String),
    /// The board does not keep the requested window.
    #[error("board {board} has no {window} window")]
    NoSuchWindow {
        /// The board.
        board: BoardId,
        /// The window asked for.
        window: Window,
    },
    /// A scope of another kind than the board's (a community scope on a global board).
    #[error("board {board} is {expected}, not {given}")]
    WrongScope {
        /// The board.
        board: BoardId,
        /// The kind of scope the board has.
        expected: ScopeKind,
        /// The kind given.
        given: ScopeKind,
    },
    /// An instant out of the range the calendar arithmetic handles.
    #[error("instant {0} is out of range")]
    InstantOutOfRange(DateTime<Utc>),
}

/// A board's id: 1-64 characters of `a-z`, `0-9`, `_` and `-` (it is part of
/// store keys and hub channel names, so nothing else may appear in it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoardId(String);

impl BoardId {
    /// Parses a board id.
    pub fn parse(raw: &str) -> Result<BoardId, BoardError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(BoardId(raw.to_owned()))
        } else {
            Err(BoardError::BadId(raw.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BoardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for BoardId {
    type Err = BoardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BoardId::parse(s)
    }
}

/// What a board measures, and so the unit of its integer scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Experience points earned.
    Xp,
    /// Distance in metres.
    Distance,
    /// Number of workouts.
    Workouts,
    /// A duration in whole seconds (the fastest 5 km; an ascending board).
    Duration,
}

impl Metric {
    /// The metric's name, as in definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Xp => "xp",
            Metric::Distance => "distance",
            Metric::Workouts => "workouts",
            Metric::Duration => "duration",
        }
    }

    /// The unit of a score of this metric.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Xp => "xp",
            Metric::Distance => "m",
            Metric::Workouts => "workouts",
            Metric::Duration => "s",
        }
    }
}

impl FromStr for Metric {
    type Err = BoardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "xp" => Ok(Metric::Xp),
            "distance" => Ok(Metric::Distance),
            "workouts" => Ok(Metric::Workouts),
            "duration" => Ok(Metric::Duration),
            _ => Err(BoardError::BadMetric(s.to_owned())),
        }
    }
}

/// Which end of the scale wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// Higher scores rank first (XP, distance).
    Descending,
    /// Lower scores rank first (times).
    Ascending,
}

impl FromStr for Order {
    type Err = BoardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "descending" | "desc" => Ok(Order::Descending),
            "ascending" | "asc" => Ok(Order::Ascending),
            _ => Err(BoardError::BadOrder(s.to_owned())),
        }
    }
}

/// How a submitted score combines with the entry already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// Keep the better of the two (by the board's order); a tie keeps the old
    /// entry and its earlier achieved-at.
    Best,
    /// Replace the entry; the same score again keeps the earlier achieved-at.
    Set,
    /// Add the submitted amount (which may be negative, e.g. a deleted workout).
    Incr,
}

impl Operator {
    /// The operator's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Best => "best",
            Operator::Set => "set",
            Operator::Incr => "incr",
        }
    }
}

impl FromStr for Operator {
    type Err = BoardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "best" => Ok(Operator::Best),
            "set" => Ok(Operator::Set),
            "incr" => Ok(Operator::Incr),
            _ => Err(BoardError::BadOperator(s.to_owned())),
        }
    }
}

/// Who a board ranks: a kind of [`Scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    /// Everyone.
    Global,
    /// The members of one community.
    Community,
    /// The participants of one challenge.
    Challenge,
}

impl fmt::Display for ScopeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScopeKind::Global => "global",
            ScopeKind::Community => "per community",
            ScopeKind::Challenge => "per challenge",
        })
    }
}

/// Whose ranking an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everyone.
    Global,
    /// One community.
    Community(Id),
    /// One challenge.
    Challenge(Id),
}

impl Scope {
    /// The scope's kind.
    pub fn kind(self) -> ScopeKind {
        match self {
            Scope::Global => ScopeKind::Global,
            Scope::Community(_) => ScopeKind::Community,
            Scope::Challenge(_) => ScopeKind::Challenge,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Global => f.write_str("global"),
            Scope::Community(id) => write!(f, "community:{id}"),
            Scope::Challenge(id) => write!(f, "challenge:{id}"),
        }
    }
}

impl FromStr for Scope {
    type Err = BoardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BoardError::BadScope(s.to_owned());
        if s == "global" {
            return Ok(Scope::Global);
        }
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        let id: Id = id.parse().map_err(|_| bad())?;
        match kind {
            "community" => Ok(Scope::Community(id)),
            "challenge" => Ok(Scope::Challenge(id)),
            _ => Err(bad()),
        }
    }
}

/// A board's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardDef {
    /// Its id, e.g. `xp`.
    pub id: BoardId,
    /// What it measures.
    pub metric: Metric,
    /// Which end wins.
    pub order: Order,
    /// How a submission combines with the entry before.
    pub operator: Operator,
    /// The windows it keeps.
    pub windows: Vec<Window>,
    /// The time zone its daily, weekly and monthly windows reset in.
    pub time_zone: Tz,
    /// Who it ranks.
    pub scope: ScopeKind,
}

impl BoardDef {
    /// The built-in `xp` board: XP earned, summed, every window, global, UTC.
    pub fn xp() -> BoardDef {
        BoardDef::builtin("xp", Metric::Xp)
    }

    /// The built-in `distance` board: metres covered, summed, every window.
    pub fn distance() -> BoardDef {
        BoardDef::builtin("distance", Metric::Distance)
    }

    /// The built-in `workouts` board: workouts logged, counted, every window.
    pub fn workouts() -> BoardDef {
        BoardDef::builtin("workouts", Metric::Workouts)
    }

    /// The built-in `fastest_5k` board: the best 5 km time in seconds, the
    /// smallest first (`best`, ascending), every window. Which runs count is
    /// the gamification service's to say (a run of exactly 5 km: workout
    /// events carry no splits).
    pub fn fastest_5k() -> BoardDef {
        BoardDef {
            order: Order::Ascending,
            operator: Operator::Best,
            ..BoardDef::builtin("fastest_5k", Metric::Duration)
        }
    }

    /// Every built-in board.
    pub fn builtins() -> Vec<BoardDef> {
        vec![
            BoardDef::xp(),
            BoardDef::distance(),
            BoardDef::workouts(),
            BoardDef::fastest_5k(),
        ]
    }

    fn builtin(id: &str, metric: Metric) -> BoardDef {
        BoardDef {
            id: BoardId(id.to_owned()),
            metric,
            order: Order::Descending,
            operator: Operator::Incr,
            windows: Window::ALL.to_vec(),
            time_zone: Tz::UTC,
            scope: ScopeKind::Global,
        }
    }

    /// The board of every challenge counting `metric`: id `challenge-<metric>`
    /// (`challenge-distance`), one all-time window, scoped per challenge; the
    /// gamification service sets each participant's progress (`set`).
    pub fn challenge(metric: Metric) -> BoardDef {
        BoardDef {
            id: BoardId(format!("challenge-{}", metric.as_str())),
            metric,
            order: Order::Descending,
            operator: Operator::Set,
            windows: vec![Window::AllTime],
            time_zone: Tz::UTC,
            scope: ScopeKind::Challenge,
        }
    }

    /// Every board the code defines: the built-ins and the challenge boards.
    pub fn all_known() -> Vec<BoardDef> {
        BoardDef::builtins()
            .into_iter()
            .chain(
                [Metric::Xp, Metric::Distance, Metric::Workouts]
                    .into_iter()
                    .map(BoardDef::challenge),
            )
            .collect()
    }

    /// The definition of a board the code defines, by id.
    pub fn known(id: &str) -> Option<BoardDef> {
        BoardDef::all_known()
            .into_iter()
            .find(|def| def.id.as_str() == id)
    }

    /// Parses a time zone name for [`BoardDef::time_zone`].
    pub fn parse_time_zone(raw: &str) -> Result<Tz, BoardError> {
        raw.parse()
            .map_err(|_| BoardError::BadTimeZone(raw.to_owned()))
    }

    /// The instance of this board for `window` and `scope` that holds the
    /// scores of `at`.
    pub fn window_at(
        &self,
        window: Window,
        scope: Scope,
        at: DateTime<Utc>,
    ) -> Result<BoardWindow, BoardError> {
        if !self.windows.contains(&window) {
            return Err(BoardError::NoSuchWindow {
                board: self.id.clone(),
                window,
            });
        }
        if scope.kind() != self.scope {
            return Err(BoardError::WrongScope {
                board: self.id.clone(),
                expected: self.scope,
                given: scope.kind(),
            });
        }
        Ok(BoardWindow {
            board: self.id.clone(),
            order: self.order,
            operator: self.operator,
            window,
            period: window.period_at(at, self.time_zone)?,
            scope,
        })
    }

    /// Every window instance of this board that a score at `at` goes to.
    pub fn windows_at(
        &self,
        scope: Scope,
        at: DateTime<Utc>,
    ) -> Result<Vec<BoardWindow>, BoardError> {
        self.windows
            .iter()
            .map(|&w| self.window_at(w, scope, at))
            .collect()
    }
}

/// One instance of a board: one window period in one scope; one sorted set in
/// the store. Made by [`BoardDef::window_at`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoardWindow {
    /// The board.
    pub board: BoardId,
    /// Which end wins.
    pub order: Order,
    /// How submissions combine.
    pub operator: Operator,
    /// The window kind.
    pub window: Window,
    /// The period of the window.
    pub period: Period,
    /// Whose ranking.
    pub scope: Scope,
}

impl BoardWindow {
    /// When the instance's entries expire: `grace` after its period ends
    /// (`None`: all-time, never).
    pub fn expires_at(&self, grace: Duration) -> Option<DateTime<Utc>> {
        self.period.ends_at.map(|end| {
            end.checked_add_signed(grace)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        })
    }

    /// The instance's name, unique per instance, made only of the parsed parts
    /// (`xp:2026-W49:global`): the store's key and hash tag.
    pub fn name(&self) -> String {
        format!("{}:{}:{}", self.board, self.period.label, self.scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn parsing_names_what_is_wrong() {
        assert!(BoardId::parse("xp").is_ok());
        assert!(BoardId::parse("challenge-7_b").is_ok());
        for bad in ["", "XP", "x p", "a:b", "{x}", &"a".repeat(65)] {
            assert_eq!(BoardId::parse(bad), Err(BoardError::BadId(bad.to_owned())));
        }
        assert_eq!("weekly".parse::<Window>(), Ok(Window::Weekly));
        assert_eq!(
            "yearly".parse::<Window>(),
            Err(BoardError::BadWindow("yearly".into()))
        );
        assert_eq!("global".parse::<Scope>(), Ok(Scope::Global));
        assert_eq!(
            "community:42".parse::<Scope>(),
            Ok(Scope::Community(Id::from_i64(42)))
        );
        for bad in ["", "community", "community:x", "team:1", "global:1"] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
        assert_eq!("incr".parse::<Operator>(), Ok(Operator::Incr));
        assert!("max".parse::<Operator>().is_err());
        assert!(BoardDef::parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn challenge_boards_are_known_by_id_and_scoped_per_challenge() {
        let def = BoardDef::known("challenge-distance").unwrap();
        assert_eq!(def, BoardDef::challenge(Metric::Distance));
        let t = at("2026-12-05T10:00:00Z");
        let w = def
            .window_at(Window::AllTime, Scope::Challenge(Id::from_i64(7)), t)
            .unwrap();
        assert_eq!(w.name(), "challenge-distance:all:challenge:7");
        assert!(def
            .window_at(Window::Weekly, Scope::Challenge(Id::from_i64(7)), t)
            .is_err());
        assert_eq!(BoardDef::known("xp"), Some(BoardDef::xp()));
        assert_eq!(BoardDef::known("nope"), None);
    }

    #[test]
    fn builtins_keep_every_window_and_refuse_wrong_instances() {
        let ids: Vec<String> = BoardDef::builtins()
            .iter()
            .map(|d| d.id.to_string())
            .collect();
        assert_eq!(ids, ["xp", "distance", "workouts", "fastest_5k"]);
        let fastest = BoardDef::known("fastest_5k").unwrap();
        assert_eq!(
            (fastest.order, fastest.operator, fastest.metric.unit()),
            (Order::Ascending, Operator::Best, "s")
        );
        assert_eq!(BoardDef::workouts().operator, Operator::Incr);
        for def in BoardDef::builtins() {
            assert_eq!(def.windows, Window::ALL.to_vec());
            let summed = def.id.as_str() != "fastest_5k";
            assert_eq!(def.order == Order::Descending, summed);
            let t = at("2026-12-05T10:00:00Z");
            let all = def.windows_at(Scope::Global, t).unwrap();
            assert_eq!(all.len(), 4);
            let names: Vec<String> = all.iter().map(BoardWindow::name).collect();
            assert_eq!(names[1], format!("{}:2026-W49:global", def.id));
            assert!(matches!(
                def.window_at(Window::Daily, Scope::Community(Id::from_i64(1)), t),
                Err(BoardError::WrongScope { .. })
            ));
        }
        let mut weekly_only = BoardDef::xp();
        weekly_only.windows = vec![Window::Weekly];
        assert!(matches!(
            weekly_only.window_at(Window::Daily, Scope::Global, at("2026-12-05T10:00:00Z")),
            Err(BoardError::NoSuchWindow { .. })
        ));
    }
}
