// The window's wall socket (/api/wall): the pending alarms in the account's scope, the
// monitor windows the account has open, and, in a window opened as a monitor (/#monitor=NAME),
// the cameras and layouts pushed to it. It only listens; pushes go through POST /api/wall/show.

import { getJson, postJson } from "./api.js";

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
const MONITOR_HASH = /^#monitor=([A-Za-z0-9][A-Za-z0-9_.-]{0,39})$/;

/** The monitor name this window was opened as (``/#monitor=NAME``), or null. */
export function monitorName() {
  const match = MONITOR_HASH.exec(location.hash);
  return match ? match[1] : null;
}

/** Open (or bring forward) the window of monitor ``name``. */
export function openMonitor(name) {
  return window.open(`/#monitor=${encodeURIComponent(name)}`, `cityhub-monitor-${name}`, "popup");
}

/** Push camera ``camera`` (to ``tile``, optional) or saved layout ``layout`` to monitor ``name``. */
export function sendToMonitor(name, { camera = null, layout = null, tile = null } = {}) {
  const body = { monitor: name };
  if (camera) body.camera_id = camera;
  if (layout) body.layout = layout;
  if (tile !== null) body.tile = tile;
  return postJson("/api/wall/show", body);
}

/** Dismiss pending alarm ``id``. */
export function dismissAlarm(id) {
  return postJson(`/api/wall/alarms/${encodeURIComponent(id)}/dismiss`);
}

/** The wall socket of this window; ``onMessage(message)`` gets every message. */
export class WallSocket {
  constructor(monitor, onMessage) {
    this.monitor = monitor;
    this.onMessage = onMessage;
    this.ws = null;
    this.delay = RECONNECT_MIN_MS;
    this.timer = null;
    this.closed = false;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = this.monitor ? `?monitor=${encodeURIComponent(this.monitor)}` : "";
    const ws = new WebSocket(`${scheme}//${location.host}/api/wall${query}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.delay = RECONNECT_MIN_MS;
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      this.onMessage(message);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws || this.closed) return;
      this.ws = null;
      getJson("/api/auth/me").catch(() => {}); // a 401 there sends the page back to login
      this.timer = setTimeout(() => {
        this.timer = null;
        this.connect();
      }, this.delay);
      this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
    });
  }

  /** Close for good. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
    this.ws = null;
  }
}
