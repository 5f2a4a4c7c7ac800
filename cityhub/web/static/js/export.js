// <ch-export-dialog>: the evidence export. openExportDialog({ cameras, from, to }) opens it as a
// modal <dialog> prefilled with the cameras and the range (shown in the hub's local time with
// the UTC offset); the operator adds the reference (requisition number), the legal basis and
// the reason; the hub writes the signed package in the background (POST /api/exports) while
// the dialog follows its progress; at the end: the download link, the package's SHA-256, the
// signing key's fingerprint, and the hold the export placed on the footage.

import { ApiError, getJson, postJson } from "./api.js";
import { el, sizeText } from "./util.js";

const POLL_MS = 500;
const DEFAULT_TIME_ZONE = "Europe/Paris";
const DEFAULT_SPAN_MS = 10 * 60 * 1000;
const OTHER = "other";

/** The usual legal bases of an export in France: [value, label]. */
export const LEGAL_BASES = [
  ["Judicial requisition, art. 60 CPP (flagrant offence inquiry)", "Judicial requisition — art. 60 CPP (flagrant offence)"],
  ["Judicial requisition, art. 77-1 CPP (preliminary inquiry)", "Judicial requisition — art. 77-1 CPP (preliminary inquiry)"],
  ["Judicial requisition, art. 99-3 CPP (investigating judge)", "Judicial requisition — art. 99-3 CPP (investigating judge)"],
  ["Data-subject access (CNIL; CSI art. L253-5)", "Data-subject access request (CNIL, CSI art. L253-5)"],
  ["Internal investigation", "Internal investigation"],
  [OTHER, "Other (state it below)"],
];

const TWO = (n) => String(n).padStart(2, "0");
const PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/;

function wallParts(ms, timeZone) {
  const format = new Intl.DateTimeFormat("en-GB", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return ["year", "month", "day", "hour", "minute", "second"].map((k) => Number(parts[k]));
}

/** The UTC offset (minutes) of ``timeZone`` at the instant ``ms``. */
export function offsetMinutes(ms, timeZone) {
  const [y, mo, d, h, mi, s] = wallParts(ms, timeZone);
  return Math.round((Date.UTC(y, mo - 1, d, h, mi, s) - Math.floor(ms / 1000) * 1000) / 60000);
}

/** "UTC+01:00" for an offset in minutes. */
export function offsetText(minutes) {
  const sign = minutes < 0 ? "−" : "+";
  const m = Math.abs(minutes);
  return `UTC${sign}${TWO(Math.floor(m / 60))}:${TWO(m % 60)}`;
}

/** The wall time of ``ms`` in ``timeZone`` as a datetime-local value ("2026-11-22T14:05:09"). */
export function toLocalInput(ms, timeZone) {
  const [y, mo, d, h, mi, s] = wallParts(ms, timeZone);
  return `${y}-${TWO(mo)}-${TWO(d)}T${TWO(h)}:${TWO(mi)}:${TWO(s)}`;
}

/**
 * The instant (ms) of a datetime-local ``value`` read in ``timeZone``: null when it is not a
 * time or names a wall time the clocks skip (spring forward); the earlier of the two instants
 * when the clocks go back and the hour happens twice (``ambiguous`` is then true).
 */
export function fromLocalInput(value, timeZone) {
  const match = PATTERN.exec(value || "");
  if (!match) return null;
  const [y, mo, d, h, mi, s] = match.slice(1).map((v) => Number(v || 0));
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const wanted = `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${TWO(s)}`;
  const day = 24 * 3600 * 1000;
  const candidates = [...new Set([offsetMinutes(wall - day, timeZone), offsetMinutes(wall + day, timeZone)])]
    .map((offset) => wall - offset * 60000)
    .filter((ms) => toLocalInput(ms, timeZone) === wanted)
    .sort((a, b) => a - b);
  if (!candidates.length) return null;
  return { ms: candidates[0], ambiguous: candidates.length > 1 };
}

/** "1 h 05 min 03 s" for a number of milliseconds. */
export function spanText(ms) {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return `${h} h ${TWO(m)} min${s ? ` ${TWO(s)} s` : ""}`;
  if (m) return `${m} min${s ? ` ${TWO(s)} s` : ""}`;
  return `${s} s`;
}

/** A local date and time with its offset, e.g. "22/11/2026 14:05:09 (UTC+01:00)". */
export function localStamp(iso, timeZone = DEFAULT_TIME_ZONE) {
  const ms = new Date(iso).getTime();
  if (Number.isNaN(ms)) return "";
  const text = new Date(ms).toLocaleString("en-GB", {
    timeZone, hourCycle: "h23", day: "2-digit", month: "2-digit", year: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).replace(",", "");
  return `${text} (${offsetText(offsetMinutes(ms, timeZone))})`;
}

function instant(value) {
  if (value === undefined || value === null || value === "") return NaN;
  return value instanceof Date ? value.getTime() : new Date(value).getTime();
}

export class ExportDialog extends HTMLElement {
  constructor() {
    super();
    this.wanted = { cameras: [], from: NaN, to: NaN };
    this.timeZone = DEFAULT_TIME_ZONE;
    this.maxSeconds = null;
    this.cameraNames = new Map();
    this.job = null;
    this.poll = null;
    this.closedResolve = null;
    this.closed = new Promise((resolve) => {
      this.closedResolve = resolve;
    });
  }

  connectedCallback() {
    if (this.dialog) return;
    this.classList.add("export-dialog");
    this.messageEl = el("p", { class: "export-message", role: "alert" });
    this.body = el("div", { class: "export-body" }, el("p", { class: "muted", text: "Loading…" }));
    this.dialog = el("dialog", { class: "export", "aria-labelledby": "export-title" },
      el("header", { class: "export-head" },
        el("h2", { id: "export-title", text: "Export evidence" }),
        el("button", { type: "button", class: "link export-close", text: "Close", onclick: () => this.requestClose() })),
      this.body, this.messageEl);
    this.dialog.addEventListener("cancel", (event) => {
      event.preventDefault(); // Esc: closing waits for a confirmation while a job runs
      this.requestClose();
    });
    this.dialog.addEventListener("close", () => this.finish());
    this.replaceChildren(this.dialog);
    this.dialog.showModal();
    this.load();
  }

  disconnectedCallback() {
    clearTimeout(this.poll);
    this.poll = null;
  }

  say(text, code) {
    this.messageEl.textContent = text || "";
    this.messageEl.dataset.error = code || "";
  }

  async load() {
    let me;
    try {
      me = await getJson("/api/auth/me");
    } catch (err) {
      this.refuse(err.message, err.code);
      return;
    }
    const permissions = me.permissions || [];
    if (!permissions.includes("export")) {
      const why = !me.habilitated && ["admin", "supervisor"].includes(me.role)
        ? "Your habilitation is not in force: exporting footage needs one. Ask an administrator."
        : `Your account (${me.role}) may not export footage: exports are made by supervisors and `
          + "administrators, who answer requisitions. Ask one of them.";
      this.refuse(why, "forbidden");
      return;
    }
    let cameras;
    let limits;
    try {
      [cameras, limits] = await Promise.all([getJson("/api/cameras"), getJson("/api/exports")]);
    } catch (err) {
      this.refuse(err.message, err.code);
      return;
    }
    this.timeZone = limits.time_zone || DEFAULT_TIME_ZONE;
    this.maxSeconds = limits.max_seconds;
    this.cameraNames = new Map(cameras.cameras.map((c) => [c.id, c.name]));
    this.renderForm(cameras.cameras);
  }

  refuse(text, code) {
    this.body.replaceChildren(el("p", { class: "export-refused", dataset: { error: code || "" }, text }),
      el("div", { class: "export-actions" },
        el("button", { type: "button", text: "Close", onclick: () => this.dialog.close() })));
  }

  renderForm(cameras) {
    const wanted = new Set(this.wanted.cameras);
    const unknown = [...wanted].filter((id) => !cameras.some((c) => c.id === id));
    const boxes = cameras.map((camera) => el("label", { class: "inline check" },
      el("input", { type: "checkbox", name: "camera", value: camera.id, checked: wanted.has(camera.id) }),
      el("span", { text: camera.name })));
    let from = this.wanted.from;
    let to = this.wanted.to;
    if (!Number.isFinite(to)) to = Date.now();
    if (!Number.isFinite(from)) from = to - DEFAULT_SPAN_MS;
    this.exact = { start: from, end: to };
    const timeInput = (name, ms) => {
      const input = el("input", { type: "datetime-local", name, step: "1", required: true,
        value: toLocalInput(ms, this.timeZone) });
      input.addEventListener("input", () => {
        this.exact[name] = null; // edited by hand: the field's value (to the second) rules
        this.updateRange();
      });
      return input;
    };
    this.startInput = timeInput("start", from);
    this.endInput = timeInput("end", to);
    this.startOffset = el("span", { class: "export-offset" });
    this.endOffset = el("span", { class: "export-offset" });
    this.durationEl = el("p", { class: "export-duration" });
    this.reference = el("input", { name: "reference", autocomplete: "off",
      placeholder: "Requisition or case number, e.g. PV 2026/1142" });
    this.basis = el("select", { name: "legal_basis" },
      LEGAL_BASES.map(([value, label]) => el("option", { value, text: label })));
    this.basisDetail = el("input", { name: "legal_basis_detail", autocomplete: "off",
      placeholder: "Details: requesting authority, article, date" });
    this.reason = el("textarea", { name: "reason", rows: "2", placeholder: "What happened, what is asked" });
    this.submit = el("button", { type: "submit", class: "primary", text: "Export" });
    this.progressEl = el("section", { class: "export-progress", "aria-live": "polite" });
    this.progressEl.hidden = true;
    this.resultEl = el("section", { class: "export-result" });
    this.resultEl.hidden = true;
    this.form = el("form", { class: "export-form", novalidate: true },
      el("fieldset", { class: "export-cameras" }, el("legend", { text: "Cameras" }),
        boxes.length ? boxes : el("p", { class: "muted", text: "No camera in your zones." })),
      el("fieldset", { class: "export-range" },
        el("legend", { text: `Range — local time (${this.timeZone})` }),
        el("label", { class: "field" }, el("span", { text: "From" }), this.startInput, this.startOffset),
        el("label", { class: "field" }, el("span", { text: "To" }), this.endInput, this.endOffset),
        this.durationEl),
      el("label", { class: "field" }, el("span", { text: "Reference (mandatory)" }), this.reference),
      el("label", { class: "field" }, el("span", { text: "Legal basis" }), this.basis, this.basisDetail),
      el("label", { class: "field" }, el("span", { text: "Reason" }), this.reason),
      el("div", { class: "export-actions" },
        el("button", { type: "button", text: "Cancel", onclick: () => this.requestClose() }), this.submit));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.body.replaceChildren(this.form, this.progressEl, this.resultEl);
    this.updateRange();
    if (unknown.length) this.say(`Not in your scope, left out: ${unknown.join(", ")}.`, "out_of_scope");
    this.reference.focus();
  }

  /** The range as instants, or a message saying what is wrong with it. */
  range() {
    const read = (name, input) => {
      if (this.exact[name] !== null) return { ms: this.exact[name], ambiguous: false };
      return fromLocalInput(input.value, this.timeZone);
    };
    const start = read("start", this.startInput);
    const end = read("end", this.endInput);
    if (!start || !end) {
      return { error: `Give a start and an end that exist in ${this.timeZone} local time `
        + "(the hour the clocks skip in spring does not)." };
    }
    const span = end.ms - start.ms;
    if (span <= 0) return { start, end, error: "The end must come after the start." };
    if (this.maxSeconds && span > this.maxSeconds * 1000) {
      return { start, end, error: `An export covers at most ${spanText(this.maxSeconds * 1000)}; this range is `
        + `${spanText(span)}. Split it into several exports under the same reference.` };
    }
    return { start, end, span };
  }

  updateRange() {
    const found = this.range();
    const offset = (point, target) => {
      target.textContent = point ? `${offsetText(offsetMinutes(point.ms, this.timeZone))}`
        + `${point.ambiguous ? " (the first of the two, clocks go back)" : ""}` : "";
    };
    offset(found.start, this.startOffset);
    offset(found.end, this.endOffset);
    this.durationEl.textContent = found.error || `Duration: ${spanText(found.span)}`;
    this.durationEl.classList.toggle("invalid", Boolean(found.error));
    return found;
  }

  async send() {
    const found = this.updateRange();
    const cameras = [...this.form.querySelectorAll("input[name=camera]:checked")].map((b) => b.value);
    const reference = this.reference.value.trim();
    const detail = this.basisDetail.value.trim();
    const reason = this.reason.value.trim();
    const problem = !cameras.length ? ["Tick at least one camera.", null]
      : found.error ? [found.error, this.startInput]
        : !reference ? ["The reference is mandatory: give the requisition or case number.", this.reference]
          : this.basis.value === OTHER && !detail ? ["State the legal basis.", this.basisDetail]
            : !reason ? ["Give the reason for the export.", this.reason] : null;
    if (problem) {
      this.say(problem[0], "invalid");
      if (problem[1]) problem[1].focus();
      return;
    }
    const basis = this.basis.value === OTHER ? detail : detail ? `${this.basis.value}: ${detail}` : this.basis.value;
    const body = {
      cameras,
      start: new Date(found.start.ms).toISOString(),
      end: new Date(found.end.ms).toISOString(),
      reference,
      legal_basis: basis,
      reason,
    };
    this.say("");
    this.setRunning(true);
    try {
      this.showJob(await postJson("/api/exports", body));
    } catch (err) {
      this.setRunning(false);
      this.say(err.message, err.code);
    }
  }

  setRunning(running) {
    for (const control of this.form.elements) control.disabled = running;
    this.dialog.dataset.state = running ? "running" : "";
  }

  showJob(job) {
    this.job = job;
    const percent = Math.floor((job.fraction || 0) * 100);
    const camera = job.camera ? this.cameraNames.get(job.camera) || job.camera : "";
    this.progressEl.hidden = false;
    this.progressEl.dataset.state = job.state;
    this.progressEl.replaceChildren(
      el("progress", { max: "1", value: String(job.fraction || 0) }),
      el("span", { class: "export-percent", text: `${percent} %` }),
      el("span", { class: "export-camera", text: job.state === "running"
        ? camera ? `Writing ${camera}…` : "Preparing…" : "" }),
      job.state === "running" ? el("p", { class: "muted",
        text: "The package is written on the hub: closing this window does not stop it." }) : null);
    if (job.state === "running") {
      this.poll = setTimeout(() => this.follow(), POLL_MS);
    } else if (job.state === "failed") {
      this.setRunning(false);
      this.say(job.error ? job.error.message : "The export failed.", job.error ? job.error.error : "failed");
    } else {
      this.dialog.dataset.state = "done";
      this.showResult(job);
    }
  }

  async follow() {
    this.poll = null;
    if (!this.job || !this.isConnected) return;
    try {
      this.showJob(await getJson(`/api/exports/${encodeURIComponent(this.job.id)}`));
    } catch (err) {
      if (err instanceof ApiError && err.status === 0) {
        this.say("The hub does not answer; retrying…", err.code);
        this.poll = setTimeout(() => this.follow(), POLL_MS * 4);
        return;
      }
      this.say(err.message, err.code);
    }
  }

  showResult(job) {
    const result = job.result;
    const href = `/api/exports/${encodeURIComponent(job.id)}/package.zip`;
    const hold = result.hold;
    const row = (label, value, cls) => [el("dt", { text: label }), el("dd", { class: cls, text: value })];
    const check = el("button", { type: "button", class: "link export-check", text: "Check the package in the browser",
      onclick: () => this.checkPackage(href, result.package_sha256, check) });
    this.resultEl.hidden = false;
    this.resultEl.replaceChildren(
      el("h3", { text: "Package ready" }),
      el("a", { class: "export-download", href, download: "", text: `Download package.zip (${sizeText(result.package_bytes)})` }),
      el("dl", { class: "export-facts" },
        row("Package SHA-256", result.package_sha256, "hash export-sha256"),
        row("Signing key (SHA-256)", result.public_key_sha256, "hash export-fingerprint"),
        row("Manifest SHA-256", result.manifest_sha256, "hash"),
        row("Register", `export ${result.export_id}`),
        hold ? row("Hold", `hold ${hold.hold_id} (${hold.reference}) on ${hold.cameras.join(", ")}, `
          + `${localStamp(hold.start, this.timeZone)} – ${localStamp(hold.end, this.timeZone)}; `
          + `${hold.expires ? `expires ${localStamp(hold.expires, this.timeZone)}` : "no expiry: kept until released"}`,
        "export-hold") : row("Hold", `hold ${result.hold_id}`, "export-hold")),
      el("p", { class: "muted", text: "After the download, sha256sum of the ZIP must print the package SHA-256; "
        + "unzipped, `cityhub export verify FOLDER` or VERIFY.txt inside checks every file and the signature." }),
      check,
      el("p", { class: "export-checked", role: "status" }));
    this.submit.hidden = true;
  }

  async checkPackage(href, expected, button) {
    const out = this.resultEl.querySelector(".export-checked");
    button.disabled = true;
    out.textContent = "Checking…";
    try {
      const response = await fetch(href, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`the hub answered ${response.status}`);
      const digest = await crypto.subtle.digest("SHA-256", await response.arrayBuffer());
      const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
      out.dataset.ok = String(hex === expected);
      out.textContent = hex === expected ? "The package the hub serves matches its SHA-256."
        : `Mismatch: the package reads ${hex}, not ${expected}. Do not hand it over; export again.`;
    } catch (err) {
      out.textContent = `Could not check: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  }

  requestClose() {
    if (!this.job || this.job.state !== "running") {
      this.dialog.close();
      return;
    }
    if (this.querySelector(".export-confirm")) return;
    const confirm = el("div", { class: "export-confirm", role: "alertdialog" },
      el("p", { text: "The export keeps running on the hub after this window closes; the package and its "
        + "hold will be there (ask the hub's register). Close anyway?" }),
      el("button", { type: "button", text: "Close", onclick: () => this.dialog.close() }),
      el("button", { type: "button", class: "primary", text: "Keep watching", onclick: () => confirm.remove() }));
    this.dialog.append(confirm);
    confirm.querySelector("button.primary").focus();
  }

  finish() {
    clearTimeout(this.poll);
    this.poll = null;
    this.remove();
    this.closedResolve(this.job);
  }
}

customElements.define("ch-export-dialog", ExportDialog);

/**
 * Open the export dialog with ``cameras`` (ids) ticked and the range ``from``..``to`` (Date,
 * ISO text or ms); resolves with the dialog element (its ``closed`` promise gives the job).
 */
export async function openExportDialog({ cameras = [], from = null, to = null } = {}) {
  const dialog = document.createElement("ch-export-dialog");
  dialog.wanted = { cameras: [...cameras], from: instant(from), to: instant(to) };
  document.body.append(dialog);
  return dialog;
}
