/**
 * Leaderboards: every global board `GET /v1/leaderboards` lists (xp, distance,
 * …) in each window it keeps, from the top a page at a time, around the caller
 * or among the people they follow. The top moves live from
 * `leaderboard:{board}:{window}` (`leaderboard.update`, applied by
 * `leaderboards/rows.ts`); around-me and friends are asked again when the board
 * moved, since the push carries only the top. The caller's own rank comes from
 * the around-me answer and then live from `leaderboard.rank` on `user:{id}`.
 */
import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { api, unwrap, type components } from "../api/client";
import { useHub } from "../hub/context";
import { useChannel } from "../hub/useChannel";
import { useLoad } from "../components/useLoad";
import { useNames } from "../components/useNames";
import { Status } from "../components/Status";
import { ErrorLine, messageOf } from "../components/ErrorLine";
import { applyUpdate, movements, rankIsFor, type BoardUpdate, type RankPush, type Row } from "../leaderboards/rows";

type BoardInfo = components["schemas"]["BoardInfo"];
type View = "top" | "around" | "friends";
const VIEWS: View[] = ["top", "around", "friends"];
const PAGE = 20;

/** A score in its board's unit, for people. */
export function formatScore(score: number, unit: string, t: (key: string, vars?: Record<string, unknown>) => string): string {
  switch (unit) {
    case "m":
      return t("boards.unit.km", { value: (score / 1000).toFixed(1) });
    case "ms": {
      const minutes = Math.round(score / 60_000);
      return t("boards.unit.duration", { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
    }
    case "xp":
      return t("boards.unit.xp", { value: score });
    default:
      return t("boards.unit.count", { value: score });
  }
}

/** A board's name: what it measures, and its id when that says more. */
function boardName(board: BoardInfo, t: (key: string, vars?: Record<string, unknown>) => string): string {
  const metric = t(`boards.metric.${board.metric}`, { defaultValue: board.metric });
  return board.id === board.metric ? metric : `${metric} (${board.id})`;
}

function Board({ board, boardWindow, view }: { board: BoardInfo; boardWindow: string; view: View }) {
  const { t } = useTranslation();
  const hub = useHub();
  const [rows, setRows] = useState<Row[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [period, setPeriod] = useState<string | null>(null);
  const [moved, setMoved] = useState<Map<string, "up" | "down">>(new Map());
  const [mine, setMine] = useState<{ rank: number | null; score: number | null } | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const name = useNames(rows.filter((r) => !r.display_name).map((r) => r.user_id));

  const ask = useCallback(
    async (query: { around?: string; scope?: string; cursor?: string; limit?: number }) =>
      unwrap(await api.GET("/v1/leaderboards/{board}", { params: { path: { board: board.id }, query: { window: boardWindow, ...query } } })),
    [board.id, boardWindow],
  );

  /** The rows of the view, and the caller's own entry (from around-me when the view is not). */
  const fetchView = useCallback(async () => {
    // The caller's row is found by their id, which the hub knows once connected.
    await hub.connect().catch(() => undefined);
    const query = view === "around" ? { around: "me" } : view === "friends" ? { scope: "friends" } : { limit: PAGE };
    const [page, around] = await Promise.all([ask(query), view === "around" ? null : ask({ around: "me" })]);
    return { page, me: (around ?? page).items.find((r) => r.user_id === hub.userId) };
  }, [ask, view, hub]);

  const show = useCallback(
    ({ page, me }: Awaited<ReturnType<typeof fetchView>>) => {
      setRows(page.items);
      setCursor(view === "top" ? (page.next_cursor ?? null) : null);
      setMine(me ? { rank: me.rank, score: me.score } : { rank: null, score: null });
      setLoaded(true);
      setError(null);
    },
    [view],
  );

  async function load() {
    try {
      show(await fetchView());
    } catch (e) {
      setError(messageOf(e));
    }
  }

  useEffect(() => {
    let current = true;
    fetchView()
      .then((answer) => current && show(answer))
      .catch((e: unknown) => current && setError(messageOf(e)));
    return () => {
      current = false;
    };
  }, [fetchView, show]);

  async function more() {
    if (!cursor) return;
    try {
      const page = await ask({ limit: PAGE, cursor });
      setRows((r) => [...r, ...page.items.filter((x) => !r.some((y) => y.user_id === x.user_id))]);
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  const live = useChannel(
    `leaderboard:${board.id}:${boardWindow}`,
    (event) => {
      if (event.event !== "leaderboard.update") return;
      const update = event.data as BoardUpdate;
      setMoved(movements(update));
      if (view === "top") {
        setRows((r) => applyUpdate(r, update, period));
        setPeriod(update.period);
      } else {
        void load();
      }
    },
    () => void load(),
  );

  useChannel("user", (event) => {
    if (event.event !== "leaderboard.rank") return;
    const push = event.data as RankPush;
    if (rankIsFor(push, board.id, boardWindow)) setMine({ rank: push.rank, score: push.score });
  });

  return (
    <section className="card" aria-labelledby="board-title">
      <h2 id="board-title">{boardName(board, t)}</h2>
      <p data-testid="my-rank" role="status">
        {mine === null
          ? ""
          : mine.rank === null
            ? t("boards.unranked")
            : t("boards.myRank", { rank: mine.rank, score: formatScore(mine.score ?? 0, board.unit, t) })}
      </p>
      <ErrorLine error={error} />
      {!loaded && !error && <p role="status">{t("app.loading")}</p>}
      {loaded && rows.length === 0 && <p className="muted">{t("boards.empty")}</p>}
      {rows.length > 0 && (
        <table data-testid="board" data-live={live}>
          <caption className="skip">{t("boards.caption", { board: boardName(board, t) })}</caption>
          <thead>
            <tr>
              <th scope="col">{t("boards.rank")}</th>
              <th scope="col">{t("boards.name")}</th>
              <th scope="col">{t("boards.score")}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.user_id} className={r.user_id === hub.userId ? "me" : undefined} data-moved={moved.get(r.user_id)}>
                <td>
                  {r.rank}
                  {moved.get(r.user_id) && <span className="skip">{t(`boards.moved.${moved.get(r.user_id)}`)}</span>}
                  {moved.get(r.user_id) === "up" ? " ▲" : moved.get(r.user_id) === "down" ? " ▼" : ""}
                </td>
                <td>
                  {r.display_name ?? name(r.user_id) ?? t("feed.someone")}
                  {r.user_id === hub.userId && <strong> ({t("feed.you")})</strong>}
                </td>
                <td>{formatScore(r.score, board.unit, t)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <p>
          <button type="button" className="secondary" onClick={() => void more()}>
            {t("boards.more")}
          </button>
        </p>
      )}
    </section>
  );
}

export default function Leaderboards() {
  const { t } = useTranslation();
  const boards = useLoad(async () => unwrap(await api.GET("/v1/leaderboards")).items.filter((b) => b.scope === "global"), []);
  const [boardId, setBoardId] = useState("xp");
  const [boardWindow, setBoardWindow] = useState("weekly");
  const [view, setView] = useState<View>("top");
  const board = boards.data?.find((b) => b.id === boardId) ?? boards.data?.[0];
  const windows = board?.windows ?? [];
  const shownBoardWindow = windows.includes(boardWindow) ? boardWindow : (windows[0] ?? boardWindow);

  return (
    <>
      <h1>{t("boards.title")}</h1>
      <Status loaded={boards} />
      {board && (
        <>
          <div className="row card">
            <div>
              <label htmlFor="board-id">{t("boards.boardLabel")}</label>
              <select id="board-id" value={board.id} onChange={(e) => setBoardId(e.target.value)}>
                {boards.data?.map((b) => (
                  <option key={b.id} value={b.id}>
                    {boardName(b, t)}
                  </option>
                ))}
              </select>
            </div>
            <div>
              <label htmlFor="board-window">{t("boards.window")}</label>
              <select id="board-window" value={shownBoardWindow} onChange={(e) => setBoardWindow(e.target.value)}>
                {windows.map((w) => (
                  <option key={w} value={w}>
                    {t(`boards.windows.${w}`, { defaultValue: w })}
                  </option>
                ))}
              </select>
            </div>
            <fieldset className="views">
              <legend>{t("boards.view")}</legend>
              {VIEWS.map((v) => (
                <label key={v} className="inline">
                  <input type="radio" name="board-view" value={v} checked={view === v} onChange={() => setView(v)} />{" "}
                  {t(`boards.views.${v}`)}
                </label>
              ))}
            </fieldset>
          </div>
          <Board key={`${board.id}:${shownBoardWindow}:${view}`} board={board} boardWindow={shownBoardWindow} view={view} />
        </>
      )}
    </>
  );
}
