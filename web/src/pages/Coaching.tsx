/**
 * Coaching: a coach sees the athletes who accepted and their workouts, and
 * invites more; an athlete accepts a coach's invitation.
 */
import { Link, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { useLoad } from "../components/useLoad";
import { Status } from "../components/Status";
import { ErrorLine } from "../components/ErrorLine";
import { useAction } from "../components/useAction";
import { PeopleSearch } from "../components/PeopleSearch";

/** Display names of users, by id. */
async function namesOf(ids: string[]): Promise<Map<string, string>> {
  const people = await Promise.all(
    ids.map(async (id) => unwrap(await api.GET("/v1/users/{id}", { params: { path: { id } } }))),
  );
  return new Map(people.map((p) => [p.id, p.display_name]));
}

function AthleteWorkouts({ athleteId }: { athleteId: string }) {
  const { t } = useTranslation();
  const loaded = useLoad(async () => {
    const [workouts, names] = await Promise.all([
      (async () => unwrap(await api.GET("/v1/training/athletes/{id}/workouts", { params: { path: { id: athleteId }, query: { limit: 20 } } })))(),
      namesOf([athleteId]),
    ]);
    return { workouts: workouts.items, name: names.get(athleteId) ?? athleteId };
  }, [athleteId]);
  return (
    <section className="card" aria-labelledby="athlete-workouts">
      <h2 id="athlete-workouts">{t("coaching.workoutsOf", { name: loaded.data?.name ?? "" })}</h2>
      <Status loaded={loaded} />
      {loaded.data?.workouts.length === 0 && <p className="muted">{t("training.noWorkouts")}</p>}
      <ul className="plain">
        {loaded.data?.workouts.map((w) => (
          <li key={w.id}>
            {w.title} <span className="muted">{new Date(w.started_at).toLocaleDateString()}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export default function Coaching() {
  const { t } = useTranslation();
  const { id } = useParams();
  const { note, error, run } = useAction();
  const loaded = useLoad(async () => {
    const [me, links] = await Promise.all([
      (async () => unwrap(await api.GET("/v1/users/me")))(),
      (async () => unwrap(await api.GET("/v1/training/coaching")))(),
    ]);
    const names = await namesOf([...new Set(links.items.flatMap((l) => [l.coach_id, l.athlete_id]))]);
    return { me: me.id, links: links.items, names };
  }, []);

  function act(action: () => Promise<unknown>, done: string) {
    return run(async () => {
      await action();
      loaded.reload();
      return done;
    });
  }

  const data = loaded.data;
  const name = (userId: string) => data?.names.get(userId) ?? userId;
  const athletes = data?.links.filter((l) => l.coach_id === data.me && l.status === "accepted") ?? [];
  const invitations = data?.links.filter((l) => l.athlete_id === data.me && l.status === "pending") ?? [];

  return (
    <>
      <h1>{t("coaching.title")}</h1>
      <Status loaded={loaded} />
      <div className="grid">
        <section className="card" aria-labelledby="athletes">
          <h2 id="athletes">{t("coaching.athletes")}</h2>
          {data && athletes.length === 0 && <p className="muted">{t("coaching.noAthletes")}</p>}
          <ul className="plain">
            {athletes.map((l) => (
              <li key={l.id}>
                <Link to={`/coaching/${l.athlete_id}`}>{name(l.athlete_id)}</Link>
              </li>
            ))}
          </ul>
        </section>
        {id && <AthleteWorkouts athleteId={id} />}
        <section className="card" aria-labelledby="invite">
          <h2 id="invite">{t("coaching.invite")}</h2>
          <PeopleSearch
            id="invite-q"
            action={(p) => ({
              label: t("coaching.inviteName", { name: p.display_name }),
              run: () =>
                void act(
                  async () => unwrap(await api.POST("/v1/training/coaching/athletes", { body: { athlete_id: p.id } })),
                  t("coaching.invited"),
                ),
            })}
          />
        </section>
        {invitations.length > 0 && (
          <section className="card" aria-labelledby="invitations">
            <h2 id="invitations">{t("coaching.invitations")}</h2>
            <ul className="plain">
              {invitations.map((l) => (
                <li key={l.id}>
                  <button
                    type="button"
                    onClick={() =>
                      void act(
                        async () => unwrap(await api.POST("/v1/training/coaching/{id}/accept", { params: { path: { id: l.id } } })),
                        t("profile.saved"),
                      )
                    }
                  >
                    {t("coaching.accept", { name: name(l.coach_id) })}
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
      {note && <p role="status">{note}</p>}
      <ErrorLine error={error} />
    </>
  );
}
