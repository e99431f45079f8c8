// The runner status strip: state, live countdowns, sequence number.
import { secondsUntil } from "./live.js";

const LABELS = { idle: "Idle", invoking: "Invoking", waiting: "Waiting", failed: "Failed" };

export function setupStatus(root, offset) {
  const label = root.querySelector("#runner-state");
  const detail = root.querySelector("#runner-detail");
  const lockout = root.querySelector("#runner-lockout");
  const sequence = root.querySelector("#runner-sequence");
  let status = { state: "idle" };

  function render() {
    root.dataset.state = status.state;
    root.className = `runner-status state-${status.state}`;
    label.textContent = LABELS[status.state] ?? status.state;
    if (status.state === "waiting") {
      detail.textContent = `next invocation in ${secondsUntil(status.next_invocation_at, offset)} s`;
    } else if (status.state === "failed") {
      detail.textContent = status.error ?? "";
    } else {
      detail.textContent = "";
    }
    const active = status.state === "invoking" || status.state === "waiting";
    const left = active ? secondsUntil(status.lockout_until, offset) : 0;
    lockout.textContent = left > 0 ? `Locked out: ${left} s until ready for new input` : "";
    root.dataset.lockedOut = left > 0 ? "true" : "false";
    const current = status.current ?? status.genesis;
    sequence.textContent = current && status.state !== "idle" ? `#${current.sequence_number}` : "";
  }

  setInterval(render, 1000);
  return { update(next) { status = next; render(); } };
}
