/** Profile and settings: name, units, time zone; export of my data; sign-out. */
import type { FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { forgetSession, problemError, reauthenticate, signOut } from "../auth/session";
import { useLoad } from "../components/useLoad";
import { Status } from "../components/Status";
import { ErrorLine } from "../components/ErrorLine";
import { useAction } from "../components/useAction";

const PRIVACY = ["public", "followers", "private"] as const;

function PrivacySelect({ id, name, value }: { id: string; name: string; value: string }) {
  const { t } = useTranslation();
  return (
    <select id={id} name={name} defaultValue={value}>
      {PRIVACY.map((p) => (
        <option key={p} value={p}>
          {t(`profile.${p}`)}
        </option>
      ))}
    </select>
  );
}

function HeartRate() {
  const { t } = useTranslation();
  const settings = useLoad(async () => unwrap(await api.GET("/v1/training/me/settings")), []);
  const { note, error, run } = useAction();
  const number = (v: FormDataEntryValue | null) => (v === null || String(v).trim() === "" ? null : Number(v));
  return (
    <form
      className="card"
      key={`${settings.data?.effective_max_hr}-${settings.data?.effective_resting_hr}`}
      onSubmit={(e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        void run(async () => {
          unwrap(
            await api.PUT("/v1/training/me/settings", {
              body: { max_hr: number(form.get("max_hr")), resting_hr: number(form.get("resting_hr")) },
            }),
          );
          settings.reload();
          return t("profile.saved");
        });
      }}
    >
      <h2>{t("profile.heartRate")}</h2>
      <Status loaded={settings} />
      <div className="row">
        <div>
          <label htmlFor="hr-max">{t("profile.maxHr")}</label>
          <input id="hr-max" name="max_hr" type="number" min="100" max="230" defaultValue={settings.data?.effective_max_hr} />
        </div>
        <div>
          <label htmlFor="hr-rest">{t("profile.restingHr")}</label>
          <input id="hr-rest" name="resting_hr" type="number" min="25" max="120" defaultValue={settings.data?.effective_resting_hr} />
        </div>
        <button type="submit">{t("profile.save")}</button>
      </div>
      {note && <p role="status">{note}</p>}
      <ErrorLine error={error} />
    </form>
  );
}

function Password() {
  const { t } = useTranslation();
  const { note, error, run } = useAction();
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        const formElement = e.currentTarget;
        const form = new FormData(formElement);
        void run(async () => {
          unwrap(
            await api.PUT("/v1/auth/me/password", {
              body: { current_password: String(form.get("current")), new_password: String(form.get("new")) },
            }),
          );
          formElement.reset();
          return t("profile.passwordChanged");
        });
      }}
    >
      <h2>{t("profile.password")}</h2>
      <label htmlFor="pw-current">{t("profile.currentPassword")}</label>
      <input id="pw-current" name="current" type="password" autoComplete="current-password" required />
      <label htmlFor="pw-new">{t("profile.newPassword")}</label>
      <input id="pw-new" name="new" type="password" autoComplete="new-password" minLength={10} required />
      <p>
        <button type="submit">{t("profile.changePassword")}</button>
      </p>
      {note && <p role="status">{note}</p>}
      <ErrorLine error={error} />
    </form>
  );
}

function DeleteAccount() {
  const { t } = useTranslation();
  const { error, run } = useAction();
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        const password = String(new FormData(e.currentTarget).get("password"));
        void run(async () => {
          const token = await reauthenticate(password);
          const response = await fetch("/v1/users/me", { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
          if (!response.ok) throw problemError(await response.json().catch(() => null), response.status);
          forgetSession();
          return "";
        });
      }}
    >
      <h2>{t("profile.deleteAccount")}</h2>
      <p className="muted">{t("profile.deleteHint")}</p>
      <label htmlFor="delete-password">{t("profile.confirmPassword")}</label>
      <input id="delete-password" name="password" type="password" autoComplete="current-password" required />
      <p>
        <button type="submit">{t("profile.deleteAccount")}</button>
      </p>
      <ErrorLine error={error} />
    </form>
  );
}

export default function Profile() {
  const { t } = useTranslation();
  const loaded = useLoad(async () => unwrap(await api.GET("/v1/users/me")), []);
  const { note, error, run } = useAction();
  const profile = loaded.data;

  function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    void run(async () => {
      unwrap(
        await api.PATCH("/v1/users/me", {
          body: {
            display_name: String(form.get("display_name")),
            units: String(form.get("units")),
            time_zone: String(form.get("time_zone")),
            profile_visibility: String(form.get("profile_visibility")),
            activity_privacy: String(form.get("activity_privacy")),
          },
        }),
      );
      loaded.reload();
      return t("profile.saved");
    });
  }

  function exportData() {
    void run(async () => {
      const data = unwrap(await api.GET("/v1/users/me/export"));
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = "vigor-export.json";
      link.click();
      URL.revokeObjectURL(url);
      return "";
    });
  }

  return (
    <>
      <h1>{t("profile.title")}</h1>
      <Status loaded={loaded} />
      {profile && (
        <form className="card" onSubmit={save} key={profile.updated_at}>
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
          <h2>{t("profile.privacy")}</h2>
          <label htmlFor="p-visibility">{t("profile.profileVisibility")}</label>
          <PrivacySelect id="p-visibility" name="profile_visibility" value={profile.profile_visibility} />
          <label htmlFor="p-activity">{t("profile.activityPrivacy")}</label>
          <PrivacySelect id="p-activity" name="activity_privacy" value={profile.activity_privacy} />
          <p>
            <button type="submit">{t("profile.save")}</button>
          </p>
          {note && <p role="status">{note}</p>}
          <ErrorLine error={error} />
        </form>
      )}
      <HeartRate />
      <Password />
      <section className="card">
        <p className="row">
          <button type="button" className="secondary" onClick={exportData}>
            {t("profile.export")}
          </button>
          <button type="button" onClick={() => void signOut()}>
            {t("auth.signOut")}
          </button>
        </p>
        <p className="muted">{t("profile.signOutHint")}</p>
      </section>
      <DeleteAccount />
    </>
  );
}
