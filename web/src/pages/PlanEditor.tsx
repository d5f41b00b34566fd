/** Building and editing a training plan: days, exercises, sets, reps, load and progression. */
import { useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { useLoad } from "../components/useLoad";
import { Status } from "../components/Status";
import { ErrorLine, messageOf } from "../components/ErrorLine";
import { fromContent, toContent, type EditedExercise, type EditedPlan } from "../training/plan";

const EMPTY: EditedPlan = { name: "", description: "", days: [{ name: "", exercises: [] }] };

function NumberField({ id, label, value, onChange, step = 1 }: { id: string; label: string; value: number | null; onChange: (v: number | null) => void; step?: number }) {
  return (
    <div>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        min="0"
        step={step}
        value={value ?? ""}
        onChange={(e) => onChange(e.target.value === "" ? null : Number(e.target.value))}
      />
    </div>
  );
}

function Editor({ initial, planId }: { initial: EditedPlan; planId: string | null }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [plan, setPlan] = useState<EditedPlan>(initial);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const catalogue = useLoad(async () => unwrap(await api.GET("/v1/training/exercises", { params: { query: { limit: 100 } } })), []);
  const names = new Map(catalogue.data?.items.map((e) => [e.id, e.name]));

  const updateExercise = (d: number, x: number, change: Partial<EditedExercise>) =>
    setPlan((p) => ({
      ...p,
      days: p.days.map((day, i) =>
        i === d ? { ...day, exercises: day.exercises.map((e, j) => (j === x ? { ...e, ...change } : e)) } : day,
      ),
    }));

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setSaved(false);
    try {
      const body = toContent(plan);
      const stored = planId
        ? unwrap(await api.PUT("/v1/training/plans/{id}", { params: { path: { id: planId } }, body }))
        : unwrap(await api.POST("/v1/training/plans", { body }));
      setSaved(true);
      if (!planId) navigate(`/training/plans/${stored.id}`, { replace: true });
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <form onSubmit={(e) => void save(e)}>
      <div className="card">
        <label htmlFor="plan-name">{t("plan.name")}</label>
        <input id="plan-name" value={plan.name} required maxLength={120} onChange={(e) => setPlan({ ...plan, name: e.target.value })} />
        <label htmlFor="plan-description">{t("plan.description")}</label>
        <textarea id="plan-description" value={plan.description} onChange={(e) => setPlan({ ...plan, description: e.target.value })} />
      </div>
      {plan.days.map((day, d) => (
        <fieldset className="card" key={d}>
          <legend>{t("plan.day", { n: d + 1 })}</legend>
          <label htmlFor={`day-${d}`}>{t("plan.dayName", { n: d + 1 })}</label>
          <input
            id={`day-${d}`}
            value={day.name}
            required
            onChange={(e) => setPlan({ ...plan, days: plan.days.map((x, i) => (i === d ? { ...x, name: e.target.value } : x)) })}
          />
          {day.exercises.map((e, x) => {
            const name = names.get(e.exerciseId) ?? e.exerciseId;
            const id = `d${d}x${x}`;
            return (
              <div key={x} className="card">
                <h3>{name}</h3>
                <div className="row">
                  <NumberField id={`${id}-sets`} label={t("plan.sets")} value={e.sets} onChange={(v) => updateExercise(d, x, { sets: v ?? 1 })} />
                  <NumberField id={`${id}-min`} label={t("plan.repsMin")} value={e.repsMin} onChange={(v) => updateExercise(d, x, { repsMin: v ?? 1 })} />
                  <NumberField id={`${id}-max`} label={t("plan.repsMax")} value={e.repsMax} onChange={(v) => updateExercise(d, x, { repsMax: v ?? 1 })} />
                  <NumberField id={`${id}-kg`} label={t("plan.kg")} value={e.kg} step={0.5} onChange={(v) => updateExercise(d, x, { kg: v })} />
                  <NumberField id={`${id}-inc`} label={t("plan.increment")} value={e.incrementKg} step={0.5} onChange={(v) => updateExercise(d, x, { incrementKg: v ?? 0 })} />
                </div>
                <button
                  type="button"
                  className="secondary"
                  onClick={() =>
                    setPlan({ ...plan, days: plan.days.map((y, i) => (i === d ? { ...y, exercises: y.exercises.filter((_, j) => j !== x) } : y)) })
                  }
                >
                  {t("plan.remove", { name })}
                </button>
              </div>
            );
          })}
          <label htmlFor={`add-${d}`}>{t("plan.addExercise", { n: d + 1 })}</label>
          <select
            id={`add-${d}`}
            value=""
            onChange={(e) => {
              const exerciseId = e.target.value;
              if (!exerciseId) return;
              const added: EditedExercise = { exerciseId, sets: 3, repsMin: 8, repsMax: 12, kg: null, incrementKg: 0 };
              setPlan({ ...plan, days: plan.days.map((y, i) => (i === d ? { ...y, exercises: [...y.exercises, added] } : y)) });
            }}
          >
            <option value="">{t("log.chooseExercise")}</option>
            {catalogue.data?.items.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
          {plan.days.length > 1 && (
            <p>
              <button type="button" className="secondary" onClick={() => setPlan({ ...plan, days: plan.days.filter((_, i) => i !== d) })}>
                {t("plan.removeDay", { n: d + 1 })}
              </button>
            </p>
          )}
        </fieldset>
      ))}
      <p className="row">
        <button type="button" className="secondary" onClick={() => setPlan({ ...plan, days: [...plan.days, { name: "", exercises: [] }] })}>
          {t("plan.addDay")}
        </button>
        <button type="submit">{t("plan.save")}</button>
      </p>
      {saved && <p role="status">{t("plan.saved")}</p>}
      <ErrorLine error={error} />
    </form>
  );
}

export default function PlanEditor() {
  const { t } = useTranslation();
  const { id } = useParams();
  const loaded = useLoad(
    async () => (id ? fromContent(unwrap(await api.GET("/v1/training/plans/{id}", { params: { path: { id } } }))) : EMPTY),
    [id],
  );
  return (
    <>
      <h1>{id ? t("plan.edit") : t("plan.new")}</h1>
      <Status loaded={loaded} />
      {loaded.data && <Editor key={id ?? "new"} initial={loaded.data} planId={id ?? null} />}
    </>
  );
}
