// The phone remote: each network's live status, Start and Stop, and its screens.
// It listens on the sockets the control panel and installation pages use.
import { clockOffset, connect, connectNetwork, csrfToken, pageData, secondsUntil } from "./live.js";
import { runAge } from "./status.js";

const data = pageData();
const offset = clockOffset(data);
const LABELS = { idle: "Idle", invoking: "Invoking", waiting: "Waiting", failed: "Failed" };

function setupNetwork(section, initial) {
  const part = (name) => section.querySelector(`[data-remote="${name}"]`);
  const [state, age, sequence, prompt, form, go, stop, message] =
    ["state", "age", "sequence", "prompt", "start", "go", "stop", "message"].map(part);
  const input = form.querySelector('input[name="prompt"]');
  let status = initial.status;
  let connected = false;

  const say = (text, kind = "info") => { message.textContent = text; message.dataset.kind = kind; };

  function render() {
    const active = status.state === "invoking" || status.state === "waiting";
    section.dataset.state = status.state;
    state.textContent = LABELS[status.state] ?? status.state;
    state.className = `remote-state state-${status.state}`;
    const gone = runAge(status, offset);
    age.textContent = gone ? `running for ${gone}` : "";
    const current = status.current ?? status.genesis;
    sequence.textContent = active && current ? `step #${current.sequence_number}` : "";
    if (status.genesis) prompt.textContent = status.genesis.input;
    stop.disabled = !active;
    const wait = active ? secondsUntil(status.lockout_until, offset) : 0;
    go.disabled = !connected || wait > 0;
    go.textContent = wait > 0 ? `Start in ${wait} s` : "Start";
  }

  const live = connectNetwork(initial.id, {
    onOpen: () => { connected = true; section.dataset.live = "true"; render(); },
    onClose: () => { connected = false; section.dataset.live = "false"; render(); },
    onMessage: (frame) => {
      if (frame.type === "status") {
        status = frame.status;
      } else if (frame.type === "run_started") {
        input.value = "";
        say(`Started: ${frame.genesis.input}`);
      } else if (frame.type === "locked_out") {
        say(`Locked out: a new prompt is taken in ${frame.retry_after} s`, "error");
      } else if (frame.type === "spending_cap" || frame.type === "error") {
        say(frame.message, "error");
      }
      render();
    },
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!live.send({ type: "start_run", prompt: input.value })) {
      say("Not connected yet: try again in a moment", "error");
      return;
    }
    say("Sending…");
  });

  stop.addEventListener("click", async () => {
    stop.disabled = true;
    const response = await fetch(`/api/networks/${initial.id}/runs/current`, {
      method: "DELETE",
      headers: { "X-CSRF-Token": csrfToken() },
    });
    if (!response.ok) say("Could not stop the run", "error");
    else if (!(await response.json()).stopped) say("Nothing was running");
    else say("Stopped");
  });

  setInterval(render, 1000);
  render();
}

function setupScreens(installationId) {
  const box = document.querySelector(`[data-installation="${installationId}"]`);
  if (!box) return;
  connect(`/ws/installations/${installationId}/viewers`, {
    onMessage: (frame) => {
      if (frame.type !== "viewers") return;
      for (const node of box.querySelectorAll("[data-viewers]")) {
        const count = frame.counts[node.dataset.viewers] ?? 0;
        node.textContent = `${count} connected`;
        node.className = `screen-link ${count ? "online" : "offline"}`;
      }
    },
  });
}

// Identify / Reload / Enable sound: the same form the page sends without
// JavaScript, sent in the background so the page and its sockets stay.
const ASKED = { identify: "shows its name", reload: "reloads", sound: "tries its sound again" };
for (const form of document.querySelectorAll("[data-screen-form]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const said = form.parentElement.querySelector("[data-screen-said]");
    const body = new FormData(form, event.submitter);
    const request = body.get("request");
    let text = "Could not ask the screen";
    try {
      const response = await fetch(form.action, {
        method: "POST", body, headers: { Accept: "application/json" },
      });
      const answer = await response.json();
      text = response.ok ? `Asked: the screen ${ASKED[request] ?? request}` : answer.message;
      said.dataset.kind = response.ok ? "info" : "error";
    } catch {
      said.dataset.kind = "error";
    }
    said.textContent = text;
  });
}

for (const network of data.networks) {
  setupNetwork(document.getElementById(`remote-${network.id}`), network);
  for (const installationId of network.installations) setupScreens(installationId);
}
