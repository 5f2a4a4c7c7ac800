// <ch-tile>: one tile of the wall: number, camera name and zone, recording dot, state, the
// video, and a placeholder when there is nothing to show. It drives its Player: watches the
// right stream and watches again by itself (with backoff) when the stream ends, the socket
// drops or the camera comes back.

import { Player } from "./live.js";
import { clockTime, el } from "./util.js";

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 8000;
const NO_RETRY = new Set(["forbidden", "unknown_camera", "bad_message", "unsupported"]);

/** The stream a tile should watch: the sub-stream in small tiles when the camera has one. */
export function chooseProfile(camera, small) {
  const live = (camera.streams || []).filter((s) => s.live);
  if (!live.length) return null;
  if (!small || live.length === 1) return live[0].name;
  const smallest = live.reduce((a, b) => (b.width * b.height < a.width * a.height ? b : a));
  return smallest.name;
}

export class Tile extends HTMLElement {
  constructor() {
    super();
    this.index = 0;
    this.camera = null;
    this.socket = null;
    this.small = false;
    this.active = true; // false while hidden (page hidden, another tile maximised)
    this.profile = null;
    this.status = "empty";
    this.refusal = null;
    this.retryDelay = RETRY_MIN_MS;
    this.retryTimer = null;
    this.built = false;
  }

  connectedCallback() {
    if (this.built) return;
    this.built = true;
    this.classList.add("tile");
    this.tabIndex = 0;
    this.numberEl = el("span", { class: "tile-number" });
    this.nameEl = el("span", { class: "tile-name" });
    this.zoneEl = el("span", { class: "tile-zone" });
    this.recEl = el("span", { class: "tile-rec", title: "Recording" });
    this.stateEl = el("span", { class: "tile-state" });
    this.closeEl = el("button", {
      class: "tile-close", type: "button", title: "Close this tile", text: "×",
      onclick: (event) => {
        event.stopPropagation();
        this.dispatch("ch-tile-clear");
      },
    });
    this.video = el("video", { class: "tile-video", muted: true, playsinline: true });
    this.placeholder = el("div", { class: "tile-placeholder" });
    this.append(
      el("div", { class: "tile-bar" }, this.numberEl, this.recEl, this.nameEl, this.zoneEl,
        this.stateEl, this.closeEl),
      this.video,
      this.placeholder,
    );
    this.player = new Player(this.video, (kind, detail) => this.playerStatus(kind, detail));
    this.addEventListener("click", () => this.dispatch("ch-tile-select"));
    this.addEventListener("dblclick", () => this.dispatch("ch-tile-maximise"));
    this.addEventListener("dragover", (event) => {
      if (event.dataTransfer.types.includes("application/x-cityhub-camera")) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
        this.classList.add("drop-target");
      }
    });
    this.addEventListener("dragleave", () => this.classList.remove("drop-target"));
    this.addEventListener("drop", (event) => {
      this.classList.remove("drop-target");
      const camera = event.dataTransfer.getData("application/x-cityhub-camera");
      if (!camera) return;
      event.preventDefault();
      this.dispatch("ch-tile-drop", { camera });
    });
    this.render();
  }

  disconnectedCallback() {
    this.halt();
  }

  dispatch(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { bubbles: true, detail: { index: this.index, ...detail } }));
  }

  /** Show ``camera`` (or nothing) in ``small`` (sub-stream) size, on ``socket``. */
  show(camera, small, socket) {
    const sameCamera = this.camera && camera && this.camera.id === camera.id;
    const wasOnline = this.camera && this.camera.state === "online";
    this.camera = camera;
    this.small = small;
    this.socket = socket;
    const profile = camera ? chooseProfile(camera, small) : null;
    if (!camera) {
      this.halt();
      this.status = "empty";
    } else if (!sameCamera || profile !== this.profile) {
      this.retryDelay = RETRY_MIN_MS;
      this.begin();
    } else if (camera.state === "online" && !wasOnline && this.status !== "playing") {
      this.retryDelay = RETRY_MIN_MS; // the camera is back: do not wait for the backoff
      this.begin();
    }
    this.render();
  }

  /** Stop or resume receiving video (page hidden, tile off screen). */
  setActive(active) {
    if (active === this.active) return;
    this.active = active;
    if (!active) this.halt();
    else if (this.camera) this.begin();
    this.render();
  }

  begin() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (!this.camera || !this.active || !this.socket) return;
    this.profile = chooseProfile(this.camera, this.small);
    this.status = "connecting";
    this.refusal = null;
    this.player.start(this.socket, this.index, this.camera.id, this.profile);
    this.render();
  }

  halt() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.player) this.player.stop();
    this.profile = null;
    this.status = this.camera ? "paused" : "empty";
  }

  retryLater() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.begin(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }

  playerStatus(kind, detail) {
    if (kind === "playing") {
      this.status = "playing";
      this.retryDelay = RETRY_MIN_MS;
    } else if (kind === "disconnected") {
      this.status = "reconnecting"; // the socket watches again when it is back
    } else if (kind === "refused") {
      this.refusal = detail;
      this.status = "refused";
      if (detail.error === "unknown_profile") {
        this.small = false;
        this.retryLater();
      } else if (!NO_RETRY.has(detail.error)) {
        this.retryLater();
      } else {
        this.player.stop();
      }
      this.dispatch("ch-tile-refused", { error: detail.error });
    } else {
      this.status = "reconnecting"; // ended or failed: watch again after a pause
      this.player.stop();
      this.retryLater();
    }
    this.render();
  }

  render() {
    if (!this.built) return;
    const camera = this.camera;
    this.numberEl.textContent = String(this.index + 1);
    this.nameEl.textContent = camera ? camera.name : "";
    this.zoneEl.textContent = camera ? camera.zoneName || camera.zone : "";
    this.recEl.hidden = !(camera && camera.recording);
    this.closeEl.hidden = !camera;
    this.dataset.status = this.status;
    this.dataset.camera = camera ? camera.id : "";
    this.dataset.profile = this.profile || "";
    const offline = camera && camera.state !== "online";
    let text = "";
    if (!camera) {
      text = "Drag a camera here, or double-click one in the list";
    } else if (this.status === "paused") {
      text = "Paused";
    } else if (offline && this.status !== "playing") {
      const since = clockTime(camera.since);
      text = since ? `${camera.state === "error" ? "In error" : "Offline"} since ${since}`
        : camera.state === "connecting" ? "Connecting…" : `Camera ${camera.state}`;
    } else if (this.status === "refused" && this.refusal) {
      text = this.refusal.message || this.refusal.error;
    } else if (this.status === "connecting" || this.status === "reconnecting") {
      text = this.status === "connecting" ? "Connecting…" : "Reconnecting…";
    }
    this.stateEl.textContent = camera ? (offline ? camera.state : this.status === "playing" ? "live" : "") : "";
    this.stateEl.dataset.state = camera ? camera.state : "";
    this.placeholder.textContent = text;
    this.placeholder.hidden = text === "";
    this.classList.toggle("offline", Boolean(offline));
    this.classList.toggle("empty", !camera);
  }
}

customElements.define("ch-tile", Tile);
