/** Weekly volume, distance and training load, and the daily acute:chronic
 * workload ratio, with Recharts (its own chunk). */
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ReferenceArea, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useTranslation } from "react-i18next";
import type { components } from "../api/client";

type Point = components["schemas"]["StatsPoint"];
type Acwr = components["schemas"]["AcwrPoint"];
interface Week {
  week: string;
  volume: number;
  km: number;
  load: number;
}

function WeeklyBars({ data, caption, dataKey, name, color }: { data: Week[]; caption: string; dataKey: keyof Week; name: string; color: string }) {
  return (
    <figure style={{ margin: 0 }}>
      <figcaption>{caption}</figcaption>
      <ResponsiveContainer width="100%" height={200}>
        <BarChart data={data}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="week" />
          <YAxis />
          <Tooltip />
          <Bar dataKey={dataKey} name={name} fill={color} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}

/** The daily ratio of acute (7-day) to chronic (28-day) load, with the band
 * 0.8–1.3 usually read as a safe progression shaded. */
function AcwrLine({ acwr }: { acwr: Acwr[] }) {
  const { t } = useTranslation();
  const data = acwr.map((p) => ({ day: p.date.slice(5), ratio: typeof p.ratio === "number" ? Math.round(p.ratio * 100) / 100 : null }));
  return (
    <figure style={{ margin: 0 }}>
      <figcaption>{t("training.acwrChart")}</figcaption>
      <ResponsiveContainer width="100%" height={200}>
        <LineChart data={data}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="day" minTickGap={24} />
          <YAxis domain={[0, "auto"]} />
          <ReferenceArea y1={0.8} y2={1.3} fill="#16a34a" fillOpacity={0.12} />
          <Tooltip />
          <Legend />
          <Line type="monotone" dataKey="ratio" name={t("training.acwrRatio")} stroke="#7c3aed" dot={false} connectNulls={false} />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

export default function WeeklyCharts({ series, acwr }: { series: Point[]; acwr: Acwr[] }) {
  const { t } = useTranslation();
  const data = series.map((p) => ({
    week: p.start.slice(5),
    volume: Math.round(p.volume_kg),
    km: Math.round(p.distance_m / 100) / 10,
    load: Math.round(p.load),
  }));
  return (
    <div className="grid">
      <WeeklyBars data={data} caption={t("training.weeklyVolume")} dataKey="volume" name={t("today.volume")} color="#c2410c" />
      <WeeklyBars data={data} caption={t("training.weeklyDistance")} dataKey="km" name={t("today.distance")} color="#1f6feb" />
      <WeeklyBars data={data} caption={t("training.weeklyLoad")} dataKey="load" name={t("training.load")} color="#0f766e" />
      <AcwrLine acwr={acwr} />
    </div>
  );
}
