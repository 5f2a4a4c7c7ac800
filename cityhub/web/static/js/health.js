// <ch-health>: the health mode. Reads /api/health/report every few seconds: per camera its
// state (and since when), frame rate, bitrate, age of the last frame, recording, today's gaps
// and clock drift (highlighted beyond 5 s); the storage use and the retention forecast (days
// of footage the disk holds at the current rate, against the longest retention configured,
// with a warning when the disk, not the law, will decide what is kept).

import { getJson } from "./api.js";
import { el, sizeText } from "./util.js";

const REFRESH_MS = 4000;
const DRIFT_LIMIT_S = 5;
const STALE_FRAME_S = 10;

/** "12 s", "4 min", "3 h 05", "2 d 4 h" for a number of seconds. */
export function duration(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function dateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = new Date().toDateString() === date.toDateString();
  return date.toLocaleString([], today
    ? { hour: "2-digit", minute: "2-digit", hour12: false }
    : { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
}

export class Health extends HTMLElement {
  constructor() {
    super();
    this.user = null;
    this.timer = null;
    this.report = null;
    this.zoneNames = new Map();
  }

  connectedCallback() {
    this.classList.add("health", "mode-view");
    this.messageEl = el("p", { class: "health-message", role: "alert" });
    this.updatedEl = el("span", { class: "health-updated" });
    this.alarmsEl = el("p", { class: "health-alarms" });
    this.storageEl = el("section", { class: "health-storage", "aria-label": "Storage" });
    this.tableBody = el("tbody");
    const head = ["Camera", "Zone", "State", "FPS", "Bitrate", "Last frame", "Recording", "Gaps today", "Clock drift"];
    this.replaceChildren(
      el("div", { class: "health-bar" }, el("h2", { text: "Health" }), this.updatedEl),
      this.messageEl,
      this.alarmsEl,
      this.storageEl,
      el("table", { class: "health-cameras" },
        el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col", text: h })))),
        this.tableBody),
    );
    getJson("/api/cameras").then((data) => {
      this.zoneNames = new Map(data.zones.map((z) => [z.id, z.name]));
      if (this.report) this.render();
    }).catch(() => {}); // zone ids stand in for their names
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  disconnectedCallback() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async refresh() {
    try {
      this.report = await getJson("/api/health/report");
      this.messageEl.textContent = "";
      this.render();
    } catch (err) {
      this.messageEl.textContent = `Health unavailable: ${err.message}`;
    }
  }

  render() {
    const report = this.report;
    this.updatedEl.textContent = `${report.hub} · version ${report.version} · up ${duration(report.uptime_s)}`
      + ` · updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
    this.renderStorage(report.storage);
    const waiting = report.alarms ? report.alarms.unacknowledged : 0;
    this.alarmsEl.textContent = waiting ? `${waiting} logbook event${waiting > 1 ? "s" : ""} waiting for acknowledgement`
      : "No logbook event waiting for acknowledgement";
    this.alarmsEl.dataset.count = String(waiting);
    const now = Date.now();
    this.tableBody.replaceChildren(...(report.cameras.length ? report.cameras.map((camera) => {
      const main = camera.streams.main || Object.values(camera.streams)[0] || null;
      const lastAge = main && main.last_frame ? (now - new Date(main.last_frame).getTime()) / 1000 : null;
      const up = camera.state === "online";
      const since = camera.since ? dateTime(camera.since) : "";
      const stateText = up ? "Online" : since ? `${camera.state === "error" ? "In error" : camera.state === "disabled"
        ? "Disabled" : "Offline"} since ${since}` : camera.state;
      const drift = camera.clock_drift_s;
      const drifting = Number.isFinite(drift) && Math.abs(drift) > DRIFT_LIMIT_S;
      const gaps = camera.gaps_today || [];
      return el("tr", { class: `health-camera${up ? "" : " down"}`, dataset: { camera: camera.id, state: camera.state } },
        el("th", { scope: "row", text: camera.name }),
        el("td", { text: this.zoneNames.get(camera.zone) || camera.zone }),
        el("td", { class: "health-state", title: camera.reason || "", text: stateText }),
        el("td", { class: "num", text: main ? main.fps.toFixed(1) : "–" }),
        el("td", { class: "num", text: main ? `${Math.round(main.bitrate / 1000)} kbit/s` : "–" }),
        el("td", { class: `num${lastAge !== null && lastAge > STALE_FRAME_S ? " warn" : ""}`,
          text: lastAge === null ? "–" : `${duration(lastAge)} ago` }),
        el("td", { class: camera.recording ? "ok" : "muted", text: camera.recording ? "Yes" : "No" }),
        el("td", {
          class: `num${gaps.length ? " warn" : ""}`,
          title: gaps.map((g) => `${dateTime(g.start)}–${dateTime(g.end)}`).join("\n"),
          text: String(gaps.length),
        }),
        el("td", { class: `num health-drift${drifting ? " alert" : ""}`,
          text: Number.isFinite(drift) ? `${drift > 0 ? "+" : ""}${drift.toFixed(1)} s` : "–" }));
    }) : [el("tr", {}, el("td", { colspan: "9", text: "No camera in your zones" }))]));
  }

  renderStorage(storage) {
    if (!storage) {
      this.storageEl.replaceChildren(el("h3", { text: "Storage" }),
        el("p", { class: "muted", text: "No recording storage on this hub." }));
      return;
    }
    const usedShare = storage.total ? storage.used / storage.total : 0;
    const meter = el("meter", { min: "0", max: "1", low: "0.8", high: "0.9", optimum: "0", value: String(usedShare) });
    const days = storage.forecast_days;
    const daysText = days > 3650 ? "more than ten years" : `${days >= 10 ? Math.round(days) : days} days`;
    let forecast;
    if (storage.forecast_days === null || storage.forecast_days === undefined) {
      forecast = el("p", { class: "health-forecast", dataset: { state: "unknown" },
        text: "Retention forecast: nothing recorded over the last 24 hours to forecast from." });
    } else if (storage.forecast_short) {
      forecast = el("p", { class: "health-forecast", dataset: { state: "short" }, role: "alert" },
        `Retention forecast: ${daysText} of footage at the current rate, `
        + `shorter than the longest retention (${storage.longest_retention_days} days): the disk, not the `
        + "retention rules, will decide what is kept. Add storage or lower the bitrate.");
    } else {
      forecast = el("p", { class: "health-forecast", dataset: { state: "ok" },
        text: `Retention forecast: ${daysText} of footage at the current rate `
          + `(longest retention ${storage.longest_retention_days} days).` });
    }
    this.storageEl.replaceChildren(
      el("h3", { text: "Storage" }),
      el("div", { class: "health-usage" }, meter,
        el("span", { text: `${sizeText(storage.used)} used of ${sizeText(storage.total)} (${Math.round(usedShare * 100)} %), `
          + `${sizeText(storage.free)} free` }),
        storage.level ? el("span", { class: "health-level", dataset: { level: storage.level }, text: storage.level }) : null),
      el("p", { class: "muted", text: `Recorded over the last 24 hours: ${sizeText(storage.recorded_last_24h)}; `
        + `footage kept: ${sizeText(storage.footage)}.` }),
      forecast,
    );
  }
}

customElements.define("ch-health", Health);
