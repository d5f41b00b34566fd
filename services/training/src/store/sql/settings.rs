//! An athlete's heart-rate settings, one row per user, upserted.

use vigor_common::api::Timestamp;
use vigor_common::db::Database;
use vigor_common::{on_pool, Id};

use super::super::rows::millis;
use super::super::{StoreError, StoreResult};
use crate::domain::settings::AthleteSettings;
use crate::domain::units::Bpm;

pub(super) async fn settings(db: &Database, user: Id) -> StoreResult<AthleteSettings> {
    let sql = "SELECT max_hr, resting_hr FROM athlete_settings WHERE user_id = $1";
    let row: Option<(Option<i64>, Option<i64>)> = on_pool!(db, pool => {
        sqlx::query_as(sql).bind(user).fetch_optional(pool).await?
    });
    let bpm = |what: &str, v: Option<i64>| -> StoreResult<Option<Bpm>> {
        v.map(|n| {
            u16::try_from(n)
                .ok()
                .and_then(|n| Bpm::new(n).ok())
                .ok_or_else(|| StoreError::Corrupt(format!("{what} {n} of user {user}")))
        })
        .transpose()
    };
    let (max, resting) = row.unwrap_or((None, None));
    Ok(AthleteSettings {
        max_hr: bpm("max_hr", max)?,
        resting_hr: bpm("resting_hr", resting)?,
    })
}

pub(super) async fn put_settings(
    db: &Database,
    user: Id,
    settings: &AthleteSettings,
    at: Timestamp,
) -> StoreResult<()> {
    let sql = "INSERT INTO athlete_settings (user_id, max_hr, resting_hr, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET max_hr = excluded.max_hr, resting_hr = excluded.resting_hr, \
         updated_at = excluded.updated_at";
    let hr = |b: Option<Bpm>| b.map(|b| i64::from(b.get()));
    on_pool!(db, pool => {
        sqlx::query(sql)
            .bind(user)
            .bind(hr(settings.max_hr))
            .bind(hr(settings.resting_hr))
            .bind(millis(at))
            .execute(pool)
            .await?;
    });
    Ok(())
}
