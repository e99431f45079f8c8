// The runner status strip: state, live countdowns, run age, sequence number.
import { secondsUntil } from "./live.js";

// The same words as render.age_words: 42s, 3m 5s, 2h 7m.
export function ageWords(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  if (hours) return `${hours}h ${minutes}m`;
  if (minutes) return `${minutes}m ${whole % 60}s`;
  return `${whole}s`;
}

// How long the active run has gone, on the server's clock ("" when none is active).
export function runAge(status, offset) {
  const active = status.state === "invoking" || status.state === "waiting";
  const started = Date.parse(status.genesis?.inserted_at ?? "");
  if (!active || Number.isNaN(started)) return "";
  return ageWords((Date.now() + offset - started) / 1000);
}

const LABELS = { idle: "Idle", invoking: "Invoking", waiting: "Waiting", failed: "Failed" };

export function setupStatus(root, offset) {
  const label = root.querySelector("#runner-state");
  const detail = root.querySelector("#runner-detail");
  const lockout = root.querySelector("#runner-lockout");
  const sequence = root.querySelector("#runner-sequence");
  const age = root.querySelector("#runner-age");
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
    const gone = runAge(status, offset);
    age.textContent = gone ? `running for ${gone}` : "";
    const current = status.current ?? status.genesis;
    sequence.textContent = current && status.state !== "idle" ? `#${current.sequence_number}` : "";
  }

  setInterval(render, 1000);
  return { update(next) { status = next; render(); } };
}
