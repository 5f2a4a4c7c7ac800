// <ch-playback>: the playback mode. The operator picks 1 to 4 cameras; their recordings play in
// a grid above a stacked timeline, all on one clock (play/pause, speed, frame step, jumps), and
// a range selected on the timeline goes to the export dialog.
//
// Footage comes from GET /api/cameras/{id}/recording?from&to in windows of WINDOW_MS, read
// with fetch() into a MediaSource; the hub's X-First-Frame-Ms header is the UTC instant of
// media time 0 of a window, so the instant of the frame shown is exactly that plus the
// frame's media time (requestVideoFrameCallback gives it). The next window is appended in
// the same buffer (timestampOffset), so playback runs on across windows.
//
// One clock: the instant advances at the chosen speed from the frames the leader (the first
// synced camera with footage at the instant) presents; followers more than SYNC_TOLERANCE_MS
// away are moved to it; a camera with no recording at the instant says so and catches up when
// its footage resumes; when no camera has footage the clock runs on by itself. A tile can opt
// out of sync and then plays on its own.
//
// The view is in the hash: #playback?cameras=a,b&t=2026-10-25T01:30:00.000Z.

import { ApiError, getJson } from "./api.js";
import { openBookmarkDialog } from "./bookmarks.js";
import { registerKeys } from "./keys.js";
import { kindOf } from "./logbook.js";
import {
  DAY, DEFAULT_TIME_ZONE, HOUR, MINUTE, SECOND, formatLocal, offsetLabel, viewAround, zonedParts,
} from "./timeline.js";
import { el } from "./util.js";

export const MAX_CAMERAS = 4;
export const WINDOW_MS = 10 * MINUTE;
export const SPEEDS = [0.5, 1, 2, 4, 8];
export const SYNC_TOLERANCE_MS = 200;
const AHEAD_S = 40; // stop reading a window while this much is buffered ahead
const BEHIND_S = 30; // buffered footage kept behind the playhead
const EXTEND_BEFORE_S = 20; // fetch the next window when the buffer ends this close ahead
const CONTROL_MS = 100;
const TIMELINE_REFRESH_MS = 10000;
const RETRY_NO_FOOTAGE_MS = 5000;
const DEFAULT_FPS = 25;
const LIVE_EDGE_MS = 3000; // footage this recent may still be on its way to the disk
const SEEK_INTO_FRAME_S = 0.001; // land inside the wanted frame, not on the edge of the one before

const KEYS = [
  ["Space", "play / pause"], [", .", "one frame back / forward (paused)"], ["← →", "10 s back / forward"],
  ["↑ ↓", "1 s forward / back"], ["[ ]", "range start / end at the cursor"], ["+ −", "zoom the timeline"],
  ["L", "back to live"],
];
// The help overlay (?) lists them with every other module's.
registerKeys("Playback", KEYS.map(([label, what]) => ({ label, what })));

/** The cameras and instant of a "#playback?cameras=a,b&t=ISO" hash: {cameras, t (ms or null)}. */
export function parseHash(hash) {
  const text = String(hash || "").replace(/^#/, "");
  const query = text.includes("?") ? text.slice(text.indexOf("?") + 1) : "";
  const params = new URLSearchParams(query);
  const cameras = (params.get("cameras") || "").split(",").map((c) => c.trim()).filter(Boolean);
  // A "+" of an offset arrives as a space when the link did not escape it.
  const t = params.get("t") ? Date.parse(params.get("t").replace(" ", "+")) : NaN;
  return { cameras: [...new Set(cameras)].slice(0, MAX_CAMERAS), t: Number.isNaN(t) ? null : t };
}

/** The hash that opens playback of ``cameras`` at ``instant`` (UTC ms). */
export function playbackHash(cameras, instant) {
  const params = new URLSearchParams();
  params.set("cameras", cameras.join(","));
  if (instant !== null && instant !== undefined) params.set("t", new Date(Math.round(instant)).toISOString());
  return `#playback?${params.toString().replace(/%2C/g, ",").replace(/%3A/g, ":")}`;
}

/** The UTC ms of media time ``seconds`` of footage whose media time 0 is ``origin`` ms. */
export const instantOf = (origin, seconds) => origin + seconds * 1000;

/** The media time (s) of instant ``ms`` in footage whose media time 0 is ``origin`` ms. */
export const mediaTimeOf = (origin, ms) => (ms - origin) / 1000;

/**
 * The MediaSource type of a fragmented MP4 from the start of its bytes, once its moov box is
 * complete: {mime, ready: true}; {ready: false} while more bytes are needed; null when the
 * bytes are not an MP4 this knows (H.264 with or without AAC).
 */
export function codecOf(bytes) {
  let at = 0;
  while (at + 8 <= bytes.length) {
    const size = ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3];
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (size < 8) return null;
    if (type === "moov") {
      if (at + size > bytes.length) return { ready: false };
      const moov = bytes.subarray(at, at + size);
      const codecs = [];
      const avcC = find(moov, "avcC");
      if (avcC >= 0) {
        const hex = (i) => moov[avcC + i].toString(16).padStart(2, "0").toUpperCase();
        codecs.push(`avc1.${hex(5)}${hex(6)}${hex(7)}`);
      } else if (find(moov, "hvcC") >= 0) {
        codecs.push(find(moov, "hev1") >= 0 ? "hev1.1.6.L120.90" : "hvc1.1.6.L120.90");
      } else {
        return null;
      }
      if (find(moov, "mp4a") >= 0) codecs.push("mp4a.40.2");
      return { ready: true, mime: `video/mp4; codecs="${codecs.join(", ")}"` };
    }
    if (!["ftyp", "free", "skip", "styp", "uuid"].includes(type)) return null;
    at += size;
  }
  return { ready: false };
}

function find(bytes, fourcc) {
  const [a, b, c, d] = [...fourcc].map((ch) => ch.charCodeAt(0));
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === a && bytes[i + 1] === b && bytes[i + 2] === c && bytes[i + 3] === d) return i;
  }
  return -1;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The footage of one camera in one <video>: a MediaSource fed window by window. ``origin``
 * is the UTC ms of media time 0 (the first window's first frame).
 */
export class Footage {
  constructor(video, cameraId, onState) {
    this.video = video;
    this.cameraId = cameraId;
    this.onState = onState;
    this.session = null;
  }

  get origin() {
    return this.session ? this.session.origin : null;
  }

  /** Whether the loaded footage holds instant ``ms`` (within ``slack`` s of a buffered range). */
  has(ms, slack = 0.05) {
    const session = this.session;
    if (!session || session.origin === null) return false;
    const t = mediaTimeOf(session.origin, ms);
    const buffered = this.video.buffered;
    for (let i = 0; i < buffered.length; i++) {
      if (t >= buffered.start(i) - slack && t < buffered.end(i) + slack) return true;
    }
    return false;
  }

  /** Whether the windows asked for span ``ms`` (read or being read). */
  covers(ms) {
    const session = this.session;
    return Boolean(session && !session.failed && session.from <= ms && ms < session.until);
  }

  /** The UTC ms where the buffered footage holding ``ms`` ends, or null. */
  bufferedEnd(ms) {
    const session = this.session;
    if (!session || session.origin === null) return null;
    const t = mediaTimeOf(session.origin, ms);
    const buffered = this.video.buffered;
    for (let i = 0; i < buffered.length; i++) {
      if (t >= buffered.start(i) - 0.05 && t < buffered.end(i) + 0.05) return instantOf(session.origin, buffered.end(i));
    }
    return null;
  }

  /** Start over with a window beginning at ``ms``. */
  load(ms) {
    this.close();
    const mediaSource = new MediaSource();
    const session = {
      mediaSource, buffer: null, origin: null, from: ms, until: ms + WINDOW_MS, reading: true,
      failed: false, noFootage: false, controller: new AbortController(), opened: null,
      appendQueue: Promise.resolve(),
    };
    this.session = session;
    session.opened = new Promise((resolve) => {
      mediaSource.addEventListener("sourceopen", () => {
        URL.revokeObjectURL(this.video.src);
        resolve();
      }, { once: true });
    });
    this.video.src = URL.createObjectURL(mediaSource);
    this.readWindow(session, ms, true);
  }

  /** Append the window after the current one (the footage goes on). */
  extend() {
    const session = this.session;
    if (!session || session.reading || session.failed || session.origin === null) return;
    if (session.retryAt && performance.now() < session.retryAt) return;
    const from = session.until;
    session.until = from + WINDOW_MS;
    session.reading = true;
    this.readWindow(session, from, false);
  }

  close() {
    const session = this.session;
    this.session = null;
    if (!session) return;
    session.controller.abort();
    if (session.mediaSource.readyState === "open") {
      try {
        session.mediaSource.endOfStream();
      } catch (err) {
        // already closing
      }
    }
    this.video.removeAttribute("src");
    this.video.load();
  }

  async readWindow(session, from, first) {
    const to = from + WINDOW_MS;
    const url = `/api/cameras/${encodeURIComponent(this.cameraId)}/recording`
      + `?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store",
        signal: session.controller.signal });
      if (!response.ok) {
        let data = null;
        try {
          data = await response.json();
        } catch (err) {
          data = null;
        }
        throw new ApiError(response.status, (data && data.error) || `http_${response.status}`,
          (data && data.message) || response.statusText);
      }
      const firstMs = Number(response.headers.get("X-First-Frame-Ms"));
      if (!Number.isFinite(firstMs)) throw new Error("the hub did not say when the footage starts");
      if (first) session.origin = firstMs;
      const offset = mediaTimeOf(session.origin, firstMs);
      const reader = response.body.getReader();
      let head = new Uint8Array(0);
      let started = false;
      for (;;) {
        while (this.session === session && this.aheadSeconds() > AHEAD_S) await sleep(250);
        if (this.session !== session) {
          reader.cancel().catch(() => {});
          return;
        }
        const { value, done } = await reader.read();
        if (done) break;
        let bytes = value;
        if (!started) {
          const joined = new Uint8Array(head.length + value.length);
          joined.set(head);
          joined.set(value, head.length);
          const found = codecOf(joined);
          if (found === null) throw new Error("the hub sent footage this panel cannot read");
          if (!found.ready) {
            head = joined;
            continue;
          }
          bytes = joined;
          started = true;
          await this.openBuffer(session, found.mime);
          await this.append(session, null, offset);
        }
        await this.append(session, bytes);
      }
      session.reading = false;
      // The hub sent what it had: the window ends with its last frame (more may come later).
      const buffered = this.video.buffered;
      const last = buffered.length ? instantOf(session.origin, buffered.end(buffered.length - 1)) : null;
      if (last !== null) session.until = Math.min(session.until, Math.max(last, from + 1));
      this.onState("loaded");
    } catch (err) {
      if (this.session !== session || err.name === "AbortError") return;
      session.reading = false;
      if (err instanceof ApiError && err.status === 404) {
        if (first) {
          session.failed = true;
          session.noFootage = true;
          session.failedAt = performance.now();
          this.onState("no-footage");
        }
        // After the first window: no more footage yet; ask again from the same place later.
        session.until = from;
        session.retryAt = performance.now() + RETRY_NO_FOOTAGE_MS;
        return;
      }
      session.failed = true;
      session.failedAt = performance.now();
      this.onState("failed", err.status === 403 ? err.message : `cannot play the footage: ${err.message}`);
    }
  }

  async openBuffer(session, mime) {
    await session.opened;
    if (session.buffer) return;
    if (!MediaSource.isTypeSupported(mime)) throw new Error(`this browser cannot play ${mime}`);
    session.buffer = session.mediaSource.addSourceBuffer(mime);
  }

  /** Append ``bytes`` (or only set the timestamp offset when ``bytes`` is null), in order. */
  append(session, bytes, offset) {
    const run = async () => {
      const buffer = session.buffer;
      if (this.session !== session || !buffer) return;
      if (buffer.updating) await new Promise((r) => buffer.addEventListener("updateend", r, { once: true }));
      if (bytes === null) {
        buffer.timestampOffset = offset;
        return;
      }
      for (let attempt = 0; ; attempt++) {
        try {
          buffer.appendBuffer(bytes);
          break;
        } catch (err) {
          if (err.name !== "QuotaExceededError" || attempt > 3 || !this.trim(session, 2)) throw err;
          await new Promise((r) => buffer.addEventListener("updateend", r, { once: true }));
        }
      }
      await new Promise((resolve, reject) => {
        const done = () => {
          buffer.removeEventListener("updateend", done);
          buffer.removeEventListener("error", failed);
          resolve();
        };
        const failed = () => {
          buffer.removeEventListener("updateend", done);
          buffer.removeEventListener("error", failed);
          reject(new Error("the footage could not be decoded"));
        };
        buffer.addEventListener("updateend", done);
        buffer.addEventListener("error", failed);
      });
      this.trim(session, BEHIND_S);
    };
    session.appendQueue = session.appendQueue.then(run);
    return session.appendQueue;
  }

  aheadSeconds() {
    const video = this.video;
    const buffered = video.buffered;
    for (let i = 0; i < buffered.length; i++) {
      if (video.currentTime >= buffered.start(i) - 0.1 && video.currentTime < buffered.end(i) + 0.1) {
        return buffered.end(i) - video.currentTime;
      }
    }
    return 0;
  }

  /** Drop what lies more than ``keep`` s behind the playhead; true when something went. */
  trim(session, keep) {
    const buffer = session.buffer;
    const buffered = this.video.buffered;
    if (!buffer || buffer.updating || !buffered.length) return false;
    const until = this.video.currentTime - keep;
    if (until <= buffered.start(0) + 1) return false;
    buffer.remove(buffered.start(0), until);
    return true;
  }
}

/** One camera's tile: its video, name, own clock, sync switch and "no recording" notice. */
class PlaybackTile {
  constructor(camera, owner) {
    this.camera = camera;
    this.owner = owner;
    this.synced = true;
    this.frameInstant = null; // UTC ms of the frame on screen
    this.frameAt = 0; // performance.now() when it was presented
    this.fps = (camera.streams && camera.streams[0] && camera.streams[0].fps) || DEFAULT_FPS;
    this.coverage = null; // {from, to, recordings} from the timeline
    this.state = null; // playing, loading, gap or failed, once known
    this.detail = null;
    this.pendingSeek = null;
    this.video = el("video", { class: "pb-video", muted: true, playsinline: true });
    this.video.muted = true;
    this.messageEl = el("div", { class: "pb-message", role: "status" });
    this.clockEl = el("span", { class: "pb-tile-clock" });
    this.syncBox = el("input", { type: "checkbox", name: "sync", checked: true,
      onchange: () => owner.setSynced(this, this.syncBox.checked) });
    this.node = el("div", { class: "pb-tile", dataset: { camera: camera.id } },
      this.video,
      el("div", { class: "pb-tile-bar" },
        el("span", { class: "pb-tile-name", text: camera.name }), this.clockEl,
        el("label", { class: "pb-sync", title: "Follow the common clock" }, this.syncBox, "sync")),
      this.messageEl);
    this.footage = new Footage(this.video, camera.id, (state, detail) => this.footageState(state, detail));
    this.watchFrames();
  }

  watchFrames() {
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
    const onFrame = (now, metadata) => {
      if (this.closed) return;
      const origin = this.footage.origin;
      // A frame presented before a seek may be reported after it: it is no longer on screen.
      const current = Math.abs(metadata.mediaTime - this.video.currentTime) < 0.5;
      if (origin !== null && current) {
        this.frameInstant = instantOf(origin, metadata.mediaTime);
        this.frameAt = now;
        this.owner.framePresented(this);
      }
      this.video.requestVideoFrameCallback(onFrame);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  /** Before a seek to ``instant``: unless that is the frame on screen, the clock tells until the next. */
  forgetFrame(instant) {
    const shown = this.frameInstant;
    if (shown !== null && (instant < shown || instant >= shown + 1000 / this.fps)) this.frameInstant = null;
  }

  /** The UTC ms where the video stands now (its playhead), or null. */
  get playhead() {
    const origin = this.footage.origin;
    if (origin === null || this.video.readyState < 1) return null;
    return instantOf(origin, this.video.currentTime);
  }

  /**
   * "recorded", "gap" or "unknown" for instant ``ms`` according to the timeline. The last
   * seconds before the timeline was read count as unknown: the recorder may not have written
   * their fragments yet.
   */
  coverageAt(ms) {
    const c = this.coverage;
    if (!c || ms < c.from || ms >= c.to - LIVE_EDGE_MS) return "unknown";
    return c.recordings.some((r) => r.start <= ms && ms < r.end) ? "recorded" : "gap";
  }

  footageState(state, detail) {
    if (state === "failed") this.show("failed", detail);
    else if (state === "no-footage") this.show("gap");
  }

  show(state, detail) {
    if (state === this.state && detail === this.detail) return;
    this.state = state;
    this.detail = detail;
    this.node.dataset.state = state;
    const messages = { gap: "No recording", loading: "Loading…", failed: detail || "Cannot play" };
    this.messageEl.textContent = messages[state] || "";
    this.messageEl.hidden = !messages[state];
  }

  /** Move the video to instant ``ms`` (a new window when it is not loaded). */
  seek(ms) {
    if (this.footage.has(ms) && this.footage.origin !== null) {
      this.video.currentTime = mediaTimeOf(this.footage.origin, ms) + SEEK_INTO_FRAME_S;
      return true;
    }
    if (!this.footage.covers(ms) && this.coverageAt(ms) === "recorded") {
      this.footage.load(ms);
      this.pendingSeek = ms;
    }
    return false;
  }

  close() {
    this.closed = true;
    this.footage.close();
  }
}

export class Playback extends HTMLElement {
  constructor() {
    super();
    this.user = null;
    this.cameras = new Map();
    this.tiles = [];
    this.timeZone = DEFAULT_TIME_ZONE;
    this.playing = false;
    this.rate = 1;
    this.anchorInstant = Date.now() - HOUR;
    this.anchorPerf = performance.now();
    this.leader = null;
    this.timer = null;
    this.refreshTimer = null;
    this.onKey = (event) => this.key(event);
    // Space on a focused button would click it as well when released: the key is ours here.
    this.onKeyUp = (event) => {
      if (event.key === " " && event.target && event.target.tagName === "BUTTON") event.preventDefault();
    };
    this.onHash = null;
  }

  /** Whether the account may play recordings back (role, habilitation in force). */
  get mayPlay() {
    return Boolean(this.user && (this.user.permissions || []).includes("playback"));
  }

  /** The instant of the common clock now (UTC ms). */
  get instant() {
    return this.anchorInstant + (this.playing ? (performance.now() - this.anchorPerf) * this.rate : 0);
  }

  setClock(instant) {
    this.anchorInstant = instant;
    this.anchorPerf = performance.now();
  }

  connectedCallback() {
    this.classList.add("playback");
    if (!this.mayPlay) {
      this.replaceChildren(el("p", { class: "pb-refused", role: "alert",
        text: "Your account may not play recordings back (or your habilitation has expired)." }));
      return;
    }
    this.picker = el("ul", { class: "pb-picker", "aria-label": "Cameras to play back" });
    this.grid = el("div", { class: "pb-grid" });
    this.playButton = el("button", { type: "button", class: "pb-play", text: "Play", title: "Play / pause (Space)",
      onclick: () => this.togglePlay() });
    this.speedSelect = el("select", { name: "speed", "aria-label": "Speed", onchange: () => {
      this.setRate(Number(this.speedSelect.value));
      this.speedSelect.blur(); // Space plays again, instead of opening the list
    } },
      SPEEDS.map((s) => el("option", { value: String(s), text: `${s}×`, selected: s === 1 })));
    this.clockEl = el("time", { class: "pb-clock", role: "timer" });
    this.messageEl = el("p", { class: "pb-message-line", role: "alert" });
    this.exportButton = el("button", { type: "button", class: "pb-export", text: "Export…", disabled: true,
      title: "Select a range on the timeline first", onclick: () => this.openExport() });
    const mayExport = (this.user.permissions || []).includes("export");
    const mayBookmark = (this.user.permissions || []).includes("logbook");
    this.legend = el("dl", { class: "pb-legend", "aria-label": "Keyboard shortcuts" },
      KEYS.flatMap(([key, what]) => [el("dt", {}, el("kbd", { text: key })), el("dd", { text: what })]));
    this.legend.hidden = true;
    this.timeline = document.createElement("ch-timeline");
    this.timeline.addEventListener("ch-seek", (e) => {
      // A click on the bar of a camera out of sync moves that camera alone.
      const own = this.tiles.find((t) => t.camera.id === e.detail.camera && !t.synced);
      this.seek(e.detail.instant, own || null);
    });
    this.timeline.addEventListener("ch-view", () => this.scheduleTimeline());
    this.timeline.addEventListener("ch-range", (e) => this.rangeChanged(e.detail));
    const bar = el("div", { class: "pb-controls" },
      el("button", { type: "button", class: "pb-back", text: "−10 s", onclick: () => this.jump(-10 * SECOND) }),
      el("button", { type: "button", class: "pb-step-back", text: "◂|", title: "One frame back (,)",
        onclick: () => this.step(-1) }),
      this.playButton,
      el("button", { type: "button", class: "pb-step", text: "|▸", title: "One frame forward (.)",
        onclick: () => this.step(1) }),
      el("button", { type: "button", class: "pb-forward", text: "+10 s", onclick: () => this.jump(10 * SECOND) }),
      this.speedSelect, this.clockEl,
      mayExport ? this.exportButton : null,
      mayBookmark ? el("button", { type: "button", class: "pb-bookmark", text: "Bookmark…",
        title: "Bookmark the selected range, or the instant shown, of the first camera",
        onclick: () => this.openBookmark() }) : null,
      el("button", { type: "button", class: "pb-keys", text: "Keys", title: "Keyboard shortcuts (?)",
        onclick: () => { this.legend.hidden = !this.legend.hidden; } }),
      el("button", { type: "button", class: "pb-live", text: "Live", title: "Back to live (L)",
        onclick: () => this.backToLive() }));
    this.replaceChildren(
      el("aside", { class: "pb-side" }, el("h2", { text: "Cameras" }),
        el("p", { class: "muted pb-hint", text: `Up to ${MAX_CAMERAS}, played together.` }), this.picker),
      el("section", { class: "pb-main" }, this.grid, this.messageEl, bar, this.legend, this.timeline),
    );
    document.addEventListener("keydown", this.onKey);
    document.addEventListener("keyup", this.onKeyUp);
    this.start();
  }

  disconnectedCallback() {
    document.removeEventListener("keydown", this.onKey);
    document.removeEventListener("keyup", this.onKeyUp);
    clearInterval(this.timer);
    clearInterval(this.refreshTimer);
    clearTimeout(this.timelineSoon);
    for (const tile of this.tiles) tile.close();
    this.tiles = [];
  }

  say(text) {
    this.messageEl.textContent = text || "";
  }

  async start() {
    try {
      const data = await getJson("/api/cameras");
      this.cameras = new Map(data.cameras.map((c) => [c.id, c]));
    } catch (err) {
      this.say(err.message);
      return;
    }
    try {
      const report = await getJson("/api/health/report");
      if (report.time_zone) this.timeZone = report.time_zone;
    } catch (err) {
      // the default zone stays
    }
    this.timeline.timeZone = this.timeZone;
    const wanted = parseHash(location.hash);
    const known = wanted.cameras.filter((id) => this.cameras.has(id));
    const unknown = wanted.cameras.filter((id) => !this.cameras.has(id));
    if (unknown.length) this.say(`Not in your zones or unknown: ${unknown.join(", ")}.`);
    const now = Date.now();
    const instant = wanted.t ?? now - 5 * MINUTE;
    this.setClock(instant);
    // The last 24 hours, unless the instant asked for lies before them.
    const lastDay = { start: now - DAY + 10 * MINUTE, end: now + 10 * MINUTE };
    this.timeline.setView(instant >= lastDay.start ? lastDay : viewAround(lastDay, instant), false);
    this.renderPicker(known);
    this.setCameras(known);
    this.timer = setInterval(() => this.control(), CONTROL_MS);
    this.refreshTimer = setInterval(() => this.loadTimeline(), TIMELINE_REFRESH_MS);
  }

  renderPicker(chosen) {
    const cameras = [...this.cameras.values()].sort((a, b) => a.name.localeCompare(b.name));
    this.picker.replaceChildren(...(cameras.length ? cameras.map((camera) => {
      const box = el("input", { type: "checkbox", name: "camera", value: camera.id, checked: chosen.includes(camera.id),
        onchange: () => this.pickerChanged(box) });
      return el("li", { class: "pb-pick" }, el("label", {}, box,
        el("span", { class: "pb-pick-name", text: camera.name }),
        camera.recording ? el("span", { class: "rec-dot", title: "Recording" }) : null));
    }) : [el("li", { class: "tree-empty", text: "No camera in your zones" })]));
  }

  pickerChanged(box) {
    let ids = this.tiles.map((t) => t.camera.id);
    if (box.checked) {
      if (ids.length >= MAX_CAMERAS) {
        box.checked = false;
        this.say(`At most ${MAX_CAMERAS} cameras play together: untick one first.`);
        return;
      }
      ids.push(box.value);
    } else {
      ids = ids.filter((id) => id !== box.value);
    }
    this.say("");
    this.setCameras(ids);
  }

  setCameras(ids) {
    const kept = new Map(this.tiles.map((t) => [t.camera.id, t]));
    const tiles = ids.map((id) => kept.get(id) || new PlaybackTile(this.cameras.get(id), this));
    for (const tile of this.tiles) if (!tiles.includes(tile)) tile.close();
    this.tiles = tiles;
    this.grid.dataset.count = String(tiles.length);
    this.grid.replaceChildren(...(tiles.length ? tiles.map((t) => t.node)
      : [el("p", { class: "pb-empty", text: "Tick up to four cameras on the left to play their recordings." })]));
    this.leader = null;
    this.writeHash();
    this.loadTimeline();
    this.seek(this.instant);
  }

  writeHash() {
    const hash = playbackHash(this.tiles.map((t) => t.camera.id), this.displayed());
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  scheduleTimeline() {
    clearTimeout(this.timelineSoon);
    this.timelineSoon = setTimeout(() => this.loadTimeline(), 200);
  }

  /** Fetch recordings, gaps, holds and events of every camera around the view and the clock. */
  async loadTimeline() {
    const ticket = (this.timelineTicket = (this.timelineTicket || 0) + 1);
    const view = this.timeline.view;
    const now = Date.now();
    const instant = this.instant;
    const from = Math.min(view.start, instant - 30 * MINUTE);
    const to = Math.min(Math.max(view.end, instant + 30 * MINUTE), now);
    const mayLog = (this.user.permissions || []).includes("logbook");
    const rows = await Promise.all(this.tiles.map(async (tile) => {
      const id = encodeURIComponent(tile.camera.id);
      const range = `from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
      const row = { id: tile.camera.id, name: tile.camera.name, recordings: [], gaps: [], events: [], holds: [],
        until: now };
      if (to <= from) return row;
      try {
        const found = await getJson(`/api/cameras/${id}/timeline?${range}`);
        const spans = (list) => list.map((s) => ({ start: Date.parse(s.start), end: Date.parse(s.end) }));
        row.recordings = spans(found.recordings);
        row.gaps = spans(found.gaps);
        row.holds = (found.holds || []).map((h) => ({ ...h, start: Date.parse(h.start), end: Date.parse(h.end) }));
        tile.coverage = { from, to, recordings: row.recordings };
      } catch (err) {
        this.say(err.message);
      }
      if (mayLog) {
        try {
          const events = await getJson(`/api/logbook/events?camera=${id}&${range}&limit=500`);
          row.events = events.map((e) => ({ time: Date.parse(e.time), type: e.event_type, kind: kindOf(e.event_type),
            label: e.event_type }));
        } catch (err) {
          // events are context: the bar works without them
        }
      }
      return row;
    }));
    if (ticket !== this.timelineTicket) return;
    this.timeline.now = now;
    this.timeline.setRows(rows);
    this.rows = rows;
  }

  /** The instant shown: the leader's frame when there is one, else the clock. */
  displayed() {
    const leader = this.leader;
    if (leader && leader.frameInstant !== null && this.playing) return leader.frameInstant;
    if (leader && leader.frameInstant !== null && Math.abs(leader.frameInstant - this.instant) < 1000 / leader.fps) {
      return leader.frameInstant;
    }
    return this.instant;
  }

  /** A tile presented a frame: the leader's frames drive the clock. */
  framePresented(tile) {
    if (tile === this.leader && this.playing && !tile.video.paused) this.setClock(tile.frameInstant);
    tile.clockEl.textContent = formatLocal(tile.frameInstant, this.timeZone, { millis: true, date: false });
    tile.clockEl.dataset.ms = String(tile.frameInstant);
    if (tile === this.leader || !this.leader) this.showClock();
  }

  showClock() {
    const shown = this.displayed();
    const offset = zonedParts(shown, this.timeZone).offset;
    this.clockEl.textContent = `${formatLocal(shown, this.timeZone, { millis: true })} ${offsetLabel(offset)}`;
    this.clockEl.dataset.ms = String(shown);
    this.clockEl.setAttribute("datetime", new Date(Math.round(shown)).toISOString());
    this.clockEl.title = `UTC ${new Date(Math.round(shown)).toISOString()}`;
    this.timeline.setCursor(shown);
    const view = this.timeline.view;
    if (this.playing && !this.timeline.drag && (shown > view.end || shown < view.start)) {
      this.timeline.setView(viewAround(view, shown, 0.1));
    }
  }

  /** The loop that keeps the tiles on the clock (every CONTROL_MS). */
  control() {
    const instant = this.instant;
    let leader = null;
    let waiting = false;
    let unknown = false;
    for (const tile of this.tiles.filter((t) => t.synced)) {
      const state = this.placeTile(tile, instant);
      if (state === "loading" || state === "unknown") waiting = true;
      if (state === "unknown") unknown = true;
      if (state !== "playing") continue;
      if (tile.pendingSeek !== null) {
        tile.pendingSeek = null;
        tile.seek(instant);
      }
      if (!leader && (tile === this.leader || !this.leader || this.leader.state !== "playing")) {
        leader = tile;
      } else {
        const playhead = tile.playhead;
        if (playhead !== null && !tile.video.seeking && Math.abs(playhead - instant) > SYNC_TOLERANCE_MS) {
          tile.seek(instant);
        }
      }
      this.drive(tile);
      this.extendIfNeeded(tile, instant);
    }
    if (leader !== this.leader) {
      this.leader = leader;
      const playhead = leader ? leader.playhead : null;
      if (leader && (playhead === null || Math.abs(playhead - instant) > SYNC_TOLERANCE_MS)) leader.seek(instant);
    } else if (leader) {
      const playhead = leader.playhead;
      if (playhead !== null && !leader.video.seeking && Math.abs(playhead - instant) > SYNC_TOLERANCE_MS) {
        const session = leader.footage.session;
        // Behind because its footage is still coming: the clock waits for it; else it goes to the clock.
        if (this.playing && playhead < instant && session && session.reading && leader.video.readyState < 3) {
          this.setClock(playhead);
        } else {
          leader.seek(instant);
        }
      }
    } else if (!leader && waiting && this.playing) {
      this.setClock(instant); // footage loading: the clock waits for it
    }
    if (unknown) this.refreshSoon();
    for (const tile of this.tiles) {
      if (tile.synced) continue;
      this.drive(tile);
      const own = tile.playhead;
      if (own !== null) this.extendIfNeeded(tile, own);
      this.timeline.setRowCursor(tile.camera.id, own);
      if (own !== null && tile.state !== "playing") tile.show("playing");
    }
    this.showClock();
  }

  /** What ``tile`` does at ``instant``: "playing", "loading", "gap", "failed" or "unknown". */
  placeTile(tile, instant) {
    const footage = tile.footage;
    const session = footage.session;
    const coverage = tile.coverageAt(instant);
    const idle = (state) => {
      tile.show(state === "unknown" ? "loading" : state);
      if (!tile.video.paused) tile.video.pause();
      return state;
    };
    if (session && session.failed && performance.now() - session.failedAt < RETRY_NO_FOOTAGE_MS
      && session.from <= instant + SECOND && instant < session.until) {
      return idle(session.noFootage ? "gap" : "failed");
    }
    if (coverage === "gap") return idle("gap");
    if (footage.has(instant)) {
      tile.show("playing");
      return "playing";
    }
    if (footage.covers(instant)) return idle(session.reading ? "loading" : "gap");
    if (coverage === "unknown") return idle("unknown");
    footage.load(instant);
    tile.pendingSeek = instant;
    return idle("loading");
  }

  /** Fetch the timeline again soon (the clock went past what it knows), at most every 2 s. */
  refreshSoon() {
    const now = performance.now();
    if (this.lastRefresh && now - this.lastRefresh < 2000) return;
    this.lastRefresh = now;
    this.loadTimeline();
  }

  /** Play or pause ``tile``'s video with the clock, at its speed. */
  drive(tile) {
    const video = tile.video;
    if (video.playbackRate !== this.rate) video.playbackRate = this.rate;
    if (this.playing && video.paused && video.readyState >= 2) {
      const started = video.play();
      if (started) started.catch(() => {});
    } else if (!this.playing && !video.paused) {
      video.pause();
    }
  }

  /** Fetch the next window when the buffer ends soon and the timeline has footage after it. */
  extendIfNeeded(tile, instant) {
    const end = tile.footage.bufferedEnd(instant);
    if (end === null || end - instant > EXTEND_BEFORE_S * 1000) return;
    if (tile.coverageAt(end + SECOND) === "recorded") tile.footage.extend();
  }

  /** Move every synced tile (or only ``only``) to ``instant``. */
  seek(instant, only = null) {
    if (only && !only.synced) {
      only.forgetFrame(instant);
      only.seek(instant);
      return;
    }
    this.setClock(instant);
    for (const tile of this.tiles) {
      if (!tile.synced) continue;
      tile.forgetFrame(instant);
      if (tile.coverageAt(instant) === "gap") {
        tile.show("gap");
        continue;
      }
      tile.seek(instant);
    }
    this.showClock();
    this.writeHash();
  }

  togglePlay() {
    if (this.playing) this.pause();
    else this.play();
  }

  play() {
    if (!this.tiles.length) return;
    const shown = this.displayed();
    this.playing = true;
    this.setClock(shown);
    this.playButton.textContent = "Pause";
    this.playButton.classList.add("active");
    this.dataset.playing = "true";
    for (const tile of this.tiles) this.drive(tile);
  }

  pause() {
    this.playing = false;
    for (const tile of this.tiles) tile.video.pause();
    // Where the leader stopped may be a frame or two past the last one reported: seek there,
    // so every synced tile shows the frame at that instant and the clock reads it.
    const leader = this.leader;
    const playhead = leader ? leader.playhead : null;
    this.seek(playhead !== null ? playhead : this.instant);
    this.playButton.textContent = "Play";
    this.playButton.classList.remove("active");
    this.dataset.playing = "false";
    this.writeHash();
  }

  setRate(rate) {
    const shown = this.displayed();
    this.rate = rate;
    this.setClock(shown);
    this.speedSelect.value = String(rate);
    for (const tile of this.tiles) tile.video.playbackRate = rate;
  }

  jump(delta) {
    this.seek(this.displayed() + delta);
  }

  /** One frame back or forward (pauses first). */
  step(direction) {
    if (this.playing) this.pause();
    const tile = this.leader || this.tiles.find((t) => t.synced);
    const frame = 1000 / (tile ? tile.fps : DEFAULT_FPS);
    this.seek(this.displayed() + direction * frame);
  }

  setSynced(tile, synced) {
    tile.synced = synced;
    tile.node.classList.toggle("unsynced", !synced);
    if (synced) {
      this.timeline.setRowCursor(tile.camera.id, null);
      tile.seek(this.instant);
    }
    if (tile === this.leader) this.leader = null;
  }

  rangeChanged(range) {
    this.range = range;
    this.exportButton.disabled = !range || range.end <= range.start;
    this.exportButton.title = this.exportButton.disabled ? "Select a range on the timeline first"
      : "Export the selected range of these cameras";
  }

  async openExport() {
    const range = this.range;
    if (!range || range.end <= range.start) return;
    let module;
    try {
      module = await import("./export.js");
    } catch (err) {
      this.say("The export dialog is not available in this version of the panel.");
      return;
    }
    if (typeof module.openExportDialog !== "function") {
      this.say("The export dialog is not available in this version of the panel.");
      return;
    }
    module.openExportDialog({ cameras: this.tiles.map((t) => t.camera.id), from: new Date(range.start),
      to: new Date(range.end) });
  }

  /** Bookmark the selected range (or the instant shown) of the first camera on screen. */
  openBookmark() {
    const tile = this.tiles[0];
    if (!tile) {
      this.say("Choose a camera first.");
      return;
    }
    const range = this.range && this.range.end > this.range.start ? this.range : null;
    const at = range ? range.start : this.displayed();
    if (at === null || at === undefined) {
      this.say("Nothing is shown yet: pick an instant on the timeline first.");
      return;
    }
    openBookmarkDialog({ camera: tile.camera.id, cameraName: tile.camera.name, start: new Date(at),
      end: range ? new Date(range.end) : null });
  }

  backToLive() {
    location.hash = "#live";
  }

  key(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
      && !(target.type === "checkbox" && event.key !== " ")) return;
    const actions = {
      " ": () => this.togglePlay(),
      ",": () => this.step(-1),
      ".": () => this.step(1),
      ArrowLeft: () => this.jump(-10 * SECOND),
      ArrowRight: () => this.jump(10 * SECOND),
      ArrowUp: () => this.jump(SECOND),
      ArrowDown: () => this.jump(-SECOND),
      "[": () => this.timeline.markRange("start", this.displayed()),
      "]": () => this.timeline.markRange("end", this.displayed()),
      "+": () => this.timeline.zoom(1 / 1.5),
      "-": () => this.timeline.zoom(1.5),
      l: () => this.backToLive(),
      L: () => this.backToLive(),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  }
}

customElements.define("ch-playback", Playback);
