/** Finds people by the start of their name and offers one action on each. */
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, unwrap, type components } from "../api/client";
import { useLoad } from "./useLoad";

export type Person = Pick<components["schemas"]["PublicProfile"], "id" | "display_name">;

export function PeopleSearch({ id, action }: { id: string; action: (person: Person) => { label: string; run: () => void } }) {
  const { t } = useTranslation();
  const [q, setQ] = useState("");
  const people = useLoad(
    async () => (q.trim() ? unwrap(await api.GET("/v1/users", { params: { query: { q: q.trim(), limit: 10 } } })).items : []),
    [q],
  );
  return (
    <>
      <label htmlFor={id}>{t("social.findPeople")}</label>
      <input id={id} type="search" value={q} onChange={(e) => setQ(e.target.value)} autoComplete="off" />
      {q.trim() && people.data?.length === 0 && <p className="muted">{t("social.noPeople")}</p>}
      <ul className="plain">
        {people.data?.map((p) => {
          const { label, run } = action(p);
          return (
            <li key={p.id}>
              <button type="button" className="secondary" onClick={run}>
                {label}
              </button>
            </li>
          );
        })}
      </ul>
    </>
  );
}
