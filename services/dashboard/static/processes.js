// The Processes view: the tenant's running jobs with live progress, and the outcomes of the last 24 hours.

import { ApiError } from "./api.js";
import {
  JOB_TEXT, LiveSnapshot, STATE_TEXT, STATE_TONE, clear, duration, emptyState, errorBanner, h, icon, pill, progress, timeEl,
} from "./ui.js";

const OPEN = new Set(["requested", "running"]);
const RECENT_LIMIT = 50;

function newestFirst(key) {
  return (a, b) => String(b[key] || b.requested_at).localeCompare(String(a[key] || a.requested_at));
}

function connectionLink(p) {
  const name = p.connection_name || p.connection_id;
  return h("a", { href: `#/connections/${encodeURIComponent(p.connection_id)}` }, name);
}

export class ProcessesView {
  constructor(ctx) {
    this.ctx = ctx;
    this.title = "Processes";
    this.running = new Map();
    this.finished = new Map();
    this.error = null;
    this.live = new LiveSnapshot((change) => this.applyChange(change));
    this.onChange = (event) => this.live.offer(event.detail);
    this.refreshButton = h("button", { type: "button", class: "button icon-button", title: "Refresh", "aria-label": "Refresh", onclick: () => this.load() }, icon("refresh"));
    this.runningPanel = h("section", { class: "panel", "aria-labelledby": "running-title" });
    this.recentPanel = h("section", { class: "panel", "aria-labelledby": "recent-title" });
    this.errorSlot = h("div");
    this.element = h("section", { "aria-labelledby": "processes-title" },
      h("p", {}, h("a", { href: "#/connections", class: "button quiet" }, icon("back"), "Connections")),
      h("div", { class: "page-head" }, h("h1", { id: "processes-title" }, "Processes"), this.refreshButton),
      h("p", { class: "muted" }, "Jobs of your connections: credential checks, syncs, clean-ups and deletions. This page updates live."),
      this.errorSlot, this.runningPanel, this.recentPanel);
  }

  mount() {
    this.ctx.changes.addEventListener("change", this.onChange);
    this.ticker = setInterval(() => this.tick(), 1000);
    this.load();
  }

  unmount() {
    this.ctx.changes.removeEventListener("change", this.onChange);
    clearInterval(this.ticker);
  }

  reload() {
    return this.load();
  }

  load() {
    return this.live.load(
      () => Promise.all([
        this.ctx.api.view("/v1/processes", { state: "running", limit: 200 }),
        this.ctx.api.view("/v1/processes", { state: "finished", recent_hours: 24, limit: RECENT_LIMIT }),
      ]),
      (pages, error) => {
        if (error instanceof ApiError && error.status === 401) return;
        if (pages) {
          const [running, finished] = pages;
          this.running = new Map(running.items.map((p) => [p.process_id, p]));
          this.finished = new Map(finished.items.map((p) => [p.process_id, p]));
        }
        this.error = error;
        this.render();
      });
  }

  applyChange(change) {
    if (change.view !== "processes") return;
    const row = change.row;
    this.running.delete(change.key);
    this.finished.delete(change.key);
    if (row && OPEN.has(row.state)) this.running.set(change.key, row);
    else if (row) this.finished.set(change.key, row);
    this.render();
  }

  render() {
    clear(this.errorSlot);
    if (this.error) this.errorSlot.append(errorBanner(this.error, () => this.load()));
    const running = [...this.running.values()].sort(newestFirst("requested_at"));
    const finished = [...this.finished.values()].sort(newestFirst("ended_at")).slice(0, RECENT_LIMIT);

    clear(this.runningPanel).append(h("h2", { id: "running-title" }, `Running (${running.length})`),
      running.length ? h("table", { class: "cards", "aria-label": "Running processes" },
        h("thead", {}, h("tr", {}, ["Connection", "Job", "State", "Progress", "Started", "Running for", "Attempt"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, running.map((p) => h("tr", { dataset: { processId: p.process_id } },
          h("td", { "data-label": "Connection" }, connectionLink(p)),
          h("td", { "data-label": "Job" }, JOB_TEXT[p.kind] || p.kind),
          h("td", { "data-label": "State" }, pill(STATE_TEXT[p.state] || p.state, STATE_TONE[p.state])),
          h("td", { "data-label": "Progress" }, progress(p.done, p.total) || h("span", { class: "muted" }, p.detail || (p.state === "running" ? "Working…" : "Waiting for a worker…"))),
          h("td", { "data-label": "Started" }, timeEl(p.started_at || p.requested_at)),
          h("td", { "data-label": "Running for", class: "age", dataset: { since: p.started_at || p.requested_at } }, this.age(p.started_at || p.requested_at)),
          h("td", { "data-label": "Attempt" }, p.attempt ?? "—")))))
        : emptyState("No process is running", "Syncs and credential checks appear here while they run."));

    clear(this.recentPanel).append(h("h2", { id: "recent-title" }, "Recent outcomes (last 24 hours)"),
      finished.length ? h("table", { class: "cards", "aria-label": "Recent outcomes" },
        h("thead", {}, h("tr", {}, ["Connection", "Job", "Outcome", "Ended", "Duration", "Failure reason"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, finished.map((p) => h("tr", { dataset: { processId: p.process_id } },
          h("td", { "data-label": "Connection" }, connectionLink(p)),
          h("td", { "data-label": "Job" }, JOB_TEXT[p.kind] || p.kind),
          h("td", { "data-label": "Outcome" }, pill(STATE_TEXT[p.state] || p.state, STATE_TONE[p.state])),
          h("td", { "data-label": "Ended" }, timeEl(p.ended_at)),
          h("td", { "data-label": "Duration" }, duration(p.duration_seconds)),
          h("td", { "data-label": "Failure reason" }, p.message || p.detail || h("span", { class: "muted" }, "—"))))))
        : emptyState("Nothing finished in the last 24 hours"));
  }

  age(since) {
    if (!since) return "—";
    return duration(Math.max(0, (Date.now() - new Date(since).getTime()) / 1000));
  }

  tick() {
    for (const cell of this.runningPanel.querySelectorAll("td.age")) cell.textContent = this.age(cell.dataset.since);
  }
}
