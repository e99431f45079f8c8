// A run's page, live: steps of this run are added or updated as they change.
// Model output is untrusted: only textContent and src attributes are used.
// On a public (shared) page no failure or cancellation text is shown.
import { connectNetwork, mediaSrc, pageData } from "./live.js";

const data = pageData();
const chain = document.getElementById("chain");
const steps = document.getElementById("run-steps");
const ending = document.getElementById("run-ending");

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function output(invocation) {
  const kind = data.catalog[invocation.model]?.output ?? "text";
  if (invocation.state === "failed") {
    if (!data.owner) return el("p", "muted", "no output");  // public: no failure text
    // A stop or a replace is not a failure (the control panel says the same).
    if (invocation.metadata?.cancelled === true) {
      const why = (invocation.metadata?.error ?? "").replace(/^cancelled: /, "");
      return el("p", "step-stopped", why && why !== "stopped" ? `stopped: ${why}` : "stopped");
    }
    const reason = invocation.metadata?.error;
    return el("p", "step-failed", reason ? `failed: ${reason}` : "failed");
  }
  if (invocation.metadata?.hidden === true) return el("p", "muted step-hidden", "hidden by the operator");
  if (invocation.state !== "completed") return el("p", "muted", `${invocation.state}…`);
  if (kind === "image") {
    const img = el("img");
    img.src = mediaSrc(invocation.output ?? "", data.base_url);
    img.alt = `output of step ${invocation.sequence_number}`;
    return img;
  }
  if (kind === "audio") {
    const audio = el("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = mediaSrc(invocation.output ?? "", data.base_url);
    return audio;
  }
  return el("p", "step-text", invocation.output ?? "");
}

function meta(invocation, previous) {
  const parts = [new Date(invocation.inserted_at).toISOString().slice(11, 19)];
  const took = invocation.metadata?.latency_ms;
  if (typeof took === "number") parts.push(`took ${(took / 1000).toFixed(2)} s`);
  const before = previous?.querySelector("time")?.getAttribute("datetime");
  if (before) {
    const gap = (Date.parse(invocation.inserted_at) - Date.parse(before)) / 1000;
    parts.push(`${gap.toFixed(2)} s after the previous step`);
  }
  const line = el("p", "step-meta");
  const time = el("time", "", parts[0]);
  time.setAttribute("datetime", invocation.inserted_at);
  line.append(time, ` · ${parts.slice(1).join(" · ")}`);
  return line;
}

function upsert(invocation) {
  const id = `step-${invocation.sequence_number}`;
  const old = document.getElementById(id);
  // A page of a long run shows its own steps; only the last page grows.
  if (!old && !data.live_tail) return;
  const previous = document.getElementById(`step-${invocation.sequence_number - 1}`);
  const item = el("li", `step state-${invocation.state}`);
  item.id = id;
  item.dataset.sequence = invocation.sequence_number;
  const label = data.catalog[invocation.model];
  const name = label ? `${label.name} (${label.input} -> ${label.output})` : invocation.model;
  item.append(el("h2", "step-title", `#${invocation.sequence_number} · ${name}`),
              meta(invocation, previous), el("div", "step-output"));
  item.lastChild.append(output(invocation));
  if (old) old.replaceWith(item); else chain.append(item);
  const drawn = chain.querySelectorAll(".step.state-completed").length;
  steps.textContent = data.steps_elsewhere + drawn;
}

connectNetwork(data.network_id, {
  onMessage: (message) => {
    const invocation = message.invocation;
    if ((message.type === "invocation" || message.type === "archived")
        && invocation?.run_number === data.run_number) {
      upsert(invocation);
    } else if (message.type === "hidden" && invocation?.run_number === data.run_number) {
      if (document.getElementById(`step-${invocation.sequence_number}`)) upsert(invocation);
      if (invocation.sequence_number === 0) document.getElementById("run-prompt").textContent = invocation.input;
    } else if (message.type === "status" && ending.dataset.ending === "running") {
      const genesis = message.status.genesis;
      const active = ["invoking", "waiting"].includes(message.status.state);
      if (!active || (genesis && genesis.run_number !== data.run_number)) {
        ending.dataset.ending = "ended";
        ending.textContent = "ended (reload for details)";
      }
    }
  },
});
