/**
 * The typed REST client of the Vigor API: `openapi-fetch` over the types that
 * `openapi-typescript` generates from `/v1/openapi.json` into `schema.d.ts`
 * (`npm run api:generate`; CI regenerates and diffs it, so a changed API breaks
 * the type check, not the user). Every request carries a fresh access token.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { accessToken, problemError } from "../auth/session";

export type { paths, components } from "./schema";

const authorize: Middleware = {
  async onRequest({ request }) {
    const token = await accessToken();
    if (token) request.headers.set("authorization", `Bearer ${token}`);
    return request;
  },
};

/** The client every page uses. */
export const api = createClient<paths>({ baseUrl: "" });
api.use(authorize);

/**
 * The data of an openapi-fetch answer, or an `Error` from its problem+json. A
 * `204 No Content` (a delete, taking kudos back) has no data and is a success.
 */
export function unwrap<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.response.ok && (answer.data !== undefined || answer.response.status === 204)) return answer.data as T;
  throw problemError(answer.error, answer.response.status);
}
