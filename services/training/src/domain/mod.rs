//! The training domain: types that can only hold valid values, and the rules and
//! analysis over them. No I/O here; `store` and `http` build on it.

pub mod analysis;
pub mod coaching;
pub mod draft;
pub mod exercise;
pub mod history;
pub mod kinds;
pub mod plan;
pub mod schedule;
pub mod settings;
pub mod track;
pub mod units;
pub mod workout;
