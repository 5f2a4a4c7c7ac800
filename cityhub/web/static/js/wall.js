// <ch-wall>: the live screen: the camera tree (zone -> emplacement -> camera, with a search
// box and the cameras on screen marked), the layouts, and the grid of tiles. The layout and
// which camera is on which tile are kept in the browser (localStorage) per account.

import { getJson, request } from "./api.js";
import { LiveSocket } from "./live.js";
import "./ptz.js";
import "./tile.js";
import { el, fold } from "./util.js";

export const LAYOUTS = [1, 4, 9, 16, 25];
const MAX_TILES = 25;
const REFRESH_MS = 5000;
const CAMERA_TYPE = "application/x-cityhub-camera";

export class Wall extends HTMLElement {
  constructor() {
    super();
    this.user = null;
    this.cameras = new Map();
    this.zones = [];
    this.emplacements = [];
    this.layout = 4;
    this.assigned = new Array(MAX_TILES).fill(null);
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
    return `cityhub.wall.v1.${this.user ? this.user.name : ""}`;
  }

  connectedCallback() {
    this.classList.add("wall");
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
      this.tiles.push(tile);
      this.grid.append(tile);
    }
    this.ptz = document.createElement("ch-ptz");
    this.ptz.user = this.user;
    this.append(
      el("aside", { class: "side" }, el("h2", { text: "Layout" }), this.layoutBar,
        this.mayWatch ? [el("h2", { text: "Saved layouts" }), this.saved, saveForm,
          this.saveMessage] : null,
        el("h2", { text: "Cameras" }), this.search, this.tree),
      this.grid,
      this.ptz,
    );
    this.grid.addEventListener("ch-tile-select", (e) => this.select(e.detail.index));
    this.grid.addEventListener("ch-tile-maximise", (e) => this.toggleMaximise(e.detail.index));
    this.grid.addEventListener("ch-tile-drop", (e) => this.assign(e.detail.index, e.detail.camera));
    this.grid.addEventListener("ch-tile-clear", (e) => this.assign(e.detail.index, null));
    this.grid.addEventListener("ch-tile-refused", () => this.refresh());
    document.addEventListener("keydown", this.onKey);
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
    const mayShare = ["admin", "supervisor"].includes(this.user.role);
    this.saved.replaceChildren(...layouts.map((entry) => el("li", {
      class: "saved-layout", dataset: { name: entry.name, shared: String(entry.shared) } },
    el("button", { type: "button", class: "link", text: entry.name,
      title: `Open ${entry.name}`, onclick: () => this.openSaved(entry.layout) }),
    entry.shared ? el("small", { text: "shared" }) : null,
    !entry.shared || mayShare ? el("button", { type: "button", class: "saved-delete",
      title: `Delete ${entry.name}`, text: "×", onclick: () => this.deleteSaved(entry) }) : null)));
    if (!layouts.length) this.saved.append(el("li", { class: "tree-empty", text: "None yet" }));
  }

  /** Put a saved layout on the wall (cameras out of scope leave their tile empty). */
  openSaved(layout) {
    const grid = LAYOUTS.includes(layout.grid) ? layout.grid : this.layout;
    const tiles = Array.isArray(layout.tiles) ? layout.tiles : [];
    this.assigned = Array.from({ length: MAX_TILES }, (_, i) =>
      (typeof tiles[i] === "string" ? tiles[i] : null));
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
    const layout = { grid: this.layout, tiles: this.assigned.slice(0, this.layout) };
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
        saved.tiles.slice(0, MAX_TILES).forEach((id, i) => {
          this.assigned[i] = typeof id === "string" ? id : null;
        });
      }
      if (saved && Number.isInteger(saved.selected)) this.selected = saved.selected;
    } catch (err) {
      // an unreadable saved wall: start from the default one
    }
  }

  save() {
    const state = { layout: this.layout, tiles: this.assigned, selected: this.selected };
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

  /** Put camera ``id`` (or nothing) on tile ``index``. */
  assign(index, id) {
    if (index < 0 || index >= MAX_TILES) return;
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
    if (event.target instanceof HTMLInputElement) return;
    if (event.key === "Escape" && this.maximised !== null && !document.fullscreenElement) {
      this.maximised = null;
      this.applyTiles();
    } else if ((event.key === "f" || event.key === "F") && !event.ctrlKey && !event.metaKey) {
      const tile = this.tiles[this.selected];
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
      else if (tile && tile.requestFullscreen) tile.requestFullscreen().catch(() => {});
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
      tile.setActive(shown && !hidden);
      tile.show(camera, small, this.mayWatch ? this.socket : null);
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
