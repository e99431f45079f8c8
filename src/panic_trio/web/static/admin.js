// The admin page's live feed: every network's invocations, newest first.
import { mediaSrc, pageData } from "./live.js";
import { capUsd, liveSpend, spent } from "./spending.js";

const data = pageData();

const FEED_LENGTH = 100;
const rows = document.getElementById("feed-rows");

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function rowFor(inv) {
  const row = document.createElement("tr");
  row.dataset.invocation = inv.id;
  const link = document.createElement("a");
  link.href = `/display/static/${inv.id}`;
  link.textContent = String(inv.id);
  row.insertCell().append(link);
  cell(row, `${inv.network_id}-${inv.run_number}-${inv.sequence_number}`);
  cell(row, inv.model);
  cell(row, inv.state, `state-${inv.state}`);
  cell(row, inv.input, "truncate");
  row.insertCell().append(output(inv));
  row.cells[5].className = "feed-output";
  return row;
}

// An output as the admin wants to see it: a thumbnail, an audio link, the
// text, or why the step failed (this page is for admins: reasons are shown).
function output(inv) {
  const kind = data.kinds?.[inv.model];
  if (inv.state === "failed") {
    const span = document.createElement("span");
    span.className = "failed-reason";
    const how = inv.metadata?.cancelled === true ? "Stopped" : "Failed";
    span.textContent = `${how}: ${inv.metadata?.error ?? ""}`;
    return span;
  }
  if (inv.output && (kind === "image" || kind === "audio")) {
    const link = document.createElement("a");
    link.href = mediaSrc(inv.output, data.base_url);
    if (kind === "image") {
      const img = document.createElement("img");
      img.className = "feed-thumb";
      img.src = link.href;
      img.alt = `output ${inv.id}`;
      img.loading = "lazy";
      link.append(img);
    } else {
      link.textContent = "♪ audio";
    }
    return link;
  }
  const span = document.createElement("span");
  span.className = "truncate";
  span.textContent = inv.output ?? "";
  return span;
}

// The newest id the page has seen: a reconnect asks the server for what came after.
function newestId() {
  let newest = 0;
  for (const row of rows.rows) newest = Math.max(newest, Number(row.dataset.invocation) || 0);
  return newest;
}

function showInvocation(inv) {
  const row = rowFor(inv);
  const old = rows.querySelector(`tr[data-invocation="${inv.id}"]`);
  if (old) old.replaceWith(row);
  else rows.prepend(row);
  while (rows.rows.length > FEED_LENGTH) rows.deleteRow(-1);
}

// After a (re)connect: merge the newest rows in id order, and mark a gap if
// more rows came while the page was away than the server sends back.
function showSnapshot(invocations, gap) {
  for (const inv of invocations) {
    const old = rows.querySelector(`tr[data-invocation="${inv.id}"]`);
    if (old) old.replaceWith(rowFor(inv));
    else rows.append(rowFor(inv));
  }
  if (gap && invocations.length) {
    const marker = document.createElement("tr");
    marker.className = "feed-gap";
    marker.dataset.invocation = String(invocations[invocations.length - 1].id - 0.5);
    const td = marker.insertCell();
    td.colSpan = 6;
    td.textContent = "… more rows came while this page was disconnected than are shown here …";
    rows.append(marker);
  }
  const sorted = [...rows.rows].sort((a, b) => Number(b.dataset.invocation) - Number(a.dataset.invocation));
  rows.replaceChildren(...sorted.slice(0, FEED_LENGTH));
}

function showStatus(networkId, status) {
  const node = document.querySelector(`[data-network-state="${networkId}"]`);
  if (!node) return;
  node.textContent = status.state;
  node.className = `network-state state-${status.state}`;
  const stop = document.querySelector(`[data-stop-network="${networkId}"]`);
  if (stop) stop.disabled = !["invoking", "waiting"].includes(status.state);
}

function showSpend(body) {
  const table = document.getElementById("admin-spending");
  const fill = (row, values) => {
    if (!row) return;
    for (const name of ["hour", "today", "week"]) {
      row.querySelector(`[data-spend="${name}"]`).textContent = spent(values[name]);
    }
  };
  for (const network of body.networks) {
    const row = table.querySelector(`[data-spend-network="${network.network_id}"]`);
    fill(row, network);
    if (!row) continue;
    row.querySelector('[data-spend="caps"]').textContent =
      `${capUsd(network.caps.daily)} / ${capUsd(network.caps.run)}`;
    row.querySelector('[data-spend="capped"]').textContent = network.capped?.message ?? "";
  }
  fill(table.querySelector('[data-spend-network="total"]'), body.total);
  const globalCapped = table.querySelector('[data-spend="global-capped"]');
  globalCapped.hidden = !body.global_capped;
  globalCapped.textContent = body.global_capped?.message ?? "";
  table.dataset.loaded = String(Date.now());
}

const spending = liveSpend("/api/spend", showSpend);

function start(delay) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const since = newestId();
  const query = since ? `?since=${since}` : "";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/admin${query}`);
  socket.addEventListener("open", () => { document.body.dataset.feed = "open"; });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "snapshot") {
      showSnapshot(message.invocations, message.gap);
      document.body.dataset.feedSynced = String(Number(document.body.dataset.feedSynced ?? 0) + 1);
      return;
    }
    if (!message.invocation) return;
    if (message.type === "invocation") {
      showInvocation(message.invocation);
      if (["completed", "failed"].includes(message.invocation.state)) spending.changed();
    } else if (message.type === "hidden") {  // an operator hid (or showed again) an output
      rows.querySelector(`tr[data-invocation="${message.invocation.id}"]`)
        ?.replaceWith(rowFor(message.invocation));
    }
    showStatus(message.invocation.network_id, message.status);
  });
  socket.addEventListener("close", () => {
    document.body.dataset.feed = "closed";
    setTimeout(() => start(Math.min(delay * 2, 10000)), delay);
  });
}
start(500);
