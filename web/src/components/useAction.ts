import { useState } from "react";
import { messageOf } from "./ErrorLine";

/** Runs a form's action, with its saved note or error. */
export function useAction() {
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function run(action: () => Promise<string>) {
    setNote(null);
    setError(null);
    try {
      setNote(await action());
    } catch (e) {
      setError(messageOf(e));
    }
  }
  return { note, error, run };
}
