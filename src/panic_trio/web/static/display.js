// A TV screen: /i/<installation>/<watcher>. The server applies the watcher
// rules and sends what to draw (screen / reset / place); this file only draws.
// Text tiles arrive as Markdown already sanitised on the server. When the
// network is idle the screen shows its attract state (name, "scan to prompt",
// a QR refreshed every 5 minutes); "identify" shows the screen's own name.
import { connect, pageData } from "./live.js";
import { setupKiosk } from "./kiosk.js";
import { attachVisualiser, retrySound } from "./visualiser.js";

const data = pageData();
const kiosk = document.querySelector(".kiosk-terminal [data-terminal]");
if (kiosk) setupKiosk(kiosk, data);  // a signed-in kiosk types on the grid screen
const display = document.getElementById("watcher-display");
const lastPrompt = document.getElementById("last-prompt");
const note = document.getElementById("connection");
const attract = document.getElementById("attract");
const attractQr = document.getElementById("attract-qr");
const identify = document.getElementById("identify");
const QR_REFRESH_MS = 5 * 60 * 1000;
const qrUrl = `/i/${data.installation}/${encodeURIComponent(data.watcher.name)}/qr.json`;
let identifyTimer = 0;
const columns = Number(display.dataset.columns) || 1;
display.style.setProperty("--columns", String(columns));

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render(tile) {
  const node = el("div", `tile state-${tile.state} kind-${tile.kind}`);
  node.dataset.invocation = tile.id;
  node.dataset.sequence = tile.sequence;
  node.dataset.state = tile.state;
  if (tile.state === "invoking" || (!tile.src && !tile.html)) {  // also a step that ended
    const box = el("div", tile.state === "ended" ? "tile-invoking tile-ended" : "tile-invoking");
    box.append(el("span", "", "P!"));
    node.append(box);
  } else if (tile.kind === "image") {
    const img = el("img", "tile-image");
    img.src = tile.src;
    img.alt = tile.input.slice(0, 200);
    node.append(img);
  } else if (tile.kind === "audio") {
    const box = el("div", "tile-audio");
    node.append(box);
    attachVisualiser(box, tile.src);
  } else {
    const box = el("div", "tile-text prose");
    box.innerHTML = tile.html ?? "";  // sanitised server-side (markdown-it + nh3)
    node.append(box);
  }
  return node;
}

function clear() {
  for (const node of display.querySelectorAll(".tile")) node.remove();
}

function place(slot, tile) {
  const node = render(tile);
  node.id = `slot-${slot}`;
  node.dataset.slot = slot;
  const old = document.getElementById(node.id);
  if (old) {
    if (old.dataset.invocation === String(tile.id) && old.dataset.state === tile.state) return;
    old.replaceWith(node);
    return;
  }
  const after = [...display.querySelectorAll(".tile")].find((t) => Number(t.dataset.slot) > slot);
  display.insertBefore(node, after ?? null);
}

function showPrompt(text) {
  if (lastPrompt && text !== undefined) lastPrompt.textContent = text ?? "";
}

async function refreshQr() {
  try {
    const response = await fetch(qrUrl, { cache: "no-store" });
    if (!response.ok) return;
    const fresh = await response.json();
    attractQr.src = fresh.image;
    attractQr.dataset.url = fresh.url;
    attractQr.hidden = false;
  } catch { /* offline for a moment: the next refresh tries again */ }
}

function setIdle(idle) {
  if (idle === undefined) return;
  document.body.dataset.idle = String(idle);
  attract.hidden = !idle;
  if (idle) refreshQr();
}

function showName(name, seconds) {
  identify.textContent = name;
  identify.hidden = false;
  clearTimeout(identifyTimer);
  identifyTimer = setTimeout(() => { identify.hidden = true; }, seconds * 1000);
}

setInterval(() => { if (!attract.hidden) refreshQr(); }, QR_REFRESH_MS);

connect(`/ws/displays/${data.installation}/${encodeURIComponent(data.watcher.name)}`, {
  onOpen: () => { note.hidden = true; document.body.dataset.connected = "true"; },
  onClose: () => { note.hidden = false; document.body.dataset.connected = "false"; },
  onMessage: (message) => {
    setIdle(message.idle);
    if (message.type === "identify") {
      showName(message.name, message.seconds);
    } else if (message.type === "sound") {
      document.body.dataset.soundAsked = String(Number(document.body.dataset.soundAsked ?? 0) + 1);
      retrySound();
    } else if (message.type === "screen") {
      clear();
      for (const { slot, tile } of message.tiles) place(slot, tile);
      showPrompt(message.prompt);
    } else if (message.type === "reset") {
      clear();
      place(0, message.tile);
      showPrompt(message.prompt);
    } else if (message.type === "place") {
      place(message.slot, message.tile);
    } else if (message.type === "reload") {
      location.reload();  // the installation changed: new grid size, stride or name
    }
  },
});
