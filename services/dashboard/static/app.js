// The dashboard's entry point: sign-in, routing between the views, the live stream and the header.
//
// Routes (the URL's hash, so Back and bookmarks work):
//   #/connections          the Connections tab (default)
//   #/connections/<id>     one connection's page
//   #/processes            running jobs and recent outcomes
//   #/drivers              the driver catalog (install drivers)

import { Api, LiveStream, session } from "./api.js";
import { ConnectionDialog } from "./connection-dialog.js";
import { ConnectionPage } from "./connection-page.js";
import { ConnectionsView } from "./connections.js";
import { DriversView } from "./drivers.js";
import { ProcessesView } from "./processes.js";
import { LiveSnapshot, clear, h } from "./ui.js";

const main = document.getElementById("main");
const liveLabel = document.getElementById("live");
const runningBadge = document.getElementById("running-count");
const processesButton = document.getElementById("processes-button");

const changes = new EventTarget(); // live changes, for whichever view is shown
let current = null;
let signOutReason = null;

const api = new Api((message) => signOut(message || "The token was refused. Sign in again."));
const live = new LiveStream(api, {
  state: setLiveState,
  ready: () => {
    if (current && current.reload) current.reload();
    runningProcesses.load();
  },
  change: (body) => {
    if (body.view === "processes") runningProcesses.live.offer(body);
    changes.dispatchEvent(new CustomEvent("change", { detail: body }));
  },
  rebuilt: () => current && current.reload && current.reload(),
  resync: () => current && current.reload && current.reload(),
});

/** How many processes run now, for the badge on the Processes button. */
const runningProcesses = {
  open: new Set(),
  live: new LiveSnapshot((change) => runningProcesses.apply(change.row, change.key)),
  load() {
    // The badge is a hint: on errors it keeps its count (the Processes view shows the error).
    return this.live.load(() => api.view("/v1/processes", { state: "running", limit: 500 }), (page) => {
      if (page) this.open = new Set(page.items.map((p) => p.process_id));
      this.show();
    });
  },
  apply(row, key) {
    if (row && ["requested", "running"].includes(row.state)) this.open.add(key);
    else this.open.delete(key);
    this.show();
  },
  show() {
    const n = this.open.size;
    runningBadge.hidden = n === 0;
    runningBadge.textContent = String(n);
    processesButton.setAttribute("aria-label", n ? `Processes (${n} running)` : "Processes");
  },
};

function setLiveState(state) {
  liveLabel.dataset.state = state;
  liveLabel.textContent = state === "live" ? "Live" : state === "reconnecting" ? "Reconnecting…" : "Connecting…";
  liveLabel.title = state === "live" ? "Changes appear as they happen" : "Live updates paused; Refresh still works";
}

const context = {
  api,
  changes,
  navigate: (hash) => { location.hash = hash; },
  drivers: null,
  /** The tenant's installed drivers with their forms (commands API: the write side knows what is installed). */
  async installedDrivers(force = false) {
    if (!this.drivers || force) this.drivers = await api.commandsView("/v1/drivers");
    return this.drivers;
  },
  openCreate: () => new ConnectionDialog(context).openCreate(),
  openEdit: (id) => new ConnectionDialog(context).openEdit(id),
};

function route() {
  if (!session.token) return showLogin();
  document.getElementById("session-actions").hidden = false;
  const hash = location.hash || "#/connections";
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (current && current.unmount) current.unmount();
  clear(main);
  processesButton.removeAttribute("aria-current");
  if (parts[0] === "processes") {
    processesButton.setAttribute("aria-current", "page");
    current = new ProcessesView(context);
  } else if (parts[0] === "drivers") {
    current = new DriversView(context);
  } else if (parts[0] === "connections" && parts[1]) {
    current = new ConnectionPage(context, decodeURIComponent(parts[1]));
  } else {
    current = new ConnectionsView(context);
  }
  main.append(current.element);
  current.mount();
  document.title = `${current.title} · Omni-Channel`;
  live.start();
}

function tabs(active) {
  const tab = (href, text, name) => h("a", { href, "aria-current": active === name ? "page" : null }, text);
  return h("nav", { class: "tabs", "aria-label": "Settings" },
    tab("#/connections", "Connections", "connections"), tab("#/drivers", "Drivers", "drivers"));
}
context.tabs = tabs;

function showLogin() {
  live.stop();
  if (current && current.unmount) current.unmount();
  current = null;
  document.getElementById("session-actions").hidden = true;
  clear(main);
  document.title = "Sign in · Omni-Channel";
  const input = h("input", { id: "token", type: "password", autocomplete: "current-password", required: true, spellcheck: "false" });
  const error = h("p", { class: "notice error", role: "alert", hidden: !signOutReason }, signOutReason || "");
  const button = h("button", { type: "submit", class: "button primary" }, "Sign in");
  const form = h("form", { class: "panel login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title", class: "small-title" }, "Sign in"),
    h("p", { class: "muted" },
      "Paste an API token (development: the token `make up` prints, e.g. dev-admin-token). It is kept in this browser tab only and sent with every request."),
    h("div", { class: "field" }, h("label", { for: "token" }, "API token"), input),
    error,
    h("div", { class: "actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    error.hidden = true;
    session.token = token;
    try {
      await new Api(() => {}).view("/v1/connections", { limit: 1 });
      signOutReason = null;
      route();
    } catch (failure) {
      session.token = null;
      error.textContent = failure.status === 401 ? `The token was refused: ${failure.message}` : failure.message;
      error.hidden = false;
      button.disabled = false;
      input.focus();
    }
  });
  main.append(form);
  input.focus();
}

function signOut(reason = null) {
  session.token = null;
  context.drivers = null;
  signOutReason = reason;
  showLogin();
}

document.getElementById("sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
route();
