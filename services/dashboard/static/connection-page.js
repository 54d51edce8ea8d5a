// A connection's page: status, current jobs with progress, job history with failure reasons, the mirrored
// data model (attribute sets and attributes, as DataHub sees them) and the audit timeline. Live.

import {
  CREDENTIAL_TEXT, CREDENTIAL_TONE, JOB_TEXT, LiveSnapshot, STATE_TEXT, STATE_TONE, clear, debounce, duration, emptyState,
  errorBanner, h, icon, pill, progress, statusPill, timeEl, toast,
} from "./ui.js";

const MODEL_PAGE = 50;
const AUDIT_PAGE = 30;

function labelOf(document) {
  const labels = (document && document.labels) || {};
  return labels["en-GB"] || labels.en || labels.default || Object.values(labels)[0] || "";
}

function jobTable(jobs, caption, { withProgress = false } = {}) {
  return h("table", { class: "cards" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, ["Job", "State", "Attempt", "Requested", withProgress ? "Progress" : "Ended", "Duration", "Reason / failure"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, jobs.map((job) => h("tr", {},
      h("td", { "data-label": "Job" }, JOB_TEXT[job.kind] || job.kind),
      h("td", { "data-label": "State" }, pill(STATE_TEXT[job.state] || job.state, STATE_TONE[job.state])),
      h("td", { "data-label": "Attempt" }, job.attempt ?? "—"),
      h("td", { "data-label": "Requested" }, timeEl(job.requested_at)),
      withProgress
        ? h("td", { "data-label": "Progress" }, progress(job.done, job.total) || h("span", { class: "muted" }, job.state === "running" ? "Running…" : "Waiting for a worker…"))
        : h("td", { "data-label": "Ended" }, timeEl(job.ended_at)),
      h("td", { "data-label": "Duration" }, duration(job.duration_seconds)),
      h("td", { "data-label": "Reason / failure" },
        job.message ? h("div", { class: job.state === "succeeded" ? "" : "failure" }, job.message) : null,
        job.error_type ? h("div", { class: "small muted code" }, job.error_type) : null,
        job.reason ? h("div", { class: "small muted" }, `Requested: ${job.reason}`) : null,
        !job.message && !job.reason && !job.error_type ? h("span", { class: "muted" }, "—") : null)))));
}

export class ConnectionPage {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = id;
    this.title = "Connection";
    this.doc = null;
    this.live = new LiveSnapshot((change) => this.applyChange(change));
    this.onChange = (event) => this.live.offer(event.detail);
    this.reloadModel = debounce(() => this.loadModel(), 300);
    this.reloadAudit = debounce(() => this.loadAudit(), 300);

    this.heading = h("h1", { id: "connection-title" }, "Connection");
    this.editButton = h("button", { type: "button", class: "button", onclick: () => ctx.openEdit(id) }, "Edit");
    this.syncButton = h("button", { type: "button", class: "button", onclick: () => this.sync() }, "Synchronize");
    this.deletedBanner = h("div", { class: "banner warn", role: "status", hidden: true }, "This connection has been deleted.");
    this.statusPanel = h("section", { class: "panel", "aria-labelledby": "status-title" }, h("h2", { id: "status-title" }, "Status"), h("p", { class: "muted" }, "Loading…"));
    this.jobsPanel = h("section", { class: "panel", "aria-labelledby": "jobs-title" }, h("h2", { id: "jobs-title" }, "Jobs"));
    this.modelPanel = h("section", { class: "panel", "aria-labelledby": "model-title" }, h("h2", { id: "model-title" }, "Data model (DataHub)"));
    this.auditPanel = h("section", { class: "panel", "aria-labelledby": "audit-title" }, h("h2", { id: "audit-title" }, "Audit timeline"));
    this.element = h("section", { "aria-labelledby": "connection-title", class: "connection-page" },
      h("p", {}, h("a", { href: "#/connections", class: "button quiet" }, icon("back"), "Connections")),
      h("div", { class: "page-head" }, this.heading, h("div", { class: "actions" }, this.syncButton, this.editButton)),
      this.deletedBanner,
      this.statusPanel, this.jobsPanel, this.modelPanel, this.auditPanel);

    this.attributeQuery = "";
    this.setFilter = null;
  }

  mount() {
    this.ctx.changes.addEventListener("change", this.onChange);
    this.ctx.installedDrivers().then(() => this.doc && this.renderStatus()).catch(() => {});
    this.reload();
  }

  unmount() {
    this.ctx.changes.removeEventListener("change", this.onChange);
  }

  reload() {
    this.loadStatus();
    this.loadModel();
    this.loadAudit();
  }

  applyChange(change) {
    if (change.view === "connection_status" && change.key === this.id) {
      if (change.row) {
        this.doc = change.row;
        this.renderStatus();
      } else {
        this.deletedBanner.hidden = false;
      }
    } else if (change.view === "connection_list" && change.key === this.id && !change.row) {
      this.deletedBanner.hidden = false;
      this.syncButton.disabled = this.editButton.disabled = true;
    } else if (change.view === "data_model" && change.key === this.id) {
      this.reloadModel();
    } else if (change.view === "audit" && change.row && change.row.connection_id === this.id) {
      this.reloadAudit();
    }
  }

  loadStatus() {
    return this.live.load(() => this.ctx.api.view(`/v1/connections/${encodeURIComponent(this.id)}/status`), (doc, error) => {
      if (doc) {
        this.doc = doc;
        this.renderStatus();
        return;
      }
      const text = error.status === 404 ? "No such connection (it may have been deleted)." : error.message;
      clear(this.statusPanel).append(h("h2", { id: "status-title" }, "Status"), errorBanner(new Error(text), error.status === 404 ? null : () => this.reload()));
      clear(this.jobsPanel);
      this.syncButton.disabled = this.editButton.disabled = true;
    });
  }

  renderStatus() {
    const doc = this.doc;
    this.heading.textContent = doc.name;
    document.title = `${doc.name} · Omni-Channel`;
    const deleted = doc.status === "deleted" || doc.status === "deleting";
    this.deletedBanner.hidden = doc.status !== "deleted";
    this.syncButton.disabled = doc.status !== "active";
    this.editButton.disabled = deleted;
    const driverName = ((this.ctx.drivers || []).find((d) => d.id === doc.driver) || {}).name || doc.driver;
    const settings = Object.entries(doc.settings || {});
    clear(this.statusPanel).append(
      h("h2", { id: "status-title" }, "Status"),
      h("dl", { class: "facts" },
        h("dt", {}, "Status"), h("dd", {}, statusPill(doc.status), doc.deletion_step ? ` step ${doc.deletion_step} of ${(doc.deletion_steps || []).length || "?"}` : ""),
        h("dt", {}, "Driver"), h("dd", {}, driverName),
        h("dt", {}, "Credentials"), h("dd", {},
          pill(CREDENTIAL_TEXT[doc.credential_state] || doc.credential_state, CREDENTIAL_TONE[doc.credential_state]),
          doc.credential_reason ? h("div", { class: "small" }, doc.credential_reason) : null,
          h("div", { class: "small muted" }, "Checked ", timeEl(doc.credential_checked_at), " · changed ", timeEl(doc.credentials_changed_at))),
        h("dt", {}, "Last sync"), h("dd", {},
          doc.last_sync_state ? pill(STATE_TEXT[doc.last_sync_state] || doc.last_sync_state, STATE_TONE[doc.last_sync_state]) : h("span", { class: "muted" }, "Never"),
          " ", doc.last_sync_at ? timeEl(doc.last_sync_at) : null,
          doc.last_sync_error ? h("div", { class: "small" }, doc.last_sync_error) : null),
        h("dt", {}, "Created"), h("dd", {}, timeEl(doc.created_at)),
        h("dt", {}, "Settings"), h("dd", {}, settings.length
          ? h("ul", { class: "small" }, settings.map(([k, v]) => h("li", {}, h("span", { class: "code" }, k), ": ", typeof v === "string" ? v : JSON.stringify(v))))
          : h("span", { class: "muted" }, "None"))));

    const current = doc.current_jobs || [];
    const recent = doc.recent_jobs || [];
    clear(this.jobsPanel).append(
      h("h2", { id: "jobs-title" }, "Jobs"),
      h("h3", {}, "Running"),
      current.length ? jobTable(current, "Running jobs", { withProgress: true }) : h("p", { class: "muted" }, "No job is running."),
      h("h3", {}, "History"),
      recent.length ? jobTable(recent, "Job history") : h("p", { class: "muted" }, "No job has ended yet."));
  }

  async sync() {
    try {
      const result = await this.ctx.api.command("POST", "/v1/connections/sync", { connection_ids: [this.id] });
      const item = (result.items || [])[0];
      if (item && (item.outcome === "done" || item.outcome === "already")) toast("Sync triggered", "Follow it under Jobs or in Processes.");
      else toast("Not synchronized", (item && item.message) || result.message || "", { kind: "error" });
    } catch (error) {
      toast("Not synchronized", error.message, { kind: "error" });
    }
  }

  // ---- data model ------------------------------------------------------------------------------------

  async loadModel() {
    const base = `/v1/connections/${encodeURIComponent(this.id)}/data-model`;
    try {
      const [summary, sets, attributes] = await Promise.all([
        this.ctx.api.view(base),
        this.ctx.api.view(`${base}/sets`, { limit: MODEL_PAGE }),
        this.ctx.api.view(`${base}/attributes`, { limit: MODEL_PAGE, q: this.attributeQuery, set: this.setFilter }),
      ]);
      this.renderModel(summary, sets, attributes);
    } catch (error) {
      if (error.status === 404) return; // the status panel says so
      clear(this.modelPanel).append(h("h2", { id: "model-title" }, "Data model (DataHub)"), errorBanner(error, () => this.loadModel()));
    }
  }

  renderModel(summary, sets, attributes) {
    const last = summary.last_sync;
    const panel = clear(this.modelPanel);
    panel.append(h("h2", { id: "model-title" }, "Data model (DataHub)"));
    if (!summary.attributes && !summary.sets && !last) {
      panel.append(emptyState("Nothing mirrored yet", "The first sync mirrors the marketplace's attributes and attribute sets."));
      return;
    }
    panel.append(h("p", {}, `${summary.attributes} attributes in ${summary.sets} attribute sets.`,
      last ? h("span", { class: "muted" }, " Last change ", timeEl(last.at),
        `: attributes +${last.attributes_added} ~${last.attributes_changed} −${last.attributes_removed}, sets +${last.sets_added} ~${last.sets_changed} −${last.sets_removed}.`) : null));

    const setRows = sets.items.map((set) => h("tr", {},
      h("td", { "data-label": "Code", class: "code" }, set.code),
      h("td", { "data-label": "Label" }, labelOf(set.document) || "—"),
      h("td", { "data-label": "Attributes" }, h("button", {
        type: "button", class: "link-button", "aria-label": `Show the ${set.attribute_count} attributes of ${set.code}`,
        onclick: () => { this.setFilter = set.code; this.loadModel(); },
      }, String(set.attribute_count)))));
    panel.append(h("div", { class: "grid-2" },
      h("div", {}, h("h3", {}, "Attribute sets"),
        sets.items.length
          ? h("table", { class: "cards", "aria-label": "Attribute sets" }, h("thead", {}, h("tr", {}, ["Code", "Label", "Attributes"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, setRows))
          : h("p", { class: "muted" }, "No attribute sets."),
        sets.next_cursor ? h("p", { class: "small muted" }, `Showing the first ${sets.items.length}.`) : null),
      h("div", {}, this.attributesBlock(attributes))));
  }

  attributesBlock(attributes) {
    const search = h("input", { id: "attribute-search", type: "text", value: this.attributeQuery, placeholder: "Code contains…" });
    const form = h("form", { class: "field", role: "search" },
      h("label", { for: "attribute-search" }, "Search attributes"), search);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.attributeQuery = search.value.trim();
      this.loadModel();
    });
    const rows = attributes.items.map((a) => h("tr", {},
      h("td", { "data-label": "Code", class: "code" }, a.code),
      h("td", { "data-label": "Label" }, labelOf(a.document) || "—"),
      h("td", { "data-label": "Type" }, a.type || "—"),
      h("td", { "data-label": "Required" }, a.required ? "Yes" : "No"),
      h("td", { "data-label": "Options" }, String(((a.document || {}).options || []).length || "—"))));
    return h("div", {},
      h("h3", {}, this.setFilter ? `Attributes of ${this.setFilter}` : "Attributes"),
      form,
      this.setFilter ? h("button", { type: "button", class: "button quiet", onclick: () => { this.setFilter = null; this.loadModel(); } }, "Show all attributes") : null,
      attributes.items.length
        ? h("table", { class: "cards", "aria-label": "Attributes" }, h("thead", {}, h("tr", {}, ["Code", "Label", "Type", "Required", "Options"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
        : h("p", { class: "muted" }, "No attributes match."),
      attributes.next_cursor ? h("p", { class: "small muted" }, `Showing the first ${attributes.items.length}; search to narrow down.`) : null);
  }

  // ---- audit -----------------------------------------------------------------------------------------

  async loadAudit(cursor = null) {
    try {
      const page = await this.ctx.api.view(`/v1/connections/${encodeURIComponent(this.id)}/audit`, { limit: AUDIT_PAGE, cursor });
      this.renderAudit(page, Boolean(cursor));
    } catch (error) {
      if (error.status === 404) return;
      clear(this.auditPanel).append(h("h2", { id: "audit-title" }, "Audit timeline"), errorBanner(error, () => this.loadAudit()));
    }
  }

  renderAudit(page, more) {
    if (!more) {
      this.timeline = h("ol", { class: "timeline" });
      clear(this.auditPanel).append(h("h2", { id: "audit-title" }, "Audit timeline"), this.timeline);
      this.auditMore = h("button", { type: "button", class: "button", hidden: true }, "Load older entries");
      this.auditPanel.append(this.auditMore);
    }
    if (!more && !page.items.length) this.timeline.replaceWith(h("p", { class: "muted" }, "Nothing recorded yet."));
    for (const entry of page.items) {
      this.timeline.append(h("li", {},
        h("div", { class: "when" }, timeEl(entry.occurred_at), entry.actor ? ` · ${entry.actor}` : ""),
        h("div", {}, entry.summary),
        entry.reason && !entry.summary.includes(entry.reason) ? h("div", { class: "small muted" }, `Reason: ${entry.reason}`) : null));
    }
    this.auditMore.hidden = !page.next_cursor;
    this.auditMore.onclick = () => this.loadAudit(page.next_cursor);
  }
}
