/** `/join/{community}`: an invite link; joining opens the community's chat. */
import { useState } from "react";
import { useNavigate, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { generalChannel } from "./Communities";
import { ErrorLine, messageOf } from "../components/ErrorLine";

export default function Join() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function join() {
    setBusy(true);
    setError(null);
    try {
      unwrap(await api.POST("/v1/social/communities/{id}/join", { params: { path: { id } } }));
      const general = await generalChannel(id);
      navigate(general ? `/communities/${general}` : "/communities");
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  }

  return (
    <>
      <h1>{t("social.title")}</h1>
      <div className="card">
        <button type="button" disabled={busy} onClick={() => void join()}>
          {busy ? t("social.joining") : t("social.join")}
        </button>
        <ErrorLine error={error} />
      </div>
    </>
  );
}
