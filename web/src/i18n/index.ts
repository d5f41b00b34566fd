/**
 * i18next with the two catalogues bundled (they are small; a lazy load would
 * cost a round trip before the first render). The language is the one chosen
 * in the app, else the browser's, else English.
 */
import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./en";
import ru from "./ru";

export const LANGUAGES = ["en", "ru"] as const;
export type Language = (typeof LANGUAGES)[number];
const STORAGE_KEY = "vigor.language";

function isLanguage(value: string | null | undefined): value is Language {
  return value === "en" || value === "ru";
}

/** The language to start in. */
export function initialLanguage(): Language {
  const stored = typeof localStorage === "undefined" ? null : localStorage.getItem(STORAGE_KEY);
  if (isLanguage(stored)) return stored;
  const browser = typeof navigator === "undefined" ? "" : navigator.language.slice(0, 2);
  return isLanguage(browser) ? browser : "en";
}

/** Switches the language and remembers the choice. */
export async function setLanguage(language: Language): Promise<void> {
  localStorage.setItem(STORAGE_KEY, language);
  document.documentElement.lang = language;
  await i18n.changeLanguage(language);
}

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, ru: { translation: ru } },
  lng: initialLanguage(),
  fallbackLng: "en",
  interpolation: { escapeValue: false },
});

export default i18n;

if (typeof document !== "undefined") document.documentElement.lang = i18n.language;
