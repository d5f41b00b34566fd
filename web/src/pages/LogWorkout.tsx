/**
 * Logging a strength workout while training: big targets for one hand, one
 * set at a time, each set kept in the browser at once (a reload mid-workout
 * restores it), saved with the draft's key as the Idempotency-Key.
 */
import { useEffect, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { addSet, clearDraft, loadDraft, newDraft, removeSet, saveDraft, toWorkout, type Draft } from "../training/draft";
import { useLoad } from "../components/useLoad";
import { ErrorLine, messageOf } from "../components/ErrorLine";

export default function LogWorkout() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [restored] = useState(() => loadDraft(localStorage));
  const [draft, setDraft] = useState<Draft>(() => restored ?? newDraft());
  const [exerciseId, setExerciseId] = useState("");
  const [weight, setWeight] = useState("");
  const [reps, setReps] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const exercises = useLoad(async () => unwrap(await api.GET("/v1/training/exercises", { params: { query: { limit: 100 } } })), []);

  useEffect(() => {
    if (draft.exercises.length > 0) saveDraft(localStorage, draft);
  }, [draft]);

  function add(event: FormEvent) {
    event.preventDefault();
    const exercise = exercises.data?.items.find((e) => e.id === exerciseId);
    const w = Number(weight);
    const r = Number(reps);
    if (!exercise || !Number.isFinite(w) || w < 0 || !Number.isInteger(r) || r < 1) return;
    setDraft((d) => addSet(d, exercise.id, exercise.name, { weightKg: w, reps: r }));
  }

  async function finish() {
    setSaving(true);
    setError(null);
    try {
      const saved = unwrap(
        await api.POST("/v1/training/workouts", {
          body: toWorkout(draft),
          params: { header: { "Idempotency-Key": draft.key } },
        }),
      );
      clearDraft(localStorage);
      navigate(`/workouts/${saved.id}`);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setSaving(false);
    }
  }

  function discard() {
    clearDraft(localStorage);
    setDraft(newDraft());
  }

  return (
    <>
      <h1>{t("log.title")}</h1>
      {restored && restored.exercises.length > 0 && <p role="status">{t("log.restored")}</p>}
      <form className="card" onSubmit={add}>
        <label htmlFor="log-exercise">{t("log.exercise")}</label>
        <select id="log-exercise" value={exerciseId} onChange={(e) => setExerciseId(e.target.value)} required>
          <option value="">{t("log.chooseExercise")}</option>
          {exercises.data?.items.map((e) => (
            <option key={e.id} value={e.id}>
              {e.name}
            </option>
          ))}
        </select>
        <div className="row">
          <div>
            <label htmlFor="log-weight">{t("log.weight")}</label>
            <input id="log-weight" inputMode="decimal" type="number" min="0" step="0.5" value={weight} onChange={(e) => setWeight(e.target.value)} required />
          </div>
          <div>
            <label htmlFor="log-reps">{t("log.reps")}</label>
            <input id="log-reps" inputMode="numeric" type="number" min="1" step="1" value={reps} onChange={(e) => setReps(e.target.value)} required />
          </div>
          <button type="submit">{t("log.addSet")}</button>
        </div>
      </form>
      <section className="card" aria-labelledby="log-sets">
        <h2 id="log-sets">{t("log.sets")}</h2>
        {draft.exercises.length === 0 && <p className="muted">{t("log.noSets")}</p>}
        {draft.exercises.map((exercise) => (
          <div key={exercise.exerciseId}>
            <h3>{exercise.name}</h3>
            <ol data-testid="sets">
              {exercise.sets.map((set, i) => (
                <li key={i}>
                  {t("log.setLine", { n: i + 1, weight: set.weightKg, reps: set.reps })}{" "}
                  <button
                    type="button"
                    className="secondary"
                    aria-label={t("log.removeSet", { n: i + 1 })}
                    onClick={() => setDraft((d) => removeSet(d, exercise.exerciseId, i))}
                  >
                    ×
                  </button>
                </li>
              ))}
            </ol>
          </div>
        ))}
        <ErrorLine error={error} />
        <p className="row">
          <button type="button" disabled={saving || draft.exercises.length === 0} onClick={() => void finish()}>
            {t("log.finish")}
          </button>
          <button type="button" className="secondary" onClick={discard}>
            {t("log.discard")}
          </button>
        </p>
      </section>
    </>
  );
}
