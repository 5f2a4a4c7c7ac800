// <ch-wall>: the live screen: the camera tree (zone -> emplacement -> camera, with a search
// box and the cameras on screen marked), the layouts, and the grid of tiles. The layout and
// which camera is on which tile are kept in the browser (localStorage) per account (per
// monitor in a monitor window). Each tile has a menu (right-click or its ⋮ button), a history
// of its last cameras, and may run a camera sequence or be an alarm tile fed by the hub
// (monitor.js); a window opened at /#monitor=NAME is a wall monitor: the grid alone, showing
// what other windows and automations push to it.

import { getJson, request } from "./api.js";
import { openBookmarkDialog } from "./bookmarks.js";
import "./help.js";
import { findKey, registerKeys, typing } from "./keys.js";
import { LiveSocket } from "./live.js";
import { WallSocket, dismissAlarm, openMonitor, sendToMonitor } from "./monitor.js";
import "./ptz.js";
import { REPLAY_STEPS_S } from "./replay.js";
import "./tile.js";
import { el, fold } from "./util.js";

export const LAYOUTS = [1, 4, 9, 16, 25];
const MAX_TILES = 25;
const REFRESH_MS = 5000;
const CAMERA_TYPE = "application/x-cityhub-camera";
const HISTORY_SIZE = 8;
const SEQUENCE_TICK_MS = 250;
export const DWELL_MIN_S = 2;
export const DWELL_MAX_S = 3600;

/** A fresh tile state: history, sequence, alarm tile, lock, stream choice. */
function tileState() {
  return { history: [], position: -1, sequence: null, alarmTile: false, locked: false,
    alarm: null, beforeAlarm: null, profile: null };
}

/** The tile description a layout stores: a camera id, null, or an object with more
 * ({ camera, stream, sequence: { cameras, dwell }, alarm }: the hub checks it, see layouts.py). */
function describeTile(id, state) {
  if (!state.sequence && !state.alarmTile && !state.profile) return id || null;
  const description = { camera: id || null };
  if (state.profile) description.stream = state.profile;
  if (state.sequence) {
    description.sequence = { cameras: state.sequence.cameras, dwell: state.sequence.dwell };
  }
  if (state.alarmTile) description.alarm = true;
  return description;
}

/** A stored tile description read back: { camera, sequence, alarmTile } (bad parts dropped). */
export function readTile(description) {
  const none = { camera: null, sequence: null, alarmTile: false, stream: null };
  if (typeof description === "string") return { ...none, camera: description };
  if (!description || typeof description !== "object") return none;
  const camera = typeof description.camera === "string" ? description.camera : null;
  let sequence = null;
  const seq = description.sequence;
  if (seq && Array.isArray(seq.cameras) && Number.isFinite(seq.dwell)) {
    const cameras = seq.cameras.filter((c) => typeof c === "string");
    const dwell = Math.min(DWELL_MAX_S, Math.max(DWELL_MIN_S, seq.dwell));
    if (cameras.length) sequence = { cameras, dwell };
  }
  const stream = typeof description.stream === "string" ? description.stream : null;
  return { camera, sequence, alarmTile: description.alarm === true, stream };
}

/** The wall's keys: each entry matches an event and acts on the wall. */
const WALL_KEYS = [
  { label: "F", what: "full screen for the selected tile (again to leave)",
    match: (e) => (e.key === "f" || e.key === "F") && !e.altKey, run: (wall) => wall.fullScreen() },
  { label: "Esc", what: "back to the grid from a maximised tile",
    match: (e) => e.key === "Escape", run: (wall) => wall.escape() },
  { label: "R", what: `instant replay: the selected tile ${REPLAY_STEPS_S[0]} s back`,
    match: (e) => e.key === "r" && !e.altKey, run: (wall) => wall.replay(REPLAY_STEPS_S[0]) },
  { label: "Shift+R", what: `instant replay: ${REPLAY_STEPS_S[1]} s back`,
    match: (e) => e.key === "R" && !e.altKey, run: (wall) => wall.replay(REPLAY_STEPS_S[1]) },
  { label: "L", what: "back to live on the selected tile",
    match: (e) => (e.key === "l" || e.key === "L") && !e.altKey, run: (wall) => wall.live() },
  { label: "Alt+←", what: "the selected tile's previous camera",
    match: (e) => e.key === "ArrowLeft" && e.altKey, run: (wall) => wall.history(wall.selected, -1) },
  { label: "Alt+→", what: "the selected tile's next camera",
    match: (e) => e.key === "ArrowRight" && e.altKey, run: (wall) => wall.history(wall.selected, 1) },
  { label: "P", what: "pause or resume the selected tile's camera sequence",
    match: (e) => (e.key === "p" || e.key === "P") && !e.altKey,
    run: (wall) => wall.toggleSequence(wall.selected) },
];
registerKeys("Live", WALL_KEYS);

export class Wall extends HTMLElement {
  constructor() {
    super();
    this.user = null;
    this.cameras = new Map();
    this.zones = [];
    this.emplacements = [];
    this.layout = 4;
    this.assigned = new Array(MAX_TILES).fill(null);
    this.states = Array.from({ length: MAX_TILES }, tileState);
    this.monitor = null; // the monitor name, in a window opened as a wall monitor
    this.alarms = [];
    this.monitors = { open: [], declared: [] };
    this.savedLayouts = null;
    this.wallSocket = null;
    this.menu = null;
    this.sequenceTimer = null;
    this.onDocumentClick = (event) => {
      if (this.menu && !this.menu.contains(event.target)) this.closeMenu();
    };
    this.selected = 0;
    this.maximised = null;
    this.socket = new LiveSocket();
    this.tiles = [];
    this.refreshTimer = null;
    this.refreshing = null;
    this.onKey = (event) => this.key(event);
    this.onVisibility = () => this.applyTiles();
  }

  /** Whether the account may watch live video now (role, habilitation in force). */
  get mayWatch() {
    return Boolean(this.user && (this.user.permissions || []).includes("live"));
  }

  get storageKey() {
    const monitor = this.monitor ? `.monitor.${this.monitor}` : "";
    return `cityhub.wall.v1.${this.user ? this.user.name : ""}${monitor}`;
  }

  connectedCallback() {
    this.classList.add("wall");
    this.classList.toggle("monitor", Boolean(this.monitor));
    if (this.monitor) this.dataset.monitor = this.monitor;
    this.load();
    this.search = el("input", {
      class: "tree-search", type: "search", placeholder: "Search cameras",
      "aria-label": "Search cameras", oninput: () => this.renderTree(),
    });
    this.layoutBar = el("div", { class: "layouts", role: "group", "aria-label": "Layout" },
      LAYOUTS.map((n) => el("button", {
        type: "button", class: "layout-button", dataset: { layout: String(n) },
        title: `${n} tile${n > 1 ? "s" : ""}`, text: String(n),
        onclick: () => this.setLayout(n),
      })));
    this.saved = el("ul", { class: "saved-layouts" });
    this.saveName = el("input", { class: "save-name", name: "layout-name", maxlength: "80",
      placeholder: "Name this wall", "aria-label": "Layout name" });
    this.saveShared = el("input", { type: "checkbox", name: "layout-shared" });
    const mayShare = this.user && ["admin", "supervisor"].includes(this.user.role);
    this.saveMessage = el("p", { class: "save-message", role: "status" });
    const saveForm = el("form", { class: "save-layout" }, this.saveName,
      mayShare ? el("label", { class: "shared-field", title: "Everyone sees a shared layout" },
        this.saveShared, "shared") : null,
      el("button", { type: "submit", text: "Save" }));
    saveForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveLayout();
    });
    this.tree = el("div", { class: "tree", role: "tree" });
    this.grid = el("div", { class: "grid" });
    for (let index = 0; index < MAX_TILES; index++) {
      const tile = document.createElement("ch-tile");
      tile.index = index;
      if (this.monitor) tile.emptyText = `Monitor ${this.monitor}: waiting for a camera`;
      this.tiles.push(tile);
      this.grid.append(tile);
    }
    this.ptz = document.createElement("ch-ptz");
    this.ptz.user = this.user;
    this.monitorName = el("input", { class: "monitor-name", name: "monitor-name", maxlength: "40",
      placeholder: "mur-1", "aria-label": "Monitor name" });
    const monitorForm = el("form", { class: "open-monitor" }, this.monitorName,
      el("button", { type: "submit", text: "Open wall monitor" }));
    monitorForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = this.monitorName.value.trim() || "mur-1";
      openMonitor(name);
    });
    this.monitorList = el("ul", { class: "monitor-list" });
    this.wallMessage = el("p", { class: "wall-message", role: "status" });
    this.side = el("aside", { class: "side" }, el("h2", { text: "Layout" }), this.layoutBar,
      this.mayWatch ? [el("h2", { text: "Saved layouts" }), this.saved, saveForm,
        this.saveMessage, el("h2", { text: "Wall monitors" }), monitorForm, this.monitorList,
        this.wallMessage] : null,
      el("h2", { text: "Cameras" }), this.search, this.tree);
    this.side.hidden = Boolean(this.monitor);
    this.monitorBadge = this.monitor ? el("div", { class: "monitor-badge", text: `monitor ${this.monitor}` }) : null;
    this.append(this.side, this.grid, this.ptz, this.monitorBadge || "");
    this.grid.addEventListener("ch-tile-select", (e) => this.select(e.detail.index));
    this.grid.addEventListener("ch-tile-maximise", (e) => this.toggleMaximise(e.detail.index));
    this.grid.addEventListener("ch-tile-drop", (e) => this.assign(e.detail.index, e.detail.camera));
    this.grid.addEventListener("ch-tile-clear", (e) => this.assign(e.detail.index, null));
    this.grid.addEventListener("ch-tile-refused", () => this.refresh());
    this.grid.addEventListener("ch-tile-menu", (e) => this.openMenu(e.detail.index, e.detail.x, e.detail.y));
    this.grid.addEventListener("ch-tile-history", (e) => this.history(e.detail.index, e.detail.step));
    this.grid.addEventListener("ch-tile-lock", (e) => this.toggleLock(e.detail.index));
    this.grid.addEventListener("ch-tile-sequence-pause", (e) => this.toggleSequence(e.detail.index));
    this.grid.addEventListener("ch-tile-alarm-dismiss", (e) => this.dismiss(e.detail.alarm));
    document.addEventListener("keydown", this.onKey);
    document.addEventListener("click", this.onDocumentClick, true);
    this.sequenceTimer = setInterval(() => this.stepSequences(), SEQUENCE_TICK_MS);
    if (this.mayWatch) this.wallSocket = new WallSocket(this.monitor, (m) => this.wallMessageIn(m));
    document.addEventListener("visibilitychange", this.onVisibility);
    this.refresh();
    this.refreshTimer = setInterval(() => this.refresh(), REFRESH_MS);
    if (this.mayWatch) this.loadSaved();
  }

  /** The saved layouts from the hub: the account's own, then the shared ones. */
  async loadSaved() {
    let layouts = [];
    try {
      layouts = await getJson("/api/layouts");
    } catch (err) {
      this.saveMessage.textContent = err.message;
      return;
    }
    this.savedLayouts = layouts;
    this.renderSaved();
  }

  /** The saved layouts, each with a button per open monitor window to show it there. */
  renderSaved() {
    const layouts = this.savedLayouts || [];
    const mayShare = ["admin", "supervisor"].includes(this.user.role);
    const monitors = this.monitors.open.filter((m) => m !== this.monitor);
    this.saved.replaceChildren(...layouts.map((entry) => el("li", {
      class: "saved-layout", dataset: { name: entry.name, shared: String(entry.shared) } },
    el("button", { type: "button", class: "link", text: entry.name,
      title: `Open ${entry.name}`, onclick: () => this.openSaved(entry.layout) }),
    entry.shared ? el("small", { text: "shared" }) : null,
    monitors.map((monitor) => el("button", { type: "button", class: "saved-send", text: `→ ${monitor}`,
      title: `Show ${entry.name} on monitor ${monitor}`, dataset: { monitor },
      onclick: () => this.sendLayout(entry.name, monitor) })),
    !entry.shared || mayShare ? el("button", { type: "button", class: "saved-delete",
      title: `Delete ${entry.name}`, text: "×", onclick: () => this.deleteSaved(entry) }) : null)));
    if (!layouts.length) this.saved.append(el("li", { class: "tree-empty", text: "None yet" }));
  }

  async sendLayout(name, monitor) {
    try {
      await sendToMonitor(monitor, { layout: name });
      this.wallMessage.textContent = `${name} shown on ${monitor}.`;
    } catch (err) {
      this.wallMessage.textContent = err.message;
    }
  }

  /** Put a saved layout on the wall (cameras out of scope leave their tile empty). */
  openSaved(layout) {
    const grid = LAYOUTS.includes(layout.grid) ? layout.grid : this.layout;
    const tiles = Array.isArray(layout.tiles) ? layout.tiles : [];
    this.applyDescriptions(tiles);
    this.layout = grid;
    this.maximised = null;
    this.selected = 0;
    this.save();
    this.applyTiles();
    this.renderTree();
  }

  async saveLayout() {
    const name = this.saveName.value.trim();
    if (!name) {
      this.saveMessage.textContent = "Give the layout a name.";
      return;
    }
    const layout = { grid: this.layout, tiles: this.descriptions().slice(0, this.layout) };
    try {
      await request("PUT", `/api/layouts/${encodeURIComponent(name)}`,
        { layout, shared: this.saveShared.checked });
      this.saveMessage.textContent = `Saved "${name}".`;
      this.saveName.value = "";
    } catch (err) {
      this.saveMessage.textContent = err.message;
    }
    this.loadSaved();
  }

  async deleteSaved(entry) {
    const query = entry.shared ? "?shared=1" : "";
    try {
      await request("DELETE", `/api/layouts/${encodeURIComponent(entry.name)}${query}`);
      this.saveMessage.textContent = `Deleted "${entry.name}".`;
    } catch (err) {
      this.saveMessage.textContent = err.message;
    }
    this.loadSaved();
  }

  disconnectedCallback() {
    clearInterval(this.refreshTimer);
    clearInterval(this.sequenceTimer);
    this.closeMenu();
    if (this.wallSocket) this.wallSocket.close();
    document.removeEventListener("click", this.onDocumentClick, true);
    document.removeEventListener("keydown", this.onKey);
    document.removeEventListener("visibilitychange", this.onVisibility);
    for (const tile of this.tiles) tile.halt();
    this.socket.close();
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) || "null");
      if (saved && LAYOUTS.includes(saved.layout)) this.layout = saved.layout;
      if (saved && Array.isArray(saved.tiles)) {
        const tiles = Array.isArray(saved.described) ? saved.described : saved.tiles;
        this.applyDescriptions(tiles.slice(0, MAX_TILES));
        this.states.forEach((state, i) => {
          state.locked = Boolean(saved.locked && saved.locked[i]);
          state.profile = saved.profiles && typeof saved.profiles[i] === "string" ? saved.profiles[i] : null;
        });
      }
      if (saved && Number.isInteger(saved.selected)) this.selected = saved.selected;
    } catch (err) {
      // an unreadable saved wall: start from the default one
    }
  }

  save() {
    const state = { layout: this.layout, tiles: this.assigned, selected: this.selected,
      described: this.descriptions(), locked: this.states.map((s) => s.locked),
      profiles: this.states.map((s) => s.profile) };
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(state));
    } catch (err) {
      // storage full or refused: the wall still works, it is just not remembered
    }
  }

  /** Fetch the cameras in scope (state, recording, streams) and update tree and tiles. */
  refresh() {
    if (this.refreshing) return this.refreshing;
    this.refreshing = getJson("/api/cameras")
      .then((data) => {
        this.zones = data.zones;
        this.emplacements = data.emplacements;
        const zoneNames = new Map(data.zones.map((z) => [z.id, z.name]));
        this.cameras = new Map(data.cameras.map((c) => [c.id, { ...c, zoneName: zoneNames.get(c.zone) }]));
        this.renderTree();
        this.applyTiles();
      })
      .catch(() => {})
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  setLayout(n) {
    this.layout = n;
    this.maximised = null;
    if (this.selected >= n) this.selected = 0;
    this.save();
    this.applyTiles();
  }

  select(index) {
    this.selected = index;
    this.save();
    this.applyTiles();
  }

  /** Put camera ``id`` (or nothing) on tile ``index`` by hand: it ends a sequence. */
  assign(index, id) {
    if (index < 0 || index >= MAX_TILES) return;
    this.states[index].sequence = null;
    this.put(index, id);
  }

  /** Put camera ``id`` on tile ``index`` and remember it in the tile's history. */
  put(index, id) {
    if (index < 0 || index >= MAX_TILES) return;
    this.remember(index, id);
    this.assigned[index] = id;
    this.selected = index;
    this.save();
    this.applyTiles();
    this.renderTree();
  }

  /** A double-click in the tree: the selected tile if empty, else the first free one. */
  place(id) {
    const visible = this.assigned.slice(0, this.layout);
    let index = this.selected < this.layout && !visible[this.selected] ? this.selected : visible.indexOf(null);
    if (index < 0) index = this.selected < this.layout ? this.selected : 0;
    this.assign(index, id);
  }

  toggleMaximise(index) {
    this.selected = index;
    this.maximised = this.maximised === index ? null : index;
    this.applyTiles();
  }

  key(event) {
    if (typing(event) || event.ctrlKey || event.metaKey) return;
    const entry = findKey(WALL_KEYS, event);
    if (!entry) return;
    if (entry.label.startsWith("Alt")) event.preventDefault(); // not the browser's back/forward
    entry.run(this);
  }

  escape() {
    if (this.menu) {
      this.closeMenu();
    } else if (this.maximised !== null && !document.fullscreenElement) {
      this.maximised = null;
      this.applyTiles();
    }
  }

  fullScreen() {
    const tile = this.tiles[this.selected];
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (tile && tile.requestFullscreen) tile.requestFullscreen().catch(() => {});
  }

  /** Instant replay on the selected tile, ``seconds`` back. */
  replay(seconds, index = this.selected) {
    const tile = this.tiles[index];
    if (tile && tile.camera && this.mayWatch) tile.startReplay(seconds);
  }

  /** Back to live on the selected tile. */
  live(index = this.selected) {
    const tile = this.tiles[index];
    if (tile) tile.goLive();
  }

  // --- tile history -------------------------------------------------------------------------

  remember(index, id) {
    if (!id) return;
    const state = this.states[index];
    if (state.history[state.position] === id) return;
    state.history = state.history.slice(0, state.position + 1).filter((c) => c !== id);
    state.history.push(id);
    state.history = state.history.slice(-HISTORY_SIZE);
    state.position = state.history.length - 1;
  }

  /** Step ``step`` (-1 back, +1 forward) in tile ``index``'s history of cameras. */
  history(index, step) {
    const state = this.states[index];
    const position = state.position + step;
    if (!state || position < 0 || position >= state.history.length) return;
    state.position = position;
    state.sequence = null;
    this.assigned[index] = state.history[position];
    this.selected = index;
    this.save();
    this.applyTiles();
    this.renderTree();
  }

  // --- sequences ----------------------------------------------------------------------------

  /** Give tile ``index`` a sequence: ``cameras`` shown ``dwell`` seconds each, in turn. */
  setSequence(index, cameras, dwell) {
    const state = this.states[index];
    const list = cameras.filter((c) => typeof c === "string");
    if (!list.length) {
      state.sequence = null;
    } else {
      const seconds = Math.min(DWELL_MAX_S, Math.max(DWELL_MIN_S, Number(dwell) || 10));
      state.sequence = { cameras: list, dwell: seconds, position: 0, paused: false,
        next: performance.now() + seconds * 1000 };
      this.remember(index, list[0]);
      this.assigned[index] = list[0];
    }
    this.save();
    this.applyTiles();
    this.renderTree();
  }

  toggleSequence(index) {
    const sequence = this.states[index] && this.states[index].sequence;
    if (!sequence) return;
    sequence.paused = !sequence.paused;
    sequence.next = performance.now() + sequence.dwell * 1000;
    this.applyTiles();
  }

  stepSequences() {
    const now = performance.now();
    let changed = false;
    this.states.forEach((state, index) => {
      const sequence = state.sequence;
      if (!sequence || sequence.paused || index >= this.layout || now < sequence.next) return;
      if (state.alarm || this.tiles[index].replaying) return; // an alarm or a replay holds it
      sequence.next = now + sequence.dwell * 1000;
      // Skip cameras out of scope (a shared layout may name some): they would stay black.
      for (let step = 1; step <= sequence.cameras.length; step++) {
        const position = (sequence.position + step) % sequence.cameras.length;
        if (this.cameras.has(sequence.cameras[position]) || !this.cameras.size) {
          sequence.position = position;
          break;
        }
      }
      this.assigned[index] = sequence.cameras[sequence.position];
      changed = true;
    });
    if (changed) {
      this.save();
      this.applyTiles();
      this.renderTree();
    }
  }

  // --- descriptions (layouts, storage) ------------------------------------------------------

  descriptions() {
    return this.assigned.map((id, i) => describeTile(id, this.states[i]));
  }

  applyDescriptions(tiles) {
    this.assigned = new Array(MAX_TILES).fill(null);
    this.states.forEach((state, i) => {
      const tile = readTile(tiles[i]);
      state.sequence = null;
      state.alarmTile = tile.alarmTile;
      state.profile = tile.stream;
      state.alarm = null;
      state.beforeAlarm = null;
      if (tile.sequence) {
        state.sequence = { ...tile.sequence, position: 0, paused: false,
          next: performance.now() + tile.sequence.dwell * 1000 };
        const start = tile.camera ? tile.sequence.cameras.indexOf(tile.camera) : 0;
        state.sequence.position = Math.max(0, start);
        this.assigned[i] = tile.sequence.cameras[state.sequence.position];
      } else {
        this.assigned[i] = tile.camera;
      }
      this.remember(i, this.assigned[i]);
    });
  }

  // --- alarm tiles and monitors -------------------------------------------------------------

  wallMessageIn(message) {
    if (message.type === "alarms") {
      this.alarms = Array.isArray(message.alarms) ? message.alarms : [];
      this.applyAlarms();
    } else if (message.type === "monitors") {
      this.monitors = { open: message.open || [], declared: message.declared || [] };
      this.renderMonitors();
      if (this.savedLayouts) this.renderSaved();
    } else if (message.type === "show" && this.monitor && message.monitor === this.monitor) {
      if (message.layout) {
        this.openSaved(message.layout);
      } else if (message.camera_id) {
        const visible = this.assigned.slice(0, this.layout);
        let index = Number.isInteger(message.tile) && message.tile < this.layout ? message.tile
          : visible.indexOf(null);
        if (index < 0) index = this.selected < this.layout ? this.selected : 0;
        this.assign(index, message.camera_id);
      }
    }
  }

  /** Put the pending alarms on the alarm tiles: the highest priority first; locked tiles wait. */
  applyAlarms() {
    const pending = this.alarms.filter((a) => !this.cameras.size || this.cameras.has(a.camera_id));
    const alarmTiles = this.states.map((s, i) => i).filter((i) => i < this.layout && this.states[i].alarmTile);
    const held = new Set();
    for (const index of alarmTiles) {
      const state = this.states[index];
      if (!state.locked) continue;
      // A locked tile keeps what it shows; its alarm badge goes once the alarm is dismissed.
      if (state.alarm && !pending.some((a) => a.id === state.alarm.id)) state.alarm = null;
      if (state.alarm) held.add(state.alarm.id);
    }
    const queue = pending.filter((a) => !held.has(a.id));
    for (const index of alarmTiles) {
      const state = this.states[index];
      if (state.locked) continue;
      const alarm = queue.shift() || null;
      if (alarm) {
        if (!state.alarm) state.beforeAlarm = this.assigned[index];
        state.alarm = alarm;
        if (this.assigned[index] !== alarm.camera_id) this.put(index, alarm.camera_id);
      } else if (state.alarm) {
        state.alarm = null;
        this.assigned[index] = state.beforeAlarm;
        state.beforeAlarm = null;
      }
    }
    this.waiting = queue.length;
    this.save();
    this.applyTiles();
    this.renderTree();
  }

  toggleAlarmTile(index) {
    const state = this.states[index];
    state.alarmTile = !state.alarmTile;
    if (!state.alarmTile) {
      state.alarm = null;
      state.locked = false;
    }
    this.applyAlarms();
  }

  toggleLock(index) {
    this.states[index].locked = !this.states[index].locked;
    this.applyAlarms();
  }

  async dismiss(id) {
    try {
      await dismissAlarm(id);
    } catch (err) {
      this.wallMessage.textContent = err.message;
    }
  }

  renderMonitors() {
    if (!this.monitorList) return;
    const names = [...new Set([...this.monitors.open, ...this.monitors.declared])].sort();
    this.monitorList.replaceChildren(...names.map((name) => el("li", {
      class: "monitor-entry", dataset: { monitor: name, open: String(this.monitors.open.includes(name)) },
    }, el("span", { text: name }), this.monitors.open.includes(name) ? el("small", { text: "open" }) : null)));
  }

  async send(index, monitor) {
    const id = this.assigned[index];
    if (!id) return;
    try {
      await sendToMonitor(monitor, { camera: id });
      this.wallMessage.textContent = `Sent to ${monitor}.`;
    } catch (err) {
      this.wallMessage.textContent = err.message;
    }
  }

  // --- the tile menu ------------------------------------------------------------------------

  openMenu(index, x, y) {
    this.closeMenu();
    this.select(index);
    const tile = this.tiles[index];
    const state = this.states[index];
    const camera = tile.camera;
    const item = (text, action, attributes = {}) => el("button", { type: "button", class: "menu-item",
      role: "menuitem", text, ...attributes, onclick: (event) => {
        event.stopPropagation();
        this.closeMenu();
        action();
      } });
    const streams = camera ? (camera.streams || []).filter((s) => s.live).map((s) => s.name) : [];
    const monitors = [...new Set([...this.monitors.open, ...this.monitors.declared])].filter((m) => m !== this.monitor);
    const entries = [];
    if (camera) {
      for (const name of streams) {
        entries.push(item(`Stream: ${name}${tile.profile === name ? " ✓" : ""}`, () => {
          state.profile = name;
          this.save();
          tile.setProfile(name);
        }, { dataset: { action: "stream", stream: name } }));
      }
      entries.push(item("Snapshot", () => this.snapshot(index), { dataset: { action: "snapshot" } }));
      if ((this.user.permissions || []).includes("logbook")) {
        // The instant on screen: the replay's while replaying, else now.
        const at = tile.replaying && tile.replay.instant !== null ? tile.replay.instant : Date.now();
        entries.push(item("Bookmark…", () => openBookmarkDialog({ camera: camera.id, cameraName: camera.name,
          start: new Date(at) }), { dataset: { action: "bookmark" } }));
      }
      if (this.mayWatch) {
        for (const seconds of REPLAY_STEPS_S) {
          entries.push(item(`Instant replay ${seconds} s`, () => this.replay(seconds, index),
            { dataset: { action: "replay", seconds: String(seconds) } }));
        }
      }
      if (tile.replaying) entries.push(item("Back to live", () => this.live(index), { dataset: { action: "live" } }));
      for (const monitor of monitors) {
        entries.push(item(`Send to monitor ${monitor}`, () => this.send(index, monitor),
          { dataset: { action: "send", monitor } }));
      }
    }
    entries.push(item(state.sequence ? "Change the sequence…" : "Camera sequence…",
      () => this.sequenceForm(index), { dataset: { action: "sequence" } }));
    if (state.sequence) {
      entries.push(item("Stop the sequence", () => this.setSequence(index, [], 0),
        { dataset: { action: "sequence-stop" } }));
    }
    entries.push(item(state.alarmTile ? "Not an alarm tile" : "Make it an alarm tile",
      () => this.toggleAlarmTile(index), { dataset: { action: "alarm-tile" } }));
    if (camera) entries.push(item("Close", () => this.assign(index, null), { dataset: { action: "close" } }));
    this.showPopup(el("div", { class: "tile-menu", role: "menu", dataset: { tile: String(index) } }, entries), x, y);
  }

  showPopup(node, x, y) {
    this.menu = node;
    document.body.append(node);
    const box = node.getBoundingClientRect();
    node.style.left = `${Math.max(0, Math.min(x, innerWidth - box.width))}px`;
    node.style.top = `${Math.max(0, Math.min(y, innerHeight - box.height))}px`;
    const first = node.querySelector("button, input");
    if (first) first.focus();
  }

  closeMenu() {
    if (this.menu) this.menu.remove();
    this.menu = null;
  }

  sequenceForm(index) {
    const current = this.states[index].sequence;
    const chosen = new Set(current ? current.cameras : []);
    const boxes = [...this.cameras.values()].map((camera) => {
      const box = el("input", { type: "checkbox", name: "sequence-camera", value: camera.id });
      box.checked = chosen.has(camera.id);
      return el("label", { class: "sequence-camera" }, box, camera.name);
    });
    const dwell = el("input", { type: "number", name: "dwell", min: String(DWELL_MIN_S),
      max: String(DWELL_MAX_S), value: String(current ? current.dwell : 10), required: true });
    const form = el("form", { class: "tile-menu sequence-form", "aria-label": `Sequence of tile ${index + 1}` },
      el("h3", { text: `Sequence of tile ${index + 1}` }), el("div", { class: "sequence-cameras" }, boxes),
      el("label", { class: "field" }, el("span", { text: "Seconds per camera" }), dwell),
      el("button", { type: "submit", text: "Start" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const cameras = [...form.querySelectorAll("input[name=sequence-camera]:checked")].map((b) => b.value);
      this.closeMenu();
      this.setSequence(index, cameras, Number(dwell.value));
    });
    const box = this.tiles[index].getBoundingClientRect();
    this.showPopup(form, box.left + 20, box.top + 20);
  }

  /** Download a JPEG of tile ``index``'s camera named after the camera, the time and the user. */
  async snapshot(index) {
    const id = this.assigned[index];
    if (!id) return;
    try {
      const response = await fetch(`/api/cameras/${encodeURIComponent(id)}/snapshot`,
        { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`the hub refused the snapshot (${response.status})`);
      const blob = await response.blob();
      const pad = (n) => String(n).padStart(2, "0");
      const t = new Date();
      const stamp = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}_${pad(t.getHours())}-${pad(t.getMinutes())}-${pad(t.getSeconds())}`;
      const link = el("a", { href: URL.createObjectURL(blob), download: `${id}_${stamp}_${this.user.name}.jpg` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (err) {
      if (this.wallMessage) this.wallMessage.textContent = err.message;
    }
  }

  applyTiles() {
    const hidden = document.visibilityState === "hidden";
    this.grid.dataset.layout = String(this.maximised !== null ? 1 : this.layout);
    this.grid.classList.toggle("maximised", this.maximised !== null);
    for (const button of this.layoutBar.children) {
      button.classList.toggle("active", Number(button.dataset.layout) === this.layout);
    }
    this.tiles.forEach((tile, index) => {
      const inLayout = index < this.layout;
      const shown = this.maximised !== null ? index === this.maximised : inLayout;
      tile.hidden = !shown;
      tile.classList.toggle("selected", index === this.selected);
      const id = this.assigned[index];
      const camera = inLayout && id ? this.cameras.get(id) || null : null;
      // Small tiles take the sub-stream; a maximised tile or a layout of 1 or 4 the main one.
      const small = this.maximised !== index && this.layout > 4;
      const state = this.states[index];
      if (tile.wantedProfile !== state.profile) tile.wantedProfile = state.profile;
      tile.setActive(shown && !hidden);
      tile.show(camera, small, this.mayWatch ? this.socket : null);
      tile.decorate({
        back: state.position > 0,
        forward: state.position < state.history.length - 1,
        sequence: state.sequence ? { position: state.sequence.position + 1,
          count: state.sequence.cameras.length, paused: state.sequence.paused } : null,
        alarmTile: state.alarmTile,
        alarm: state.alarm,
        locked: state.locked,
        waiting: state.alarmTile ? this.waiting || 0 : 0,
      });
    });
    this.ptz.follow(this.selectedCamera);
  }

  /** The camera on the selected tile, or null. */
  get selectedCamera() {
    const id = this.selected < this.layout ? this.assigned[this.selected] : null;
    return (id && this.cameras.get(id)) || null;
  }

  renderTree() {
    if (!this.tree) return;
    const query = fold(this.search.value.trim());
    const onScreen = new Map();
    this.assigned.slice(0, this.layout).forEach((id, index) => {
      if (id) onScreen.set(id, [...(onScreen.get(id) || []), index + 1]);
    });
    const matches = (camera) => !query || [camera.name, camera.id, camera.emplacementName, camera.zoneName]
      .some((text) => fold(text).includes(query));
    const emplacementNames = new Map(this.emplacements.map((e) => [e.id, e.name]));
    const zoneNodes = [];
    for (const zone of this.zones) {
      const cameras = [...this.cameras.values()]
        .filter((c) => c.zone === zone.id)
        .map((c) => ({ ...c, emplacementName: emplacementNames.get(c.emplacement) || "" }))
        .filter(matches);
      if (!cameras.length) continue;
      const groups = new Map();
      for (const camera of cameras) {
        const key = camera.emplacement || "";
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(camera);
      }
      const groupNodes = [...groups.entries()].map(([key, list]) => el("li", { class: "tree-emplacement" },
        el("span", { class: "tree-label", text: key ? emplacementNames.get(key) || key : "No emplacement" }),
        el("ul", {}, list.map((camera) => this.cameraNode(camera, onScreen.get(camera.id))))));
      zoneNodes.push(el("li", { class: "tree-zone", dataset: { zone: zone.id } },
        el("span", { class: "tree-label", text: zone.name }), el("ul", {}, groupNodes)));
    }
    this.tree.replaceChildren(zoneNodes.length ? el("ul", {}, zoneNodes)
      : el("p", { class: "tree-empty", text: this.cameras.size ? "No camera matches" : "No camera in your zones" }));
  }

  cameraNode(camera, tiles) {
    return el("li", {
      class: `tree-camera${tiles ? " on-screen" : ""}`, role: "treeitem", draggable: "true",
      title: `${camera.name} (${camera.id}): ${camera.state}. Drag onto a tile, or double-click.`,
      dataset: { camera: camera.id, state: camera.state },
      ondragstart: (event) => {
        event.dataTransfer.setData(CAMERA_TYPE, camera.id);
        event.dataTransfer.effectAllowed = "copy";
      },
      ondblclick: () => this.place(camera.id),
    },
    el("span", { class: "state-dot", dataset: { state: camera.state } }),
    el("span", { class: "tree-camera-name", text: camera.name }),
    camera.recording ? el("span", { class: "rec-dot", title: "Recording" }) : null,
    tiles ? el("span", { class: "on-screen-mark", title: "On screen", text: tiles.join(",") }) : null);
  }
}

customElements.define("ch-wall", Wall);
