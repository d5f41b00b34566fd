/**
 * One hub connection for the signed-in app, shared by every page through React
 * context; it takes its tokens from the session (renewed silently) and closes
 * on sign-out.
 */
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { HubClient } from "./client";
import { accessToken } from "../auth/session";

const HubContext = createContext<HubClient | null>(null);

function hubUrl(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/ws`;
}

export function HubProvider({ children }: { children: ReactNode }) {
  const [client] = useState(() => new HubClient({ url: hubUrl(), token: accessToken }));
  useEffect(() => {
    client.connect().catch(() => {
      // Reconnects by itself; pages show live data once it is open.
    });
    return () => client.close();
  }, [client]);
  return <HubContext.Provider value={client}>{children}</HubContext.Provider>;
}

/** The app's hub connection. */
export function useHub(): HubClient {
  const client = useContext(HubContext);
  if (!client) throw new Error("useHub outside HubProvider");
  return client;
}
