// The network's ring, live: the node of the model invoking (or about to) is
// lit, the counter shows the step, and the last output sits at its node.
// Fed by the page's own socket messages (the same events the screens use).
import { mediaSrc } from "./live.js";

export function nodeOf(invocation, models) {
  if (!invocation || !models.length) return null;
  const index = invocation.sequence_number % models.length;
  if (models[index] === invocation.model) return index;
  const found = models.indexOf(invocation.model);
  return found < 0 ? null : found;
}

export function setupRing(figure, data) {
  if (!figure) return { status() {}, show() {} };
  const models = data.models ?? [];
  const nodes = [...figure.querySelectorAll(".ring-node")];
  const counter = figure.querySelector("#ring-counter");

  function light(index) {
    figure.dataset.lit = index ?? "";
    for (const node of nodes) node.classList.toggle("lit", Number(node.dataset.index) === index);
  }

  function thumb(invocation) {
    const index = nodeOf(invocation, models);
    if (index === null) return;
    const kind = data.catalog?.[invocation.model]?.output ?? "text";
    for (const node of nodes) {
      const here = Number(node.dataset.index) === index;
      const image = node.querySelector(".ring-thumb");
      const showImage = here && kind === "image";
      image.setAttribute("href", showImage ? mediaSrc(invocation.output, data.base_url) : "");
      image.setAttribute("visibility", showImage ? "visible" : "hidden");
      node.querySelector(".ring-glyph").textContent =
        here && kind === "audio" ? "♪" : here && kind === "text" ? "¶" : "";
    }
  }

  return {
    status(status) {
      const active = status.state === "invoking" || status.state === "waiting";
      light(active ? nodeOf(status.current, models) : null);
      counter.textContent = active && status.current ? `step ${status.current.sequence_number}` : "idle";
    },
    show(invocation) {
      if (invocation.state === "completed" && invocation.output) thumb(invocation);
    },
  };
}
