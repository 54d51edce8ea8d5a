// The two HTTP APIs the dashboard talks to, and the live stream of view changes.
//
// Views API: this page's own origin. Commands API: the address in <meta name="commands-api">, another origin
// that allows this one (CORS). The bearer token goes in the Authorization header of every request; it is
// kept in sessionStorage only (gone when the tab closes).

const TOKEN_KEY = "omni.dashboard.token";

export class ApiError extends Error {
  constructor(status, reasonCode, message, body = null) {
    super(message);
    this.status = status;
    this.reasonCode = reasonCode;
    this.body = body;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

function commandsBase() {
  const meta = document.querySelector('meta[name="commands-api"]');
  const configured = meta ? meta.content : "";
  // Opened as a plain file or by another server: assume the default ports (docs/dashboard.md).
  return configured && !configured.startsWith("__") ? configured.replace(/\/$/, "") : `${location.protocol}//${location.hostname}:8000`;
}

async function parse(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 300) };
  }
}

export class Api {
  constructor(onUnauthorized) {
    this.commands = commandsBase();
    this.onUnauthorized = onUnauthorized;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${session.token}`, ...extra };
  }

  async request(url, options, what) {
    let response;
    try {
      response = await fetch(url, { ...options, headers: this.headers(options.headers), cache: "no-store" });
    } catch {
      throw new ApiError(0, "unreachable", `The ${what} cannot be reached. Check that the service is running, then try again.`);
    }
    const body = await parse(response);
    if (response.status === 401) {
      this.onUnauthorized(body && body.message);
      throw new ApiError(401, "unauthenticated", (body && body.message) || "The token was refused.", body);
    }
    return { response, body };
  }

  /** GET on the views API; `params` become the query string (null values left out). */
  async view(path, params = {}) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") query.set(key, value);
    }
    const url = `${path}${query.toString() ? `?${query}` : ""}`;
    const { response, body } = await this.request(url, {}, "views API");
    if (!response.ok) {
      throw new ApiError(response.status, body && body.reason_code, (body && body.message) || `${path} answered ${response.status}`, body);
    }
    return body;
  }

  /** GET on the commands API (the driver catalog and the tenant's installed drivers). */
  async commandsView(path) {
    const { response, body } = await this.request(`${this.commands}${path}`, {}, "commands API");
    if (!response.ok) {
      throw new ApiError(response.status, body && body.reason_code, (body && body.message) || `${path} answered ${response.status}`, body);
    }
    return body;
  }

  /** A command. Its result (accepted or not, per-item outcomes) is returned; other refusals throw ApiError. */
  async command(method, path, body) {
    const options = {
      method,
      headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    const { response, body: answer } = await this.request(`${this.commands}${path}`, options, "commands API");
    if (answer && answer.command_id) return answer; // a CommandResult, whatever the HTTP status
    if (!response.ok) {
      throw new ApiError(response.status, answer && answer.reason_code,
        (answer && answer.message) || `${path} answered ${response.status}`, answer);
    }
    return answer;
  }
}

/**
 * The live stream (GET /v1/stream, server-sent events) read with fetch, because EventSource cannot send the
 * Authorization header. Reconnects with backoff; every (re)connection says `ready`, after which the page
 * reloads what it shows (changes made while disconnected are not replayed).
 */
export class LiveStream {
  constructor(api, handlers) {
    this.api = api;
    this.handlers = handlers;
    this.controller = null;
    this.stopped = true;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop();
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  async loop() {
    let backoff = 500;
    while (!this.stopped) {
      this.controller = new AbortController();
      try {
        const response = await fetch("/v1/stream", {
          headers: this.api.headers({ Accept: "text/event-stream" }), signal: this.controller.signal, cache: "no-store",
        });
        if (response.status === 401) {
          this.api.onUnauthorized();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        await this.read(response.body, () => { backoff = 500; });
      } catch {
        // fall through to reconnect
      }
      if (this.stopped) return;
      this.handlers.state("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 8000);
    }
  }

  async read(body, onOpen) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const message = parseBlock(block);
        if (!message) continue;
        if (message.event === "ready") {
          onOpen();
          this.handlers.state("live");
        }
        const handler = this.handlers[message.event];
        if (handler) handler(message.data, message.id);
      }
    }
  }
}

function parseBlock(block) {
  let event = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  if (!data.length) return null;
  try {
    return { event, id, data: JSON.parse(data.join("\n")) };
  } catch {
    return null;
  }
}
