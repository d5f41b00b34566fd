//! The closed vocabularies of training: sports, set types, privacy, and how an
//! exercise is categorised and measured.
//!
//! Each is an enum that serialises in `snake_case` for JSON and is stored as the
//! same string ([`as_str`](Sport::as_str) / [`FromStr`]), so the database, the API
//! and the code agree on one spelling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A stored string that is not one of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownVariant {
    /// What was being parsed.
    pub kind: &'static str,
    /// The string.
    pub value: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant { kind: $kind, value: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Where a coaching relationship stands.
    LinkStatus, "coaching status" {
        /// The coach invited; the athlete has not answered.
        Pending => "pending",
        /// The athlete accepted: the coach sees their logs and assigns plans.
        Accepted => "accepted",
        /// The athlete declined the invitation.
        Declined => "declined",
        /// Either side ended it (or the coach withdrew the invitation).
        Ended => "ended",
    }
}

string_enum! {
    /// What kind of session a workout is.
    Sport, "sport" {
        /// Running on roads or a track.
        Run => "run",
        /// Running off-road.
        TrailRun => "trail_run",
        /// Walking.
        Walk => "walk",
        /// Hiking.
        Hike => "hike",
        /// Cycling.
        Ride => "ride",
        /// Swimming.
        Swim => "swim",
        /// Rowing (water or erg).
        Row => "row",
        /// Cross-country or alpine skiing.
        Ski => "ski",
        /// Weight training.
        Strength => "strength",
        /// Yoga and mobility work.
        Yoga => "yoga",
        /// Anything else.
        Other => "other",
    }
}

impl Sport {
    /// Whether running-style best efforts (fastest 1 km … marathon) apply.
    pub fn is_running(self) -> bool {
        matches!(self, Sport::Run | Sport::TrailRun)
    }
}

string_enum! {
    /// The role of a set within an exercise.
    SetType, "set type" {
        /// A lighter set before the work; not counted in volume or records.
        WarmUp => "warm_up",
        /// A regular set.
        Working => "working",
        /// A set right after another with the load reduced.
        Drop => "drop",
        /// A set taken to muscular failure.
        Failure => "failure",
    }
}

string_enum! {
    /// Who may see a workout.
    Privacy, "privacy" {
        /// Everyone.
        Public => "public",
        /// The owner's followers (as social's follow events tell training), the
        /// owner and their accepted coach.
        Followers => "followers",
        /// The owner and their accepted coach.
        Private => "private",
    }
}

string_enum! {
    /// The broad kind of an exercise.
    ExerciseCategory, "exercise category" {
        /// Resistance training.
        Strength => "strength",
        /// Endurance work.
        Cardio => "cardio",
        /// Stretching and mobility.
        Mobility => "mobility",
        /// Jumps and explosive work.
        Plyometrics => "plyometrics",
        /// Anything else.
        Other => "other",
    }
}

string_enum! {
    /// Whether an exercise works several joints or one.
    Mechanics, "mechanics" {
        /// Several joints (squat, bench press).
        Compound => "compound",
        /// One joint (curl, leg extension).
        Isolation => "isolation",
    }
}

string_enum! {
    /// What one logs for a set of the exercise.
    Measurement, "measurement" {
        /// A load and a number of repetitions.
        WeightReps => "weight_reps",
        /// Repetitions only (body weight).
        Reps => "reps",
        /// A held time (plank).
        Time => "time",
        /// A distance in a time (rowing 500 m).
        DistanceTime => "distance_time",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_storage_and_json() {
        for sport in Sport::ALL {
            assert_eq!(sport.as_str().parse::<Sport>().unwrap(), *sport);
            let json = serde_json::to_string(sport).unwrap();
            assert_eq!(json, format!("\"{}\"", sport.as_str()));
        }
        for t in SetType::ALL {
            assert_eq!(t.as_str().parse::<SetType>().unwrap(), *t);
        }
        assert_eq!(
            serde_json::to_string(&SetType::WarmUp).unwrap(),
            "\"warm_up\""
        );
        assert!("jogging".parse::<Sport>().is_err());
        assert!(serde_json::from_str::<Privacy>("\"secret\"").is_err());
    }
}
