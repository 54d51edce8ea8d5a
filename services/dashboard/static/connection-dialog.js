// The Create connection and Edit connection views (modal dialogs).
//
// SAVE sends the command, then shows "Checking credentials..." until the credential check the command started
// has ended: the view closes and "Sync triggered" pops up when the connection is established; a rejection
// keeps the view open with the marketplace's reason. Secrets are password inputs, never filled with stored
// values: editing sends only the fields the user changed.

import { SchemaForm } from "./schema-form.js";
import { STATE_TEXT, clear, h, toast } from "./ui.js";

const SLOW_CHECK_MS = 45000;
const POLL_MS = 1500;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The job named `jobId` in a status document: null while unknown, else {job, ended}. */
function findJob(doc, jobId) {
  const recent = (doc.recent_jobs || []).find((j) => j.job_id === jobId);
  if (recent) return { job: recent, ended: true };
  const open = (doc.current_jobs || []).find((j) => j.job_id === jobId);
  return open ? { job: open, ended: false } : null;
}

export class ConnectionDialog {
  constructor(ctx) {
    this.ctx = ctx;
    this.connectionId = null; // set once the connection exists (editing, or created but rejected)
    this.waiting = null;
    this.title = h("h2", { id: "connection-dialog-title" });
    this.notice = h("div", { class: "notice-area" });
    this.body = h("div", { class: "dialog-body" });
    this.saveButton = h("button", { type: "submit", class: "button primary" }, "Save");
    this.cancelButton = h("button", { type: "button", class: "button", onclick: () => this.dialog.close() }, "Cancel");
    this.fields = h("fieldset", { class: "plain" });
    this.form = h("form", { novalidate: true },
      h("div", { class: "dialog-head" }, this.title),
      this.body,
      h("div", { class: "dialog-foot" }, this.cancelButton, this.saveButton));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.dialog = h("dialog", { "aria-labelledby": "connection-dialog-title", class: "connection-dialog" }, this.form);
    this.dialog.addEventListener("close", () => {
      if (this.waiting) this.waiting.cancel();
      this.dialog.remove();
    });
    this.body.append(this.fields, this.notice);
  }

  show() {
    document.body.append(this.dialog);
    this.dialog.showModal();
  }

  say(kind, ...content) {
    const role = kind === "error" ? "alert" : "status";
    clear(this.notice).append(h("div", { class: `notice ${kind}`, role }, kind === "checking" ? h("span", { class: "spinner", "aria-hidden": "true" }) : null, h("span", {}, ...content)));
  }

  busy(on) {
    this.fields.disabled = on;
    this.saveButton.disabled = on;
  }

  nameField(value = "") {
    this.name = h("input", { id: "connection-name", type: "text", required: true, maxLength: 255, value, autocomplete: "off" });
    return h("div", { class: "field" }, h("label", { for: "connection-name" }, "Name"), this.name);
  }

  // ---- Create connection -------------------------------------------------------------------------------

  async openCreate() {
    this.mode = "create";
    this.title.textContent = "Create connection";
    this.show();
    this.say("info", "Loading drivers…");
    let drivers;
    try {
      drivers = await this.ctx.installedDrivers(true);
    } catch (error) {
      this.say("error", `The installed drivers could not be loaded: ${error.message}`);
      return;
    }
    clear(this.notice);
    this.drivers = Object.fromEntries(drivers.map((d) => [d.id, d]));
    this.driver = h("select", { id: "connection-driver", required: true, onchange: () => this.showCredentials() },
      h("option", { value: "" }, drivers.length ? "Select a driver" : "No driver installed"),
      drivers.map((d) => h("option", { value: d.id }, d.name)));
    this.credentialsSection = h("section", { class: "credentials", "aria-labelledby": "credentials-title", hidden: true });
    this.fields.append(
      this.nameField(),
      h("div", { class: "field" }, h("label", { for: "connection-driver" }, "Driver"), this.driver,
        h("span", { class: "hint" }, "The drivers installed for your account. The driver cannot be changed later.")),
      this.credentialsSection);
    if (!drivers.length) {
      this.driver.disabled = true;
      this.saveButton.disabled = true;
      this.say("info", "No driver is installed yet. ", h("a", { href: "#/drivers", onclick: () => this.dialog.close() }, "Install one in the Drivers tab"), ", then add the connection.");
    }
    this.name.focus();
  }

  showCredentials() {
    const spec = this.drivers[this.driver.value];
    const section = clear(this.credentialsSection);
    this.credentials = null;
    section.hidden = !spec;
    if (!spec) return;
    this.credentials = new SchemaForm(spec.credentials_schema, { mode: "create", idPrefix: "credentials" });
    section.append(h("h3", { id: "credentials-title" }, "Credentials"),
      this.credentials.isEmpty ? h("p", { class: "muted" }, `${spec.name} needs no credentials.`) : this.credentials.element);
  }

  // ---- Edit connection -----------------------------------------------------------------------------------

  async openEdit(connectionId) {
    this.mode = "edit";
    this.connectionId = connectionId;
    this.title.textContent = "Edit connection";
    this.show();
    this.say("info", "Loading the connection…");
    let doc;
    let drivers;
    try {
      [doc, drivers] = await Promise.all([
        this.ctx.api.view(`/v1/connections/${encodeURIComponent(connectionId)}/status`),
        this.ctx.installedDrivers(),
      ]);
    } catch (error) {
      this.say("error", `The connection could not be loaded: ${error.message}`);
      this.saveButton.disabled = true;
      return;
    }
    clear(this.notice);
    this.doc = doc;
    let spec = drivers.find((d) => d.id === doc.driver);
    if (!spec) {
      const catalog = await this.ctx.api.commandsView("/v1/drivers/catalog").catch(() => []);
      spec = catalog.find((d) => d.id === doc.driver) || { id: doc.driver, name: doc.driver, credentials_schema: {}, settings_schema: {} };
    }
    this.credentials = new SchemaForm(spec.credentials_schema, { mode: "partial", idPrefix: "credentials" });
    this.settings = new SchemaForm(spec.settings_schema, { mode: "edit", values: doc.settings || {}, idPrefix: "settings" });
    const driverField = h("input", { id: "connection-driver", type: "text", readOnly: true, value: spec.name, "aria-describedby": "driver-hint" });
    this.fields.append(
      this.nameField(doc.name),
      h("div", { class: "field" }, h("label", { for: "connection-driver" }, "Driver"), driverField,
        h("span", { class: "hint", id: "driver-hint" }, "Read-only: the driver of a connection cannot be changed.")),
      this.tabs(spec),
      h("p", { class: "small" }, h("a", { href: `#/connections/${encodeURIComponent(connectionId)}`, onclick: () => this.dialog.close() }, "Open the connection's page")));
    if (doc.status === "deleting") {
      this.say("error", "This connection is being deleted and cannot be edited.");
      this.saveButton.disabled = true;
    }
    this.name.focus();
  }

  tabs(spec) {
    const panels = [];
    if (!this.credentials.isEmpty) {
      panels.push(["credentials", "Credentials", [
        h("p", { class: "hint muted small" }, "Stored credentials are never shown. Fill in only what changed; empty fields keep their stored value."),
        this.credentials.element]]);
    }
    if (!this.settings.isEmpty) panels.push(["settings", "Settings", [this.settings.element]]);
    if (!panels.length) return h("p", { class: "muted" }, `${spec.name} has neither credentials nor settings to edit.`);
    const tabs = [];
    const sections = [];
    const select = (index, focus) => {
      tabs.forEach((tab, i) => {
        tab.setAttribute("aria-selected", i === index ? "true" : "false");
        tab.tabIndex = i === index ? 0 : -1;
        sections[i].hidden = i !== index;
      });
      if (focus) tabs[index].focus();
    };
    panels.forEach(([key, text, content], index) => {
      const tab = h("button", {
        type: "button", role: "tab", id: `tab-${key}`, "aria-controls": `panel-${key}`,
        onclick: () => select(index, false),
        onkeydown: (event) => {
          const moves = { ArrowRight: 1, ArrowLeft: -1 };
          if (event.key in moves) {
            event.preventDefault();
            select((index + moves[event.key] + panels.length) % panels.length, true);
          }
        },
      }, text);
      tabs.push(tab);
      sections.push(h("div", { role: "tabpanel", id: `panel-${key}`, "aria-labelledby": `tab-${key}` }, content));
    });
    const wrap = h("div", {}, h("div", { class: "form-tabs", role: "tablist", "aria-label": "Connection details" }, tabs), sections);
    select(0, false);
    return wrap;
  }

  // ---- SAVE --------------------------------------------------------------------------------------------------

  async save() {
    if (!this.form.reportValidity()) return;
    const api = this.ctx.api;
    let result;
    let sentCredentials = false;
    this.busy(true);
    try {
      if (this.mode === "create" && !this.connectionId) {
        if (!this.driver.value) {
          this.busy(false);
          this.say("error", "Select a driver.");
          this.driver.focus();
          return;
        }
        const body = { name: this.name.value.trim(), driver: this.driver.value };
        if (this.credentials && !this.credentials.isEmpty) body.credentials = this.credentials.read().value;
        sentCredentials = true;
        result = await api.command("POST", "/v1/connections", body);
      } else {
        const body = this.changes();
        if (!body) {
          this.busy(false);
          this.say("info", "Nothing to save: no field was changed.");
          return;
        }
        sentCredentials = "credentials" in body;
        result = await api.command("PATCH", `/v1/connections/${encodeURIComponent(this.connectionId)}`, body);
      }
    } catch (error) {
      this.busy(false);
      this.say("error", error.message);
      return;
    }
    if (!result.accepted) {
      this.busy(false);
      const item = (result.items || [])[0];
      this.say("error", (item && item.message) || result.message || "The connection was refused.");
      return;
    }
    const item = result.items[0];
    this.connectionId = item.connection_id || this.connectionId;
    if (item.outcome === "already") {
      this.dialog.close();
      toast("Saved", "Nothing changed.");
      return;
    }
    if (!item.job_id) {
      this.dialog.close();
      toast("Saved", "The connection is not active, so no sync was triggered.");
      return;
    }
    if (sentCredentials) this.say("checking", "Checking credentials...");
    await this.follow(item.job_id, result.position);
  }

  /** The EditConnection body: only what changed; undefined when nothing did. */
  changes() {
    const body = {};
    const name = this.name.value.trim();
    if (name !== (this.doc ? this.doc.name : this.createdName)) body.name = name;
    if (this.credentials && !this.credentials.isEmpty) {
      const credentials = this.credentials.read().value;
      if (credentials && Object.keys(credentials).length) body.credentials = credentials;
    }
    if (this.settings && !this.settings.isEmpty) {
      const settings = this.settings.read().value;
      if (settings) body.settings = settings;
    }
    return Object.keys(body).length ? body : undefined;
  }

  /** Waits for the job the command started: a credential check until it ends, a sync until it is known. */
  async follow(jobId, position) {
    const id = this.connectionId;
    const started = Date.now();
    let slowShown = false;
    let found = null;
    let cancelled = false;
    let wake = () => {};
    const onChange = (event) => {
      const change = event.detail;
      if (change.view === "connection_status" && change.key === id && change.row) {
        const hit = findJob(change.row, jobId);
        if (hit && (hit.ended || hit.job.kind !== "check_credentials")) {
          found = { ...hit, doc: change.row };
          wake();
        }
      }
    };
    this.waiting = { cancel: () => { cancelled = true; wake(); } };
    this.ctx.changes.addEventListener("change", onChange);
    try {
      while (!found && !cancelled) {
        try {
          const doc = await this.ctx.api.view(`/v1/connections/${encodeURIComponent(id)}/status`, { min_position: position });
          const hit = findJob(doc, jobId);
          if (hit && (hit.ended || hit.job.kind !== "check_credentials")) found = found || { ...hit, doc };
        } catch {
          // the live stream may still deliver; keep waiting
        }
        if (found || cancelled) break;
        if (!slowShown && Date.now() - started > SLOW_CHECK_MS) {
          slowShown = true;
          this.say("checking", "Still checking credentials... You may close this view: the list shows the outcome.");
        }
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, POLL_MS);
        });
      }
    } finally {
      this.ctx.changes.removeEventListener("change", onChange);
      this.waiting = null;
    }
    if (cancelled || !found) return;
    const { job, doc } = found;
    if (job.kind !== "check_credentials" || job.state === "succeeded") {
      const name = doc.name || this.name.value;
      this.dialog.close();
      toast("Sync triggered", this.mode === "create"
        ? `The connection "${name}" is established; its initial sync has started.`
        : `The changes to "${name}" are saved; a sync has started.`);
      return;
    }
    this.busy(false);
    if (this.mode === "create") {
      this.createdName = doc.name;
      this.driver.disabled = true;
    }
    const reason = job.message || doc.credential_reason || STATE_TEXT[job.state] || job.state;
    const what = job.state === "failed" && job.error_type === "credentials_rejected" ? "The credentials were rejected" : `The credential check ${STATE_TEXT[job.state] ? STATE_TEXT[job.state].toLowerCase() : job.state}`;
    this.say("error", `${what}: ${reason}. `,
      this.mode === "create" ? "The connection was saved; correct the credentials and save again." : "Correct the credentials and save again.");
    this.form.querySelector('[id^="credentials-"]')?.focus();
  }
}
