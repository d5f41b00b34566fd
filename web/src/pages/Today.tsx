/**
 * Today: the week's schedule, the advice of the day with its reasons and the
 * figures behind them, XP, level (with the way to the next) and streaks, and
 * the last twelve weeks — one request (`GET /v1/dashboard`) that the gateway
 * fans out; a part that failed says so on its own, the rest still shows. A
 * level-up or an achievement (or its withdrawal) pushed on `user:{id}` asks the
 * dashboard again, so the numbers move with the toast.
 */
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { api, unwrap, type components } from "../api/client";
import { useLoad } from "../components/useLoad";
import { Status } from "../components/Status";
import { Stat } from "../components/Stat";
import { useChannel } from "../hub/useChannel";
import { figure, levelProgress } from "../today/game";

type Schemas = components["schemas"];
type Part = Schemas["Part"];
/** Pushes on `user:{id}` that change the game Today shows. */
const GAME_EVENTS = new Set(["level.up", "achievement.unlocked", "achievement.revoked"]);

function partData<T>(part: Part | undefined): T | null {
  return part?.ok && part.data ? (part.data as T) : null;
}

export default function Today() {
  const { t } = useTranslation();
  const loaded = useLoad(async () => unwrap(await api.GET("/v1/dashboard")), []);
  const dashboard = loaded.data;
  const profile = partData<Schemas["MyProfile"]>(dashboard?.profile);
  const calendar = partData<Schemas["Calendar"]>(dashboard?.schedule);
  const advice = partData<Schemas["Recommendations"]>(dashboard?.recommendations);
  const stats = partData<Schemas["Stats"]>(dashboard?.stats);
  const game = partData<Schemas["Me"]>(dashboard?.game);
  const progress = game ? levelProgress(game.xp, game.level, game.next_level_xp) : null;
  useChannel("user", (event) => {
    if (GAME_EVENTS.has(event.event)) loaded.reload();
  });
  const unavailable = <p className="muted">{t("app.partUnavailable")}</p>;

  const totals = stats?.series.reduce(
    (sum, p) => ({ sessions: sum.sessions + p.sessions, volume: sum.volume + p.volume_kg, distance: sum.distance + p.distance_m }),
    { sessions: 0, volume: 0, distance: 0 },
  );

  return (
    <>
      <h1>{profile ? t("today.greeting", { name: profile.display_name }) : t("today.title")}</h1>
      <Status loaded={loaded} />
      {dashboard && (
        <div className="grid">
          <section className="card" aria-labelledby="today-schedule">
            <h2 id="today-schedule">{t("today.scheduled")}</h2>
            {calendar === null ? (
              unavailable
            ) : calendar.days.length === 0 ? (
              <p className="muted">{t("today.nothingScheduled")}</p>
            ) : (
              <ul className="plain">
                {calendar.days.map((day) => (
                  <li key={day.date}>
                    <strong>{day.date}</strong>{" "}
                    {day.planned.map((p) => `${p.plan_name}: ${p.day_name}`).join(", ")}
                    {day.done.map((d) => (
                      <Link key={d.workout_id} to={`/workouts/${d.workout_id}`} style={{ marginLeft: ".5rem" }}>
                        ✓ {d.sport}
                      </Link>
                    ))}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="card" aria-labelledby="today-advice">
            <h2 id="today-advice">{t("today.recommendations")}</h2>
            {advice === null ? (
              unavailable
            ) : advice.items.length === 0 ? (
              <p className="muted">{t("today.noRecommendations")}</p>
            ) : (
              <ul className="plain">
                {advice.items.map((item, i) => (
                  <li key={i} data-testid="advice">
                    <p>{item.reason}</p>
                    {Object.keys(item.numbers).length > 0 && (
                      <ul className="figures" aria-label={t("today.figures")}>
                        {Object.entries(item.numbers).map(([name, value]) => {
                          const { key, vars } = figure(name, value);
                          return <li key={name}>{t(key, vars)}</li>;
                        })}
                      </ul>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="card" aria-labelledby="today-game">
            <h2 id="today-game">{t("today.game")}</h2>
            {game === null || progress === null ? (
              unavailable
            ) : (
              <>
                <dl className="row" data-testid="game">
                  <Stat label={t("today.level")}>{game.level}</Stat>
                  <Stat label={t("today.xp")}>{game.xp}</Stat>
                  <Stat label={t("today.streak")}>{game.streak.daily.current}</Stat>
                  <Stat label={t("today.longestStreak")}>{game.streak.daily.longest}</Stat>
                </dl>
                <label htmlFor="today-level-progress">{t("today.toNextLevel", { xp: progress.needed, level: game.level + 1 })}</label>
                <progress id="today-level-progress" max={100} value={Math.round(progress.fraction * 100)}>
                  {Math.round(progress.fraction * 100)}%
                </progress>
                <p className="muted">{t("today.weeklyStreak", { current: game.streak.weekly.current, longest: game.streak.weekly.longest })}</p>
              </>
            )}
          </section>
          <section className="card" aria-labelledby="today-stats">
            <h2 id="today-stats">{t("today.stats")}</h2>
            {totals === undefined ? (
              unavailable
            ) : (
              <dl className="row">
                <Stat label={t("today.workouts")}>{totals.sessions}</Stat>
                <Stat label={t("today.volume")}>{Math.round(totals.volume)}</Stat>
                <Stat label={t("today.distance")}>{(totals.distance / 1000).toFixed(1)}</Stat>
              </dl>
            )}
          </section>
        </div>
      )}
      <p>
        <Link className="button" to="/training/log">
          {t("training.logWorkout")}
        </Link>
      </p>
    </>
  );
}
