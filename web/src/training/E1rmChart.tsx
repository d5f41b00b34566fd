/** One exercise's best estimated 1RM workout by workout, with its top set and
 * volume in the tooltip (Recharts, in the charts' own chunk). */
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useTranslation } from "react-i18next";
import type { components } from "../api/client";
import { progressRows } from "./progress";

type Progress = components["schemas"]["ExerciseProgress"];

export default function E1rmChart({ progress, name }: { progress: Progress; name: string }) {
  const { t } = useTranslation();
  const rows = progressRows(progress.points);
  return (
    <figure style={{ margin: 0 }}>
      <figcaption>{t("training.e1rmChart", { name, formula: progress.formula })}</figcaption>
      <ResponsiveContainer width="100%" height={220}>
        <LineChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="day" minTickGap={24} />
          <YAxis domain={["auto", "auto"]} />
          <Tooltip />
          <Line type="monotone" dataKey="e1rm" name={t("training.e1rm")} stroke="#c2410c" connectNulls />
          <Line type="monotone" dataKey="top" name={t("training.topSet")} stroke="#1f6feb" strokeDasharray="4 3" />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}
