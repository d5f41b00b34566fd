/**
 * The signed-out page: sign in (Vigor's own login page, PKCE) or create an
 * account here and then sign in.
 */
import { useState, type FormEvent } from "react";
import { useLocation } from "react-router";
import { useTranslation } from "react-i18next";
import { signUp, startSignIn } from "../auth/session";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { ErrorLine, messageOf } from "../components/ErrorLine";

export function Welcome() {
  const { t } = useTranslation();
  const location = useLocation();
  const [mode, setMode] = useState<"start" | "signup" | "done">("start");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const returnTo = location.pathname + location.search;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await signUp(String(form.get("email")), String(form.get("password")), String(form.get("display_name")));
      setMode("done");
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="content" className="center">
      <div className="card" style={{ width: "min(24rem, 92vw)" }}>
        <div className="row" style={{ alignItems: "center" }}>
          <h1 style={{ color: "var(--accent)" }}>{t("app.name")}</h1>
          <LanguageSwitch />
        </div>
        <p className="muted">{t("auth.welcome")}</p>
        {mode === "done" && <p role="status">{t("auth.signUpDone")}</p>}
        {mode !== "signup" && (
          <>
            <button type="button" onClick={() => void startSignIn(returnTo)} style={{ width: "100%" }}>
              {t("auth.signIn")}
            </button>
            {mode === "start" && (
              <p>
                {t("auth.noAccount")}{" "}
                <button type="button" className="secondary" onClick={() => setMode("signup")}>
                  {t("auth.signUp")}
                </button>
              </p>
            )}
          </>
        )}
        {mode === "signup" && (
          <form onSubmit={(e) => void submit(e)}>
            <h2>{t("auth.signUp")}</h2>
            <label htmlFor="su-name">{t("auth.displayName")}</label>
            <input id="su-name" name="display_name" required autoComplete="nickname" />
            <label htmlFor="su-email">{t("auth.email")}</label>
            <input id="su-email" name="email" type="email" required autoComplete="email" />
            <label htmlFor="su-password">{t("auth.password")}</label>
            <input id="su-password" name="password" type="password" required minLength={10} autoComplete="new-password" />
            <ErrorLine error={error} />
            <p className="row">
              <button type="submit" disabled={busy}>
                {t("auth.signUp")}
              </button>
              <button type="button" className="secondary" onClick={() => setMode("start")}>
                {t("auth.haveAccount")}
              </button>
            </p>
          </form>
        )}
      </div>
    </main>
  );
}
