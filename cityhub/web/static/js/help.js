// <ch-help>: the keyboard help overlay (?): every shortcut the loaded modules registered in
// keys.js, grouped by module. Esc, ? or a click outside closes it.

import { keyTables, registerKeys, typing } from "./keys.js";
import { el } from "./util.js";

export class Help extends HTMLElement {
  connectedCallback() {
    this.classList.add("help-overlay");
    this.setAttribute("role", "dialog");
    this.setAttribute("aria-label", "Keyboard shortcuts");
    this.tabIndex = -1;
    const card = el("div", { class: "help-card" },
      el("h2", { text: "Keyboard shortcuts" }),
      keyTables().map(({ group, entries }) => el("section", { class: "help-group", dataset: { group } },
        el("h3", { text: group }),
        el("dl", {}, entries.map(({ label, what }) => [
          el("dt", {}, el("kbd", { text: label })), el("dd", { text: what })]).flat()))),
      el("p", { class: "help-close" }, "Esc closes this help.",
        el("button", { type: "button", text: "Close", onclick: () => closeHelp() })));
    this.replaceChildren(card);
    this.addEventListener("click", (event) => {
      if (event.target === this) closeHelp();
    });
    this.focus();
  }
}

customElements.define("ch-help", Help);

/** The open overlay, or null. */
export function openHelp() {
  return document.querySelector("ch-help");
}

/** Show the overlay (built from the tables registered now). */
export function showHelp() {
  if (!openHelp()) document.body.append(document.createElement("ch-help"));
}

/** Close the overlay if it is open; true if it was. */
export function closeHelp() {
  const help = openHelp();
  if (help) help.remove();
  return Boolean(help);
}

/** Open or close the overlay. */
export function toggleHelp() {
  if (!closeHelp()) showHelp();
}

// The overlay's own keys work in every mode.
const HELP_KEYS = [
  { label: "?", what: "show or hide this help", match: (e) => e.key === "?", run: () => toggleHelp() },
  { label: "Esc", what: "close this help (elsewhere: leave full screen, a maximised tile)",
    match: (e) => e.key === "Escape" && Boolean(openHelp()), run: () => closeHelp() },
];
registerKeys("Panel", HELP_KEYS);

document.addEventListener("keydown", (event) => {
  if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  const entry = HELP_KEYS.find((k) => k.match(event));
  if (!entry) return;
  event.preventDefault();
  event.stopImmediatePropagation(); // an Esc that closes the help does nothing else
  entry.run();
}, true);
