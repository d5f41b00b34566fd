//! The analysis: pure functions from logged data to numbers, without I/O.
//!
//! - [`strength`]: estimated 1RM (Epley, Brzycki) and volume;
//! - [`progress`]: one exercise session by session (best e1RM, top set, volume);
//! - [`load`]: session load (session-RPE, TRIMP) and the acute:chronic ratio;
//! - [`track`]: distance, moving time, climb, splits, zones, best efforts of a route;
//! - [`polyline`]: simplification and encoding of a route for storage;
//! - [`summary`]: all of the track analysis at once, as an import stores it.
//!
//! Every function has a unit test against a worked example with its arithmetic.

pub mod load;
pub mod polyline;
pub mod progress;
pub mod progression;
pub mod recommend;
pub mod records;
pub mod stats;
pub mod strength;
pub mod summary;
pub mod today;
pub mod track;
