//! The exercise catalogue and each user's own exercises: seeding, search (keyset
//! order by the lowercased name, then id) and visibility.

use vigor_common::db::Database;
use vigor_common::{in_tx, on_pool, Id};

use super::super::rows::{join, millis, ExerciseRow, EXERCISE_COLUMNS};
use super::super::{exercise_name_key, ExerciseQuery, StoreError, StoreResult};
use crate::domain::exercise::Exercise;

const INSERT_EXERCISE: &str = "INSERT INTO exercises (id, owner_id, slug, name, name_search, description, \
     category, primary_muscles, secondary_muscles, equipment, mechanics, unilateral, measurement, source, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

/// Binds an exercise to [`INSERT_EXERCISE`].
macro_rules! bind_exercise {
    ($sql:expr, $e:expr, $source:expr) => {
        sqlx::query($sql)
            .bind($e.id)
            .bind($e.owner_id)
            .bind(&$e.slug)
            .bind(&$e.name)
            .bind(exercise_name_key(&$e.name))
            .bind(&$e.description)
            .bind($e.category.as_str())
            .bind(join(&$e.primary_muscles))
            .bind(join(&$e.secondary_muscles))
            .bind(join(&$e.equipment))
            .bind($e.mechanics.as_str())
            .bind($e.unilateral)
            .bind($e.measurement.as_str())
            .bind($source)
            .bind(millis($e.created_at))
    };
}

fn source_json(e: &Exercise) -> StoreResult<Option<String>> {
    e.source
        .as_ref()
        .map(|s| serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// `text` as a LIKE pattern: lower-cased, wildcards escaped, words joined by `%`.
fn like_words(text: &str) -> String {
    let escaped: Vec<String> = text
        .to_lowercase()
        .split_whitespace()
        .map(|w| {
            w.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        })
        .collect();
    format!("%{}%", escaped.join("%"))
}

fn like_slug(slug: &str) -> String {
    format!("%,{slug},%")
}

pub(super) async fn seed_catalogue(db: &Database, exercises: &[Exercise]) -> StoreResult<u64> {
    let sql = format!("{INSERT_EXERCISE} ON CONFLICT (slug) DO NOTHING");
    let mut inserted = 0;
    in_tx!(db, tx => {
        for e in exercises {
            let source = source_json(e)?;
            inserted += bind_exercise!(&sql, e, source).execute(&mut *tx).await?.rows_affected();
        }
    });
    Ok(inserted)
}

pub(super) async fn insert_exercise(db: &Database, exercise: &Exercise) -> StoreResult<()> {
    let source = source_json(exercise)?;
    on_pool!(db, pool => {
        bind_exercise!(INSERT_EXERCISE, exercise, source).execute(pool).await?;
    });
    Ok(())
}

pub(super) async fn exercise(db: &Database, id: Id, viewer: Id) -> StoreResult<Option<Exercise>> {
    let sql = format!(
        "SELECT {EXERCISE_COLUMNS} FROM exercises WHERE id = $1 AND (owner_id IS NULL OR owner_id = $2)"
    );
    let row: Option<ExerciseRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(id).bind(viewer).fetch_optional(pool).await?
    });
    row.map(Exercise::try_from).transpose()
}

pub(super) async fn search_exercises(
    db: &Database,
    query: &ExerciseQuery,
) -> StoreResult<Vec<Exercise>> {
    let sql = format!(
        "SELECT {EXERCISE_COLUMNS} FROM exercises e \
         WHERE (e.owner_id IS NULL OR e.owner_id = $1) \
         AND (CAST($2 AS TEXT) IS NULL OR e.name_search LIKE $2 ESCAPE '\\') \
         AND (CAST($3 AS TEXT) IS NULL OR e.primary_muscles LIKE $3 OR e.secondary_muscles LIKE $3) \
         AND (CAST($4 AS TEXT) IS NULL OR e.equipment LIKE $4) \
         AND (CAST($5 AS TEXT) IS NULL OR e.name_search > $5 \
              OR (e.name_search = $5 AND e.id > $6)) \
         ORDER BY e.name_search, e.id LIMIT $7"
    );
    let text = query
        .text
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(like_words);
    let muscle = query.muscle.as_deref().map(like_slug);
    let equipment = query.equipment.as_deref().map(like_slug);
    let rows: Vec<ExerciseRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql)
            .bind(query.viewer)
            .bind(&text)
            .bind(&muscle)
            .bind(&equipment)
            .bind(query.after.as_ref().map(|c| &c.key))
            .bind(query.after.as_ref().map(|c| c.id))
            .bind(i64::from(query.limit))
            .fetch_all(pool)
            .await?
    });
    rows.into_iter().map(Exercise::try_from).collect()
}

pub(super) async fn visible_exercise_ids(
    db: &Database,
    ids: &[Id],
    viewer: Id,
) -> StoreResult<Vec<Id>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        on_pool!(db, pool => {
            let mut q = sqlx::QueryBuilder::new("SELECT id FROM exercises WHERE (owner_id IS NULL OR owner_id = ");
            q.push_bind(viewer).push(") AND id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            let found: Vec<Id> = q.build_query_scalar().fetch_all(pool).await?;
            out.extend(found);
        });
    }
    out.sort();
    Ok(out)
}

pub(super) async fn custom_exercises(db: &Database, owner: Id) -> StoreResult<Vec<Exercise>> {
    let sql = format!("SELECT {EXERCISE_COLUMNS} FROM exercises WHERE owner_id = $1 ORDER BY id");
    let rows: Vec<ExerciseRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(owner).fetch_all(pool).await?
    });
    rows.into_iter().map(Exercise::try_from).collect()
}
