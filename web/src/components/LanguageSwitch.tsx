import { useTranslation } from "react-i18next";
import { LANGUAGES, setLanguage, type Language } from "../i18n";

const NAMES: Record<Language, string> = { en: "English", ru: "Русский" };

/** The language picker. */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <label style={{ margin: 0, fontWeight: 400 }}>
      <span className="skip">{t("app.language")}</span>
      <select
        aria-label={t("app.language")}
        value={i18n.language}
        onChange={(e) => void setLanguage(e.target.value as Language)}
        style={{ width: "auto" }}
      >
        {LANGUAGES.map((l) => (
          <option key={l} value={l}>
            {NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
