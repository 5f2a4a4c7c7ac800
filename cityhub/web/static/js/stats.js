// <ch-logbook-stats>: the logbook's figures per zone over a period (the last 7 or 30 days, or
// a range of dates): events by type, acknowledged, false alarms, still waiting, mean time to
// acknowledge, notes and bookmarks, from /api/logbook/statistics; the same as CSV for the
// local security council. Dates are local days (the browser's time zone).

import { getJson } from "./api.js";
import { el } from "./util.js";

const PERIODS = [["7", "Last 7 days"], ["30", "Last 30 days"], ["range", "Dates…"]];

/** The UTC instants of a period: the last ``days`` days to now, or from/to local dates. */
export function periodRange(period, fromDate, toDate, now = new Date()) {
  if (period !== "range") {
    return { from: new Date(now.getTime() - Number(period) * 86400000), to: now };
  }
  const local = (text) => {
    const [y, m, d] = text.split("-").map(Number);
    return new Date(y, m - 1, d); // local midnight, whatever the offset that day
  };
  const from = local(fromDate);
  const to = local(toDate);
  to.setDate(to.getDate() + 1); // the last day is counted whole
  return { from, to };
}

/** "1 min 05 s" for a number of seconds, "" for none. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes} min ${String(whole % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

class LogbookStats extends HTMLElement {
  connectedCallback() {
    this.classList.add("logbook-stats");
    this.period = el("select", { name: "period", "aria-label": "Period", onchange: () => this.changed() },
      PERIODS.map(([value, text]) => el("option", { value, text })));
    this.period.value = "30";
    const today = new Date();
    const day = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    this.fromInput = el("input", { type: "date", name: "from", value: day(new Date(today.getTime() - 29 * 86400000)),
      "aria-label": "From", onchange: () => this.load() });
    this.toInput = el("input", { type: "date", name: "to", value: day(today), "aria-label": "To",
      onchange: () => this.load() });
    this.dates = el("span", { class: "stats-dates" }, this.fromInput, "–", this.toInput);
    this.dates.hidden = true;
    this.csv = el("a", { class: "stats-csv", text: "CSV", download: "statistics.csv" });
    this.message = el("p", { class: "stats-message", role: "alert" });
    this.table = el("table", { class: "stats-table" });
    this.replaceChildren(
      el("div", { class: "stats-bar" }, this.period, this.dates, this.csv), this.message, this.table);
    this.zoneNames = new Map();
    getJson("/api/cameras")
      .then((data) => { this.zoneNames = new Map(data.zones.map((z) => [z.id, z.name])); })
      .catch(() => {})
      .finally(() => this.load());
  }

  changed() {
    this.dates.hidden = this.period.value !== "range";
    this.load();
  }

  async load() {
    const { from, to } = periodRange(this.period.value, this.fromInput.value, this.toInput.value);
    if (!(to > from)) {
      this.message.textContent = "The last day comes before the first.";
      return;
    }
    const params = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
    this.csv.href = `/api/logbook/statistics.csv?${params}`;
    const ticket = (this.ticket = (this.ticket || 0) + 1);
    try {
      const data = await getJson(`/api/logbook/statistics?${params}`);
      if (ticket !== this.ticket) return;
      this.message.textContent = "";
      this.render(data.zones);
    } catch (err) {
      this.message.textContent = err.message;
    }
  }

  render(zones) {
    const head = ["Zone", "Events", "Acknowledged", "False alarms", "Waiting", "Mean time to ack.",
      "Notes", "Bookmarks"];
    const rows = zones.map((z) => {
      const name = z.zone === null ? "Whole installation" : this.zoneNames.get(z.zone) || z.zone;
      const kinds = Object.entries(z.events).map(([type, n]) => `${type.replace(/^\w+\./, "")} ${n}`).join(", ");
      return el("tr", { dataset: { zone: z.zone === null ? "" : z.zone } },
        el("th", { scope: "row", text: name }),
        el("td", { class: "num", title: kinds, text: String(z.total_events) }),
        el("td", { class: "num", text: String(z.acknowledged) }),
        el("td", { class: "num", text: String(z.false_alarms) }),
        el("td", { class: "num", text: String(z.waiting), dataset: { waiting: String(z.waiting) } }),
        el("td", { class: "num", text: duration(z.mean_ack_seconds) }),
        el("td", { class: "num", text: String(z.notes) }),
        el("td", { class: "num", text: String(z.bookmarks) }));
    });
    this.table.replaceChildren(
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows));
  }
}

customElements.define("ch-logbook-stats", LogbookStats);
