/** Weekly volume and distance, with Recharts (its own chunk). */
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useTranslation } from "react-i18next";
import type { components } from "../api/client";

type Point = components["schemas"]["StatsPoint"];
interface Week {
  week: string;
  volume: number;
  km: number;
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

export default function WeeklyCharts({ series }: { series: Point[] }) {
  const { t } = useTranslation();
  const data = series.map((p) => ({ week: p.start.slice(5), volume: Math.round(p.volume_kg), km: Math.round(p.distance_m / 100) / 10 }));
  return (
    <div className="grid">
      <WeeklyBars data={data} caption={t("training.weeklyVolume")} dataKey="volume" name={t("today.volume")} color="#c2410c" />
      <WeeklyBars data={data} caption={t("training.weeklyDistance")} dataKey="km" name={t("today.distance")} color="#1f6feb" />
    </div>
  );
}
