// <ch-logbook>: the logbook mode (main courante). The events in the user's zones, newest first,
// coloured by kind, live (the list loads from /api/logbook/events, then the hub pushes each new
// event over the /api/logbook/live WebSocket); filters by zone, camera, type and "waiting for
// acknowledgement"; acknowledgement with a comment and a "false alarm" box; operators' notes
// (add, list, correct by a later note); the CSV export of what the filters show; a "Footage"
// link on each camera's event opens playback just before it (for those who may); the bookmarks
// and the statistics per zone (bookmarks.js, stats.js) in folding sections. AlarmBadge
// puts the count of events waiting for acknowledgement on the mode's button.

import { getJson, postJson } from "./api.js";
import "./bookmarks.js";
import "./stats.js";
import { dayTime, el } from "./util.js";

const BADGE_EVERY_MS = 4000;
const BADGE_COALESCE_MS = 250;
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;
const LIST_LIMIT = 500; // live events beyond this drop off the end of the list
export const LOGBOOK_CHANGED = "ch-logbook-changed";

const TYPE_LABELS = {
  "camera.motion": "Motion",
  "camera.tampering": "Tampering",
  "camera.tamper": "Tampering",
  "camera.input": "Input",
  "camera.offline": "Camera offline",
  "camera.online": "Camera back online",
  "camera.error": "Camera in error",
  "camera.clock_drift": "Clock drift",
  "storage.low": "Storage low",
  "storage.critical": "Storage critical",
  "storage.ok": "Storage back to normal",
};

/** The colour family of an event type: alarm, fault, recovery, storage, other. */
export function kindOf(type) {
  if (type === "camera.online" || type === "storage.ok") return "recovery";
  if (type.startsWith("storage.")) return "storage";
  if (/offline|error|drift/.test(type)) return "fault";
  if (/motion|tamper|input|intrusion|line|alarm/.test(type)) return "alarm";
  return "other";
}

const labelOf = (type) => TYPE_LABELS[type] || type;
const FOOTAGE_BEFORE_MS = 10000; // the "Footage" link opens playback this long before the event

/** The playback address of ``cameraId`` a little before the event at ``iso`` (see playback.js). */
export function footageHref(cameraId, iso) {
  const at = new Date(new Date(iso).getTime() - FOOTAGE_BEFORE_MS).toISOString();
  return `#playback?cameras=${encodeURIComponent(cameraId)}&t=${at}`;
}

/** A short reading of an event's data (what matters, not the raw JSON). */
function summary(data) {
  const parts = [];
  for (const [key, value] of Object.entries(data || {})) {
    if (key === "camera_id" || value === null || typeof value === "object") continue;
    parts.push(`${key.replace(/_/g, " ")}: ${value}`);
  }
  return parts.join(" · ");
}

/** The count of events waiting for acknowledgement, on a mode button. */
export class AlarmBadge {
  constructor(button) {
    this.badge = el("span", { class: "mode-badge", title: "Events waiting for acknowledgement" });
    this.badge.hidden = true;
    button.append(this.badge);
    this.soon = null;
    // A burst of events (or acknowledgements) makes one count request, not one each.
    this.onChange = () => {
      if (!this.soon) this.soon = setTimeout(() => this.refresh(), BADGE_COALESCE_MS);
    };
    window.addEventListener(LOGBOOK_CHANGED, this.onChange);
    this.timer = setInterval(() => this.refresh(), BADGE_EVERY_MS);
    this.refresh();
  }

  async refresh() {
    clearTimeout(this.soon);
    this.soon = null;
    try {
      const { count } = await getJson("/api/logbook/waiting");
      this.badge.textContent = count > 999 ? "999+" : String(count);
      this.badge.dataset.count = String(count);
      this.badge.hidden = count === 0;
    } catch (err) {
      // the hub is away or the session ended: the badge waits for the next round
    }
  }

  stop() {
    clearInterval(this.timer);
    clearTimeout(this.soon);
    window.removeEventListener(LOGBOOK_CHANGED, this.onChange);
  }
}

export class Logbook extends HTMLElement {
  constructor() {
    super();
    this.user = null;
    this.events = [];
    this.notes = [];
    this.cameras = new Map();
    this.zones = [];
    this.socket = null;
    this.reconnectDelay = RECONNECT_MIN_MS;
    this.reconnectTimer = null;
    this.closed = false;
    this.loading = 0;
    this.correcting = null;
  }

  connectedCallback() {
    this.closed = false;
    this.classList.add("logbook", "mode-view");
    const filter = (name, label) => el("select", { name, "aria-label": label, onchange: () => this.reload() });
    this.zoneSelect = filter("zone", "Zone");
    this.cameraSelect = filter("camera", "Camera");
    this.typeSelect = filter("type", "Type");
    this.pendingBox = el("input", { type: "checkbox", name: "unacknowledged", onchange: () => this.reload() });
    this.csvLink = el("a", { class: "logbook-csv", download: "logbook.csv", text: "Export CSV" });
    this.liveEl = el("span", { class: "logbook-live", role: "status" });
    this.messageEl = el("p", { class: "logbook-message", role: "alert" });
    this.list = el("ul", { class: "log-list", "aria-label": "Logbook events" });
    this.noteText = el("textarea", { name: "note", rows: "3", "aria-label": "Note", placeholder: "Write a note" });
    this.noteCamera = el("select", { name: "note-camera", "aria-label": "Camera of the note" });
    this.noteCorrecting = el("p", { class: "note-correcting" });
    this.noteCorrecting.hidden = true;
    this.noteSubmit = el("button", { type: "submit", text: "Add note" });
    const noteForm = el("form", { class: "note-form" }, this.noteCorrecting, this.noteText,
      el("div", { class: "note-form-row" }, this.noteCamera, this.noteSubmit,
        el("button", { type: "button", class: "link", text: "Cancel", onclick: () => this.cancelCorrection() })));
    noteForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.addNote();
    });
    this.noteList = el("ul", { class: "note-list", "aria-label": "Notes" });
    const bookmarks = el("ch-bookmarks");
    bookmarks.user = this.user;
    this.replaceChildren(
      el("section", { class: "log-events" },
        el("div", { class: "logbook-bar" },
          el("h2", { text: "Logbook" }), this.liveEl,
          el("label", { class: "inline" }, el("span", { text: "Zone" }), this.zoneSelect),
          el("label", { class: "inline" }, el("span", { text: "Camera" }), this.cameraSelect),
          el("label", { class: "inline" }, el("span", { text: "Type" }), this.typeSelect),
          el("label", { class: "inline check" }, this.pendingBox, el("span", { text: "Waiting only" })),
          this.csvLink),
        this.messageEl, this.list),
      el("section", { class: "log-notes" }, el("h2", { text: "Notes" }), noteForm, this.noteList,
        el("details", { class: "log-bookmarks" }, el("summary", { text: "Bookmarks" }), bookmarks),
        el("details", { class: "log-stats" }, el("summary", { text: "Statistics per zone" }),
          el("ch-logbook-stats"))),
    );
    this.start();
  }

  disconnectedCallback() {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    if (this.socket) this.socket.close();
    this.socket = null;
  }

  async start() {
    try {
      const data = await getJson("/api/cameras");
      this.zones = data.zones;
      this.cameras = new Map(data.cameras.map((c) => [c.id, c]));
    } catch (err) {
      this.say(err.message);
    }
    const option = (value, text) => el("option", { value, text });
    this.zoneSelect.replaceChildren(option("", "All zones"), ...this.zones.map((z) => option(z.id, z.name)));
    const cameras = [...this.cameras.values()].sort((a, b) => a.name.localeCompare(b.name));
    this.cameraSelect.replaceChildren(option("", "All cameras"), ...cameras.map((c) => option(c.id, c.name)));
    this.noteCamera.replaceChildren(option("", "No camera"), ...cameras.map((c) => option(c.id, c.name)));
    this.renderTypes();
    await Promise.all([this.reload(), this.loadNotes()]);
    this.connect();
  }

  /** The filters as query parameters (the list's and the CSV's). */
  query() {
    const params = new URLSearchParams();
    if (this.zoneSelect.value) params.set("zone", this.zoneSelect.value);
    if (this.cameraSelect.value) params.append("camera", this.cameraSelect.value);
    if (this.typeSelect.value) params.append("type", this.typeSelect.value);
    return params;
  }

  async reload() {
    const params = this.query();
    this.csvLink.href = `/api/logbook/export.csv${params.size ? `?${params}` : ""}`;
    if (this.pendingBox.checked) params.set("unacknowledged", "1");
    const ticket = ++this.loading;
    try {
      const events = await getJson(`/api/logbook/events?${params}`);
      if (ticket !== this.loading) return; // a newer filter won
      this.events = events;
      this.renderTypes();
      this.renderEvents();
    } catch (err) {
      this.say(err.message);
    }
  }

  /** Whether a (live) event passes the current filters. */
  matches(event) {
    const camera = event.camera_id ? this.cameras.get(event.camera_id) : null;
    // Events without a camera (the hub's own) belong to every zone, as on the hub.
    if (this.zoneSelect.value && camera && camera.zone !== this.zoneSelect.value) return false;
    if (this.zoneSelect.value && event.camera_id && !camera) return false;
    if (this.cameraSelect.value && event.camera_id !== this.cameraSelect.value) return false;
    if (this.typeSelect.value && event.event_type !== this.typeSelect.value) return false;
    if (this.pendingBox.checked && (!event.needs_acknowledgement || event.acknowledged)) return false;
    return true;
  }

  connect() {
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/logbook/live`);
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      if (this.reconnectDelay > RECONNECT_MIN_MS) this.reload(); // catch up what was missed
      opened = true;
      this.reconnectDelay = RECONNECT_MIN_MS;
      this.liveEl.textContent = "live";
      this.liveEl.dataset.state = "live";
    });
    socket.addEventListener("message", (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      if (data.type === "reload") this.reload();
      else if (data.type === "event") this.arrived(data.event);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.closed) return;
      this.liveEl.textContent = "reconnecting…";
      this.liveEl.dataset.state = "down";
      if (!opened) this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
      else this.reconnectDelay = RECONNECT_MIN_MS * 2;
      this.reconnectTimer = setTimeout(() => this.connect(), this.reconnectDelay);
    });
  }

  arrived(event) {
    window.dispatchEvent(new CustomEvent(LOGBOOK_CHANGED));
    if (this.events.some((e) => e.id === event.id)) return;
    this.events.unshift(event);
    this.renderTypes();
    if (this.events.length > LIST_LIMIT) this.events.length = LIST_LIMIT;
    if (this.matches(event)) this.list.prepend(this.eventNode(event, true));
    while (this.list.children.length > LIST_LIMIT) this.list.lastElementChild.remove();
    const empty = this.list.querySelector(".log-empty");
    if (empty && this.matches(event)) empty.remove();
  }

  renderTypes() {
    const chosen = this.typeSelect.value;
    const types = new Set([...this.events.map((e) => e.event_type), ...Object.keys(TYPE_LABELS)]);
    if (chosen) types.add(chosen);
    const sorted = [...types].sort((a, b) => labelOf(a).localeCompare(labelOf(b)));
    if (this.typeSelect.options.length === sorted.length + 1) return;
    this.typeSelect.replaceChildren(el("option", { value: "", text: "All types" }),
      ...sorted.map((type) => el("option", { value: type, text: labelOf(type) })));
    this.typeSelect.value = chosen;
  }

  renderEvents() {
    const shown = this.events.filter((e) => this.matches(e));
    this.list.replaceChildren(...(shown.length ? shown.map((e) => this.eventNode(e, false))
      : [el("li", { class: "log-empty", text: "No event" })]));
  }

  eventNode(event, fresh) {
    const camera = event.camera_id ? this.cameras.get(event.camera_id) : null;
    const state = event.acknowledged ? "acked" : event.needs_acknowledgement ? "pending" : "info";
    const item = el("li", {
      class: `log-event${fresh ? " fresh" : ""}`,
      dataset: { id: String(event.id), kind: kindOf(event.event_type), type: event.event_type, state },
    },
    el("time", { class: "log-time", datetime: event.time, text: dayTime(event.time) }),
    el("span", { class: "log-type", text: labelOf(event.event_type) }),
    el("span", { class: "log-camera", text: camera ? camera.name : event.camera_id || "Hub" }),
    el("span", { class: "log-data", text: summary(event.data) }));
    if (event.camera_id && camera && (this.user?.permissions || []).includes("playback")) {
      item.append(el("a", { class: "log-footage", href: footageHref(event.camera_id, event.time),
        title: "Play this camera's recording from 10 s before the event", text: "Footage" }));
    }
    const ack = event.acknowledged;
    if (ack) {
      item.append(el("div", { class: "log-ack-done" },
        `Acknowledged ${dayTime(ack.at)} by ${String(ack.by || "").replace(/^user:/, "")}`,
        ack.false_alarm ? el("span", { class: "false-alarm", text: "false alarm" }) : null,
        ack.comment ? el("q", { text: ack.comment }) : null));
    } else if (event.needs_acknowledgement) {
      item.append(el("button", {
        type: "button", class: "log-ack-open", text: "Acknowledge",
        onclick: (e) => e.currentTarget.replaceWith(this.ackForm(event)),
      }));
    }
    return item;
  }

  ackForm(event) {
    const comment = el("input", { name: "comment", "aria-label": "Comment", placeholder: "What was it? What was done?" });
    const falseAlarm = el("input", { type: "checkbox", name: "false_alarm" });
    const submit = el("button", { type: "submit", text: "Confirm" });
    const form = el("form", { class: "log-ack" }, comment,
      el("label", { class: "inline check" }, falseAlarm, el("span", { text: "False alarm" })), submit);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!comment.value.trim()) {
        this.say("Write a comment: what was seen, what was done.");
        comment.focus();
        return;
      }
      submit.disabled = true;
      try {
        const acked = await postJson(`/api/logbook/events/${event.id}/ack`,
          { comment: comment.value.trim(), false_alarm: falseAlarm.checked });
        this.acknowledged(acked);
      } catch (err) {
        this.say(err.message);
        submit.disabled = false;
        if (err.status === 409) this.reload(); // acknowledged meanwhile by someone else
      }
    });
    setTimeout(() => comment.focus(), 0);
    return form;
  }

  acknowledged(entry) {
    const index = this.events.findIndex((e) => e.id === entry.id);
    if (index >= 0) this.events[index] = entry;
    const node = this.list.querySelector(`.log-event[data-id="${entry.id}"]`);
    if (node) {
      if (this.matches(entry)) node.replaceWith(this.eventNode(entry, false));
      else node.remove();
    }
    this.say("");
    window.dispatchEvent(new CustomEvent(LOGBOOK_CHANGED));
  }

  async loadNotes() {
    try {
      this.notes = await getJson("/api/logbook/notes");
      this.renderNotes();
    } catch (err) {
      this.say(err.message);
    }
  }

  renderNotes() {
    const corrected = new Set(this.notes.map((n) => n.corrects).filter((id) => id !== null && id !== undefined));
    this.noteList.replaceChildren(...(this.notes.length ? this.notes.map((note) => {
      const camera = note.camera_id ? this.cameras.get(note.camera_id) : null;
      return el("li", { class: `note${corrected.has(note.id) ? " corrected" : ""}`, dataset: { id: String(note.id) } },
        el("div", { class: "note-head" },
          el("time", { datetime: note.time, text: dayTime(note.time) }),
          el("span", { class: "note-author", text: String(note.author || "").replace(/^user:/, "") }),
          camera ? el("span", { class: "note-camera", text: camera.name }) : null,
          note.corrects ? el("span", { class: "note-corrects", text: `corrects note ${note.corrects}` }) : null,
          corrected.has(note.id) ? el("span", { class: "note-corrected", text: "corrected" }) : null),
        el("p", { class: "note-text", text: note.text }),
        el("button", { type: "button", class: "link note-correct", text: "Correct", onclick: () => this.correct(note) }));
    }) : [el("li", { class: "log-empty", text: "No note" })]));
  }

  correct(note) {
    this.correcting = note.id;
    this.noteText.value = note.text;
    this.noteCamera.value = note.camera_id || "";
    this.noteCorrecting.textContent = `Correcting note ${note.id}: the original stays, marked as corrected.`;
    this.noteCorrecting.hidden = false;
    this.noteSubmit.textContent = "Save correction";
    this.noteText.focus();
  }

  cancelCorrection() {
    this.correcting = null;
    this.noteText.value = "";
    this.noteCorrecting.hidden = true;
    this.noteSubmit.textContent = "Add note";
  }

  async addNote() {
    const text = this.noteText.value.trim();
    if (!text) {
      this.say("The note is empty.");
      return;
    }
    const body = { text };
    if (this.noteCamera.value) body.camera_id = this.noteCamera.value;
    if (this.correcting !== null) body.corrects = this.correcting;
    this.noteSubmit.disabled = true;
    try {
      await postJson("/api/logbook/notes", body);
      this.cancelCorrection();
      this.say("");
      await this.loadNotes();
    } catch (err) {
      this.say(err.message);
    } finally {
      this.noteSubmit.disabled = false;
    }
  }

  say(text) {
    this.messageEl.textContent = text;
  }
}

customElements.define("ch-logbook", Logbook);
