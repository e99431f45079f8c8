// The full-screen terminal page (owner, or a visitor with a QR-code token).
import { clockOffset, connectNetwork, pageData } from "./live.js";
import { setupTerminal } from "./terminal.js";

const data = pageData();
const offset = clockOffset(data);
const currentRun = document.getElementById("current-run");
const showGenesis = (genesis) => {
  if (!genesis || currentRun.textContent === genesis.input) return;
  currentRun.textContent = genesis.input;
  currentRun.dataset.expanded = "false";
  currentRun.setAttribute("aria-expanded", "false");
};
// A long prompt is clamped to a few lines, so the input stays on screen; a tap shows it all.
function toggle() {
  const open = currentRun.dataset.expanded !== "true";
  currentRun.dataset.expanded = String(open);
  currentRun.setAttribute("aria-expanded", String(open));
}
currentRun.addEventListener("click", toggle);
currentRun.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
});

const terminal = setupTerminal(document.querySelector("[data-terminal]"), data, offset,
                               { onGenesis: showGenesis });
const query = data.token ? `?token=${encodeURIComponent(data.token)}` : "";
terminal.attach(connectNetwork(data.network_id, {
  query,
  onOpen: () => terminal.opened(),
  onClose: () => terminal.closed(),
  onMessage: (message) => {
    if (message.type === "status") {
      showGenesis(message.status.genesis);
      terminal.status(message.status);
    } else if (message.type === "invocation" || message.type === "hidden") {
      if (message.invocation.sequence_number === 0) showGenesis(message.invocation);
    } else if (message.type !== "archived") {
      terminal.reply(message);
    }
  },
}));
