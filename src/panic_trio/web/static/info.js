// The public info page: last prompt and current output, live.
import { connectNetwork, Display, pageData } from "./live.js";
import { setupRing } from "./ring.js";

const data = pageData();
const lastPrompt = document.getElementById("last-prompt");
const display = new Display(document.getElementById("current-output"),
                            { mode: "single", stride: 1, offset: 0, showInvoking: false },
                            data.catalog, data.base_url);
const ring = setupRing(document.getElementById("network-ring"), data);
const showGenesis = (genesis) => { if (genesis) lastPrompt.textContent = genesis.input; };

display.adopt(data.status.genesis);  // first: a long run's tail may not include its genesis
for (const invocation of data.invocations) display.show(invocation);
connectNetwork(data.network_id, {
  onMessage: (message) => {
    if (message.type === "status") {
      display.adopt(message.status.genesis);
      ring.status(message.status);
      showGenesis(message.status.genesis);
    } else if (message.type === "invocation") {
      display.show(message.invocation);
      ring.show(message.invocation);
      if (message.invocation.sequence_number === 0) showGenesis(message.invocation);
    } else if (message.type === "hidden") {
      display.replace(message.invocation);
      if (message.invocation.sequence_number === 0) showGenesis(message.invocation);
    }
  },
});
