//! Quantities with their units, each able to hold only sensible values.
//!
//! Parse, don't validate: a request's numbers become a [`Meters`], [`Kilograms`],
//! [`Rpe`] or [`Bpm`] once, at the edge, through `new` (which refuses NaN, negative
//! and absurd values with a [`UnitError`]); everything behind the edge takes the
//! typed value and never checks again. Durations are [`std::time::Duration`].

use std::fmt;
use std::ops::{Add, Sub};

use serde::{Deserialize, Deserializer, Serialize};

/// Why a number is not a valid quantity.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// NaN or infinite.
    #[error("must be a finite number")]
    NotFinite,
    /// Outside the accepted range.
    #[error("must be between {min} and {max}")]
    OutOfRange {
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// Not on the accepted step (RPE goes in halves).
    #[error("must be a multiple of {0}")]
    Step(f64),
}

fn check(value: f64, min: f64, max: f64) -> Result<f64, UnitError> {
    if !value.is_finite() {
        return Err(UnitError::NotFinite);
    }
    if value < min || value > max {
        return Err(UnitError::OutOfRange { min, max });
    }
    Ok(value)
}

/// The OpenAPI schema of a number from `min` to `max`, in steps of `step` when
/// given: each quantity states in the document the bounds its `new` enforces
/// ([`quantity_schema!`]), so the two cannot drift apart.
pub(crate) fn bounded_schema(
    integer: bool,
    min: f64,
    max: f64,
    step: Option<f64>,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(if integer { Type::Integer } else { Type::Number })
        .minimum(Some(min))
        .maximum(Some(max))
        .multiple_of(step)
        .description(Some(description))
        .into()
}

/// `PartialSchema` and `ToSchema` for a bounded quantity: `integer` or `number`,
/// its bounds (the constants `new` checks) and a description.
macro_rules! quantity_schema {
    ($ty:ident, $kind:ident, $min:expr, $max:expr, $step:expr, $description:literal) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::domain::units::bounded_schema(
                    stringify!($kind) == "integer",
                    f64::from($min),
                    f64::from($max),
                    $step,
                    $description,
                )
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}
pub(crate) use quantity_schema;

macro_rules! quantity_serde {
    ($ty:ident, $inner:ty) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <$inner>::deserialize(d)?;
                $ty::new(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A distance or an elevation difference, in metres (never negative).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Meters(f64);

impl Meters {
    /// The longest distance one workout may carry: 1,000 km.
    pub const MAX: f64 = 1_000_000.0;
    /// Zero metres.
    pub const ZERO: Meters = Meters(0.0);

    /// A distance of 0 to [`Meters::MAX`] metres.
    pub fn new(value: f64) -> Result<Self, UnitError> {
        check(value, 0.0, Self::MAX).map(Meters)
    }

    /// A distance computed by the analysis (finite and non-negative by construction).
    pub(crate) fn computed(value: f64) -> Self {
        debug_assert!(value.is_finite() && value >= 0.0, "{value}");
        Meters(value.max(0.0))
    }

    /// The value in metres.
    pub fn get(self) -> f64 {
        self.0
    }

    /// The value in kilometres.
    pub fn km(self) -> f64 {
        self.0 / 1000.0
    }
}

impl Add for Meters {
    type Output = Meters;
    fn add(self, rhs: Meters) -> Meters {
        Meters(self.0 + rhs.0)
    }
}

impl Sub for Meters {
    type Output = Meters;
    /// Saturates at zero: a distance is never negative.
    fn sub(self, rhs: Meters) -> Meters {
        Meters((self.0 - rhs.0).max(0.0))
    }
}

impl fmt::Display for Meters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} m", self.0)
    }
}

quantity_serde!(Meters, f64);
quantity_schema!(
    Meters,
    number,
    0.0,
    Meters::MAX,
    None,
    "Metres (0 to 1,000 km)."
);

/// A load on the bar, in kilograms (0 for body weight, up to 1,000).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Kilograms(f64);

impl Kilograms {
    /// The heaviest load accepted.
    pub const MAX: f64 = 1000.0;

    /// A load of 0 to [`Kilograms::MAX`] kg.
    pub fn new(value: f64) -> Result<Self, UnitError> {
        check(value, 0.0, Self::MAX).map(Kilograms)
    }

    /// A load computed by the analysis (finite and non-negative by construction).
    pub(crate) fn computed(value: f64) -> Self {
        debug_assert!(value.is_finite() && value >= 0.0, "{value}");
        Kilograms(value.max(0.0))
    }

    /// The value in kilograms.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Kilograms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} kg", self.0)
    }
}

quantity_serde!(Kilograms, f64);
quantity_schema!(
    Kilograms,
    number,
    0.0,
    Kilograms::MAX,
    None,
    "Kilograms (0 to 1,000)."
);

/// Rating of perceived exertion on the 1–10 scale (Borg CR10 as used for lifting),
/// in steps of 0.5.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rpe(f64);

impl Rpe {
    /// The lowest rating.
    pub const MIN: f64 = 1.0;
    /// The highest rating.
    pub const MAX: f64 = 10.0;

    /// An RPE of 1 to 10 in halves.
    pub fn new(value: f64) -> Result<Self, UnitError> {
        let value = check(value, Self::MIN, Self::MAX)?;
        if (value * 2.0).fract() != 0.0 {
            return Err(UnitError::Step(0.5));
        }
        Ok(Rpe(value))
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }

    /// Reps in reserve this RPE stands for (RPE 8 = 2 reps left in the tank).
    pub fn reps_in_reserve(self) -> f64 {
        10.0 - self.0
    }
}

quantity_serde!(Rpe, f64);
quantity_schema!(
    Rpe,
    number,
    Rpe::MIN,
    Rpe::MAX,
    Some(0.5),
    "Rating of perceived exertion, 1 to 10 in halves."
);

/// A heart rate in beats per minute (20–250).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bpm(u16);

impl Bpm {
    /// The lowest heart rate accepted.
    pub const MIN: u16 = 20;
    /// The highest heart rate accepted.
    pub const MAX: u16 = 250;

    /// A heart rate a human can have.
    pub fn new(value: u16) -> Result<Self, UnitError> {
        if !(Self::MIN..=Self::MAX).contains(&value) {
            return Err(UnitError::OutOfRange {
                min: f64::from(Self::MIN),
                max: f64::from(Self::MAX),
            });
        }
        Ok(Bpm(value))
    }

    /// The value.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl Serialize for Bpm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

quantity_schema!(
    Bpm,
    integer,
    Bpm::MIN,
    Bpm::MAX,
    None,
    "Beats per minute (20 to 250)."
);

impl<'de> Deserialize<'de> for Bpm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Bpm::new(u16::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Repetitions of one set (0–1,000; 0 is a failed attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reps(u16);

impl Reps {
    /// The most repetitions one set may have.
    pub const MAX: u16 = 1000;

    /// 0 to 1,000 repetitions.
    pub fn new(value: u16) -> Result<Self, UnitError> {
        if value > Self::MAX {
            return Err(UnitError::OutOfRange {
                min: 0.0,
                max: f64::from(Self::MAX),
            });
        }
        Ok(Reps(value))
    }

    /// The count.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl Serialize for Reps {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

quantity_schema!(
    Reps,
    integer,
    0u16,
    Reps::MAX,
    None,
    "Repetitions (0 to 1,000; 0 is a failed attempt)."
);

impl<'de> Deserialize<'de> for Reps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Reps::new(u16::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A speed in metres per second.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct MetersPerSecond(pub f64);

impl MetersPerSecond {
    /// Kilometres per hour.
    pub fn kmh(self) -> f64 {
        self.0 * 3.6
    }

    /// The pace this speed means: time per kilometre; `None` when standing still.
    pub fn pace_per_km(self) -> Option<std::time::Duration> {
        (self.0 > 0.0).then(|| std::time::Duration::from_secs_f64(1000.0 / self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_refuse_nonsense() {
        assert!(Meters::new(f64::NAN).is_err());
        assert!(Meters::new(-1.0).is_err());
        assert!(Meters::new(Meters::MAX + 1.0).is_err());
        assert_eq!(Meters::new(42.0).unwrap().get(), 42.0);
        assert!(Kilograms::new(f64::INFINITY).is_err());
        assert!(Kilograms::new(-2.5).is_err());
        assert_eq!(Kilograms::new(102.5).unwrap().get(), 102.5);
        assert!(Rpe::new(0.5).is_err());
        assert!(Rpe::new(10.5).is_err());
        assert_eq!(Rpe::new(7.3), Err(UnitError::Step(0.5)));
        assert_eq!(Rpe::new(8.5).unwrap().reps_in_reserve(), 1.5);
        assert!(Bpm::new(19).is_err());
        assert!(Bpm::new(251).is_err());
        assert!(Reps::new(1001).is_err());
    }

    #[test]
    fn quantities_parse_from_json_through_their_constructors() {
        assert_eq!(serde_json::from_str::<Rpe>("9").unwrap().get(), 9.0);
        assert!(serde_json::from_str::<Rpe>("11").is_err());
        assert!(serde_json::from_str::<Meters>("-3").is_err());
        assert!(serde_json::from_str::<Bpm>("300").is_err());
        assert_eq!(
            serde_json::to_string(&Kilograms::new(60.0).unwrap()).unwrap(),
            "60.0"
        );
    }

    #[test]
    fn pace_is_the_inverse_of_speed() {
        // 4 m/s → 1000 m / 4 m/s = 250 s per km (4:10 /km); 4 × 3.6 = 14.4 km/h.
        let speed = MetersPerSecond(4.0);
        assert_eq!(
            speed.pace_per_km(),
            Some(std::time::Duration::from_secs(250))
        );
        assert!((speed.kmh() - 14.4).abs() < 1e-9);
        assert_eq!(MetersPerSecond(0.0).pace_per_km(), None);
    }

    #[test]
    fn distances_never_go_negative() {
        let a = Meters::new(5.0).unwrap();
        let b = Meters::new(7.0).unwrap();
        assert_eq!((a - b).get(), 0.0);
        assert_eq!((a + b).get(), 12.0);
    }
}
