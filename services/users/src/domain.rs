//! The users service's types and rules, without I/O.
//!
//! Parse, don't validate: a [`ProfileChanges`] can only be built by
//! [`ProfileChanges::parse`], which checks every field of a `PATCH` body and names
//! each invalid one, so storage and handlers never re-check. Enumerations
//! ([`Units`], [`Privacy`], [`Role`], [`Status`]) have one stored and one JSON
//! spelling, the same lowercase word.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use vigor_common::problem::FieldError;

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 64;
/// Longest bio, in characters.
pub const MAX_BIO: usize = 500;
/// Longest avatar URL, in bytes.
pub const MAX_AVATAR_URL: usize = 2048;
/// Earliest birth year accepted.
pub const MIN_BIRTH_YEAR: i32 = 1900;
/// Youngest age accepted, in years (the platform is for ages 13 and up).
pub const MIN_AGE: i32 = 13;

/// Measurement units a user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// Kilometres and kilograms.
    Metric,
    /// Miles and pounds.
    Imperial,
}

/// Who may see something: everyone, the owner's followers, or only the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ProfilePrivacy)]
pub enum Privacy {
    /// Everyone.
    Public,
    /// The owner's followers.
    Followers,
    /// Only the owner.
    Private,
}

/// A role; access tokens carry the user's roles.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every account.
    User,
    /// May coach athletes who accept.
    Coach,
    /// May moderate communities.
    Moderator,
    /// May act on other accounts (with the `staff` scope).
    Admin,
}

/// Whether an account is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In use.
    Active,
    /// Deactivated by its owner: hidden from others, sign-in refused.
    Deactivated,
}

/// An enumeration's stored spelling could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    /// Which enumeration.
    pub kind: &'static str,
    /// What was found.
    pub value: String,
}

macro_rules! words {
    ($ty:ident, $kind:literal, $($variant:ident => $word:literal),+ $(,)?) => {
        impl $ty {
            /// The stored and JSON spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word,)+
                }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownValue;

            fn from_str(raw: &str) -> Result<Self, UnknownValue> {
                match raw {
                    $($word => Ok($ty::$variant),)+
                    other => Err(UnknownValue { kind: $kind, value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words!(Units, "units", Metric => "metric", Imperial => "imperial");
words!(Privacy, "privacy", Public => "public", Followers => "followers", Private => "private");
words!(Role, "role", User => "user", Coach => "coach", Moderator => "moderator", Admin => "admin");
words!(Status, "status", Active => "active", Deactivated => "deactivated");

/// A set of roles that always contains [`Role::User`], in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    /// The roles of a new account.
    pub fn new_account() -> Roles {
        Roles(BTreeSet::from([Role::User]))
    }

    /// `roles` plus [`Role::User`], which every account keeps.
    pub fn of(roles: impl IntoIterator<Item = Role>) -> Roles {
        let mut set: BTreeSet<Role> = roles.into_iter().collect();
        set.insert(Role::User);
        Roles(set)
    }

    /// Parses stored or event spellings.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Roles, UnknownValue> {
        let roles = words
            .into_iter()
            .map(Role::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Roles::of(roles))
    }

    /// Whether `role` is among them.
    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    /// The roles, in order.
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    /// The spellings, in order (as access tokens carry them).
    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(|r| r.as_str().to_owned()).collect()
    }
}

/// A validated display name: trimmed, 1–64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a display name.
    pub fn parse(raw: &str) -> Result<DisplayName, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if name.chars().count() > MAX_DISPLAY_NAME {
            return Err(format!("must be at most {MAX_DISPLAY_NAME} characters"));
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".to_owned());
        }
        Ok(DisplayName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The search key of a display name (or of a search prefix): lowercased.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A validated IANA time zone name (`Europe/Berlin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone(String);

impl TimeZone {
    /// Parses an IANA time zone name.
    pub fn parse(raw: &str) -> Result<TimeZone, String> {
        match raw.parse::<chrono_tz::Tz>() {
            Ok(tz) => Ok(TimeZone(tz.name().to_owned())),
            Err(_) => Err("must be an IANA time zone name such as Europe/Berlin".to_owned()),
        }
    }

    /// The default of new accounts.
    pub fn utc() -> TimeZone {
        TimeZone("UTC".to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An optional field of a `PATCH` body: absent (unchanged), `null` (cleared), or a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    /// Not in the body: keep the current value.
    #[default]
    Keep,
    /// `null`: clear it.
    Clear,
    /// A new value.
    Set(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Only called when the field is present (`#[serde(default)]` gives Keep).
        Ok(match Option::<T>::deserialize(deserializer)? {
            None => Patch::Clear,
            Some(value) => Patch::Set(value),
        })
    }
}

impl<T> Patch<T> {
    /// Applies the patch to `current`.
    pub fn apply(self, current: &mut Option<T>) {
        match self {
            Patch::Keep => {}
            Patch::Clear => *current = None,
            Patch::Set(value) => *current = Some(value),
        }
    }
}

/// The raw body of `PATCH /v1/users/me`: every field optional; nullable ones may be `null`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1–64 characters.
    #[serde(default)]
    pub display_name: Option<String>,
    /// An `https` (or `http`) URL, at most 2048 bytes; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Patch<String>,
    /// At most 500 characters; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub bio: Patch<String>,
    /// `metric` or `imperial`.
    #[serde(default)]
    pub units: Option<String>,
    /// An IANA time zone name.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// From 1900 to 13 years ago; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub birth_year: Patch<i64>,
    /// Height in centimetres, 50–300; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub height_cm: Patch<f64>,
    /// Body weight in kilograms, 20–500; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub weight_kg: Patch<f64>,
    /// Who sees the profile's details: `public`, `followers` or `private`.
    #[serde(default)]
    pub profile_visibility: Option<String>,
    /// The default privacy of new activities: `public`, `followers` or `private`.
    #[serde(default)]
    pub activity_privacy: Option<String>,
}

/// A validated profile change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileChanges {
    /// New display name.
    pub display_name: Option<DisplayName>,
    /// New avatar URL.
    pub avatar_url: Patch<String>,
    /// New bio.
    pub bio: Patch<String>,
    /// New units.
    pub units: Option<Units>,
    /// New time zone.
    pub time_zone: Option<TimeZone>,
    /// New birth year.
    pub birth_year: Patch<i32>,
    /// New height, cm.
    pub height_cm: Patch<f64>,
    /// New weight, kg.
    pub weight_kg: Patch<f64>,
    /// New profile visibility.
    pub profile_visibility: Option<Privacy>,
    /// New default activity privacy.
    pub activity_privacy: Option<Privacy>,
}

fn parse_avatar_url(raw: &str) -> Result<String, String> {
    if raw.len() > MAX_AVATAR_URL {
        return Err(format!("must be at most {MAX_AVATAR_URL} bytes"));
    }
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => {
            Ok(url.to_string())
        }
        _ => Err("must be an absolute http(s) URL".to_owned()),
    }
}

fn parse_bio(raw: &str) -> Result<String, String> {
    let bio = raw.trim();
    if bio.chars().count() > MAX_BIO {
        return Err(format!("must be at most {MAX_BIO} characters"));
    }
    Ok(bio.to_owned())
}

fn parse_birth_year(year: i64, current_year: i32) -> Result<i32, String> {
    let latest = current_year - MIN_AGE;
    match i32::try_from(year) {
        Ok(y) if (MIN_BIRTH_YEAR..=latest).contains(&y) => Ok(y),
        _ => Err(format!("must be between {MIN_BIRTH_YEAR} and {latest}")),
    }
}

fn parse_measure(value: f64, min: f64, max: f64) -> Result<f64, String> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be between {min} and {max}"))
    }
}

fn parse_word<T: FromStr>(raw: &str, allowed: &str) -> Result<T, String> {
    raw.parse().map_err(|_| format!("must be one of {allowed}"))
}

impl ProfileChanges {
    /// Checks every field of `patch`; the error names each invalid field.
    /// `current_year` bounds the birth year.
    pub fn parse(
        patch: ProfilePatch,
        current_year: i32,
    ) -> Result<ProfileChanges, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(FieldError {
                    field: field.to_owned(),
                    message,
                });
            }
        };
        let mut changes = ProfileChanges::default();
        if let Some(raw) = &patch.display_name {
            check(
                "display_name",
                DisplayName::parse(raw).map(|v| changes.display_name = Some(v)),
            );
        }
        match patch.avatar_url {
            Patch::Set(raw) => check(
                "avatar_url",
                parse_avatar_url(&raw).map(|v| changes.avatar_url = Patch::Set(v)),
            ),
            other => changes.avatar_url = other,
        }
        match patch.bio {
            Patch::Set(raw) => check("bio", parse_bio(&raw).map(|v| changes.bio = Patch::Set(v))),
            other => changes.bio = other,
        }
        if let Some(raw) = &patch.units {
            check(
                "units",
                parse_word(raw, "metric, imperial").map(|v| changes.units = Some(v)),
            );
        }
        if let Some(raw) = &patch.time_zone {
            check(
                "time_zone",
                TimeZone::parse(raw).map(|v| changes.time_zone = Some(v)),
            );
        }
        match patch.birth_year {
            Patch::Set(year) => check(
                "birth_year",
                parse_birth_year(year, current_year).map(|v| changes.birth_year = Patch::Set(v)),
            ),
            Patch::Clear => changes.birth_year = Patch::Clear,
            Patch::Keep => {}
        }
        match patch.height_cm {
            Patch::Set(cm) => check(
                "height_cm",
                parse_measure(cm, 50.0, 300.0).map(|v| changes.height_cm = Patch::Set(v)),
            ),
            other => changes.height_cm = other,
        }
        match patch.weight_kg {
            Patch::Set(kg) => check(
                "weight_kg",
                parse_measure(kg, 20.0, 500.0).map(|v| changes.weight_kg = Patch::Set(v)),
            ),
            other => changes.weight_kg = other,
        }
        let privacy = "public, followers, private";
        if let Some(raw) = &patch.profile_visibility {
            check(
                "profile_visibility",
                parse_word(raw, privacy).map(|v| changes.profile_visibility = Some(v)),
            );
        }
        if let Some(raw) = &patch.activity_privacy {
            check(
                "activity_privacy",
                parse_word(raw, privacy).map(|v| changes.activity_privacy = Some(v)),
            );
        }
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: serde_json::Value) -> Result<ProfileChanges, Vec<String>> {
        let patch: ProfilePatch = serde_json::from_value(json).unwrap();
        ProfileChanges::parse(patch, 2026)
            .map_err(|errors| errors.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn every_invalid_field_is_named() {
        let fields = patch(serde_json::json!({
            "display_name": "  ",
            "avatar_url": "javascript:alert(1)",
            "bio": "x".repeat(501),
            "units": "furlongs",
            "time_zone": "Mars/Olympus",
            "birth_year": 2020,
            "height_cm": 12.0,
            "weight_kg": -3.0,
            "profile_visibility": "friends",
            "activity_privacy": "everyone",
        }))
        .unwrap_err();
        assert_eq!(
            fields,
            [
                "display_name",
                "avatar_url",
                "bio",
                "units",
                "time_zone",
                "birth_year",
                "height_cm",
                "weight_kg",
                "profile_visibility",
                "activity_privacy"
            ]
        );
    }

    #[test]
    fn absent_null_and_values_are_told_apart() {
        let changes = patch(serde_json::json!({
            "bio": null,
            "time_zone": "Europe/Berlin",
            "birth_year": 1990,
            "units": "imperial",
        }))
        .unwrap();
        assert_eq!(changes.bio, Patch::Clear);
        assert_eq!(changes.avatar_url, Patch::Keep);
        assert_eq!(changes.birth_year, Patch::Set(1990));
        assert_eq!(changes.units, Some(Units::Imperial));
        assert_eq!(changes.time_zone.unwrap().as_str(), "Europe/Berlin");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let result: Result<ProfilePatch, _> =
            serde_json::from_value(serde_json::json!({"email": "x@example.com"}));
        assert!(result.is_err());
    }

    #[test]
    fn roles_always_keep_user_and_parse_strictly() {
        let roles = Roles::parse(["admin", "coach"]).unwrap();
        assert_eq!(roles.to_strings(), ["user", "coach", "admin"]);
        assert!(Roles::parse(["root"]).is_err());
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ann ").unwrap().as_str(), "Ann");
        assert!(DisplayName::parse(&"a".repeat(65)).is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
    }
}
