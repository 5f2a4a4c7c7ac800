// <ch-timeline>: the playback timeline. One bar per camera over a visible window of time:
// recorded ranges, gaps (hatched black), logbook events as coloured marks, holds as ribbons;
// hour/minute ticks in the hub's local time with the UTC offset shown, a cursor at the playing
// instant and a selected range. Wheel and +/- zoom (1 minute to 7 days), drag pans, a click
// seeks, shift-drag (or the "Select" tool) selects a range. Every instant is a number of UTC
// milliseconds; local time appears only in labels, computed from UTC instants, so a DST change
// neither jumps nor doubles an hour of the bar.
//
// It tells the page what the operator did with events on itself: "ch-seek" {instant, camera
// (the bar clicked, or null)},
// "ch-view" {start, end} and "ch-range" {start, end} (null when cleared).

import { el } from "./util.js";

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const MIN_SPAN_MS = MINUTE;
export const MAX_SPAN_MS = 7 * DAY;
export const DEFAULT_SPAN_MS = DAY;
export const DEFAULT_TIME_ZONE = "Europe/Paris";
const STEPS = [SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND, MINUTE,
  2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR,
  6 * HOUR, 12 * HOUR, DAY];
const MIN_LABEL_PX = 70; // ticks closer than this would overlap their labels
const ZOOM_STEP = 1.5;
const CLICK_PX = 4; // a press that moves less than this is a click

const formatters = new Map();

function formatter(timeZone) {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat("en-GB", {
      timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "longOffset",
    });
    formatters.set(timeZone, found);
  }
  return found;
}

/** The local date, time and UTC offset (minutes) of the UTC instant ``ms`` in ``timeZone``. */
export function zonedParts(ms, timeZone = DEFAULT_TIME_ZONE) {
  const parts = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) parts[part.type] = part.value;
  const match = /^GMT(?:([+-])(\d{1,2})(?::?(\d{2}))?)?$/.exec(parts.timeZoneName || "GMT");
  const offset = match && match[1] ? (match[1] === "-" ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3] || 0)) : 0;
  const millis = ((ms % SECOND) + SECOND) % SECOND;
  return {
    year: Number(parts.year), month: Number(parts.month), day: Number(parts.day),
    hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second),
    millisecond: millis, offset,
  };
}

/** "UTC+01:00" for an offset of 60 minutes. */
export function offsetLabel(offset) {
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function pad(value, width = 2) {
  return String(value).padStart(width, "0");
}

/** The UTC instant of a local wall-clock time in ``timeZone`` (the earlier one when it repeats). */
export function zonedToUtc(year, month, day, hour = 0, minute = 0, second = 0, timeZone = DEFAULT_TIME_ZONE) {
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  // Try the offsets in force a day before and after: one of them gives back the wall time.
  const offsets = new Set([zonedParts(wall - DAY, timeZone).offset, zonedParts(wall, timeZone).offset,
    zonedParts(wall + DAY, timeZone).offset]);
  const found = [...offsets].map((offset) => wall - offset * MINUTE).filter((ms) => {
    const p = zonedParts(ms, timeZone);
    return p.hour === hour && p.minute === minute && p.day === day;
  }).sort((a, b) => a - b);
  // A time skipped by a spring change does not exist: take the instant the clocks jumped from.
  return found.length ? found[0] : wall - zonedParts(wall, timeZone).offset * MINUTE;
}

/** "25/10/2026 02:30:00.040" (local time of ``ms`` in ``timeZone``), milliseconds when asked. */
export function formatLocal(ms, timeZone = DEFAULT_TIME_ZONE, { millis = false, date = true } = {}) {
  const p = zonedParts(ms, timeZone);
  const time = `${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${millis ? `.${pad(p.millisecond, 3)}` : ""}`;
  return date ? `${pad(p.day)}/${pad(p.month)}/${p.year} ${time}` : time;
}

/** A duration in words: "45.2 s", "3 min 05 s", "2 h 04 min", "1 d 3 h". */
export function formatDuration(ms) {
  const total = Math.max(0, ms);
  if (total < MINUTE) return `${(total / SECOND).toFixed(1)} s`;
  const seconds = Math.round(total / SECOND);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${pad(seconds % 60)} s`;
  const minutes = Math.round(total / MINUTE);
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ${pad(minutes % 60)} min`;
  const hours = Math.round(total / HOUR);
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** The tick step (ms) for ``span`` ms over ``width`` px: the smallest whose labels do not overlap. */
export function pickStep(span, width, minLabelPx = MIN_LABEL_PX) {
  for (const step of STEPS) {
    if ((step / span) * width >= minLabelPx) return step;
  }
  return STEPS[STEPS.length - 1];
}

/**
 * The ticks of [start, end] (UTC ms) drawn ``width`` px wide, in ``timeZone``: each
 * {ms, x, label, major, offset, offsetChanged}. A tick stands where the local time is a whole
 * multiple of the step (local midnight for days); ``x`` is proportional to UTC time, so an
 * hour is as wide on the day the clocks change as on any other. ``offsetChanged`` marks the
 * first tick after a change of UTC offset (its label then names the new offset).
 */
export function ticks(start, end, width, timeZone = DEFAULT_TIME_ZONE) {
  const span = end - start;
  if (!(span > 0) || !(width > 0)) return [];
  const step = pickStep(span, width);
  const base = Math.min(step, 15 * MINUTE);
  const out = [];
  let previous = zonedParts(start, timeZone).offset;
  for (let ms = Math.ceil(start / base) * base; ms <= end; ms += base) {
    const p = zonedParts(ms, timeZone);
    const timeOfDay = ((p.hour * 60 + p.minute) * 60 + p.second) * SECOND;
    if (timeOfDay % step !== 0) continue;
    const major = timeOfDay === 0;
    let label;
    if (step >= DAY) label = `${pad(p.day)}/${pad(p.month)}`;
    else if (step < MINUTE) label = `${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
    else label = `${pad(p.hour)}:${pad(p.minute)}`;
    if (major && step < DAY) label = `${pad(p.day)}/${pad(p.month)} ${label}`;
    const offsetChanged = p.offset !== previous;
    previous = p.offset;
    if (offsetChanged) label += ` ${offsetLabel(p.offset)}`;
    out.push({ ms, x: ((ms - start) / span) * width, label, major, offset: p.offset, offsetChanged });
  }
  return out;
}

/** The view {start, end} zoomed by ``factor`` (>1 zooms out) around ``anchor``, within limits. */
export function zoomView(view, factor, anchor = (view.start + view.end) / 2) {
  const span = view.end - view.start;
  const next = Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, span * factor));
  const share = span > 0 ? (anchor - view.start) / span : 0.5;
  const start = anchor - share * next;
  return { start: Math.round(start), end: Math.round(start + next) };
}

/** The view moved by ``delta`` ms. */
export function panView(view, delta) {
  return { start: Math.round(view.start + delta), end: Math.round(view.end + delta) };
}

/** The view of the same span with ``instant`` at ``share`` of its width (0.5: centred). */
export function viewAround(view, instant, share = 0.5) {
  const span = view.end - view.start;
  const start = Math.round(instant - share * span);
  return { start, end: start + span };
}

/** A range {start, end} from two instants in any order, or null when they coincide. */
export function orderedRange(a, b) {
  if (a === null || b === null || a === undefined || b === undefined || a === b) return null;
  return { start: Math.min(a, b), end: Math.max(a, b) };
}

/**
 * Parse what the operator typed in "go to time", as local time in ``timeZone``:
 * "2026-10-25 02:30[:15]", "25/10/2026 02:30[:15]", "02:30[:15]" (the day of ``reference``),
 * or an ISO time with its offset. Returns UTC ms, or null when it cannot be read.
 */
export function parseLocalTime(text, timeZone = DEFAULT_TIME_ZONE, reference = Date.now()) {
  const value = String(text || "").trim();
  if (!value) return null;
  if (/[zZ]$|[+-]\d\d:?\d\d$/.test(value) && value.includes("T")) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms;
  }
  let match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  let y;
  let mo;
  let d;
  let rest;
  if (match) {
    [y, mo, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
    rest = match.slice(4);
  } else if ((match = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(value))) {
    [d, mo, y] = [Number(match[1]), Number(match[2]), Number(match[3])];
    rest = match.slice(4);
  } else if ((match = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(value))) {
    const today = zonedParts(reference, timeZone);
    [y, mo, d] = [today.year, today.month, today.day];
    rest = match.slice(1);
  } else {
    return null;
  }
  const [h, mi, s] = [Number(rest[0]), Number(rest[1]), Number(rest[2] || 0)];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  return zonedToUtc(y, mo, d, h, mi, s, timeZone);
}

const percent = (share) => `${(share * 100).toFixed(4)}%`;

export class Timeline extends HTMLElement {
  constructor() {
    super();
    this.timeZone = DEFAULT_TIME_ZONE;
    const now = Date.now();
    this.view = { start: now - DEFAULT_SPAN_MS + HOUR, end: now + HOUR };
    this.rows = []; // [{id, name, recordings, gaps, events, holds, until}] with UTC ms
    this.rowCursors = new Map(); // camera id -> its own instant, for a camera out of sync
    this.cursor = null;
    this.selection = null;
    this.selecting = false; // the "Select" tool: a plain drag selects instead of panning
    this.now = now;
    this.drag = null;
    this.built = false;
  }

  connectedCallback() {
    if (!this.built) this.build();
    this.render();
  }

  build() {
    this.built = true;
    this.classList.add("timeline");
    this.zoneEl = el("span", { class: "tl-zone" });
    this.goInput = el("input", { class: "tl-go-input", name: "go-to-time", placeholder: "25/10/2026 14:30",
      "aria-label": "Go to time (local)", title: "Local time: 14:30, 25/10/2026 14:30:15 or an ISO time" });
    const goForm = el("form", { class: "tl-go" }, this.goInput, el("button", { type: "submit", text: "Go" }));
    goForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.goTo(this.goInput.value);
    });
    this.selectButton = el("button", { type: "button", class: "tl-select-tool", "aria-pressed": "false",
      title: "Select a range by dragging (or shift-drag)", text: "Select",
      onclick: () => this.setSelecting(!this.selecting) });
    this.clearButton = el("button", { type: "button", class: "tl-clear", text: "Clear range",
      onclick: () => this.setSelection(null) });
    this.rangeEl = el("span", { class: "tl-range-info", role: "status" });
    this.messageEl = el("span", { class: "tl-message", role: "alert" });
    this.toolbar = el("div", { class: "tl-toolbar" },
      el("button", { type: "button", class: "tl-zoom-out", title: "Zoom out (-)", text: "−",
        onclick: () => this.zoom(ZOOM_STEP) }),
      el("button", { type: "button", class: "tl-zoom-in", title: "Zoom in (+)", text: "+",
        onclick: () => this.zoom(1 / ZOOM_STEP) }),
      goForm, this.selectButton, this.clearButton, this.rangeEl, this.messageEl, this.zoneEl);
    this.names = el("div", { class: "tl-names" });
    this.axis = el("div", { class: "tl-axis" });
    this.lanes = el("div", { class: "tl-lanes" });
    this.selectionEl = el("div", { class: "tl-selection" });
    this.cursorEl = el("div", { class: "tl-cursor" });
    this.area = el("div", { class: "tl-area" }, this.axis, this.lanes, this.selectionEl, this.cursorEl);
    this.area.addEventListener("wheel", (event) => this.wheel(event), { passive: false });
    this.area.addEventListener("pointerdown", (event) => this.down(event));
    this.area.addEventListener("pointermove", (event) => this.move(event));
    this.area.addEventListener("pointerup", (event) => this.up(event));
    this.area.addEventListener("pointercancel", () => {
      this.drag = null;
    });
    this.append(this.toolbar, el("div", { class: "tl-body" }, this.names, this.area));
    // The ticks depend on the width: draw them again when it changes.
    let width = 0;
    new ResizeObserver(() => {
      const now = Math.round(this.area.getBoundingClientRect().width);
      if (now !== width) {
        width = now;
        this.render();
      }
    }).observe(this.area);
  }

  get span() {
    return this.view.end - this.view.start;
  }

  /** The UTC ms under a client x coordinate. */
  instantAt(clientX) {
    const box = this.area.getBoundingClientRect();
    const share = box.width > 0 ? (clientX - box.left) / box.width : 0;
    return Math.round(this.view.start + share * this.span);
  }

  /** The client x coordinate of an instant (for tests and tools). */
  clientXOf(instant) {
    const box = this.area.getBoundingClientRect();
    return box.left + ((instant - this.view.start) / this.span) * box.width;
  }

  setView(view, tell = true) {
    const span = Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, view.end - view.start));
    this.view = { start: Math.round(view.start), end: Math.round(view.start + span) };
    this.render();
    if (tell) this.dispatchEvent(new CustomEvent("ch-view", { detail: { ...this.view } }));
  }

  /** Zoom by ``factor`` (>1 zooms out) around the cursor, brought away from the edges. */
  zoom(factor) {
    const cursor = this.cursor;
    const shown = cursor !== null && cursor >= this.view.start && cursor <= this.view.end;
    let view = zoomView(this.view, factor, shown ? cursor : (this.view.start + this.view.end) / 2);
    const share = shown ? (cursor - view.start) / (view.end - view.start) : 0.5;
    if (share < 0.1 || share > 0.9) view = viewAround(view, cursor);
    this.setView(view);
  }

  setRows(rows) {
    this.rows = rows;
    this.render();
  }

  setCursor(instant) {
    this.cursor = instant;
    this.placeCursor();
  }

  setSelection(range, tell = true) {
    this.selection = range;
    this.placeSelection();
    if (tell) this.dispatchEvent(new CustomEvent("ch-range", { detail: range ? { ...range } : null }));
  }

  /** Set one end of the selected range at ``instant`` ("start" or "end"). */
  markRange(which, instant) {
    const current = this.selection;
    let start = which === "start" ? instant : current ? current.start : null;
    let end = which === "end" ? instant : current ? current.end : null;
    if (start === null) start = end;
    if (end === null) end = start;
    if (start > end) {
      if (which === "start") end = start;
      else start = end;
    }
    // One end alone is a range of nothing yet; keep it as a mark until the other comes.
    this.setSelection({ start, end });
  }

  setSelecting(on) {
    this.selecting = on;
    this.selectButton.setAttribute("aria-pressed", String(on));
    this.selectButton.classList.toggle("active", on);
  }

  goTo(text) {
    const instant = parseLocalTime(text, this.timeZone, this.now);
    if (instant === null) {
      this.messageEl.textContent = `Cannot read "${text}": write 14:30, 25/10/2026 14:30 or an ISO time.`;
      return;
    }
    this.messageEl.textContent = "";
    this.setView(viewAround(this.view, instant));
    this.dispatchEvent(new CustomEvent("ch-seek", { detail: { instant } }));
  }

  wheel(event) {
    event.preventDefault();
    const factor = event.deltaY > 0 ? ZOOM_STEP : 1 / ZOOM_STEP;
    this.setView(zoomView(this.view, factor, this.instantAt(event.clientX)));
  }

  down(event) {
    if (event.button !== 0) return;
    this.area.setPointerCapture(event.pointerId);
    this.drag = {
      x: event.clientX,
      instant: this.instantAt(event.clientX),
      view: { ...this.view },
      select: this.selecting || event.shiftKey,
      moved: false,
      target: event.target,
    };
  }

  move(event) {
    const drag = this.drag;
    if (!drag) return;
    if (Math.abs(event.clientX - drag.x) >= CLICK_PX) drag.moved = true;
    if (!drag.moved) return;
    if (drag.select) {
      this.setSelection(orderedRange(drag.instant, this.instantAt(event.clientX)), false);
    } else {
      const width = this.area.getBoundingClientRect().width || 1;
      const delta = ((drag.x - event.clientX) / width) * (drag.view.end - drag.view.start);
      this.setView(panView(drag.view, delta), false);
    }
  }

  up(event) {
    const drag = this.drag;
    this.drag = null;
    if (!drag) return;
    if (!drag.moved) {
      const lane = drag.target && drag.target.closest ? drag.target.closest(".tl-lane") : null;
      this.dispatchEvent(new CustomEvent("ch-seek", {
        detail: { instant: this.instantAt(event.clientX), camera: lane ? lane.dataset.camera : null },
      }));
    } else if (drag.select) {
      this.setSelection(orderedRange(drag.instant, this.instantAt(event.clientX)));
    } else {
      this.dispatchEvent(new CustomEvent("ch-view", { detail: { ...this.view } }));
    }
  }

  /** Position ``node`` over [start, end] of the view (clipped); false when out of view. */
  place(node, start, end) {
    const from = Math.max(start, this.view.start);
    const to = Math.min(end, this.view.end);
    if (to <= from && !(start === end && start >= this.view.start && start <= this.view.end)) return false;
    node.style.left = percent((from - this.view.start) / this.span);
    node.style.width = percent(Math.max(0, to - from) / this.span);
    return true;
  }

  render() {
    if (!this.built) return;
    const width = this.area.getBoundingClientRect().width || this.clientWidth || 800;
    const offset = zonedParts(this.cursor ?? this.view.start, this.timeZone).offset;
    this.zoneEl.textContent = `${this.timeZone} (${offsetLabel(offset)})`;
    this.axis.replaceChildren(...ticks(this.view.start, this.view.end, width, this.timeZone).map((tick) => {
      const node = el("span", {
        class: `tl-tick${tick.major ? " major" : ""}${tick.offsetChanged ? " offset-change" : ""}`,
        dataset: { ms: String(tick.ms) }, title: new Date(tick.ms).toISOString(), text: tick.label,
      });
      node.style.left = percent(tick.x / width);
      return node;
    }));
    this.names.replaceChildren(el("span", { class: "tl-names-head" }),
      ...this.rows.map((row) => el("span", { class: "tl-name", title: row.name, text: row.name })));
    this.lanes.replaceChildren(...this.rows.map((row) => this.lane(row)));
    this.placeCursor();
    this.placeSelection();
  }

  lane(row) {
    const lane = el("div", { class: "tl-lane", dataset: { camera: row.id } });
    const add = (cls, start, end, attributes = {}) => {
      const node = el("span", { class: cls, ...attributes });
      if (this.place(node, start, end)) lane.append(node);
      return node;
    };
    if (row.until !== undefined && row.until < this.view.end) add("tl-future", row.until, this.view.end);
    for (const r of row.recordings || []) {
      add("tl-rec", r.start, r.end, { dataset: { start: String(r.start), end: String(r.end) } });
    }
    for (const g of row.gaps || []) {
      add("tl-gap", g.start, g.end, { dataset: { start: String(g.start), end: String(g.end) },
        title: `No recording ${formatLocal(g.start, this.timeZone)} – ${formatLocal(g.end, this.timeZone)}` });
    }
    for (const h of row.holds || []) {
      add("tl-hold", h.start, h.end, { title: `Held: ${h.reference || ""} ${h.reason || ""}`.trim() });
    }
    for (const e of row.events || []) {
      add("tl-event", e.time, e.time, { dataset: { kind: e.kind, type: e.type, ms: String(e.time) },
        title: `${e.label} ${formatLocal(e.time, this.timeZone)}` });
    }
    const own = add("tl-own-cursor", this.view.start, this.view.start);
    this.placeRowCursor(lane, own, this.rowCursors.get(row.id) ?? null);
    return lane;
  }

  /** Show camera ``id``'s own instant on its bar (a camera out of sync), or hide it (null). */
  setRowCursor(id, instant) {
    if (instant === null) this.rowCursors.delete(id);
    else this.rowCursors.set(id, instant);
    if (!this.built) return;
    const lane = [...this.lanes.children].find((node) => node.dataset.camera === id);
    if (lane) this.placeRowCursor(lane, lane.querySelector(".tl-own-cursor"), instant);
  }

  placeRowCursor(lane, node, instant) {
    if (!node) return;
    const shown = instant !== null && instant >= this.view.start && instant <= this.view.end;
    node.hidden = !shown;
    if (shown) {
      node.style.left = percent((instant - this.view.start) / this.span);
      node.dataset.ms = String(instant);
    }
  }

  placeCursor() {
    if (!this.built) return;
    const shown = this.cursor !== null && this.cursor >= this.view.start && this.cursor <= this.view.end;
    this.cursorEl.hidden = !shown;
    if (shown) {
      this.cursorEl.style.left = percent((this.cursor - this.view.start) / this.span);
      this.cursorEl.dataset.ms = String(this.cursor);
    }
  }

  placeSelection() {
    if (!this.built) return;
    const range = this.selection;
    this.selectionEl.hidden = !range || !this.place(this.selectionEl, range.start, range.end);
    this.clearButton.hidden = !range;
    this.rangeEl.textContent = range
      ? `${formatLocal(range.start, this.timeZone)} – ${formatLocal(range.end, this.timeZone, { date: false })}`
        + ` (${formatDuration(range.end - range.start)})`
      : "";
    if (range) {
      this.rangeEl.dataset.start = String(range.start);
      this.rangeEl.dataset.end = String(range.end);
    } else {
      delete this.rangeEl.dataset.start;
      delete this.rangeEl.dataset.end;
    }
  }
}

customElements.define("ch-timeline", Timeline);
