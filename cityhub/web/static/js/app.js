// <ch-app>: the panel's shell. Asks the hub who is logged in, then shows the login form, the
// forced password change, or the top bar (modes, user, logout) over the current mode: the live
// wall, playback, the logbook (with the count of events waiting for acknowledgement on its
// button), the health screen or the admin mode (users, audit, holds), each shown only to those
// who may use it. The address names the mode ("#logbook", "#playback?cameras=a&t=..."): a link
// there opens it; a window opened at "#monitor=NAME" is a wall monitor (the grid alone).
// A 401 from any call brings the login form back.

import { mayAdminister } from "./admin.js";
import { ApiError, SESSION_ENDED, getJson, postJson, setCsrfToken } from "./api.js";
import "./health.js";
import { AlarmBadge } from "./logbook.js";
import { monitorName } from "./monitor.js";
import "./playback.js";
import "./timeline.js";
import "./wall.js";
import { el } from "./util.js";

const MODES = [
  ["live", "Live", true],
  ["playback", "Playback", true],
  ["alarms", "Alarms", false],
  ["logbook", "Logbook", true],
  ["health", "Health", true],
  ["admin", "Admin", true],
];

const LOGIN_MESSAGES = {
  login_failed: "Wrong account name, password or code.",
  second_factor_required: "Enter the code from your authenticator app.",
};

function field(label, input) {
  return el("label", { class: "field" }, el("span", { text: label }), input);
}

class App extends HTMLElement {
  constructor() {
    super();
    this.me = null;
    this.badge = null;
    window.addEventListener(SESSION_ENDED, () => {
      if (this.me) this.showLogin("Your session has ended; log in again.");
    });
    window.addEventListener("hashchange", () => this.hashChanged());
  }

  async connectedCallback() {
    try {
      this.loggedIn(await getJson("/api/auth/me"));
    } catch (err) {
      this.showLogin(err instanceof ApiError && err.status === 401 ? "" : err.message);
    }
  }

  loggedIn(me) {
    this.me = me;
    setCsrfToken(me.csrf_token);
    if (me.must_change_password) this.showPasswordChange();
    else this.showShell();
  }

  showLogin(message) {
    this.me = null;
    if (this.badge) this.badge.stop();
    this.badge = null;
    setCsrfToken(null);
    const user = el("input", { name: "user", autocomplete: "username", required: true });
    const password = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const code = el("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code" });
    const codeField = field("Code", code);
    codeField.hidden = true;
    const status = el("p", { class: "form-message", role: "alert", text: message || "" });
    const submit = el("button", { type: "submit", text: "Log in" });
    const form = el("form", { class: "card login", "aria-label": "Log in" },
      el("h1", { text: "cityhub" }), field("Account", user), field("Password", password), codeField,
      status, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      status.textContent = "";
      const body = { user: user.value.trim(), password: password.value };
      if (!codeField.hidden && code.value.trim()) body.code = code.value.trim();
      try {
        this.loggedIn(await postJson("/api/auth/login", body));
      } catch (err) {
        if (err.code === "second_factor_required") {
          codeField.hidden = false;
          code.focus();
        }
        status.textContent = LOGIN_MESSAGES[err.code] || err.message;
        status.dataset.error = err.code || "";
        submit.disabled = false;
      }
    });
    this.replaceChildren(el("main", { class: "center" }, form));
    user.focus();
  }

  showPasswordChange() {
    const current = el("input", { name: "current", type: "password", autocomplete: "current-password", required: true });
    const next = el("input", { name: "new", type: "password", autocomplete: "new-password", required: true });
    const again = el("input", { name: "again", type: "password", autocomplete: "new-password", required: true });
    const status = el("p", { class: "form-message", role: "alert" });
    const submit = el("button", { type: "submit", text: "Change password" });
    const form = el("form", { class: "card password", "aria-label": "Change your password" },
      el("h1", { text: "Choose your password" }),
      el("p", { text: `${this.me.name}: your password is a one-time one. Choose your own before going on.` }),
      field("Current password", current), field("New password", next), field("New password again", again),
      status, submit,
      el("button", { type: "button", class: "link", text: "Log out", onclick: () => this.logout() }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.textContent = "";
      if (next.value !== again.value) {
        status.textContent = "The two new passwords differ.";
        return;
      }
      submit.disabled = true;
      try {
        this.loggedIn(await postJson("/api/auth/password", { current: current.value, new: next.value }));
      } catch (err) {
        status.textContent = err.message;
        status.dataset.error = err.code || "";
        submit.disabled = false;
      }
    });
    this.replaceChildren(el("main", { class: "center" }, form));
    current.focus();
  }

  showShell() {
    const me = this.me;
    // Viewers have no logbook permission: for them it stays out of reach; so does playback
    // for an account without the playback permission. The admin mode is for those who manage
    // accounts or read the audit log: others do not see it at all.
    const usable = (id, ready) => ready && !(id === "logbook" && me.role === "viewer")
      && !(id === "playback" && !(me.permissions || []).includes("playback"));
    const shown = MODES.filter(([id]) => id !== "admin" || mayAdminister(me));
    const modes = el("nav", { class: "modes", "aria-label": "Modes" }, shown.map(([id, label, ready]) =>
      usable(id, ready)
        ? el("button", { type: "button", class: "mode", dataset: { mode: id }, text: label,
          onclick: () => this.showMode(id) })
        : el("span", { class: "mode later", title: `${label}: coming in a later version`, dataset: { mode: id } },
          label, el("small", { text: "later" }))));
    const warning = me.habilitated ? null : el("span", { class: "warning",
      text: "No habilitation in force: video is refused. Ask an administrator." });
    const bar = el("header", { class: "topbar" },
      el("span", { class: "brand", text: "cityhub" }), modes, warning,
      el("span", { class: "user" }, el("span", { class: "user-name", text: me.name }),
        el("span", { class: "user-role", text: me.role })),
      el("button", { type: "button", class: "logout", text: "Log out", onclick: () => this.logout() }));
    this.modes = modes;
    this.view = el("div");
    this.replaceChildren(bar, this.view);
    const logbookButton = modes.querySelector("button[data-mode=logbook]");
    if (this.badge) this.badge.stop();
    this.badge = logbookButton ? new AlarmBadge(logbookButton) : null;
    if (monitorName()) {
      this.classList.add("monitor-window"); // a wall monitor: the grid alone, see wall.js
      this.showMode("live");
      return;
    }
    this.showMode(this.hashMode());
  }

  /** The usable mode the address names ("#playback?cameras=..." names playback), else live. */
  hashMode() {
    const wanted = location.hash.slice(1).split("?")[0];
    return this.modes && this.modes.querySelector(`button[data-mode="${CSS.escape(wanted)}"]`) ? wanted : "live";
  }

  /** A link changed the address (the logbook's "Footage", L in playback): open what it names. */
  hashChanged() {
    if (!this.me || !this.modes || !this.modes.isConnected || monitorName()) return;
    this.showMode(this.hashMode());
  }

  /** Switch the main view to mode ``id`` (live, playback, logbook, health, admin). */
  showMode(id) {
    const tags = { live: "ch-wall", playback: "ch-playback", logbook: "ch-logbook", health: "ch-health",
      admin: "ch-admin" };
    const view = document.createElement(tags[id]);
    view.user = this.me;
    if (id === "live") view.monitor = monitorName();
    this.view.replaceWith(view);
    this.view = view;
    for (const button of this.modes.querySelectorAll("button.mode")) {
      const current = button.dataset.mode === id;
      button.classList.toggle("active", current);
      if (current) button.setAttribute("aria-current", "page");
      else button.removeAttribute("aria-current");
    }
    // Playback keeps its cameras and instant in the address ("#playback?cameras=...&t=...");
    // a monitor window keeps "#monitor=NAME".
    if (!monitorName() && (location.hash.slice(1).split("?")[0] !== id || id === "live")) {
      history.replaceState(null, "", id === "live" ? location.pathname : `#${id}`);
    }
  }

  async logout() {
    try {
      await postJson("/api/auth/logout");
    } catch (err) {
      // the session may already be gone: the login form is the right place either way
    }
    this.showLogin("You are logged out.");
  }
}

customElements.define("ch-app", App);
