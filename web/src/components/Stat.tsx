import type { ReactNode } from "react";

/** One figure with its label, inside a `<dl>`. */
export function Stat({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt className="muted">{label}</dt>
      <dd className="stat">{children}</dd>
    </div>
  );
}
