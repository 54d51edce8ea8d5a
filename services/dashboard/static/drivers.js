// The Drivers tab: the platform's driver catalog, which of them your account installed, and Install.

import { clear, errorBanner, h, label, pill, toast } from "./ui.js";

export class DriversView {
  constructor(ctx) {
    this.ctx = ctx;
    this.title = "Drivers";
    this.body = h("div", { class: "table-wrap", "aria-busy": "true" }, h("p", { class: "empty" }, "Loading drivers…"));
    this.element = h("section", { "aria-labelledby": "drivers-title" },
      ctx.tabs("drivers"),
      h("div", { class: "list-head" }, h("h1", { id: "drivers-title", class: "list-title" }, "Drivers")),
      h("p", { class: "muted" }, "A driver connects Omni-Channel with a marketplace, store system or point of sale. Install it, then add connections through it."),
      this.body);
  }

  mount() {
    this.load();
  }

  reload() {}

  async load() {
    try {
      const [catalog, installed] = await Promise.all([
        this.ctx.api.commandsView("/v1/drivers/catalog"), this.ctx.installedDrivers(true),
      ]);
      this.render(catalog, new Set(installed.map((d) => d.id)));
    } catch (error) {
      clear(this.body).append(errorBanner(error, () => this.load()));
    }
    this.body.removeAttribute("aria-busy");
  }

  render(catalog, installed) {
    const rows = catalog.map((driver) => {
      const fields = Object.keys((driver.credentials_schema || {}).properties || {}).map(label);
      const isInstalled = installed.has(driver.id);
      return h("tr", {},
        h("td", { "data-label": "Driver" }, h("strong", {}, driver.name), h("div", { class: "small muted code" }, driver.id)),
        h("td", { "data-label": "Version" }, driver.version),
        h("td", { "data-label": "Credentials" }, fields.length ? fields.join(", ") : h("span", { class: "muted" }, "None")),
        h("td", { "data-label": "Installed" }, isInstalled ? pill("Installed", "ok") : pill("Not installed", "neutral")),
        h("td", { "data-label": "" }, h("button", {
          type: "button", class: `button ${isInstalled ? "" : "primary"}`, "aria-label": `${isInstalled ? "Uninstall" : "Install"} ${driver.name}`,
          onclick: () => this.toggle(driver, isInstalled),
        }, isInstalled ? "Uninstall" : "Install")));
    });
    clear(this.body).append(h("table", { class: "cards", "aria-label": "Drivers" },
      h("thead", {}, h("tr", {}, ["Driver", "Version", "Credentials", "Installed", "Action"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
  }

  async toggle(driver, isInstalled) {
    const verb = isInstalled ? "uninstall" : "install";
    try {
      const result = await this.ctx.api.command("POST", `/v1/drivers/${encodeURIComponent(driver.id)}/${verb}`);
      const item = (result.items || [])[0];
      if (result.accepted) toast(isInstalled ? "Driver uninstalled" : "Driver installed", driver.name);
      else toast(`Not ${verb}ed`, (item && item.message) || result.message || "", { kind: "error" });
    } catch (error) {
      toast(`Not ${verb}ed`, error.message, { kind: "error" });
    }
    this.load();
  }
}
