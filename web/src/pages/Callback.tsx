/** `/callback`: where Vigor's login page sends the browser back with a code. */
import { useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { useTranslation } from "react-i18next";
import { completeSignIn } from "../auth/session";
import { messageOf } from "../components/ErrorLine";

export function Callback() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false);

  useEffect(() => {
    // A code is good for one exchange: never twice (StrictMode runs effects twice).
    if (started.current) return;
    started.current = true;
    completeSignIn(new URL(location.href))
      .then((next) => navigate(next, { replace: true }))
      .catch((e: unknown) => setError(messageOf(e)));
  }, [navigate]);

  return (
    <main id="content" className="center">
      {error ? (
        <div className="card">
          <p className="error" role="alert">
            {t("auth.callbackFailed", { message: error })}
          </p>
          <a href="/">{t("auth.signIn")}</a>
        </div>
      ) : (
        <p role="status">{t("auth.signingIn")}</p>
      )}
    </main>
  );
}
