// <ch-admin>: the admin mode, in sub-tabs by permission. Users (admins): every account with its
// role, zones, habilitation (expired ones stand out), second factor, state and last login; add
// one (its one-time password shown once), change role, zones and habilitation, disable or
// enable, reset the password. Audit (supervisors, admins): the log newest first, filtered by
// user, camera, action and time, a page at a time; the chain's verification; the CSV of what
// the filters select. Holds: the active holds in one's scope with the storage they keep from
// purge; place one; release one with a reason. <ch-holds> is usable on its own.

import { getJson, postJson, request } from "./api.js";
import { fromLocalInput, localStamp, toLocalInput } from "./export.js";
import { el, sizeText } from "./util.js";

const TIME_ZONE = "Europe/Paris";
const AUDIT_PAGE = 50;
const ROLES = ["admin", "supervisor", "operator", "viewer"];
const AUDIT_ACTIONS = [
  "auth.login", "auth.login_failed", "auth.logout", "auth.user_changed", "live.view_started",
  "live.view_stopped", "live.snapshot", "playback.started", "playback.stopped", "recording.export",
  "export.downloaded", "recording.hold", "recording.release", "recording.purged", "ptz.*",
  "camera.restart", "logbook.acknowledged", "logbook.note_added", "audit.read", "audit.exported",
];

function field(label, input, name) {
  return el("label", { class: "field", dataset: { field: name || input.name || "" } },
    el("span", { text: label }), input, el("span", { class: "field-error", role: "alert" }));
}

/** Today's date in the hub's time zone, as "YYYY-MM-DD". */
function today() {
  return toLocalInput(Date.now(), TIME_ZONE).slice(0, 10);
}

function dateTime(iso) {
  return iso ? localStamp(iso, TIME_ZONE) : "";
}

/** The form field a server message is about (by the words it uses), or "" for the form. */
function fieldOf(message) {
  const text = String(message || "").toLowerCase();
  if (/account name|account called|already exists/.test(text)) return "name";
  if (/zone/.test(text)) return "zones";
  if (/habilitation|expires|granted/.test(text)) return "habilitation";
  if (/role/.test(text)) return "role";
  if (/reason/.test(text)) return "reason";
  if (/reference|requisition/.test(text)) return "reference";
  if (/camera/.test(text)) return "cameras";
  if (/start|end|range|time/.test(text)) return "range";
  return "";
}

/** Show ``message`` next to the field it is about in ``form`` (or in ``fallback``). */
function showError(form, message, fallback) {
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  if (fallback) fallback.textContent = "";
  if (!message) return;
  const name = fieldOf(message);
  const target = name ? form.querySelector(`[data-field="${name}"] .field-error`) : null;
  if (target) target.textContent = message;
  else if (fallback) fallback.textContent = message;
}

function zonePicker(zones, chosen) {
  const all = chosen.includes("*");
  const box = (value, label, checked) => el("label", { class: "inline check" },
    el("input", { type: "checkbox", name: "zone", value, checked }), el("span", { text: label }));
  return el("div", { class: "zone-picker" }, box("*", "All zones", all),
    zones.map((z) => box(z.id, z.name, !all && chosen.includes(z.id))));
}

function pickedZones(form) {
  const picked = [...form.querySelectorAll("input[name=zone]:checked")].map((b) => b.value);
  return picked.includes("*") ? ["*"] : picked;
}

/** A habilitation's state on ``day``: "none", "valid", "expired" or "future". */
export function habilitationState(habilitation, day = today()) {
  if (!habilitation) return "none";
  if (habilitation.expires < day) return "expired";
  if (habilitation.granted > day) return "future";
  return "valid";
}

// --- users ---------------------------------------------------------------------------------

class Users extends HTMLElement {
  connectedCallback() {
    this.classList.add("admin-users");
    this.messageEl = el("p", { class: "admin-message", role: "alert" });
    this.secretEl = el("div", { class: "one-time-slot" });
    this.tableBody = el("tbody");
    this.formSlot = el("div");
    const head = ["Account", "Role", "Zones", "Habilitation", "2FA", "State", "Last login", ""];
    this.replaceChildren(
      el("div", { class: "admin-bar" }, el("h2", { text: "Users" }),
        el("button", { type: "button", class: "primary user-add", text: "Add a user", onclick: () => this.edit(null) })),
      this.messageEl, this.secretEl, this.formSlot,
      el("table", { class: "admin-table users" },
        el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col", text: h })))), this.tableBody));
    this.load();
  }

  async load() {
    try {
      const [users, cameras] = await Promise.all([getJson("/api/users"), getJson("/api/cameras")]);
      this.users = users;
      this.zones = cameras.zones;
      this.render();
    } catch (err) {
      this.messageEl.textContent = err.message;
    }
  }

  render() {
    const zoneName = new Map(this.zones.map((z) => [z.id, z.name]));
    this.tableBody.replaceChildren(...this.users.map((user) => {
      const hab = user.habilitation;
      const state = habilitationState(hab);
      const habText = hab ? `${hab.reference}, ${hab.granted} → ${hab.expires}` : "none";
      return el("tr", { class: `user${user.disabled ? " disabled" : ""}`, dataset: { name: user.name } },
        el("th", { scope: "row" }, user.name,
          user.display_name && user.display_name !== user.name ? el("div", { class: "muted", text: user.display_name }) : null),
        el("td", { class: "user-role", text: user.role }),
        el("td", { class: "user-zones", text: user.zones.map((z) => (z === "*" ? "all" : zoneName.get(z) || z)).join(", ") }),
        el("td", { class: `user-habilitation${state === "valid" ? "" : " expired"}`, dataset: { state } },
          habText, state === "expired" ? " (expired)" : state === "future" ? " (not yet in force)" : ""),
        el("td", { text: user.second_factor ? "on" : "off" }),
        el("td", { class: "user-state", text: user.disabled ? "disabled"
          : user.locked_until ? `locked until ${dateTime(user.locked_until)}`
            : user.must_change_password ? "must change password" : "active" }),
        el("td", { text: user.last_login_at ? dateTime(user.last_login_at) : "never" }),
        el("td", { class: "user-actions" },
          el("button", { type: "button", class: "link user-edit", text: "Change", onclick: () => this.edit(user) }),
          " ",
          el("button", { type: "button", class: "link user-toggle", text: user.disabled ? "Enable" : "Disable",
            onclick: () => this.patch(user.name, { disabled: !user.disabled },
              user.disabled ? `${user.name} is enabled again.` : `${user.name} is disabled; their sessions ended.`) }),
          " ",
          el("button", { type: "button", class: "link user-reset", text: "Reset password",
            onclick: () => this.confirmReset(user) }),
          user.locked_until ? el("button", { type: "button", class: "link", text: "Unlock",
            onclick: () => this.patch(user.name, { unlock: true }, `${user.name} is unlocked.`) }) : null));
    }));
  }

  showSecret(name, password) {
    const input = el("input", { class: "one-time-password", readonly: true, value: password, "aria-label": "One-time password" });
    const copy = el("button", { type: "button", text: "Copy", onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(password);
        copy.textContent = "Copied";
      } catch (err) {
        copy.textContent = "Press Ctrl+C";
      }
    } });
    this.secretEl.replaceChildren(el("div", { class: "one-time", role: "status" },
      el("span", { text: `One-time password of ${name} (shown once; they choose their own at first login):` }),
      input, copy,
      el("button", { type: "button", class: "link", text: "Done", onclick: () => this.secretEl.replaceChildren() })));
    input.select();
  }

  confirmReset(user) {
    const row = this.tableBody.querySelector(`tr[data-name="${CSS.escape(user.name)}"] .user-actions`);
    if (!row || row.querySelector(".user-reset-confirm")) return;
    row.append(el("div", { class: "user-reset-confirm" },
      el("span", { text: `Give ${user.name} a new one-time password and end their sessions? ` }),
      el("button", { type: "button", class: "primary", text: "Reset",
        onclick: () => this.patch(user.name, { reset_password: true }, `${user.name}'s password is reset.`) }),
      el("button", { type: "button", class: "link", text: "Cancel", onclick: (e) => e.currentTarget.parentElement.remove() })));
  }

  async patch(name, body, done) {
    this.messageEl.textContent = "";
    try {
      const answer = await request("PATCH", `/api/users/${encodeURIComponent(name)}`, body);
      if (answer.one_time_password) this.showSecret(name, answer.one_time_password);
      this.messageEl.textContent = done;
      await this.load();
      return answer;
    } catch (err) {
      this.messageEl.textContent = err.message;
      return null;
    }
  }

  edit(user) {
    const adding = user === null;
    const hab = user && user.habilitation;
    const name = el("input", { name: "name", autocomplete: "off", required: true, value: user ? user.name : "",
      disabled: !adding, placeholder: "e.g. j.martin" });
    // The name and the display name are set once, at creation (the registers keep naming people).
    const display = el("input", { name: "display_name", autocomplete: "off", value: user ? user.display_name : "",
      disabled: !adding });
    const role = el("select", { name: "role" }, ROLES.map((r) => el("option", { value: r, text: r,
      selected: (user ? user.role : "operator") === r })));
    const reference = el("input", { name: "habilitation_reference", autocomplete: "off", value: hab ? hab.reference : "",
      placeholder: "Order designating the agent" });
    const granted = el("input", { name: "habilitation_granted", type: "date", value: hab ? hab.granted : today() });
    const expires = el("input", { name: "habilitation_expires", type: "date", value: hab ? hab.expires : "" });
    const status = el("p", { class: "admin-message", role: "alert" });
    const submit = el("button", { type: "submit", class: "primary", text: adding ? "Create the account" : "Save" });
    const form = el("form", { class: "admin-form user-form", novalidate: true },
      el("h3", { text: adding ? "New account" : `Change ${user.name}` }),
      field("Account name", name, "name"), field("Display name", display, "display_name"),
      field("Role", role, "role"),
      el("div", { class: "field wide", dataset: { field: "zones" } }, el("span", { text: "Zones" }),
        zonePicker(this.zones, user ? user.zones : ["*"]), el("span", { class: "field-error", role: "alert" })),
      el("div", { class: "wide admin-bar", dataset: { field: "habilitation" } },
        field("Habilitation reference", reference, "habilitation"), field("Granted", granted, "habilitation"),
        field("Expires", expires, "habilitation")),
      status,
      el("div", { class: "actions" },
        el("button", { type: "button", text: "Cancel", onclick: () => this.formSlot.replaceChildren() }), submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const zones = pickedZones(form);
      if (adding && !name.value.trim()) return showError(form, "Give the account name (e.g. j.martin).", status);
      if (!zones.length) return showError(form, "Tick at least one zone (or all zones).", status);
      let habilitation = null;
      if (reference.value.trim() || expires.value) {
        if (!reference.value.trim() || !granted.value || !expires.value) {
          return showError(form, "A habilitation needs its reference, its date and its expiry.", status);
        }
        habilitation = { reference: reference.value.trim(), granted: granted.value, expires: expires.value };
      }
      const body = { role: role.value, zones, habilitation };
      if (adding && display.value.trim()) body.display_name = display.value.trim();
      submit.disabled = true;
      showError(form, "", status);
      try {
        if (adding) {
          const created = await postJson("/api/users", { name: name.value.trim(), ...body });
          this.showSecret(created.name, created.one_time_password);
          this.messageEl.textContent = `${created.name} is created.`;
        } else {
          await request("PATCH", `/api/users/${encodeURIComponent(user.name)}`, body);
          this.messageEl.textContent = `${user.name} is changed.`;
        }
        this.formSlot.replaceChildren();
        await this.load();
      } catch (err) {
        showError(form, err.message, status);
        submit.disabled = false;
      }
      return null;
    });
    this.formSlot.replaceChildren(form);
    (adding ? name : role).focus();
  }
}

customElements.define("ch-admin-users", Users);

// --- audit ---------------------------------------------------------------------------------

function describeDetails(details) {
  const parts = [];
  for (const [key, value] of Object.entries(details || {})) {
    if (value === null || value === undefined || value === "") continue;
    if (["client_address", "camera_id", "start", "end", "reason"].includes(key)) continue;
    const text = typeof value === "object" ? JSON.stringify(value) : String(value);
    parts.push(`${key.replace(/_/g, " ")}: ${text.length > 120 ? `${text.slice(0, 117)}…` : text}`);
  }
  return parts.join(" · ");
}

class Audit extends HTMLElement {
  connectedCallback() {
    this.classList.add("admin-audit");
    this.cameraNames = new Map();
    this.oldest = null;
    this.user = el("input", { name: "actor", list: "audit-users", autocomplete: "off", placeholder: "account" });
    this.camera = el("select", { name: "camera" }, el("option", { value: "", text: "All cameras" }));
    this.action = el("input", { name: "action", list: "audit-actions", autocomplete: "off", placeholder: "e.g. auth.login or ptz.*" });
    this.from = el("input", { name: "from", type: "datetime-local", step: "1" });
    this.to = el("input", { name: "to", type: "datetime-local", step: "1" });
    this.users = el("datalist", { id: "audit-users" });
    this.csv = el("a", { class: "audit-csv", download: "audit.csv", text: "Export CSV" });
    this.verifyOut = el("span", { class: "audit-verify", role: "status" });
    this.messageEl = el("p", { class: "admin-message", role: "alert" });
    this.tableBody = el("tbody");
    this.more = el("button", { type: "button", class: "audit-more", text: "Older entries", onclick: () => this.page(false) });
    this.more.hidden = true;
    const filters = el("form", { class: "admin-bar audit-filters" },
      field("User", this.user), field("Camera", this.camera), field("Action", this.action),
      field(`From (${TIME_ZONE})`, this.from), field("To", this.to),
      el("button", { type: "submit", class: "primary", text: "Filter" }),
      el("button", { type: "button", text: "Clear", onclick: () => {
        filters.reset();
        this.page(true);
      } }),
      this.users,
      el("datalist", { id: "audit-actions" }, AUDIT_ACTIONS.map((a) => el("option", { value: a }))));
    filters.addEventListener("submit", (event) => {
      event.preventDefault();
      this.page(true);
    });
    const head = ["#", "Time", "Who", "Action", "Camera", "Range", "Reason", "Client", "Details"];
    this.replaceChildren(
      el("div", { class: "admin-bar" }, el("h2", { text: "Audit log" }),
        el("button", { type: "button", class: "audit-verify-run", text: "Verify the chain", onclick: () => this.verify() }),
        this.verifyOut, this.csv),
      filters, this.messageEl,
      el("table", { class: "admin-table audit" },
        el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col", text: h })))), this.tableBody),
      this.more);
    this.start();
  }

  async start() {
    try {
      const cameras = await getJson("/api/cameras");
      this.cameraNames = new Map(cameras.cameras.map((c) => [c.id, c.name]));
      this.camera.append(...cameras.cameras.map((c) => el("option", { value: c.id, text: c.name })));
    } catch (err) {
      this.messageEl.textContent = err.message;
    }
    if (this.canSeeUsers) {
      getJson("/api/users").then((users) => {
        this.users.replaceChildren(...users.map((u) => el("option", { value: u.name })));
      }).catch(() => {}); // the list only helps typing
    }
    await this.page(true);
  }

  /** The filters as query parameters, or null with a message when a time is wrong. */
  filters() {
    const params = new URLSearchParams();
    const actor = this.user.value.trim();
    if (actor) params.set("actor", actor.includes(":") ? actor : `user:${actor}`);
    if (this.camera.value) params.set("camera", this.camera.value);
    if (this.action.value.trim()) params.set("action", this.action.value.trim());
    for (const [name, input] of [["from", this.from], ["to", this.to]]) {
      if (!input.value) continue;
      const found = fromLocalInput(input.value, TIME_ZONE);
      if (!found) {
        showError(this.querySelector(".audit-filters"), `${name}: this time does not exist in ${TIME_ZONE}.`, this.messageEl);
        return null;
      }
      params.set(name, new Date(found.ms).toISOString());
    }
    return params;
  }

  async page(first) {
    const params = this.filters();
    if (!params) return;
    this.csv.href = `/api/audit/export.csv${params.size ? `?${params}` : ""}`;
    params.set("order", "newest");
    params.set("limit", String(AUDIT_PAGE));
    if (!first && this.oldest !== null) params.set("before", String(this.oldest));
    this.messageEl.textContent = "";
    try {
      const entries = await getJson(`/api/audit?${params}`);
      const rows = entries.map((e) => this.row(e));
      if (first) this.tableBody.replaceChildren(...rows);
      else this.tableBody.append(...rows);
      if (first && !entries.length) this.tableBody.replaceChildren(el("tr", {}, el("td", { colspan: "9", class: "muted", text: "No entry" })));
      if (entries.length) this.oldest = entries[entries.length - 1].seq;
      this.more.hidden = entries.length < AUDIT_PAGE;
    } catch (err) {
      this.messageEl.textContent = err.message;
    }
  }

  row(entry) {
    const details = entry.details || {};
    const range = entry.start_ms !== null && entry.start_ms !== undefined
      ? `${dateTime(new Date(entry.start_ms).toISOString())} – ${entry.end_ms !== null ? dateTime(new Date(entry.end_ms).toISOString()) : ""}`
      : "";
    const cameras = entry.camera_id ? [entry.camera_id] : Array.isArray(details.cameras) ? details.cameras : [];
    return el("tr", { class: "audit-entry", dataset: { seq: String(entry.seq), action: entry.action, actor: entry.actor } },
      el("td", { class: "num", text: String(entry.seq) }),
      el("td", { text: dateTime(entry.time_utc) }),
      el("td", { class: "audit-actor", text: entry.actor.replace(/^user:/, "") }),
      el("td", { class: "audit-action", text: entry.action }),
      el("td", { class: "audit-camera", text: cameras.map((c) => this.cameraNames.get(c) || c).join(", ") }),
      el("td", { class: "audit-range", text: range }),
      el("td", { class: "audit-reason", text: entry.reason || "" }),
      el("td", { class: "audit-client", text: entry.client || "" }),
      el("td", { class: "audit-details", text: describeDetails(details) }));
  }

  async verify() {
    this.verifyOut.textContent = "Checking…";
    delete this.verifyOut.dataset.ok;
    try {
      const report = await getJson("/api/audit/verify");
      this.verifyOut.dataset.ok = String(report.ok);
      this.verifyOut.textContent = report.ok
        ? `Chain intact: ${report.checked} entries checked, up to #${report.last_seq}.`
        : `Chain broken at entry #${report.broken_seq}: ${report.problem}. Keep the database as it is and report it.`;
    } catch (err) {
      this.verifyOut.textContent = err.message;
    }
  }
}

customElements.define("ch-admin-audit", Audit);

// --- holds ---------------------------------------------------------------------------------

export class HoldsView extends HTMLElement {
  constructor() {
    super();
    this.user = null;
  }

  connectedCallback() {
    this.classList.add("admin-holds");
    const permissions = (this.user && this.user.permissions) || [];
    this.canRelease = permissions.includes("export");
    this.canHold = permissions.includes("hold");
    this.messageEl = el("p", { class: "admin-message", role: "alert" });
    this.totalEl = el("p", { class: "holds-total" });
    this.tableBody = el("tbody");
    this.formSlot = el("div");
    const head = ["Hold", "Reference", "Cameras", "Range", "Reason", "Placed", "Expiry", "Keeps from purge", ""];
    this.replaceChildren(
      el("div", { class: "admin-bar" }, el("h2", { text: "Holds" }),
        this.canHold ? el("button", { type: "button", class: "primary hold-add", text: "Place a hold", onclick: () => this.placeForm() }) : null),
      this.totalEl, this.messageEl, this.formSlot,
      el("table", { class: "admin-table holds" },
        el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col", text: h })))), this.tableBody));
    this.load();
  }

  async load() {
    try {
      const [holds, total, cameras] = await Promise.all([
        getJson("/api/holds"), getJson("/api/holds/storage"), getJson("/api/cameras")]);
      this.cameras = cameras.cameras;
      this.cameraNames = new Map(cameras.cameras.map((c) => [c.id, c.name]));
      this.totalEl.textContent = `Active holds keep ${sizeText(total.bytes)} (${total.segments} segments) from purge.`;
      this.totalEl.dataset.bytes = String(total.bytes);
      this.render(holds);
    } catch (err) {
      this.messageEl.textContent = err.message;
    }
  }

  render(holds) {
    this.tableBody.replaceChildren(...(holds.length ? holds.map((hold) => el("tr", {
      class: "hold", dataset: { id: String(hold.hold_id), reference: hold.reference } },
    el("td", { class: "num", text: String(hold.hold_id) }),
    el("td", { class: "hold-reference", text: hold.reference }),
    el("td", { text: hold.cameras.map((c) => this.cameraNames.get(c) || c).join(", ") }),
    el("td", { text: `${dateTime(hold.start)} – ${dateTime(hold.end)}` }),
    el("td", { text: hold.reason }),
    el("td", { text: `${hold.created_by.replace(/^user:/, "")}, ${dateTime(hold.created_at)}` }),
    el("td", { class: "hold-expiry", text: hold.expires ? dateTime(hold.expires) : "until released" }),
    el("td", { class: "num hold-bytes", text: `${sizeText(hold.held_bytes)} (${hold.held_segments} segments)` }),
    el("td", {}, this.canRelease ? el("button", { type: "button", class: "link hold-release-open", text: "Release",
      onclick: (e) => e.currentTarget.replaceWith(this.releaseForm(hold)) }) : null)))
      : [el("tr", {}, el("td", { colspan: "9", class: "muted", text: "No active hold" }))]));
  }

  releaseForm(hold) {
    const reason = el("input", { name: "release_reason", autocomplete: "off", "aria-label": "Reason for the release",
      placeholder: "Why the footage may go (case closed…)" });
    const confirm = el("button", { type: "submit", class: "primary", text: `Release hold ${hold.hold_id}` });
    const form = el("form", { class: "hold-release" }, reason, confirm,
      el("button", { type: "button", class: "link", text: "Cancel", onclick: () => this.load() }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!reason.value.trim()) {
        this.messageEl.textContent = "Give the reason for the release: it is kept with the hold.";
        reason.focus();
        return;
      }
      confirm.disabled = true;
      try {
        await postJson(`/api/holds/${hold.hold_id}/release`, { reason: reason.value.trim() });
        this.messageEl.textContent = `Hold ${hold.hold_id} (${hold.reference}) is released: its footage follows the retention rules again.`;
        await this.load();
      } catch (err) {
        this.messageEl.textContent = err.message;
        confirm.disabled = false;
      }
    });
    setTimeout(() => reason.focus(), 0);
    return form;
  }

  placeForm() {
    const now = Date.now();
    const from = el("input", { name: "start", type: "datetime-local", step: "1", value: toLocalInput(now - 3600 * 1000, TIME_ZONE) });
    const to = el("input", { name: "end", type: "datetime-local", step: "1", value: toLocalInput(now, TIME_ZONE) });
    const reference = el("input", { name: "reference", autocomplete: "off", placeholder: "Case or logbook reference" });
    const reason = el("input", { name: "reason", autocomplete: "off", placeholder: "What to keep and why" });
    const status = el("p", { class: "admin-message", role: "alert" });
    const submit = el("button", { type: "submit", class: "primary", text: "Place the hold" });
    const form = el("form", { class: "admin-form hold-form", novalidate: true },
      el("h3", { text: "Place a hold" }),
      el("div", { class: "field wide", dataset: { field: "cameras" } }, el("span", { text: "Cameras" }),
        el("div", { class: "zone-picker" }, this.cameras.map((c) => el("label", { class: "inline check" },
          el("input", { type: "checkbox", name: "camera", value: c.id }), el("span", { text: c.name })))),
        el("span", { class: "field-error", role: "alert" })),
      field(`From (${TIME_ZONE})`, from, "range"), field("To", to, "range"),
      field("Reference", reference, "reference"), field("Reason", reason, "reason"),
      status,
      el("div", { class: "actions" },
        el("button", { type: "button", text: "Cancel", onclick: () => this.formSlot.replaceChildren() }), submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const cameras = [...form.querySelectorAll("input[name=camera]:checked")].map((b) => b.value);
      const start = fromLocalInput(from.value, TIME_ZONE);
      const end = fromLocalInput(to.value, TIME_ZONE);
      const problem = !cameras.length ? "Tick at least one camera."
        : !start || !end ? `Give a start and an end that exist in ${TIME_ZONE} time.`
          : end.ms <= start.ms ? "The end of the range must come after its start."
            : !reference.value.trim() ? "Give the reference (case or logbook number)."
              : !reason.value.trim() ? "Give the reason for the hold." : "";
      if (problem) return showError(form, problem, status);
      submit.disabled = true;
      try {
        const hold = await postJson("/api/holds", {
          cameras, start: new Date(start.ms).toISOString(), end: new Date(end.ms).toISOString(),
          reference: reference.value.trim(), reason: reason.value.trim(),
        });
        this.messageEl.textContent = `Hold ${hold.hold_id} (${hold.reference}) is placed.`;
        this.formSlot.replaceChildren();
        await this.load();
      } catch (err) {
        showError(form, err.message, status);
        submit.disabled = false;
      }
      return null;
    });
    this.formSlot.replaceChildren(form);
  }
}

customElements.define("ch-holds", HoldsView);

// --- the mode ------------------------------------------------------------------------------

const TABS = [
  ["users", "Users", (p) => p.includes("users"), "ch-admin-users"],
  ["audit", "Audit", (p) => p.includes("audit"), "ch-admin-audit"],
  ["holds", "Holds", (p) => p.includes("hold") || p.includes("export"), "ch-holds"],
];

/** Whether ``me`` (from /api/auth/me) may use the admin mode at all. */
export function mayAdminister(me) {
  const permissions = (me && me.permissions) || [];
  return permissions.includes("users") || permissions.includes("audit");
}

export class Admin extends HTMLElement {
  constructor() {
    super();
    this.user = null;
  }

  connectedCallback() {
    this.classList.add("admin", "mode-view");
    const permissions = (this.user && this.user.permissions) || [];
    this.tabs = TABS.filter(([, , allowed]) => allowed(permissions));
    this.tabBar = el("nav", { class: "admin-tabs", role: "tablist", "aria-label": "Administration" },
      this.tabs.map(([id, label]) => el("button", { type: "button", role: "tab", dataset: { tab: id }, text: label,
        onclick: () => this.show(id) })));
    this.panel = el("div", { role: "tabpanel" });
    this.replaceChildren(this.tabBar, this.panel);
    if (!this.tabs.length) {
      this.panel.replaceChildren(el("p", { class: "admin-message",
        text: "Administration needs the users or the audit permission; ask an administrator." }));
      return;
    }
    this.show(this.tabs[0][0]);
  }

  /** Switch to the sub-tab ``id`` (users, audit, holds). */
  show(id) {
    const tab = this.tabs.find(([tabId]) => tabId === id) || this.tabs[0];
    const view = document.createElement(tab[3]);
    view.user = this.user;
    view.canSeeUsers = ((this.user && this.user.permissions) || []).includes("users");
    this.panel.replaceChildren(view);
    for (const button of this.tabBar.querySelectorAll("button")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === tab[0]));
    }
  }
}

customElements.define("ch-admin", Admin);
