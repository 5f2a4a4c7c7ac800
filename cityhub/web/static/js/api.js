// The hub's JSON API as the panel calls it: the session cookie travels by itself, the CSRF
// token goes in a header on every state-changing request, and a 401 anywhere but the login
// form means the session has ended ("ch-session-ended" on window sends the page to login).

export const SESSION_ENDED = "ch-session-ended";

let csrfToken = null;

/** Remember the session's CSRF token (from the login or /api/auth/me answer). */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** A refusal of the API: HTTP status, the stable error code, and the hub's message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Send a request; resolve with the JSON answer or reject with an ApiError. */
export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrfToken && method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "unreachable", "the hub does not answer; check the network");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(
      response.status,
      (data && data.error) || `http_${response.status}`,
      (data && data.message) || response.statusText,
    );
    if (response.status === 401 && path !== "/api/auth/login") {
      window.dispatchEvent(new CustomEvent(SESSION_ENDED, { detail: error }));
    }
    throw error;
  }
  return data;
}

/** GET ``path``. */
export const getJson = (path) => request("GET", path);

/** POST ``body`` to ``path``. */
export const postJson = (path, body = {}) => request("POST", path, body);
