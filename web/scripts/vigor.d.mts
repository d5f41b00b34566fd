// Types of scripts/vigor.mjs for the TypeScript tests.
export interface RunningVigor {
  readonly url: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}
export interface Pusher {
  id: string;
  secret: string;
}
export interface SignedUp {
  userId: string;
  accessToken: string;
  refreshToken: string;
  password: string;
}
export function vigorBinary(): string;
export function startVigor(options?: { env?: Record<string, string>; dataDir?: string }): Promise<RunningVigor>;
export function registerPusher(dataDir: string): Promise<Pusher>;
export function signUpWithTokens(url: string, email: string, password?: string, displayName?: string): Promise<SignedUp>;
export function publishAs(
  url: string,
  pusher: Pusher,
  channel: string,
  event: string,
  data: Record<string, unknown>,
): Promise<{ seq: string }>;
export function setRoles(dataDir: string, userId: string, roles: string[]): Promise<void>;
