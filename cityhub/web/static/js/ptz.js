// <ch-ptz>: the PTZ pane at the right of the live wall, for the selected tile's camera when it
// has the "ptz" capability. An on-screen joystick (velocity proportional to the offset, sent
// every 150 ms while held, a stop on release), zoom buttons held for a zoom velocity, presets
// (go to, save), home, tours when the hub lists them, the control lock (green "you control",
// red with the holder's name), take control / release, and the keyboard (arrows, +/-, 1-9,
// H). A move never runs away: every way of letting go (pointer up or cancelled, the window
// losing focus, the page hidden, the pane closed) sends a stop, and the hub's dead-man timer
// stops the camera if the page itself dies.

import { ApiError, getJson, postJson } from "./api.js";
import { GamepadControl } from "./gamepad.js";
import { registerKeys } from "./keys.js";
import { el } from "./util.js";

export const MOVE_EVERY_MS = 150;
const STATUS_EVERY_MS = 1500;
const ZOOM_SPEED = 0.6;
const KEY_SPEED = 0.5;
const MESSAGE_MS = 8000;

const KEY_DIRECTIONS = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, 1],
  ArrowDown: [0, -1],
};

registerKeys("PTZ (selected tile)", [
  { label: Object.keys(KEY_DIRECTIONS).map((k) => k.replace("Arrow", "")).join(" "),
    what: "move while held, stop on release" },
  { label: "+ -", what: "zoom while held" },
  { label: "1-9", what: "go to preset 1 to 9" },
  { label: "H", what: "home position" },
]);

const clamp = (value) => Math.max(-1, Math.min(1, value));

/** The name shown for a lock holder ("user:j.martin" -> "j.martin", "tour:ronde" -> "tour ronde"). */
export function holderName(holder) {
  if (!holder) return "";
  const [kind, ...rest] = String(holder).split(":");
  const name = rest.join(":");
  if (kind === "user") return name;
  if (kind === "tour") return `tour ${name}`;
  return name ? `${kind} ${name}` : kind;
}

/**
 * Continuous moves of one camera from several sources (stick, zoom buttons, keys, gamepad):
 * their velocities are summed; while any is off centre a move goes out every 150 ms, and a
 * stop when all are back. Requests go out one after the other, so a stop can never overtake
 * the move it ends.
 */
export class Mover {
  constructor(send, onRefused) {
    this.send = send;
    this.onRefused = onRefused;
    this.sources = new Map();
    this.timer = null;
    this.queue = Promise.resolve();
    this.busy = false;
    this.moving = false;
    this.blocked = false; // a move was refused: wait until everything is let go
  }

  /** Set one source's velocity (null or all zero: that source is back at centre). */
  set(source, velocity) {
    const still = !velocity || (!velocity.pan && !velocity.tilt && !velocity.zoom);
    if (still) this.sources.delete(source);
    else this.sources.set(source, velocity);
    if (!this.sources.size) {
      this.halt();
      return;
    }
    if (this.blocked) return;
    if (!this.timer) {
      this.moving = true;
      this.tick();
      this.timer = setInterval(() => this.tick(), MOVE_EVERY_MS);
    }
  }

  velocity() {
    let pan = 0;
    let tilt = 0;
    let zoom = 0;
    for (const v of this.sources.values()) {
      pan += v.pan || 0;
      tilt += v.tilt || 0;
      zoom += v.zoom || 0;
    }
    const round = (x) => Math.round(clamp(x) * 1000) / 1000;
    return { pan: round(pan), tilt: round(tilt), zoom: round(zoom) };
  }

  tick() {
    if (this.busy) return; // the last move is still on its way: the next tick sends the latest
    this.busy = true;
    this.enqueue({ command: "move", ...this.velocity() }).finally(() => {
      this.busy = false;
    });
  }

  /** Every source let go: stop repeating and send one stop (if a move went out). */
  halt() {
    this.blocked = false;
    this.sources.clear();
    clearInterval(this.timer);
    this.timer = null;
    if (this.moving) {
      this.moving = false;
      this.enqueue({ command: "stop" });
    }
  }

  enqueue(body) {
    const run = this.queue.then(() => this.send(body)).catch((err) => {
      if (body.command === "move") {
        // Refused (locked, camera gone): repeating would only be refused again.
        this.blocked = true;
        clearInterval(this.timer);
        this.timer = null;
        this.moving = false;
      }
      this.onRefused(err);
    });
    this.queue = run;
    return run;
  }
}

export class PtzPane extends HTMLElement {
  constructor() {
    super();
    this.user = null;
    this.camera = null;
    this.status = null;
    this.presets = [];
    this.statusTimer = null;
    this.messageTimer = null;
    this.built = false;
    this.keys = new Map(); // held keys by physical key (event.code): a "+" may come up as "="
    this.mover = new Mover((body) => this.sent(body), (err) => this.refused(err));
    this.gamepad = new GamepadControl(this);
    this.onKeyDown = (event) => this.keyDown(event);
    this.onKeyUp = (event) => this.keyUp(event);
    this.onLetGo = () => this.letGo();
    this.onVisibility = () => {
      if (document.visibilityState === "hidden") this.letGo();
    };
  }

  get cameraPath() {
    return `/api/cameras/${encodeURIComponent(this.camera.id)}/ptz`;
  }

  get mine() {
    return Boolean(this.status && this.user && this.status.holder === `user:${this.user.name}`);
  }

  connectedCallback() {
    if (!this.built) this.build();
    this.hidden = !this.camera;
    document.addEventListener("keydown", this.onKeyDown);
    document.addEventListener("keyup", this.onKeyUp);
    window.addEventListener("blur", this.onLetGo);
    document.addEventListener("visibilitychange", this.onVisibility);
    this.gamepad.start();
  }

  disconnectedCallback() {
    this.letGo();
    clearInterval(this.statusTimer);
    this.statusTimer = null;
    this.gamepad.stop();
    document.removeEventListener("keydown", this.onKeyDown);
    document.removeEventListener("keyup", this.onKeyUp);
    window.removeEventListener("blur", this.onLetGo);
    document.removeEventListener("visibilitychange", this.onVisibility);
  }

  build() {
    this.built = true;
    this.classList.add("ptz");
    this.titleEl = el("h2", { class: "ptz-title" });
    this.lockEl = el("span", { class: "ptz-lock", role: "status" });
    this.lockButton = el("button", {
      type: "button", class: "ptz-lock-button", onclick: () => this.toggleLock(),
    });
    this.messageEl = el("p", { class: "ptz-message", role: "alert" });
    this.knob = el("div", { class: "ptz-knob" });
    this.stick = el("div", {
      class: "ptz-stick", role: "application", "aria-label": "Joystick: drag to pan and tilt",
    }, this.knob);
    this.stick.addEventListener("pointerdown", (event) => this.stickDown(event));
    this.stick.addEventListener("pointermove", (event) => this.stickMove(event));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      this.stick.addEventListener(type, () => this.stickUp());
    }
    const zoomButton = (label, direction, name) => {
      const button = el("button", { type: "button", class: "ptz-zoom", dataset: { zoom: name }, text: label });
      button.addEventListener("pointerdown", (event) => {
        button.setPointerCapture(event.pointerId);
        this.mover.set(`zoom-button`, { pan: 0, tilt: 0, zoom: direction * ZOOM_SPEED });
      });
      for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
        button.addEventListener(type, () => this.mover.set("zoom-button", null));
      }
      return button;
    };
    this.homeButton = el("button", {
      type: "button", class: "ptz-home", text: "Home", title: "Home position (H)",
      onclick: () => this.oneShot({ command: "home" }),
    });
    this.presetList = el("ul", { class: "ptz-presets" });
    this.presetName = el("input", {
      class: "ptz-preset-name", placeholder: "Preset name", "aria-label": "New preset name", maxlength: "60",
    });
    const saveForm = el("form", { class: "ptz-save" }, this.presetName,
      el("button", { type: "submit", text: "Save" }));
    saveForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.savePreset();
    });
    this.tourBox = el("div", { class: "ptz-tours" });
    this.append(
      this.titleEl,
      el("div", { class: "ptz-lock-row" }, this.lockEl, this.lockButton),
      this.messageEl,
      this.stick,
      el("div", { class: "ptz-buttons" }, zoomButton("Zoom −", -1, "out"), this.homeButton,
        zoomButton("Zoom +", 1, "in")),
      el("h3", { text: "Presets" }), this.presetList, saveForm,
      this.tourBox,
    );
  }

  /** Follow the selected tile's camera (or none): shown only for PTZ cameras. */
  follow(camera) {
    // Viewers have no PTZ permission, and PTZ shows footage: a habilitation must be in force.
    const ptz = Boolean(camera && (camera.capabilities || []).includes("ptz")
      && this.user && this.user.role !== "viewer" && this.user.habilitated !== false);
    const next = ptz ? camera : null;
    if ((next && next.id) === (this.camera && this.camera.id)) {
      this.camera = next;
      return;
    }
    this.letGo();
    this.camera = next;
    this.status = null;
    this.presets = [];
    clearInterval(this.statusTimer);
    this.statusTimer = null;
    this.hidden = !next;
    if (!next) return;
    this.titleEl.textContent = `PTZ · ${next.name}`;
    this.messageEl.textContent = "";
    this.render();
    this.refresh();
    this.statusTimer = setInterval(() => this.refresh(), STATUS_EVERY_MS);
  }

  async refresh() {
    if (!this.camera) return;
    const id = this.camera.id;
    try {
      const data = await getJson(this.cameraPath);
      if (!this.camera || this.camera.id !== id) return;
      this.status = data.status;
      this.presets = data.presets || [];
      this.render();
    } catch (err) {
      if (this.camera && this.camera.id === id) this.say(err.message);
    }
  }

  render() {
    const status = this.status;
    const holder = status && status.holder;
    let state = "free";
    let text = "Free";
    if (holder && this.mine) {
      state = "mine";
      text = "You control";
    } else if (holder) {
      state = "other";
      text = `Held by ${holderName(holder)}`;
    }
    this.lockEl.dataset.state = state;
    this.lockEl.textContent = text;
    this.lockButton.textContent = state === "mine" ? "Release" : "Take control";
    this.lockButton.dataset.action = state === "mine" ? "release" : "take";
    const names = this.presets.map((p) => p.name);
    const current = [...this.presetList.children].map((li) => li.dataset.preset);
    if (names.join("\u0000") !== current.join("\u0000")) {
      this.presetList.replaceChildren(...this.presets.map((preset, index) => el("li", {
        dataset: { preset: preset.name },
      }, el("button", {
        type: "button", class: "ptz-preset",
        title: index < 9 ? `Go to ${preset.name} (${index + 1})` : `Go to ${preset.name}`,
        text: index < 9 ? `${index + 1} · ${preset.name}` : preset.name,
        onclick: () => this.gotoPreset(index),
      }))));
    }
    const tours = status && Array.isArray(status.tours) ? status.tours : [];
    const running = status && status.tour;
    const tourNodes = tours.map((tour) => {
      const name = typeof tour === "string" ? tour : tour.name;
      return el("button", { type: "button", class: "ptz-tour", dataset: { tour: name }, text: `Start ${name}`,
        onclick: () => this.oneShot({ command: "tour_start", tour: name }) });
    });
    if (running) {
      tourNodes.push(el("button", { type: "button", class: "ptz-tour-stop", text: `Stop tour ${running}`,
        onclick: () => this.oneShot({ command: "tour_stop" }) }));
    }
    this.tourBox.replaceChildren(...(tourNodes.length ? [el("h3", { text: "Tours" }), ...tourNodes] : []));
  }

  /** Send one command to the camera; rejects with an ApiError. */
  command(body) {
    if (!this.camera) return Promise.resolve(null);
    return postJson(this.cameraPath, body);
  }

  /** Send a command from the mover; the first move of a free camera takes it: show so now. */
  async sent(body) {
    const answer = await this.command(body);
    if (body.command === "move" && !this.mine) this.refresh();
    return answer;
  }

  async oneShot(body) {
    this.letGo();
    try {
      await this.mover.enqueue(body);
    } finally {
      this.refresh();
    }
  }

  gotoPreset(index) {
    const preset = this.presets[index];
    if (preset) this.oneShot({ command: "goto_preset", preset: preset.token || preset.name });
  }

  async savePreset() {
    const name = this.presetName.value.trim();
    if (!name) {
      this.say("Give the preset a name first.");
      this.presetName.focus();
      return;
    }
    try {
      await this.command({ command: "set_preset", name });
      this.presetName.value = "";
      this.say(`Preset "${name}" saved.`, "ok");
    } catch (err) {
      this.refused(err);
    }
    this.refresh();
  }

  async toggleLock() {
    const action = this.lockButton.dataset.action;
    this.letGo();
    try {
      await this.command({ command: action });
      this.say(action === "take" ? "You control this camera." : "Control released.", "ok");
    } catch (err) {
      this.refused(err);
    }
    this.refresh();
  }

  /** A refused command: say why, naming the holder on a lock. */
  async refused(err) {
    if (!(err instanceof ApiError)) {
      this.say(String(err && err.message ? err.message : err));
      return;
    }
    if (err.code === "locked") {
      await this.refresh();
      const holder = this.status && this.status.holder;
      const who = holder ? holderName(holder) : "another user";
      const priority = this.status && this.status.priority ? ` (${this.status.priority})` : "";
      this.say(`Refused: ${who}${priority} controls this camera. Wait for the release, or ask a supervisor.`,
        "locked");
    } else {
      this.say(err.message);
    }
  }

  say(text, kind = "error") {
    this.messageEl.textContent = text;
    this.messageEl.dataset.kind = kind;
    clearTimeout(this.messageTimer);
    this.messageTimer = setTimeout(() => {
      this.messageEl.textContent = "";
    }, MESSAGE_MS);
  }

  /** Drive from another source (the gamepad): a velocity, or null for back at centre. */
  drive(source, velocity) {
    if (!this.camera) return;
    this.mover.set(source, velocity);
  }

  /** Stop every move now (pointer lost, window blurred, page hidden, pane closed). */
  letGo() {
    this.keys.clear();
    this.stickReset();
    this.mover.halt();
  }

  stickDown(event) {
    if (!this.camera || event.button !== 0) return;
    event.preventDefault();
    this.stick.setPointerCapture(event.pointerId);
    this.stick.classList.add("held");
    this.stickMove(event);
  }

  stickMove(event) {
    if (!this.stick.classList.contains("held")) return;
    const box = this.stick.getBoundingClientRect();
    const radius = box.width / 2;
    let x = (event.clientX - box.left - radius) / radius;
    let y = (event.clientY - box.top - box.height / 2) / radius;
    const length = Math.hypot(x, y);
    if (length > 1) {
      x /= length;
      y /= length;
    }
    this.knob.style.transform = `translate(${x * radius * 0.7}px, ${y * radius * 0.7}px)`;
    // Screen y grows downwards; tilt up is positive.
    this.mover.set("stick", { pan: clamp(x), tilt: clamp(-y), zoom: 0 });
  }

  stickUp() {
    if (!this.stick.classList.contains("held")) return;
    this.stickReset();
    this.mover.set("stick", null);
  }

  stickReset() {
    if (!this.built) return;
    this.stick.classList.remove("held");
    this.knob.style.transform = "";
  }

  keyActive(event) {
    if (!this.camera || this.hidden || !this.isConnected) return false;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement
      || target instanceof HTMLSelectElement) return false;
    if (event.ctrlKey || event.metaKey || event.altKey) return false;
    // The wall (or nothing in particular) must have the focus, not another part of the page.
    return target === document.body || Boolean(target.closest && target.closest("ch-wall"));
  }

  keyDown(event) {
    if (!this.keyActive(event)) return;
    const key = event.key;
    if (key in KEY_DIRECTIONS || key === "+" || key === "-") {
      event.preventDefault();
      if (event.repeat || this.keys.has(event.code)) return;
      this.keys.set(event.code, key);
      this.keyVelocity();
    } else if (/^[1-9]$/.test(key) && !event.repeat) {
      event.preventDefault();
      this.gotoPreset(Number(key) - 1);
    } else if ((key === "h" || key === "H") && !event.repeat) {
      event.preventDefault();
      this.oneShot({ command: "home" });
    }
  }

  keyUp(event) {
    if (!this.keys.has(event.code)) return;
    this.keys.delete(event.code);
    this.keyVelocity();
  }

  keyVelocity() {
    let pan = 0;
    let tilt = 0;
    let zoom = 0;
    for (const key of this.keys.values()) {
      if (key in KEY_DIRECTIONS) {
        pan += KEY_DIRECTIONS[key][0] * KEY_SPEED;
        tilt += KEY_DIRECTIONS[key][1] * KEY_SPEED;
      } else {
        zoom += key === "+" ? ZOOM_SPEED : -ZOOM_SPEED;
      }
    }
    this.mover.set("keys", { pan, tilt, zoom });
  }
}

customElements.define("ch-ptz", PtzPane);
