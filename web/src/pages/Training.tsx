/**
 * Training: exercise search, recent workouts, plans, GPX/FIT import, and the
 * weekly charts (the chart library is in its own chunk, loaded with the page).
 */
import { lazy, Suspense, useState, type ChangeEvent } from "react";
import { Link, useNavigate } from "react-router";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { accessToken, problemError } from "../auth/session";
import { useLoad } from "../components/useLoad";
import { Status } from "../components/Status";
import { ErrorLine, messageOf } from "../components/ErrorLine";

const WeeklyCharts = lazy(() => import("../training/WeeklyCharts"));
const E1rmChart = lazy(() => import("../training/E1rmChart"));

/** The estimated 1RM of one of the exercises the caller has records for, workout
 * by workout. */
function StrengthProgress() {
  const { t } = useTranslation();
  const records = useLoad(async () => unwrap(await api.GET("/v1/training/records", {})), []);
  const ids = (records.data?.exercises ?? []).filter((e) => e.best_e1rm).map((e) => e.exercise_id);
  const names = useLoad(
    async () =>
      Object.fromEntries(
        await Promise.all(
          ids.map(async (id) => [id, unwrap(await api.GET("/v1/training/exercises/{id}", { params: { path: { id } } })).name] as const),
        ),
      ),
    [ids.join()],
  );
  const [chosen, setChosen] = useState("");
  const id = ids.includes(chosen) ? chosen : (ids[0] ?? "");
  const progress = useLoad(
    async () => (id ? unwrap(await api.GET("/v1/training/exercises/{id}/progress", { params: { path: { id } } })) : null),
    [id],
  );
  if (records.data && ids.length === 0) return <p className="muted">{t("training.noStrength")}</p>;
  const name = names.data?.[id] ?? "";
  return (
    <div>
      <Status loaded={records} />
      {ids.length > 0 && (
        <>
          <label htmlFor="e1rm-exercise">{t("training.e1rmExercise")}</label>
          <select id="e1rm-exercise" value={id} onChange={(e) => setChosen(e.target.value)}>
            {ids.map((x) => (
              <option key={x} value={x}>
                {names.data?.[x] ?? x}
              </option>
            ))}
          </select>
        </>
      )}
      <Status loaded={progress} />
      {progress.data && (
        <Suspense fallback={<p role="status">{t("app.loading")}</p>}>
          <E1rmChart progress={progress.data} name={name} />
        </Suspense>
      )}
    </div>
  );
}

function ExerciseSearch() {
  const { t } = useTranslation();
  const [q, setQ] = useState("");
  const found = useLoad(
    async () => unwrap(await api.GET("/v1/training/exercises", { params: { query: { q: q || undefined, limit: 10 } } })),
    [q],
  );
  return (
    <section className="card" aria-labelledby="ex-search">
      <h2 id="ex-search">{t("training.search")}</h2>
      <label htmlFor="ex-q">{t("training.search")}</label>
      <input id="ex-q" type="search" value={q} placeholder={t("training.searchPlaceholder")} onChange={(e) => setQ(e.target.value)} />
      <Status loaded={found} />
      {found.data && found.data.items.length === 0 && <p className="muted">{t("training.noExercises")}</p>}
      <ul className="plain">
        {found.data?.items.map((ex) => (
          <li key={ex.id}>
            <strong>{ex.name}</strong> <span className="muted">{ex.primary_muscles.join(", ")}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Import() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function upload(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const form = new FormData();
      form.append("file", file);
      const token = await accessToken();
      const response = await fetch("/v1/training/workouts/import", {
        method: "POST",
        headers: { authorization: `Bearer ${token ?? ""}`, "idempotency-key": crypto.randomUUID() },
        body: form,
      });
      const body: unknown = await response.json().catch(() => null);
      if (!response.ok) throw problemError(body, response.status);
      const id = (body as { id?: unknown }).id;
      if (typeof id === "string") navigate(`/workouts/${id}`);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
      event.target.value = "";
    }
  }

  return (
    <section className="card" aria-labelledby="import">
      <h2 id="import">{t("training.import")}</h2>
      <label htmlFor="import-file">{t("training.import")}</label>
      <input id="import-file" type="file" accept=".gpx,.fit,application/gpx+xml" disabled={busy} onChange={(e) => void upload(e)} />
      <ErrorLine error={error} />
    </section>
  );
}

export default function Training() {
  const { t } = useTranslation();
  const workouts = useLoad(async () => unwrap(await api.GET("/v1/training/workouts", { params: { query: { limit: 20 } } })), []);
  const plans = useLoad(async () => unwrap(await api.GET("/v1/training/plans")), []);
  const stats = useLoad(async () => unwrap(await api.GET("/v1/training/stats", { params: { query: { bucket: "week" } } })), []);

  return (
    <>
      <h1>{t("training.title")}</h1>
      <p>
        <Link className="button" to="/training/log">
          {t("training.logWorkout")}
        </Link>{" "}
        <Link to="/coaching">{t("training.coaching")}</Link>
      </p>
      <div className="grid">
        <section className="card" aria-labelledby="recent">
          <h2 id="recent">{t("training.workouts")}</h2>
          <Status loaded={workouts} />
          {workouts.data && workouts.data.items.length === 0 && <p className="muted">{t("training.noWorkouts")}</p>}
          <ul className="plain">
            {workouts.data?.items.map((w) => (
              <li key={w.id}>
                <Link to={`/workouts/${w.id}`}>{w.title}</Link>{" "}
                <span className="muted">{new Date(w.started_at).toLocaleDateString()}</span>
              </li>
            ))}
          </ul>
        </section>
        <section className="card" aria-labelledby="plans">
          <h2 id="plans">{t("training.plans")}</h2>
          <Status loaded={plans} />
          {plans.data && plans.data.items.length === 0 && <p className="muted">{t("training.noPlans")}</p>}
          <ul className="plain">
            {plans.data?.items.map((p) => (
              <li key={p.id}>
                <Link to={`/training/plans/${p.id}`}>{p.name}</Link>
              </li>
            ))}
          </ul>
          <Link to="/training/plans/new">{t("plan.new")}</Link>
        </section>
        <ExerciseSearch />
        <Import />
      </div>
      <section className="card" aria-labelledby="charts">
        <h2 id="charts">{t("training.charts")}</h2>
        <Status loaded={stats} />
        {stats.data && (
          <Suspense fallback={<p role="status">{t("app.loading")}</p>}>
            <WeeklyCharts series={stats.data.series} acwr={stats.data.acwr} />
          </Suspense>
        )}
        <StrengthProgress />
      </section>
    </>
  );
}
