/** Weekly volume and distance, with Recharts (its own chunk). */
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useTranslation } from "react-i18next";
import type { components } from "../api/client";

type Point = components["schemas"]["StatsPoint"];

export default function WeeklyCharts({ series }: { series: Point[] }) {
  const { t } = useTranslation();
  const data = series.map((p) => ({ week: p.start.slice(5), volume: Math.round(p.volume_kg), km: Math.round(p.distance_m / 100) / 10 }));
  return (
    <div className="grid">
      <figure style={{ margin: 0 }}>
        <figcaption>{t("training.weeklyVolume")}</figcaption>
        <ResponsiveContainer width="100%" height={200}>
          <BarChart data={data}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="week" />
            <YAxis />
            <Tooltip />
            <Bar dataKey="volume" name={t("today.volume")} fill="#c2410c" />
          </BarChart>
        </ResponsiveContainer>
      </figure>
      <figure style={{ margin: 0 }}>
        <figcaption>{t("training.weeklyDistance")}</figcaption>
        <ResponsiveContainer width="100%" height={200}>
          <BarChart data={data}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="week" />
            <YAxis />
            <Tooltip />
            <Bar dataKey="km" name={t("today.distance")} fill="#1f6feb" />
          </BarChart>
        </ResponsiveContainer>
      </figure>
    </div>
  );
}
