/** A workout: its numbers, the track from the stored polyline (SVG), splits, zones and sets. */
import { useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { useLoad } from "../components/useLoad";
import { Status } from "../components/Status";
import { decodePolyline, formatDuration, formatPace, trackPath } from "../training/polyline";
import { Stat } from "../components/Stat";

export default function Workout() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const loaded = useLoad(async () => unwrap(await api.GET("/v1/training/workouts/{id}", { params: { path: { id } } })), [id]);
  const w = loaded.data;
  // Workouts name their exercises by id; the catalogue has the names.
  const ids = [...new Set(w?.exercises.map((e) => e.exercise_id) ?? [])];
  const catalogue = useLoad(
    async () =>
      Promise.all(ids.map(async (exercise) => unwrap(await api.GET("/v1/training/exercises/{id}", { params: { path: { id: exercise } } })))),
    [ids],
  );
  const names = new Map(catalogue.data?.map((e) => [e.id, e.name]));
  const points = w?.track ? decodePolyline(w.track.polyline) : [];

  return (
    <>
      <h1>{w?.title ?? t("workout.title")}</h1>
      <Status loaded={loaded} />
      {w && (
        <>
          <dl className="card row">
            <Stat label={t("workout.duration")}>{formatDuration(w.duration_s)}</Stat>
            {w.distance_m != null && (
              <Stat label={t("workout.distance")}>{(w.distance_m / 1000).toFixed(2)} km</Stat>
            )}
            {w.avg_pace_s_per_km != null && (
              <Stat label={t("workout.pace")}>{formatPace(w.avg_pace_s_per_km)}</Stat>
            )}
            {w.avg_heart_rate != null && (
              <Stat label={t("workout.heartRate")}>{w.avg_heart_rate}</Stat>
            )}
          </dl>
          {w.track && (
            <section className="card" aria-labelledby="w-track">
              <h2 id="w-track">{t("workout.track")}</h2>
              {points.length > 1 ? (
                <svg className="track" viewBox="0 0 400 300" role="img" aria-label={t("workout.track")} data-testid="track">
                  <path d={trackPath(points, 400, 300, 12)} fill="none" stroke="#c2410c" strokeWidth="3" strokeLinejoin="round" />
                </svg>
              ) : (
                <p className="muted">{t("workout.noTrack")}</p>
              )}
              <h3>{t("workout.splits")}</h3>
              <table data-testid="splits">
                <thead>
                  <tr>
                    <th scope="col">{t("workout.km")}</th>
                    <th scope="col">{t("workout.pace")}</th>
                    <th scope="col">{t("workout.duration")}</th>
                  </tr>
                </thead>
                <tbody>
                  {w.track.splits_km.map((s) => (
                    <tr key={s.number}>
                      <td>{s.number}</td>
                      <td>{formatPace(s.pace_s_per_km)}</td>
                      <td>{formatDuration(s.duration_s)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {w.track.heart_rate_zones_s && (
                <>
                  <h3>{t("workout.heartRate")}</h3>
                  <ol className="plain">
                    {w.track.heart_rate_zones_s.map((s, i) => (
                      <li key={i}>{t("workout.zone", { n: i + 1, time: formatDuration(s) })}</li>
                    ))}
                  </ol>
                </>
              )}
            </section>
          )}
          {w.exercises.length > 0 && (
            <section className="card" aria-labelledby="w-sets">
              <h2 id="w-sets">{t("workout.sets")}</h2>
              {w.exercises.map((e, i) => (
                <div key={i}>
                  <h3>{names.get(e.exercise_id) ?? e.exercise_id}</h3>
                  <ol>
                    {e.sets.map((s, j) => (
                      <li key={j}>{t("log.setLine", { n: j + 1, weight: s.weight_kg ?? 0, reps: s.reps ?? 0 })}</li>
                    ))}
                  </ol>
                </div>
              ))}
            </section>
          )}
        </>
      )}
    </>
  );
}
