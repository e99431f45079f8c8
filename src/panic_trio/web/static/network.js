// The control panel: editor, terminal, runner status, Stop and the 2 x 3 grid.
import { clockOffset, connectNetwork, csrfToken, Display, pageData } from "./live.js";
import { setupCycleNote } from "./cycle_note.js";
import { setupEditor } from "./editor.js";
import { setupRing } from "./ring.js";
import { setupStatus } from "./status.js";
import { setupTerminal } from "./terminal.js";
import { setupSpending } from "./spending.js";

const data = pageData();
const offset = clockOffset(data);
const lastPrompt = document.getElementById("last-prompt");
const grid = new Display(document.getElementById("grid"),
                         { mode: "grid", slots: 6, reasons: true },  // the owner's page
                         data.catalog, data.base_url);
const showGenesis = (genesis) => { if (genesis) lastPrompt.textContent = genesis.input; };
const stopButton = document.getElementById("stop-button");
// Stop is offered only while a run is going: an idle network has nothing to stop.
const showStoppable = (state) => {
  const active = state === "invoking" || state === "waiting";
  stopButton.disabled = !active;
  stopButton.title = active ? "" : "Nothing is running";
};

grid.adopt(data.status.genesis);  // first: a long run's tail may not include its genesis
for (const invocation of data.invocations) grid.show(invocation);
const spending = setupSpending(document.getElementById("spending"));
const cycleNote = setupCycleNote(document.getElementById("cycle-note"), data);
setupEditor(document.getElementById("model-editor"), data, { onSaved: cycleNote.saved });
const status = setupStatus(document.getElementById("runner-status"), offset);
status.update(data.status);
showStoppable(data.status.state);
const ring = setupRing(document.getElementById("network-ring"), data);

const terminal = setupTerminal(document.querySelector("[data-terminal]"), data, offset,
                               { onGenesis: showGenesis });
terminal.attach(connectNetwork(data.network_id, {
  onOpen: () => terminal.opened(),
  onClose: () => terminal.closed(),
  onMessage: (message) => {
    if (message.type === "status") {
      status.update(message.status);
      showStoppable(message.status.state);
      ring.status(message.status);
      cycleNote.status(message.status);
      terminal.status(message.status);
      grid.adopt(message.status.genesis);
      showGenesis(message.status.genesis);
    } else if (message.type === "invocation") {
      grid.show(message.invocation);
      ring.show(message.invocation);
      if (message.invocation.sequence_number === 0) showGenesis(message.invocation);
      if (message.invocation.state === "completed" || message.invocation.state === "failed") {
        spending.changed();
      }
    } else if (message.type === "hidden") {
      grid.replace(message.invocation);
      if (message.invocation.sequence_number === 0) showGenesis(message.invocation);
    } else if (message.type !== "archived") {
      terminal.reply(message);
    }
  },
}));

document.getElementById("stop-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch(`/api/networks/${data.network_id}/runs/current`, {
    method: "DELETE",
    headers: { "X-CSRF-Token": csrfToken() },
  });
  const note = document.getElementById("runner-detail");
  if (response.ok) {
    const body = await response.json();
    if (!body.stopped) note.textContent = "Nothing was running";
  } else {
    note.textContent = "Could not stop the run";
  }
});
