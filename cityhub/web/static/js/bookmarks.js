// Bookmarks: <ch-bookmarks>, the list of bookmarks in the user's zones (last 7 days, or a tag),
// each with a link to its footage and a remove button for its author (or a supervisor); and
// openBookmarkDialog(), which live tiles and the playback timeline call to mark an instant or
// a range of a camera with a name, a note and tags.

import { getJson, postJson } from "./api.js";
import { dayTime, el } from "./util.js";

export const BOOKMARKS_CHANGED = "ch-bookmarks-changed";
const LIST_DAYS = 7;

/** The tags typed in a text field ("rixe, scooter"), cleaned. */
export function parseTags(text) {
  return [...new Set(String(text || "").split(/[,;]/).map((t) => t.trim().toLowerCase()).filter(Boolean))];
}

/**
 * Ask for a bookmark of ``camera`` (its id) at ``start`` (a Date), or over start..end, and save
 * it. Resolves with the saved bookmark, or null when the agent cancels.
 */
export function openBookmarkDialog({ camera, cameraName, start, end = null }) {
  return new Promise((resolve) => {
    const name = el("input", { name: "name", required: true, maxlength: "120", autocomplete: "off" });
    const note = el("textarea", { name: "note", rows: "3", maxlength: "2000" });
    const tags = el("input", { name: "tags", placeholder: "e.g. vehicle, fight", autocomplete: "off" });
    const message = el("p", { class: "form-message", role: "alert" });
    const when = end && end > start ? `${dayTime(start.toISOString())} – ${dayTime(end.toISOString())}`
      : dayTime(start.toISOString());
    const save = el("button", { type: "submit", text: "Save bookmark" });
    const form = el("form", { method: "dialog", class: "bookmark-form" },
      el("h2", { text: "Bookmark" }),
      el("p", { class: "muted", text: `${cameraName || camera}, ${when}` }),
      el("label", { class: "field" }, el("span", { text: "Name" }), name),
      el("label", { class: "field" }, el("span", { text: "Note" }), note),
      el("label", { class: "field" }, el("span", { text: "Tags (comma separated)" }), tags),
      message,
      el("div", { class: "dialog-buttons" }, save,
        el("button", { type: "button", class: "link", text: "Cancel", onclick: () => dialog.close() })));
    const dialog = el("dialog", { class: "bookmark-dialog" }, form);
    let saved = null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.textContent = "";
      save.disabled = true;
      const body = { camera_id: camera, name: name.value, note: note.value, tags: parseTags(tags.value) };
      if (end && end > start) Object.assign(body, { start: start.toISOString(), end: end.toISOString() });
      else body.time = start.toISOString();
      try {
        saved = await postJson("/api/bookmarks", body);
        window.dispatchEvent(new CustomEvent(BOOKMARKS_CHANGED, { detail: saved }));
        dialog.close();
      } catch (err) {
        message.textContent = err.message;
        save.disabled = false;
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(saved);
    });
    document.body.append(dialog);
    dialog.showModal();
    name.focus();
  });
}

class BookmarkList extends HTMLElement {
  constructor() {
    super();
    this.user = null;
    this.cameras = new Map();
    this.onChanged = () => this.load();
  }

  connectedCallback() {
    this.classList.add("bookmark-list");
    this.tag = el("input", { type: "search", name: "tag", placeholder: "Tag", "aria-label": "Tag",
      onchange: () => this.load() });
    this.message = el("p", { class: "bookmark-message", role: "alert" });
    this.list = el("ul", { class: "bookmarks", "aria-label": "Bookmarks" });
    this.replaceChildren(el("div", { class: "bookmark-bar" }, this.tag), this.message, this.list);
    window.addEventListener(BOOKMARKS_CHANGED, this.onChanged);
    getJson("/api/cameras")
      .then((data) => { this.cameras = new Map(data.cameras.map((c) => [c.id, c])); })
      .catch(() => {})
      .finally(() => this.load());
  }

  disconnectedCallback() {
    window.removeEventListener(BOOKMARKS_CHANGED, this.onChanged);
  }

  async load() {
    const params = new URLSearchParams();
    const tag = this.tag.value.trim();
    if (tag) params.set("tag", tag);
    else params.set("from", new Date(Date.now() - LIST_DAYS * 86400000).toISOString());
    try {
      const data = await getJson(`/api/bookmarks?${params}`);
      this.message.textContent = data.bookmarks.length ? "" : (tag ? `No bookmark tagged “${tag}”.`
        : `No bookmark in the last ${LIST_DAYS} days.`);
      this.render(data.bookmarks);
    } catch (err) {
      this.message.textContent = err.message;
    }
  }

  mayRemove(bookmark) {
    const me = this.user;
    return me && (bookmark.author === `user:${me.name}` || me.role === "admin" || me.role === "supervisor");
  }

  render(bookmarks) {
    const canPlay = this.user && (this.user.permissions || []).includes("playback");
    this.list.replaceChildren(...bookmarks.map((b) => {
      const camera = this.cameras.get(b.camera_id);
      const when = b.start === b.end ? dayTime(b.start) : `${dayTime(b.start)} – ${dayTime(b.end)}`;
      const footage = canPlay ? el("a", { class: "bookmark-footage", text: "Footage",
        href: `#playback?cameras=${encodeURIComponent(b.camera_id)}&t=${encodeURIComponent(b.start)}` }) : null;
      const remove = this.mayRemove(b) ? el("button", { type: "button", class: "link bookmark-remove",
        text: "Remove", onclick: () => this.remove(b) }) : null;
      return el("li", { class: "bookmark", dataset: { id: String(b.id) } },
        el("div", { class: "bookmark-head" },
          el("strong", { class: "bookmark-name", text: b.name }),
          el("span", { class: "muted", text: ` ${camera ? camera.name : b.camera_id} · ${when}` })),
        b.note ? el("p", { class: "bookmark-note", text: b.note }) : null,
        el("div", { class: "bookmark-foot" },
          b.tags.map((t) => el("span", { class: "tag", text: t })),
          el("span", { class: "muted", text: b.author.replace(/^user:/, "") }), footage, remove));
    }));
  }

  async remove(bookmark) {
    if (!window.confirm(`Remove the bookmark “${bookmark.name}”? It stays in the audit trail.`)) return;
    try {
      await postJson(`/api/bookmarks/${bookmark.id}/remove`);
      this.load();
    } catch (err) {
      this.message.textContent = err.message;
    }
  }
}

customElements.define("ch-bookmarks", BookmarkList);
