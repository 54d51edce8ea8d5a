// Small DOM helpers shared by every view. Text always goes in as text nodes, never as HTML.

const SVG = "http://www.w3.org/2000/svg";

const ICONS = {
  add: "M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z",
  refresh: "M17.65 6.35A7.95 7.95 0 0 0 12 4a8 8 0 1 0 7.75 10h-2.08A6 6 0 1 1 12 6c1.66 0 3.14.69 4.22 1.78L13 11h7V4z",
  back: "M20 11H7.83l5.59-5.59L12 4l-8 8 8 8 1.41-1.41L7.83 13H20z",
  close: "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z",
};

/** An element: h("button", {class: "button", onclick: f, "aria-label": "x"}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "text") {
      el.textContent = value;
    } else if (key in el && typeof value !== "string") {
      el[key] = value; // properties such as checked, disabled, value
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A short pop-up at the bottom of the page ("Sync triggered"); errors stay until closed. */
export function toast(title, text = "", { kind = "info", timeout = 8000 } = {}) {
  const box = document.getElementById("toasts");
  const close = h("button", { type: "button", "aria-label": "Close notification", onclick: () => item.remove() }, "×");
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("div", {}, h("strong", { text: title }), text ? h("span", { text }) : null), close);
  box.append(item);
  if (kind !== "error" && timeout) setTimeout(() => item.remove(), timeout);
  return item;
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : DATE_TIME.format(date);
}

export function timeEl(iso) {
  return iso ? h("time", { datetime: iso, title: iso }, when(iso)) : h("span", { class: "muted" }, "—");
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 90 ? `${minutes} min ${Math.round(seconds % 60)} s` : `${(minutes / 60).toFixed(1)} h`;
}

const ACRONYMS = new Set(["url", "id", "api", "bm", "hnr", "sftp", "fba", "rest", "lwa"]);

/** "access_key_id" -> "Access key ID": the label of a form field named by its JSON key. */
export function label(key) {
  const words = String(key).split(/[_\s]+/).filter(Boolean).map((w) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w.toLowerCase()));
  if (!words.length) return String(key);
  const first = words[0];
  words[0] = first === first.toUpperCase() ? first : first[0].toUpperCase() + first.slice(1);
  return words.join(" ");
}

export const STATUS_TEXT = { active: "Active", inactive: "Inactive", deleting: "Deleting", deleted: "Deleted" };
export const CREDENTIAL_TEXT = {
  checking: "Checking…", verified: "Verified", rejected: "Rejected", check_failed: "Check failed",
};
export const CREDENTIAL_TONE = { checking: "info", verified: "ok", rejected: "bad", check_failed: "warn" };
export const JOB_TEXT = {
  check_credentials: "Credential check", sync: "Sync", clean_up: "Clean-up", deletion: "Deletion",
};
export const STATE_TEXT = {
  requested: "Requested", running: "Running", succeeded: "Succeeded", failed: "Failed",
  cancelled: "Cancelled", timed_out: "Timed out",
};
export const STATE_TONE = {
  requested: "info", running: "info", succeeded: "ok", failed: "bad", cancelled: "neutral", timed_out: "bad",
};

export function pill(text, tone) {
  return h("span", { class: `pill ${tone || "neutral"}` }, text);
}

export function statusPill(status) {
  return h("span", { class: `status ${status}` }, STATUS_TEXT[status] || status);
}

export function progress(done, total) {
  if (!total) {
    // Drivers that cannot tell the total in advance report how far they got: an indeterminate bar and the count.
    return done ? h("span", {}, h("progress", { "aria-label": "in progress" }), ` ${done} done so far`) : null;
  }
  const pct = Math.max(0, Math.min(100, Math.round((100 * (done || 0)) / total)));
  return h("span", {}, h("progress", { max: total, value: done || 0, "aria-label": `${pct} %` }), ` ${done || 0} / ${total}`);
}

export function emptyState(title, text) {
  return h("div", { class: "empty" }, h("strong", { text: title }), text ? h("span", { text }) : null);
}

export function errorBanner(error, retry) {
  return h("div", { class: "banner error", role: "alert" },
    h("span", {}, error.message || String(error)),
    retry ? h("button", { type: "button", class: "button danger", onclick: retry }, "Try again") : null);
}

/** Calls fn at most once per `ms`, with the latest arguments (bursts of live changes reload once). */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/**
 * A view's snapshot and the live changes around it. A change that arrives while the snapshot loads may be
 * newer than the snapshot (or older): it is kept and applied, in stream order, once the snapshot is in. The
 * stream delivers every change, so each row ends as its latest change says.
 */
export class LiveSnapshot {
  constructor(apply) {
    this.apply = apply;
    this.pending = null;
    this.loads = 0;
  }

  /** `fetch()` the snapshot, `install(result, error)` it, then apply the changes that came meanwhile. */
  async load(fetch, install) {
    const load = ++this.loads;
    if (!this.pending) this.pending = [];
    let result = null;
    let error = null;
    try {
      result = await fetch();
    } catch (failure) {
      error = failure;
    }
    if (load !== this.loads) return; // a newer load is under way: it applies the changes
    const pending = this.pending;
    this.pending = null;
    install(result, error);
    pending.forEach((change) => this.apply(change));
  }

  offer(change) {
    if (this.pending) this.pending.push(change);
    else this.apply(change);
  }
}
