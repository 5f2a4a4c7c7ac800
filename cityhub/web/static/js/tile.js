// <ch-tile>: one tile of the wall: number, camera name and zone, recording dot, state, the
// video, and a placeholder when there is nothing to show. It drives its Player: watches the
// right stream and watches again by itself (with backoff) when the stream ends, the socket
// drops or the camera comes back. It can leave live for an instant replay (replay.js) and come
// back; its bar carries the history arrows, the menu button, and the badges the wall gives it
// (sequence, alarm, lock).

import { Player } from "./live.js";
import { Replay, clockSeconds } from "./replay.js";
import { clockTime, el } from "./util.js";

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 8000;
const NO_RETRY = new Set(["forbidden", "unknown_camera", "bad_message", "unsupported"]);

/** The stream a tile should watch: the sub-stream in small tiles when the camera has one. */
export function chooseProfile(camera, small, wanted = null) {
  const live = (camera.streams || []).filter((s) => s.live);
  if (!live.length) return null;
  if (wanted && live.some((s) => s.name === wanted)) return wanted;
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
    this.wantedProfile = null; // chosen in the tile menu: "main", "sub" or null (automatic)
    this.replaying = false;
    this.replayError = null;
    this.decoration = {};
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
    const button = (cls, title, text, onclick) => el("button", { class: cls, type: "button", title,
      "aria-label": title, text, onclick: (event) => {
        event.stopPropagation();
        onclick(event);
      } });
    this.backEl = button("tile-back", "Previous camera of this tile (Alt+Left)", "‹",
      () => this.dispatch("ch-tile-history", { step: -1 }));
    this.forwardEl = button("tile-forward", "Next camera of this tile (Alt+Right)", "›",
      () => this.dispatch("ch-tile-history", { step: 1 }));
    this.lockEl = button("tile-lock", "Lock this tile: alarms will not replace its camera", "pin",
      () => this.dispatch("ch-tile-lock"));
    this.menuEl = button("tile-menu-button", "Tile menu", "⋮", (event) => {
      const box = this.menuEl.getBoundingClientRect();
      this.dispatch("ch-tile-menu", { x: box.left, y: box.bottom, from: event.target });
    });
    this.video = el("video", { class: "tile-video", muted: true, playsinline: true });
    this.placeholder = el("div", { class: "tile-placeholder" });
    this.replay = new Replay((kind, detail) => this.replayStatus(kind, detail));
    this.replayTime = el("span", { class: "replay-time" });
    this.replayEl = el("div", { class: "tile-replay" },
      el("div", { class: "replay-head" }, el("span", { class: "replay-badge" }, this.replayTime),
        button("replay-live", "Back to live (L)", "Live", () => this.goLive())),
      this.replay.bar);
    this.replayEl.hidden = true;
    this.badgesEl = el("div", { class: "tile-badges" });
    this.append(
      el("div", { class: "tile-bar" }, this.numberEl, this.recEl, this.nameEl, this.zoneEl,
        this.stateEl, this.backEl, this.forwardEl, this.lockEl, this.menuEl, this.closeEl),
      this.video,
      this.placeholder,
      this.badgesEl,
      this.replayEl,
    );
    this.player = new Player(this.video, (kind, detail) => this.playerStatus(kind, detail));
    this.addEventListener("contextmenu", (event) => {
      event.preventDefault();
      this.dispatch("ch-tile-menu", { x: event.clientX, y: event.clientY });
    });
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
    if (this.replaying) this.endReplay();
    this.halt();
  }

  dispatch(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { bubbles: true, detail: { index: this.index, ...detail } }));
  }

  /** Show ``camera`` (or nothing) in ``small`` (sub-stream) size, on ``socket``. */
  show(camera, small, socket) {
    const sameCamera = this.camera && camera && this.camera.id === camera.id;
    if (this.replaying && !sameCamera) this.endReplay();
    const wasOnline = this.camera && this.camera.state === "online";
    this.camera = camera;
    this.small = small;
    this.socket = socket;
    const profile = camera ? chooseProfile(camera, small, this.wantedProfile) : null;
    if (this.replaying) {
      // replaying: live waits until the operator comes back
    } else if (!camera) {
      this.halt();
      if (this.player) this.player.still = null;
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
    if (this.replaying) {
      // a hidden replay waits where it is; live stays off until the operator comes back
      if (active) this.replay.video.play().catch(() => {});
      else this.replay.video.pause();
    } else if (!active) {
      this.halt();
    } else if (this.camera) {
      this.begin();
    }
    this.render();
  }

  begin() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (!this.camera || !this.active || !this.socket || this.replaying) return;
    this.profile = chooseProfile(this.camera, this.small, this.wantedProfile);
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

  /** Watch the ``name`` stream ("main", "sub") or, with null, the one that fits the tile. */
  setProfile(name) {
    this.wantedProfile = name;
    if (this.camera && !this.replaying) {
      this.retryDelay = RETRY_MIN_MS;
      this.begin();
    }
  }

  /** Leave live for the recording ``seconds`` back (or at ``at``, ms since the epoch). */
  startReplay(seconds, at = null) {
    if (!this.camera) return;
    if (!this.replaying) {
      this.halt();
      this.replaying = true;
    }
    this.replayError = null;
    // In the page only while replaying: a tile has one <video> otherwise.
    if (!this.replay.video.isConnected) this.video.after(this.replay.video);
    this.video.hidden = true;
    this.status = "replay";
    this.replay.start(this.camera.id, at === null ? Date.now() - seconds * 1000 : at);
    this.render();
  }

  /** Back to the live stream from a replay. */
  goLive() {
    if (!this.replaying) return;
    this.endReplay();
    this.retryDelay = RETRY_MIN_MS;
    this.begin();
    this.render();
  }

  endReplay() {
    this.replaying = false;
    this.replayError = null;
    this.replay.stop();
    this.replay.video.remove();
    this.video.hidden = false;
    this.status = this.camera ? "paused" : "empty";
  }

  replayStatus(kind, detail) {
    if (kind === "time") {
      this.replayTime.textContent = `instant replay ${clockSeconds(detail.instant)}`;
      return;
    }
    if (kind === "caught-up") {
      this.goLive();
      return;
    }
    this.replayError = kind === "failed" ? detail.message : null;
    this.render();
  }

  /** What the wall adds to the tile: { sequence, alarm, alarmTile, locked, back, forward }. */
  decorate(decoration) {
    this.decoration = decoration;
    this.render();
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
    const deco = this.decoration || {};
    this.backEl.hidden = !deco.back;
    this.forwardEl.hidden = !deco.forward;
    this.lockEl.hidden = !deco.alarmTile;
    this.lockEl.classList.toggle("locked", Boolean(deco.locked));
    this.lockEl.textContent = deco.locked ? "pinned" : "pin";
    this.lockEl.title = deco.locked ? "Locked: alarms wait. Click to unlock"
      : "Lock this tile: alarms will not replace its camera";
    this.classList.toggle("alarm-tile", Boolean(deco.alarmTile));
    this.classList.toggle("alarm-on", Boolean(deco.alarm));
    this.dataset.locked = deco.locked ? "true" : "false";
    this.dataset.alarmTile = deco.alarmTile ? "true" : "false";
    this.dataset.mode = this.replaying ? "replay" : "live";
    this.renderBadges(deco);
    this.replayEl.hidden = !this.replaying;
    this.dataset.status = this.status;
    this.dataset.camera = camera ? camera.id : "";
    this.dataset.profile = this.profile || "";
    const offline = camera && camera.state !== "online";
    let text = "";
    if (!camera) {
      text = this.emptyText || "Drag a camera here, or double-click one in the list";
    } else if (this.replaying) {
      text = this.replayError || "";
    } else if (!this.socket) {
      text = "Live video needs a habilitation in force: ask an administrator";
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
    // The last picture, dimmed, behind the message while the camera is away.
    const still = camera && this.status !== "playing" && !this.replaying ? this.player.still : null;
    const message = el("span", { class: "tile-message", text });
    this.placeholder.replaceChildren(...(still ? [still, message] : [message]));
    this.placeholder.classList.toggle("with-still", Boolean(still));
    this.placeholder.hidden = text === "";
    this.classList.toggle("offline", Boolean(offline));
    this.classList.toggle("empty", !camera);
  }

  renderBadges(deco) {
    const badges = [];
    const button = (cls, text, title, type, detail = {}) => el("button", { type: "button", class: cls, text,
      title, onclick: (event) => {
        event.stopPropagation();
        this.dispatch(type, detail);
      } });
    if (deco.sequence) {
      const { position, count, paused } = deco.sequence;
      badges.push(el("span", { class: "badge sequence-badge", dataset: { paused: String(paused) } },
        el("span", { class: "sequence-text", text: `sequence ${position}/${count}${paused ? " (paused)" : ""}` }),
        button("sequence-pause", paused ? "resume" : "pause", paused ? "Resume the sequence" : "Pause the sequence",
          "ch-tile-sequence-pause")));
    }
    if (deco.alarm) {
      badges.push(el("span", { class: "badge alarm-badge", dataset: { alarm: String(deco.alarm.id) } },
        el("span", { class: "alarm-reason", text: `alarm P${deco.alarm.priority}: ${deco.alarm.reason || "no reason given"}` }),
        button("alarm-dismiss", "Dismiss", "Dismiss this alarm", "ch-tile-alarm-dismiss",
          { alarm: deco.alarm.id })));
    } else if (deco.alarmTile) {
      badges.push(el("span", { class: "badge alarm-idle", text: deco.waiting
        ? `alarm waiting: ${deco.waiting}` : "alarm tile" }));
    }
    this.badgesEl.replaceChildren(...badges);
  }
}

customElements.define("ch-tile", Tile);
