/** Profile and settings: name, units, time zone; export of my data; sign-out. */
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { signOut } from "../auth/session";
import { useLoad } from "../components/useLoad";
import { Status } from "../components/Status";
import { ErrorLine, messageOf } from "../components/ErrorLine";

export default function Profile() {
  const { t } = useTranslation();
  const loaded = useLoad(async () => unwrap(await api.GET("/v1/users/me")), []);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const profile = loaded.data;

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setMessage(null);
    setError(null);
    try {
      unwrap(
        await api.PATCH("/v1/users/me", {
          body: {
            display_name: String(form.get("display_name")),
            units: String(form.get("units")),
            time_zone: String(form.get("time_zone")),
          },
        }),
      );
      setMessage(t("profile.saved"));
      loaded.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function exportData() {
    setError(null);
    try {
      const data = unwrap(await api.GET("/v1/users/me/export"));
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = "vigor-export.json";
      link.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <>
      <h1>{t("profile.title")}</h1>
      <Status loaded={loaded} />
      {profile && (
        <form className="card" onSubmit={(e) => void save(e)} key={profile.updated_at}>
          <label htmlFor="p-name">{t("profile.displayName")}</label>
          <input id="p-name" name="display_name" defaultValue={profile.display_name} required />
          <label htmlFor="p-email">{t("profile.email")}</label>
          <input id="p-email" value={profile.email} readOnly />
          <label htmlFor="p-units">{t("profile.units")}</label>
          <select id="p-units" name="units" defaultValue={profile.units}>
            <option value="metric">{t("profile.metric")}</option>
            <option value="imperial">{t("profile.imperial")}</option>
          </select>
          <label htmlFor="p-tz">{t("profile.timeZone")}</label>
          <input id="p-tz" name="time_zone" defaultValue={profile.time_zone} required />
          <p>
            <button type="submit">{t("profile.save")}</button>
          </p>
          {message && <p role="status">{message}</p>}
        </form>
      )}
      <ErrorLine error={error} />
      <section className="card">
        <p className="row">
          <button type="button" className="secondary" onClick={() => void exportData()}>
            {t("profile.export")}
          </button>
          <button type="button" onClick={() => void signOut()}>
            {t("auth.signOut")}
          </button>
        </p>
        <p className="muted">{t("profile.signOutHint")}</p>
      </section>
    </>
  );
}
