// Form fields built from a driver's JSON Schema (GET /v1/drivers): the Credentials and Settings sections.
//
// Modes:
//   "create"  every field empty; required fields required; read() gives every filled field.
//   "partial" (editing credentials) nothing is shown, since stored credentials never leave the service;
//             read() gives only the fields the user filled in, so empty ones keep their stored value.
//   "edit"    (editing settings) fields show the stored values; read() gives only the changed ones.
// Secrets (format "password" / writeOnly) are password inputs and are never filled with a stored value: a
// masked value ("**********") is never sent back.

import { h, label } from "./ui.js";

export const MASK = "**********";

function resolve(schema, root) {
  let node = schema || {};
  if (node.$ref) {
    const name = node.$ref.split("/").pop();
    node = { ...((root.$defs || {})[name] || {}), ...node, $ref: undefined };
  }
  let nullable = false;
  if (Array.isArray(node.anyOf)) {
    const options = node.anyOf.filter((o) => o.type !== "null");
    nullable = options.length < node.anyOf.length;
    if (options.length === 1) {
      const { anyOf, ...rest } = node;
      node = { ...rest, ...resolve(options[0], root) };
    }
  }
  return { ...node, nullable: nullable || node.nullable };
}

function isSecret(node) {
  return node.format === "password" || node.writeOnly === true;
}

function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value === undefined ? null : value);
}

export function sameValue(a, b) {
  return canonical(a) === canonical(b);
}

function listText(values) {
  return (values || []).join("\n");
}

function parseList(text) {
  return text.split("\n").map((s) => s.trim()).filter(Boolean);
}

function mapText(values) {
  return Object.entries(values || {}).map(([k, v]) => `${k} = ${v}`).join("\n");
}

export class SchemaForm {
  /**
   * @param {object} schema   the JSON Schema of an object (credentials or settings)
   * @param {object} options  {mode, values, idPrefix}
   */
  constructor(schema, { mode = "create", values = {}, idPrefix = "f", root = null, optional = false } = {}) {
    this.root = root || schema;
    // Inside an optional object (SFCC's production instance) nothing is required: the object may stay empty.
    this.requireFields = mode === "create" && !optional;
    this.schema = resolve(schema, this.root);
    this.mode = mode;
    this.values = values || {};
    this.idPrefix = idPrefix;
    this.fields = [];
    this.element = h("div", { class: "schema-form" });
    const required = new Set(this.schema.required || []);
    for (const [key, property] of Object.entries(this.schema.properties || {})) {
      const field = this.field(key, resolve(property, this.root), required.has(key));
      this.fields.push(field);
      this.element.append(field.element);
    }
  }

  get isEmpty() {
    return this.fields.length === 0;
  }

  field(key, node, required) {
    const id = `${this.idPrefix}-${key}`;
    const stored = this.values[key];
    const name = label(key);
    const hints = [];
    const mustFill = this.requireFields && required;

    if (node.type === "object" && node.properties) {
      const nested = new SchemaForm(node, {
        mode: this.mode, values: stored || {}, idPrefix: id, root: this.root, optional: !this.requireFields || !required,
      });
      const legend = `${name}${required ? "" : " (optional)"}`;
      const element = h("fieldset", { id }, h("legend", {}, legend), nested.element);
      return {
        key, element, nested,
        read: () => {
          const inner = nested.read();
          if (inner.value === undefined || Object.keys(inner.value).length === 0) return { present: false };
          return { present: true, value: inner.value };
        },
      };
    }

    let input;
    let read;
    if (node.type === "boolean") {
      if (this.mode === "partial") {
        input = h("select", { id },
          h("option", { value: "" }, "Unchanged"), h("option", { value: "true" }, "Yes"), h("option", { value: "false" }, "No"));
        read = () => (input.value === "" ? { present: false } : { present: true, value: input.value === "true" });
      } else {
        const checked = stored === undefined ? Boolean(node.default) : Boolean(stored);
        input = h("input", { id, type: "checkbox", checked });
        read = () => ({ present: true, value: input.checked });
        return this.wrap(key, name, input, read, stored, hints, true);
      }
    } else if (node.type === "integer" || node.type === "number") {
      input = h("input", { id, type: "number", inputmode: "numeric", step: node.type === "integer" ? "1" : "any" });
      if (node.minimum !== undefined) input.min = node.minimum;
      if (node.maximum !== undefined) input.max = node.maximum;
      this.prefill(input, stored, node, (v) => String(v));
      read = () => (input.value === "" ? { present: false } : { present: true, value: Number(input.value) });
    } else if (node.type === "array") {
      const items = resolve(node.items || {}, this.root);
      if (Array.isArray(items.enum)) {
        return this.choices(key, name, items.enum, stored === undefined ? node.default : stored, required);
      }
      input = h("textarea", { id, rows: 3 });
      hints.push("One per line.");
      this.prefill(input, stored, node, listText);
      read = () => {
        if (this.mode === "partial" && input.value.trim() === "") return { present: false };
        return { present: true, value: parseList(input.value) };
      };
    } else if (node.type === "object") {
      const valueType = (node.additionalProperties || {}).type;
      input = h("textarea", { id, rows: 3 });
      hints.push("One per line: key = value.");
      this.prefill(input, stored, node, mapText);
      read = () => {
        if (this.mode === "partial" && input.value.trim() === "") return { present: false };
        const value = {};
        for (const line of input.value.split("\n")) {
          if (!line.trim()) continue;
          const at = line.indexOf("=");
          const k = (at < 0 ? line : line.slice(0, at)).trim();
          const v = at < 0 ? "" : line.slice(at + 1).trim();
          value[k] = valueType === "integer" || valueType === "number" ? Number(v) : v;
        }
        return { present: true, value };
      };
    } else if (Array.isArray(node.enum)) {
      input = h("select", { id },
        !mustFill || this.mode !== "create" ? h("option", { value: "" }, this.mode === "partial" ? "Unchanged" : "—") : null,
        node.enum.map((v) => h("option", { value: v }, String(v))));
      if (mustFill) input.required = true;
      this.prefill(input, stored, node, (v) => String(v));
      read = () => (input.value === "" ? (node.nullable && this.mode === "edit" ? { present: true, value: null } : { present: false })
        : { present: true, value: input.value });
    } else {
      const secret = isSecret(node) || stored === MASK;
      const type = secret ? "password" : node.format === "uri" ? "url" : "text";
      input = h("input", { id, type, autocomplete: secret ? "new-password" : "off", spellcheck: "false" });
      if (node.maxLength) input.maxLength = node.maxLength;
      if (mustFill) input.required = true;
      if (secret) {
        if (this.mode !== "create") input.placeholder = "•••••••••• (unchanged)";
        if (this.mode !== "create") hints.push("Leave empty to keep the stored value.");
      } else if (this.mode === "partial") {
        input.placeholder = "Unchanged";
      } else {
        this.prefill(input, stored, node, (v) => String(v));
      }
      if (node.pattern) this.checkPattern(input, node.pattern, name);
      if (node.immutable && this.mode !== "create") {
        input.readOnly = true; // e.g. Amazon's marketplace id: the service refuses a change
        input.placeholder = "Fixed once saved";
        hints.push("Cannot be changed once the connection is saved.");
      }
      read = () => {
        const raw = secret ? input.value : input.value.trim();
        if (raw === "") {
          if (this.mode === "edit" && !secret && node.nullable && stored !== undefined && stored !== null) {
            return { present: true, value: null };
          }
          return { present: false };
        }
        return { present: true, value: raw };
      };
    }
    return this.wrap(key, name, input, read, stored, hints, false, required);
  }

  prefill(input, stored, node, text) {
    if (this.mode === "partial") return;
    const value = stored === undefined ? node.default : stored;
    if (value !== undefined && value !== null && value !== MASK) input.value = text(value);
  }

  checkPattern(input, pattern, name) {
    let regex = null;
    try {
      regex = new RegExp(pattern, "u");
    } catch {
      return; // a pattern JavaScript cannot read: the service validates it anyway
    }
    input.addEventListener("input", () => {
      const ok = input.value === "" || regex.test(input.value.trim());
      input.setCustomValidity(ok ? "" : `${name} has an unexpected format.`);
    });
  }

  wrap(key, name, input, read, stored, hints, inline, required = false) {
    const hintId = `${input.id}-hint`;
    if (hints.length) input.setAttribute("aria-describedby", hintId);
    const mark = this.requireFields && required ? h("span", { "aria-hidden": "true", title: "required" }, " *") : null;
    // The mark stays outside the label: the field's accessible name is its name alone ("required" is said by
    // the input's own required state).
    const element = inline
      ? h("div", { class: "field check" }, input, h("label", { for: input.id }, name), mark)
      : h("div", { class: "field" }, h("div", {}, h("label", { for: input.id }, name), mark), input,
        hints.length ? h("span", { class: "hint", id: hintId }, hints.join(" ")) : null);
    return { key, element, input, read, stored };
  }

  choices(key, name, options, selected, required) {
    const chosen = new Set(selected || []);
    const id = `${this.idPrefix}-${key}`;
    const boxes = options.map((option, i) => {
      const boxId = `${id}-${i}`;
      const box = h("input", { id: boxId, type: "checkbox", value: option, checked: this.mode !== "partial" && chosen.has(option) });
      return { box, element: h("div", { class: "field check" }, box, h("label", { for: boxId }, String(option))) };
    });
    const element = h("fieldset", { id }, h("legend", {}, name), boxes.map((b) => b.element));
    const read = () => {
      const value = boxes.filter((b) => b.box.checked).map((b) => b.box.value);
      if (this.mode === "partial" && value.length === 0) return { present: false };
      return { present: true, value };
    };
    return { key, element, read, required, stored: this.values[key] };
  }

  /** {value}: the object to send (see the modes above); undefined when there is nothing to send. */
  read() {
    const value = {};
    for (const field of this.fields) {
      const got = field.read();
      if (!got.present) continue;
      if (this.mode === "edit" && field.stored !== undefined && sameValue(got.value, field.stored)) continue;
      if (this.mode === "edit" && field.stored === undefined && field.nested === undefined && sameValue(got.value, defaultOf(this.schema, field.key, this.root))) continue;
      value[field.key] = got.value;
    }
    return { value: Object.keys(value).length ? value : this.mode === "create" ? {} : undefined };
  }
}

function defaultOf(schema, key, root) {
  const node = resolve((schema.properties || {})[key], root);
  return node.default;
}
