// Live connection to /ws/networks/<id> and the display tiles it drives.
// Model output is untrusted: tiles only ever use textContent and src attributes.

export function pageData() {
  const node = document.getElementById("page-data");
  return node ? JSON.parse(node.textContent) : {};
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

// Milliseconds to add to Date.now() to get the server's clock. Differences
// under two seconds are mostly page-load time, not skew, so they are ignored.
export function clockOffset(data) {
  const server = Date.parse(data.server_time ?? "");
  const offset = Number.isNaN(server) ? 0 : server - Date.now();
  return Math.abs(offset) < 2000 ? 0 : offset;
}

export function secondsUntil(iso, offset) {
  if (!iso) return 0;
  const ms = Date.parse(iso) - (Date.now() + offset);
  return Math.max(0, Math.ceil(ms / 1000));
}

export function mediaSrc(url, baseUrl) {
  for (const path of ["/dummy/", "/archive/"]) {
    if (baseUrl && url.startsWith(baseUrl + path)) return url.slice(baseUrl.length);
  }
  return url;
}

// A WebSocket that reconnects (with backoff) until the page goes away.
export function connect(path, { onMessage, onOpen, onClose }) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let socket = null;
  let delay = 500;
  const live = {
    get open() { return socket !== null && socket.readyState === WebSocket.OPEN; },
    send(message) {
      if (!live.open) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
  };
  function start() {
    socket = new WebSocket(`${scheme}://${location.host}${path}`);
    socket.addEventListener("open", () => { delay = 500; onOpen?.(); });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      onClose?.(event);
      if (event.code === 1008 || event.code === 4403 || event.code === 4404) return;  // not allowed, or gone: stay closed
      setTimeout(start, delay);
      delay = Math.min(delay * 2, 10000);
    });
  }
  start();
  return live;
}

// A network's live socket, protocol 2: an invocation frame carries the status
// it came with, so the server sends one frame per change instead of two. The
// handlers still see a status message, then the invocation, as in protocol 1.
export function connectNetwork(networkId, { query = "", onMessage, onOpen, onClose }) {
  const extra = query ? `&${query.replace(/^\?/, "")}` : "";
  return connect(`/ws/networks/${networkId}?v=2${extra}`, {
    onOpen,
    onClose,
    onMessage: (message) => {
      if (message.type === "invocation" && message.status) {
        onMessage({ type: "status", status: message.status });
      }
      onMessage(message);
    },
  });
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// A stopped or failed step: on owner pages (``reasons``) says why; on public
// pages it is a neutral tile with no words at all.
function endedTile(invocation, reasons) {
  if (!reasons) {
    const inner = el("div", "tile-invoking tile-ended");
    inner.append(el("span", "", "P!"));
    return inner;
  }
  const box = el("div", "tile-failed");
  const cancelled = invocation.metadata?.cancelled === true;
  box.append(el("p", "failed-title", cancelled ? "Stopped" : "Failed"));
  const reason = (invocation.metadata?.error ?? "").replace(/^cancelled: /, "");
  if (reason) box.append(el("p", "failed-reason", reason));
  return box;
}

export function renderTile(invocation, catalog, baseUrl, reasons = false) {
  const failed = invocation.state === "failed";
  const tile = el("div", `tile state-${failed && !reasons ? "ended" : invocation.state}`);
  tile.dataset.invocation = invocation.id;
  tile.dataset.sequence = invocation.sequence_number;
  const kind = catalog[invocation.model]?.output ?? "unknown";
  if (invocation.metadata?.hidden === true) {  // an operator hid it: nothing of it is left
    tile.className = "tile state-hidden";
    const inner = el("div", "tile-invoking tile-ended");
    inner.append(el("span", "", "P!"));
    tile.append(inner);
  } else if (failed) {
    tile.append(endedTile(invocation, reasons));
  } else if (invocation.state === "invoking") {
    const inner = el("div", "tile-invoking");
    inner.append(el("span", "", "P!"));
    tile.append(inner);
  } else if (!invocation.output) {
    tile.append(el("div", "tile-ready"));
  } else if (kind === "image") {
    const img = el("img", "tile-image");
    img.src = mediaSrc(invocation.output, baseUrl);
    img.alt = invocation.input.slice(0, 200);
    tile.append(img);
  } else if (kind === "audio") {
    const box = el("div", "tile-audio");
    const audio = el("audio");
    audio.src = mediaSrc(invocation.output, baseUrl);
    audio.controls = true;
    audio.loop = true;
    audio.autoplay = true;
    box.append(el("span", "audio-note", "♪"), audio);
    tile.append(box);
  } else {
    const box = el("div", "tile-text");
    box.append(el("p", "", invocation.output));
    tile.append(box);
  }
  return tile;
}

// One screen's worth of tiles: a rows x columns grid, or a single slot that
// shows every stride-th invocation. The genesis of a new run resets every
// display; invocations of other runs are ignored.
export class Display {
  constructor(node, { mode = "grid", slots = 6, stride = 1, offset = 0, showInvoking = false,
                      reasons = false },
              catalog, baseUrl) {
    Object.assign(this, { node, mode, slots, stride, offset, showInvoking, reasons, catalog,
                          baseUrl });
    this.genesis = null;
  }

  reset(genesis) {
    this.genesis = genesis;
    for (const tile of this.node.querySelectorAll(".tile")) tile.remove();
    this.place(0, genesis);
  }

  adopt(genesis) {
    if (!genesis) return;
    if (!this.genesis || this.genesis.run_number !== genesis.run_number) {
      if (this.genesis) this.reset(genesis);
      else this.genesis = genesis;
    }
  }

  show(invocation) {
    if (invocation.sequence_number === 0) { this.reset(invocation); return; }
    if (!this.genesis || invocation.run_number !== this.genesis.run_number) return;
    if (this.mode === "grid") {
      this.place(invocation.sequence_number % this.slots, invocation);
    } else if (invocation.sequence_number % this.stride === this.offset
               && (this.showInvoking || invocation.state !== "invoking")
               && (this.reasons || invocation.state !== "failed")) {  // keep the last good one
      this.place(0, invocation);
    }
  }

  // An operator hid (or showed again) an output: redraw only the tiles that show it.
  replace(invocation) {
    for (const old of this.node.querySelectorAll(`.tile[data-invocation="${invocation.id}"]`)) {
      const tile = renderTile(invocation, this.catalog, this.baseUrl, this.reasons);
      tile.id = old.id;
      tile.dataset.slot = old.dataset.slot;
      old.replaceWith(tile);
    }
  }

  place(slot, invocation) {
    const tile = renderTile(invocation, this.catalog, this.baseUrl, this.reasons);
    tile.id = `${this.node.id}-slot-${slot}`;
    tile.dataset.slot = slot;
    const old = document.getElementById(tile.id);
    if (old) { old.replaceWith(tile); return; }
    const after = [...this.node.querySelectorAll(".tile")].find((t) => Number(t.dataset.slot) > slot);
    this.node.insertBefore(tile, after ?? null);
  }
}
