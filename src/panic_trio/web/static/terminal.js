// The terminal: one input, enabled only while the live socket is open, with
// the lockout countdown for everyone and a visible answer to every prompt.
import { secondsUntil } from "./live.js";

const READY = "Ready for new input";
const MAX_PROMPT = 2000;
const COUNT_FROM = 1800;  // the counter shows near the limit only

export function setupTerminal(form, data, offset, { onGenesis } = {}) {
  const input = form.querySelector("input[name=prompt]");
  const message = form.querySelector(".terminal-message");
  const submit = form.querySelector(".terminal-submit");
  const countdown = form.querySelector(".terminal-countdown");
  const counter = form.querySelector(".prompt-counter");
  let readyAt = input.dataset.readyAt ?? null;
  let connected = false;
  let lockedByCountdown = false;
  let socket = null;
  let capUntil = null;  // a spending cap refuses prompts until then
  let capMessage = "";

  function say(text, kind = "info") {
    message.textContent = text;
    message.dataset.kind = kind;
  }

  function count() {
    if (!counter) return;
    const used = input.value.length;
    counter.hidden = used < COUNT_FROM;
    counter.textContent = `${used.toLocaleString("en")} / ${MAX_PROMPT.toLocaleString("en")}`;
    counter.dataset.near = String(used >= MAX_PROMPT);
  }

  function tick() {
    const left = secondsUntil(readyAt, offset);
    if (!connected) {
      input.disabled = true;
      input.placeholder = "Connecting…";
    } else if (capUntil && secondsUntil(capUntil, offset) > 0) {
      input.disabled = true;
      input.value = "";
      lockedByCountdown = true;
      input.placeholder = "Not accepting prompts until the budget renews";
      if (message.textContent !== capMessage) say(capMessage, "error");
    } else if (left > 0) {
      input.disabled = true;
      input.value = "";
      lockedByCountdown = true;
      input.placeholder = `${left} second${left === 1 ? "" : "s"} until ready for new input`;
    } else {
      if (capUntil) {
        capUntil = null;
        if (message.textContent === capMessage) say("");
      }
      input.placeholder = READY;
      if (input.disabled) {
        input.disabled = false;
        if (lockedByCountdown || document.activeElement === document.body) input.focus();
      }
      lockedByCountdown = false;
    }
    if (readyAt && left > 0) input.dataset.readyAt = readyAt;
    else delete input.dataset.readyAt;
    if (submit) submit.disabled = input.disabled;
    // The placeholder may be cut short on a narrow phone; this line wraps instead.
    if (countdown) countdown.textContent = connected && left > 0 ? input.placeholder : "";
    count();
  }

  input.addEventListener("input", count);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const prompt = input.value;
    if (!socket || !socket.send({ type: "start_run", prompt })) {
      say("Not connected yet: please wait a moment and try again", "error");
      return;
    }
    say("Sending…");
  });

  setInterval(tick, 1000);
  tick();

  return {
    attach(live) { socket = live; },
    opened() { connected = true; tick(); },
    closed() { connected = false; say("Connection lost: reconnecting…", "error"); tick(); },
    status(status) {
      const active = status.state === "invoking" || status.state === "waiting";
      const cap = status.state === "failed" ? status.current?.metadata?.cap : null;
      if (cap?.resumes_at) {
        capUntil = cap.resumes_at;
        capMessage = cap.message;
      } else if (cap) {
        say(cap.message, "error");
      }
      readyAt = active ? status.lockout_until : null;
      if (message.dataset.kind === "error" && message.textContent.startsWith("Connection lost")) {
        say("");
      }
      tick();
    },
    reply(reply) {
      if (reply.type === "run_started") {
        input.value = "";
        say(`Started: ${reply.genesis.input}`);
        onGenesis?.(reply.genesis);
      } else if (reply.type === "locked_out") {
        readyAt = new Date(Date.now() + offset + reply.retry_after * 1000).toISOString();
        say("Please wait before starting a new run", "error");
        onGenesis?.(reply.genesis);
      } else if (reply.type === "spending_cap") {
        capMessage = reply.message;
        if (reply.resumes_at) capUntil = reply.resumes_at;
        else say(reply.message, "error");
      } else if (reply.type === "error") {
        say(reply.message, "error");
      }
      tick();
    },
  };
}
