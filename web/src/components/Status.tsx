import { useTranslation } from "react-i18next";
import type { Loaded } from "./useLoad";

/** The loading line or the error (with a retry) of a load; nothing once loaded. */
export function Status<T>({ loaded }: { loaded: Loaded<T> }) {
  const { t } = useTranslation();
  if (loaded.error) {
    return (
      <p className="error" role="alert">
        {t("app.error", { message: loaded.error })}{" "}
        <button type="button" className="secondary" onClick={loaded.reload}>
          {t("app.retry")}
        </button>
      </p>
    );
  }
  if (loaded.loading && loaded.data === undefined) return <p role="status">{t("app.loading")}</p>;
  return null;
}
