// The Connections tab: the list with checkboxes, the toolbar for the selected rows, Refresh and Add.
//
// Rows are kept as long-lived elements updated in place, so a live change never takes the keyboard focus
// away from a checkbox or button the user is on.

import { ApiError } from "./api.js";
import {
  CREDENTIAL_TEXT, CREDENTIAL_TONE, LiveSnapshot, STATE_TEXT, STATE_TONE, clear, emptyState, errorBanner, h, icon, pill,
  progress, statusPill, timeEl, toast,
} from "./ui.js";

const VERBS = {
  sync: { button: "Synchronize", done: "Sync triggered", already: "Sync already requested" },
  disable: { button: "Disable", done: "Disabled", already: "Already inactive" },
  enable: { button: "Enable", done: "Enabled", already: "Already active" },
  delete: { button: "Delete", done: "Deletion started", already: "Already being deleted" },
};
const PAGE = 100;

function describe(verb, item, name) {
  switch (item.outcome) {
    case "done": return { kind: "done", text: VERBS[verb].done };
    case "already": return { kind: "already", text: VERBS[verb].already };
    case "refused": {
      // The service names connections by id; the list shows their names.
      const message = (item.message || item.reason_code || "").replaceAll(`connection ${item.connection_id}`, `"${name}"`);
      return { kind: "refused", text: `Refused: ${message}` };
    }
    default: return { kind: "not_found", text: "Not found (it may have been deleted meanwhile)" };
  }
}

function byName(a, b) {
  return a.name.localeCompare(b.name, undefined, { sensitivity: "base" }) || a.connection_id.localeCompare(b.connection_id);
}

class RowView {
  constructor(list, id) {
    this.id = id;
    this.check = h("input", { type: "checkbox", onchange: () => list.toggle(id, this.check.checked) });
    this.nameButton = h("button", { type: "button", class: "link-button", onclick: () => list.ctx.openEdit(id) });
    this.details = h("a", { href: `#/connections/${encodeURIComponent(id)}`, class: "small" }, "Details");
    this.outcome = h("span", { class: "outcome", role: "status" });
    this.cells = {
      driver: h("td", { "data-label": "Driver" }),
      status: h("td", { "data-label": "Status" }),
      credentials: h("td", { "data-label": "Credentials" }),
      sync: h("td", { "data-label": "Last sync" }),
    };
    this.element = h("tr", { dataset: { connectionId: id } },
      h("td", { class: "check" }, this.check),
      h("td", { "data-label": "Name", class: "name" }, this.nameButton, " ", this.details, this.outcome),
      this.cells.driver, this.cells.status, this.cells.credentials, this.cells.sync);
  }

  update(row, selected, outcome, driverName) {
    const name = row.name;
    this.check.checked = selected;
    this.check.setAttribute("aria-label", `Select ${name}`);
    this.element.setAttribute("aria-selected", selected ? "true" : "false");
    this.nameButton.textContent = name;
    this.nameButton.setAttribute("aria-label", `Edit ${name}`);
    this.details.setAttribute("aria-label", `Details of ${name}`);
    this.outcome.textContent = outcome ? outcome.text : "";
    this.outcome.className = `outcome ${outcome ? outcome.kind : ""}`;
    this.outcome.hidden = !outcome;
    clear(this.cells.driver).append(driverName);
    clear(this.cells.status).append(statusPill(row.status));
    const credentials = clear(this.cells.credentials);
    credentials.append(pill(CREDENTIAL_TEXT[row.credential_state] || row.credential_state, CREDENTIAL_TONE[row.credential_state]));
    if (row.credential_reason && row.credential_state !== "verified") {
      credentials.append(h("div", { class: "small muted" }, row.credential_reason));
    }
    this.renderSync(clear(this.cells.sync), row);
  }

  renderSync(cell, row) {
    if (row.status === "deleting") {
      cell.append(h("span", { class: "muted" }, row.deletion_step ? `Deletion: step ${row.deletion_step} done` : "Deletion requested"));
      return;
    }
    if (row.sync_state === "requested") {
      cell.append(pill("Sync requested", "info"));
    } else if (row.sync_state === "running") {
      cell.append(pill("Syncing", "info"), " ", progress(row.sync_done, row.sync_total));
    }
    if (row.last_sync_state) {
      const line = h("div", {}, pill(STATE_TEXT[row.last_sync_state] || row.last_sync_state, STATE_TONE[row.last_sync_state]), " ", timeEl(row.last_sync_at));
      cell.append(line);
      if (row.last_sync_error && row.last_sync_state !== "succeeded") cell.append(h("div", { class: "small muted" }, row.last_sync_error));
    } else if (!row.sync_state) {
      cell.append(h("span", { class: "muted" }, "Never"));
    }
  }
}

export class ConnectionsView {
  constructor(ctx) {
    this.ctx = ctx;
    this.title = "Connections";
    this.rows = new Map();
    this.views = new Map();
    this.selected = new Set();
    this.outcomes = new Map();
    this.driverNames = {};
    this.askedFor = new Set();
    this.nextCursor = null;
    this.loaded = false;
    this.live = new LiveSnapshot((change) => this.applyChange(change));
    this.onChange = (event) => this.live.offer(event.detail);

    this.selectAll = h("input", { type: "checkbox", "aria-label": "Select all", onchange: () => this.toggleAll(this.selectAll.checked) });
    this.count = h("span", { class: "count" });
    this.actionButtons = Object.entries(VERBS).map(([verb, meta]) => h("button", {
      type: "button", class: `button ${verb === "delete" ? "danger" : ""}`, onclick: () => this.act(verb),
    }, meta.button));
    this.toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Selected connections", hidden: true },
      this.count, this.actionButtons,
      h("button", { type: "button", class: "button quiet", onclick: () => this.clearSelection() }, "Clear selection"));
    this.heading = h("h1", { class: "list-title" }, "Connections");
    this.refreshButton = h("button", { type: "button", class: "button icon-button", title: "Refresh", "aria-label": "Refresh", onclick: () => this.refresh() }, icon("refresh"));
    this.summary = h("div", { class: "summary", role: "status", "aria-live": "polite" });
    this.tbody = h("tbody");
    this.table = h("table", { class: "cards", "aria-label": "Connections" },
      h("thead", {}, h("tr", {},
        h("th", { class: "check", scope: "col" }, this.selectAll),
        ["Name", "Driver", "Status", "Credentials", "Last sync"].map((t) => h("th", { scope: "col" }, t)))),
      this.tbody);
    this.more = h("button", { type: "button", class: "button", hidden: true, onclick: () => this.loadMore() }, "Load more");
    this.body = h("div", { class: "table-wrap", "aria-busy": "true" }, h("p", { class: "empty" }, "Loading connections…"));
    this.element = h("section", { "aria-labelledby": "tab-title" },
      ctx.tabs("connections"),
      h("div", { class: "list-head" }, this.heading, this.toolbar, this.refreshButton),
      this.summary,
      this.body,
      h("p", {}, this.more),
      h("button", { type: "button", class: "fab", "aria-label": "Add", title: "Add connection", onclick: () => ctx.openCreate() }, icon("add")));
    this.heading.id = "tab-title";
  }

  mount() {
    this.ctx.changes.addEventListener("change", this.onChange);
    this.loadDrivers(false);
    this.load();
  }

  /** Driver names for the Driver column (and whether any is installed, for the empty state). */
  loadDrivers(force) {
    this.ctx.installedDrivers(force).then((drivers) => {
      this.driverNames = Object.fromEntries(drivers.map((d) => [d.id, d.name]));
      this.noDrivers = drivers.length === 0;
      this.render();
    }).catch(() => {});
  }

  unmount() {
    this.ctx.changes.removeEventListener("change", this.onChange);
  }

  reload() {
    return this.load();
  }

  async refresh() {
    this.refreshButton.disabled = true;
    try {
      await this.load();
    } finally {
      this.refreshButton.disabled = false;
    }
  }

  load(minPosition = null) {
    this.body.setAttribute("aria-busy", "true");
    return this.live.load(
      () => this.ctx.api.view("/v1/connections", { limit: PAGE, min_position: minPosition }),
      (page, error) => {
        if (error instanceof ApiError && error.status === 401) return;
        if (page) {
          this.rows = new Map(page.items.map((row) => [row.connection_id, row]));
          this.nextCursor = page.next_cursor;
        }
        this.error = error;
        this.loaded = true;
        this.render();
      });
  }

  async loadMore() {
    try {
      const page = await this.ctx.api.view("/v1/connections", { limit: PAGE, cursor: this.nextCursor });
      for (const row of page.items) this.rows.set(row.connection_id, row);
      this.nextCursor = page.next_cursor;
    } catch (error) {
      this.error = error;
    }
    this.render();
  }

  applyChange(change) {
    if (change.view !== "connection_list" || !this.loaded) return;
    if (change.row) {
      this.rows.set(change.key, change.row);
    } else {
      this.rows.delete(change.key);
      this.selected.delete(change.key);
      this.outcomes.delete(change.key);
    }
    this.render();
  }

  toggle(id, on) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.render();
  }

  toggleAll(on) {
    this.selected = on ? new Set(this.rows.keys()) : new Set();
    this.render();
  }

  clearSelection() {
    this.selected.clear();
    this.render();
    this.selectAll.focus();
  }

  render() {
    const rows = [...this.rows.values()].sort(byName);
    const unknown = rows.map((row) => row.driver).filter((id) => !(id in this.driverNames) && !this.askedFor.has(id));
    if (unknown.length) {
      unknown.forEach((id) => this.askedFor.add(id)); // installed since the names were loaded: ask once more
      this.loadDrivers(true);
    }
    for (const id of [...this.selected]) if (!this.rows.has(id)) this.selected.delete(id);
    const n = this.selected.size;
    this.toolbar.hidden = n === 0;
    this.heading.hidden = n > 0;
    this.count.textContent = `${n} selected`;
    this.selectAll.checked = n > 0 && n === rows.length;
    this.selectAll.indeterminate = n > 0 && n < rows.length;
    this.more.hidden = !this.nextCursor;
    this.body.removeAttribute("aria-busy");

    const content = [];
    if (this.error) content.push(errorBanner(this.error, () => this.refresh()));
    if (!rows.length && !this.error) {
      const hint = this.noDrivers
        ? "No driver is installed yet: install one in the Drivers tab, then click the + (Add) button."
        : "Click the + (Add) button in the bottom right corner to create one.";
      content.push(emptyState("No connections yet", hint));
    }
    if (rows.length) content.push(this.table);
    const current = [...this.body.children];
    if (current.length !== content.length || current.some((el, i) => el !== content[i])) {
      clear(this.body).append(...content);
    }

    // Update rows in place; reorder only when the order changed (moving a row would drop its focus).
    const seen = new Set();
    rows.forEach((row) => {
      seen.add(row.connection_id);
      let view = this.views.get(row.connection_id);
      if (!view) {
        view = new RowView(this, row.connection_id);
        this.views.set(row.connection_id, view);
      }
      view.update(row, this.selected.has(row.connection_id), this.outcomes.get(row.connection_id),
        this.driverNames[row.driver] || row.driver);
    });
    for (const [id, view] of this.views) {
      if (!seen.has(id)) {
        view.element.remove();
        this.views.delete(id);
      }
    }
    const wanted = rows.map((row) => this.views.get(row.connection_id).element);
    const actual = [...this.tbody.children];
    if (wanted.length !== actual.length || wanted.some((el, i) => el !== actual[i])) {
      this.tbody.append(...wanted);
    }
  }

  async act(verb) {
    const ids = [...this.selected];
    if (!ids.length) return;
    const names = ids.map((id) => (this.rows.get(id) || {}).name || id);
    if (verb === "delete" && !(await confirmDelete(names))) return;
    this.actionButtons.forEach((b) => { b.disabled = true; });
    this.summary.replaceChildren(h("span", { class: "muted" }, `${VERBS[verb].button}: working…`));
    let result;
    try {
      result = await this.ctx.api.command("POST", `/v1/connections/${verb}`, { connection_ids: ids });
    } catch (error) {
      this.summary.replaceChildren(errorBanner(error));
      this.actionButtons.forEach((b) => { b.disabled = false; });
      return;
    }
    this.actionButtons.forEach((b) => { b.disabled = false; });
    if (!result.items || !result.items.length) {
      this.summary.replaceChildren(errorBanner(new Error(result.message || "The command was refused.")));
      return;
    }
    const counts = {};
    this.outcomes.clear(); // the rows show the outcome of the latest action only
    for (const item of result.items) {
      const outcome = describe(verb, item, (this.rows.get(item.connection_id) || {}).name || "the connection");
      this.outcomes.set(item.connection_id, outcome);
      counts[outcome.kind] = (counts[outcome.kind] || 0) + 1;
    }
    const parts = Object.entries(counts).map(([kind, count]) => `${count} ${kind === "not_found" ? "not found" : kind}`);
    this.summary.replaceChildren(h("span", {}, `${VERBS[verb].button}: ${parts.join(", ")}.`));
    if (verb === "sync" && (counts.done || counts.already)) {
      toast("Sync triggered", "Click Processes in the header to follow the running jobs.");
    }
    await this.load(result.position); // read-your-writes: the list shows the command's effect
  }
}

/** A confirmation for DELETE: deleting cannot be undone. Resolves true when confirmed. */
function confirmDelete(names) {
  return new Promise((resolve) => {
    const confirmButton = h("button", { type: "submit", class: "button danger primary", value: "delete" }, "Delete");
    const dialog = h("dialog", { "aria-labelledby": "confirm-title" },
      h("form", { method: "dialog" },
        h("div", { class: "dialog-head" }, h("h2", { id: "confirm-title" }, names.length === 1 ? "Delete connection?" : `Delete ${names.length} connections?`)),
        h("div", { class: "dialog-body" },
          h("p", {}, "Deleting removes the connection and its mirrored data model. It cannot be undone and may take a while."),
          h("ul", {}, names.map((name) => h("li", {}, name)))),
        h("div", { class: "dialog-foot" },
          h("button", { type: "submit", class: "button", value: "cancel" }, "Cancel"), confirmButton)));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "delete");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    confirmButton.focus();
  });
}
