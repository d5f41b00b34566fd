/**
 * The app's shell: the signed-out welcome, the OAuth callback, and for a
 * signed-in user the navigation, the live hub connection with its toasts, and
 * the pages (each page is its own chunk, loaded when first opened).
 */
import { lazy, Suspense, useEffect, useState, useSyncExternalStore } from "react";
import { NavLink, Route, Routes } from "react-router";
import { useTranslation } from "react-i18next";
import { hasSession, onSessionChange, signOut } from "./auth/session";
import { Callback } from "./pages/Callback";
import { Welcome } from "./pages/Welcome";
import { HubProvider } from "./hub/context";
import { Toasts } from "./components/Toasts";
import { LanguageSwitch } from "./components/LanguageSwitch";

const Today = lazy(() => import("./pages/Today"));
const Training = lazy(() => import("./pages/Training"));
const LogWorkout = lazy(() => import("./pages/LogWorkout"));
const Workout = lazy(() => import("./pages/Workout"));
const PlanEditor = lazy(() => import("./pages/PlanEditor"));
const Profile = lazy(() => import("./pages/Profile"));
const Communities = lazy(() => import("./pages/Communities"));
const Join = lazy(() => import("./pages/Join"));
const Coaching = lazy(() => import("./pages/Coaching"));
const Feed = lazy(() => import("./pages/Feed"));
const Leaderboards = lazy(() => import("./pages/Leaderboards"));

function useSignedIn(): boolean {
  return useSyncExternalStore(onSessionChange, hasSession, () => false);
}

function useOnline(): boolean {
  const [online, setOnline] = useState(typeof navigator === "undefined" ? true : navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    return () => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
    };
  }, []);
  return online;
}

export function App() {
  const { t } = useTranslation();
  const signedIn = useSignedIn();
  const online = useOnline();

  return (
    <>
      <a className="skip" href="#content">
        {t("app.skip")}
      </a>
      {!online && (
        <p className="offline" role="status">
          {t("app.offline")}
        </p>
      )}
      <Routes>
        <Route path="/callback" element={<Callback />} />
        <Route path="*" element={signedIn ? <SignedIn /> : <Welcome />} />
      </Routes>
    </>
  );
}

function SignedIn() {
  const { t } = useTranslation();
  return (
    <HubProvider>
      <header className="top">
        <NavLink className="brand" to="/">
          {t("app.name")}
        </NavLink>
        <nav className="main" aria-label={t("app.name")}>
          <NavLink to="/" end>
            {t("app.nav.today")}
          </NavLink>
          <NavLink to="/feed">{t("app.nav.feed")}</NavLink>
          <NavLink to="/training">{t("app.nav.training")}</NavLink>
          <NavLink to="/communities">{t("app.nav.social")}</NavLink>
          <NavLink to="/leaderboards">{t("app.nav.leaderboards")}</NavLink>
          <NavLink to="/profile">{t("app.nav.profile")}</NavLink>
        </nav>
        <LanguageSwitch />
        <button type="button" className="secondary" onClick={() => void signOut()}>
          {t("auth.signOut")}
        </button>
      </header>
      <main id="content" tabIndex={-1}>
        <Suspense fallback={<p role="status">{t("app.loading")}</p>}>
          <Routes>
            <Route path="/" element={<Today />} />
            <Route path="/training" element={<Training />} />
            <Route path="/training/log" element={<LogWorkout />} />
            <Route path="/workouts/:id" element={<Workout />} />
            <Route path="/training/plans/new" element={<PlanEditor />} />
            <Route path="/training/plans/:id" element={<PlanEditor />} />
            <Route path="/profile" element={<Profile />} />
            <Route path="/communities" element={<Communities />} />
            <Route path="/communities/:id" element={<Communities />} />
            <Route path="/join/:id" element={<Join />} />
            <Route path="/coaching" element={<Coaching />} />
            <Route path="/feed" element={<Feed />} />
            <Route path="/leaderboards" element={<Leaderboards />} />
            <Route path="/coaching/:id" element={<Coaching />} />
            <Route path="*" element={<Today />} />
          </Routes>
        </Suspense>
      </main>
      <Toasts />
    </HubProvider>
  );
}
