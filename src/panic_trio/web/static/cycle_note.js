// The control panel's note while a run goes on with a cycle that is no longer
// the network's: a run keeps the cycle it started with (a model must never be
// fed the wrong kind of media), so an edit applies to the next run. When the
// run's last output is text, it can start the new cycle at once.
import { csrfToken } from "./live.js";

const MAX_PROMPT = 2000;

export function setupCycleNote(root, data) {
  const button = root.querySelector("#restart-now");
  let models = [...data.models];
  let status = data.status;

  // The text the new cycle would start from, or null if the types do not allow it.
  function lastText(cycle) {
    const current = status.current;
    if (!current || current.sequence_number === 0) return null;
    const made = cycle[(current.sequence_number - 1) % cycle.length];
    const output = data.catalog[made]?.output;
    const text = current.input;
    return output === "text" && text && text.length <= MAX_PROMPT ? text : null;
  }

  function render() {
    const active = status.state === "invoking" || status.state === "waiting";
    const cycle = status.genesis?.metadata?.cycle;
    const differs = active && Array.isArray(cycle) && cycle.join(",") !== models.join(",");
    root.hidden = !differs;
    button.hidden = !differs || lastText(cycle) === null;
  }

  button.addEventListener("click", async () => {
    const prompt = lastText(status.genesis.metadata.cycle);
    if (prompt === null) return;
    button.disabled = true;
    const response = await fetch(`/api/networks/${data.network_id}/runs?replace=true`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ prompt }),
    });
    button.disabled = false;
    if (!response.ok) root.querySelector("span").textContent = "Could not restart the run";
  });

  render();
  return {
    saved(next) { models = [...next]; render(); },
    status(next) { status = next; render(); },
  };
}
