// Instant replay on a tile: the tile's recording from a few seconds back, played from the
// hub's recording endpoint (fragmented MP4, from the keyframe at or before the instant; the
// hub audits it as playback), with a mini timeline of the last minutes.

import { getJson } from "./api.js";
import { el } from "./util.js";

export const REPLAY_WINDOW_S = 300; // the mini timeline spans the last five minutes
export const REPLAY_STEPS_S = [15, 30];

const iso = (ms) => new Date(ms).toISOString();

/** "14:02:07" in the browser's time zone. */
export function clockSeconds(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/**
 * One tile's replay: plays ``camera`` from an instant in its own <video>, and draws the mini
 * timeline. ``onStatus(kind, detail)``: "playing", "failed" (detail.message), "caught-up".
 */
export class Replay {
  constructor(onStatus) {
    this.onStatus = onStatus;
    this.video = el("video", { class: "tile-video replay-video", muted: true, playsinline: true });
    this.video.muted = true;
    this.bar = el("div", { class: "replay-bar", title: "Click to replay from that moment",
      onclick: (event) => this.clicked(event) });
    this.rangesEl = el("div", { class: "replay-ranges" });
    this.cursor = el("div", { class: "replay-cursor" });
    this.bar.append(this.rangesEl, this.cursor);
    this.camera = null;
    this.base = 0; // the instant (ms since the epoch) at media time 0
    this.window = [0, 0];
    this.generation = 0;
    this.timer = null;
    this.video.addEventListener("playing", () => this.camera && this.onStatus("playing"));
    this.video.addEventListener("ended", () => this.camera && this.continue());
    this.video.addEventListener("error", () => this.camera && this.onStatus("failed",
      { message: "the recording could not be played" }));
  }

  /** The instant on screen (ms since the epoch), or null when not replaying. */
  get instant() {
    return this.camera ? this.base + this.video.currentTime * 1000 : null;
  }

  /** Replay ``camera`` from ``at`` (ms since the epoch), within the last minutes. */
  async start(camera, at) {
    const generation = ++this.generation;
    this.camera = camera;
    const now = Date.now();
    this.window = [now - REPLAY_WINDOW_S * 1000, now];
    let ranges;
    try {
      const query = `from=${encodeURIComponent(iso(this.window[0]))}&to=${encodeURIComponent(iso(now))}`;
      const timeline = await getJson(`/api/cameras/${encodeURIComponent(camera)}/timeline?${query}`);
      ranges = timeline.recordings.map((r) => [Date.parse(r.start), Date.parse(r.end)]);
    } catch (err) {
      if (generation === this.generation) this.onStatus("failed", { message: err.message });
      return;
    }
    if (generation !== this.generation) return;
    this.ranges = ranges;
    this.drawRanges();
    const range = ranges.find((r) => r[1] > at + 500);
    if (!range) {
      this.onStatus("failed", { message: `nothing recorded since ${clockSeconds(at)}` });
      return;
    }
    const from = Math.max(at, range[0]);
    this.base = from;
    const query = `from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(now))}`;
    this.video.src = `/api/cameras/${encodeURIComponent(camera)}/recording?${query}`;
    const playing = this.video.play();
    if (playing) playing.catch(() => {});
    clearInterval(this.timer);
    this.timer = setInterval(() => this.drawCursor(), 250);
    this.drawCursor();
  }

  /** The piece asked for has played: go on from where it ended, or say it caught up. */
  continue() {
    const at = this.instant;
    if (Date.now() - at < 3000) this.onStatus("caught-up");
    else this.start(this.camera, at);
  }

  clicked(event) {
    if (!this.camera) return;
    const box = this.bar.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const [start, end] = this.window;
    this.start(this.camera, start + fraction * (end - start));
  }

  position(ms) {
    const [start, end] = this.window;
    return Math.min(100, Math.max(0, ((ms - start) / (end - start)) * 100));
  }

  drawRanges() {
    this.rangesEl.replaceChildren(...this.ranges.map(([start, end]) => {
      const span = el("div", { class: "replay-range" });
      span.style.left = `${this.position(start)}%`;
      span.style.width = `${this.position(end) - this.position(start)}%`;
      return span;
    }));
  }

  drawCursor() {
    const at = this.instant;
    if (at === null) return;
    this.cursor.style.left = `${this.position(at)}%`;
    this.onStatus("time", { instant: at });
  }

  /** Stop replaying and release the stream. */
  stop() {
    this.generation++;
    this.camera = null;
    clearInterval(this.timer);
    this.timer = null;
    this.video.removeAttribute("src");
    this.video.load();
  }
}
