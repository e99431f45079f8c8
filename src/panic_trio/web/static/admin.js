// The admin page's live feed: every network's invocations, newest first.
const FEED_LENGTH = 100;
const rows = document.getElementById("feed-rows");

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function showInvocation(inv) {
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
  cell(row, inv.output ?? "", "truncate");
  const old = rows.querySelector(`tr[data-invocation="${inv.id}"]`);
  if (old) old.replaceWith(row);
  else rows.prepend(row);
  while (rows.rows.length > FEED_LENGTH) rows.deleteRow(-1);
}

function showStatus(networkId, status) {
  const node = document.querySelector(`[data-network-state="${networkId}"]`);
  if (!node) return;
  node.textContent = status.state;
  node.className = `network-state state-${status.state}`;
}

function start(delay) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/admin`);
  socket.addEventListener("open", () => { document.body.dataset.feed = "open"; });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (!message.invocation) return;
    if (message.type === "invocation") showInvocation(message.invocation);
    showStatus(message.invocation.network_id, message.status);
  });
  socket.addEventListener("close", () => {
    document.body.dataset.feed = "closed";
    setTimeout(() => start(Math.min(delay * 2, 10000)), delay);
  });
}
start(500);
