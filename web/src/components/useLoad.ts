import { useEffect, useRef, useState } from "react";

/** The state of a load: data, error or still loading, and a reload. */
export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

interface Settled<T> {
  key: string;
  data: T | undefined;
  error: string | null;
}

/**
 * Runs `load` whenever `deps` (compared as JSON) change or `reload` is called;
 * the answer of an older run is ignored.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [round, setRound] = useState(0);
  const key = `${JSON.stringify(deps)}#${round}`;
  const [settled, setSettled] = useState<Settled<T>>({ key: "", data: undefined, error: null });
  const latest = useRef(load);
  useEffect(() => {
    latest.current = load;
  });
  useEffect(() => {
    let current = true;
    latest
      .current()
      .then((data) => {
        if (current) setSettled({ key, data, error: null });
      })
      .catch((e: unknown) => {
        if (current) setSettled((s) => ({ key, data: s.data, error: e instanceof Error ? e.message : String(e) }));
      });
    return () => {
      current = false;
    };
  }, [key]);
  return {
    data: settled.data,
    error: settled.key === key ? settled.error : null,
    loading: settled.key !== key,
    reload: () => setRound((r) => r + 1),
  };
}
