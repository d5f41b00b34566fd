//! Exercises: the shared catalogue and users' private ones.
//!
//! The catalogue is embedded in the binary (`data/exercises.json`, converted from
//! wger's CC-BY-SA data, see `data/LICENSE-wger.md`) and seeded into the database
//! on first start; a user's custom exercise has an owner and only its owner sees it.
//! Muscles and equipment are short slugs (`chest`, `barbell`) from closed lists, so
//! search by muscle or equipment is exact.

use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::kinds::{ExerciseCategory, Measurement, Mechanics};

/// The muscle slugs exercises use.
pub const MUSCLES: &[&str] = &[
    "abs",
    "biceps",
    "brachialis",
    "calves",
    "chest",
    "forearms",
    "glutes",
    "hamstrings",
    "lats",
    "lower_back",
    "obliques",
    "quads",
    "serratus",
    "shoulders",
    "soleus",
    "traps",
    "triceps",
    "adductors",
    "abductors",
    "hip_flexors",
    "neck",
    "full_body",
    "cardiovascular",
];

/// The equipment slugs exercises use.
pub const EQUIPMENT: &[&str] = &[
    "barbell",
    "ez_bar",
    "dumbbell",
    "mat",
    "swiss_ball",
    "pull_up_bar",
    "bodyweight",
    "bench",
    "incline_bench",
    "kettlebell",
    "resistance_band",
    "cable",
    "machine",
    "smith_machine",
    "trap_bar",
    "medicine_ball",
    "rower",
    "treadmill",
    "bike",
    "rings",
    "box",
    "other",
];

/// Where a catalogue exercise comes from, for attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExerciseSource {
    /// The exercise's id in wger.
    pub wger_uuid: String,
    /// Its licence (`CC-BY-SA 3`, `CC-BY-SA 4`, `CC0`).
    pub license: String,
    /// Its author, to credit.
    pub author: String,
}

/// An exercise.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Exercise {
    /// Its id.
    pub id: Id,
    /// The user it belongs to; `null` for the shared catalogue.
    pub owner_id: Option<Id>,
    /// Stable name of a catalogue exercise (`barbell-hack-squats`); `null` for custom ones.
    pub slug: Option<String>,
    /// Display name.
    pub name: String,
    /// How to do it (plain text).
    pub description: String,
    /// Broad kind.
    pub category: ExerciseCategory,
    /// Muscles it mainly works.
    pub primary_muscles: Vec<String>,
    /// Muscles it also works.
    pub secondary_muscles: Vec<String>,
    /// What it needs.
    pub equipment: Vec<String>,
    /// Compound or isolation.
    pub mechanics: Mechanics,
    /// Whether one side works at a time.
    pub unilateral: bool,
    /// What one logs per set.
    pub measurement: Measurement,
    /// Attribution of catalogue exercises.
    pub source: Option<ExerciseSource>,
    /// When it was added.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// One entry of the embedded catalogue file.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogueEntry {
    /// Stable name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// How to do it.
    pub description: String,
    /// Broad kind.
    pub category: ExerciseCategory,
    /// Main muscles.
    pub primary_muscles: Vec<String>,
    /// Other muscles.
    pub secondary_muscles: Vec<String>,
    /// What it needs.
    pub equipment: Vec<String>,
    /// Compound or isolation.
    pub mechanics: Mechanics,
    /// One side at a time.
    pub unilateral: bool,
    /// What one logs.
    pub measurement: Measurement,
    /// Attribution.
    pub source: ExerciseSource,
}

/// The embedded catalogue file.
pub const CATALOGUE_JSON: &str = include_str!("../../data/exercises.json");

/// The embedded catalogue, parsed. Its validity is checked by a unit test, so a
/// failure here is a broken build, not bad input.
pub fn catalogue() -> anyhow::Result<Vec<CatalogueEntry>> {
    let entries: Vec<CatalogueEntry> = serde_json::from_str(CATALOGUE_JSON)?;
    for e in &entries {
        let unknown = e
            .primary_muscles
            .iter()
            .chain(&e.secondary_muscles)
            .find(|m| !MUSCLES.contains(&m.as_str()))
            .or_else(|| {
                e.equipment
                    .iter()
                    .find(|q| !EQUIPMENT.contains(&q.as_str()))
            });
        if let Some(unknown) = unknown {
            anyhow::bail!("catalogue exercise {} names unknown `{unknown}`", e.slug);
        }
    }
    Ok(entries)
}

impl CatalogueEntry {
    /// The entry as a catalogue exercise with `id`.
    pub fn into_exercise(self, id: Id, now: Timestamp) -> Exercise {
        Exercise {
            id,
            owner_id: None,
            slug: Some(self.slug),
            name: self.name,
            description: self.description,
            category: self.category,
            primary_muscles: self.primary_muscles,
            secondary_muscles: self.secondary_muscles,
            equipment: self.equipment,
            mechanics: self.mechanics,
            unilateral: self.unilateral,
            measurement: self.measurement,
            source: Some(self.source),
            created_at: now,
        }
    }
}

/// Why a custom exercise is refused, by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// A name: 1–100 characters after trimming, no control characters.
pub fn parse_name(raw: &str, field: &'static str, max: usize) -> Result<String, FieldProblem> {
    let name = raw.trim();
    let problem = |message: &str| FieldProblem {
        field,
        message: message.to_owned(),
    };
    if name.is_empty() {
        return Err(problem("must not be empty"));
    }
    if name.chars().count() > max {
        return Err(problem(&format!("must be at most {max} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(problem("must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// Checks slugs against a closed list, deduplicated and sorted.
pub fn parse_slugs(
    raw: &[String],
    allowed: &[&str],
    field: &'static str,
) -> Result<Vec<String>, FieldProblem> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for s in raw {
        if !allowed.contains(&s.as_str()) {
            return Err(FieldProblem {
                field,
                message: format!("unknown `{s}`; one of: {}", allowed.join(", ")),
            });
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalogue_is_valid_and_large_enough() {
        let entries = catalogue().unwrap();
        assert!(entries.len() >= 150, "{}", entries.len());
        let mut slugs: Vec<&str> = entries.iter().map(|e| e.slug.as_str()).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), entries.len(), "slugs are unique");
        assert!(entries
            .iter()
            .all(|e| !e.source.author.is_empty() && !e.source.license.is_empty()));
        let squat = entries
            .iter()
            .find(|e| e.slug == "barbell-hack-squats")
            .unwrap();
        assert_eq!(squat.primary_muscles, vec!["quads"]);
        assert_eq!(squat.equipment, vec!["barbell"]);
    }

    #[test]
    fn names_and_slugs_are_parsed() {
        assert_eq!(
            parse_name("  Zercher squat ", "name", 100).unwrap(),
            "Zercher squat"
        );
        assert!(parse_name("   ", "name", 100).is_err());
        assert!(parse_name("a\u{0}b", "name", 100).is_err());
        assert!(parse_name(&"x".repeat(101), "name", 100).is_err());
        let slugs = ["quads".to_owned(), "glutes".to_owned(), "quads".to_owned()];
        assert_eq!(
            parse_slugs(&slugs, MUSCLES, "m").unwrap(),
            vec!["glutes", "quads"]
        );
        assert!(parse_slugs(&["wings".to_owned()], MUSCLES, "m").is_err());
    }
}
