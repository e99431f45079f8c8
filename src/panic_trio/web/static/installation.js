// The installation page: live viewer counts per watcher.
import { connect, pageData } from "./live.js";

const data = pageData();
connect(`/ws/installations/${data.installation_id}/viewers`, {
  onMessage: (message) => {
    if (message.type !== "viewers") return;
    for (const node of document.querySelectorAll("[data-viewers]")) {
      const count = message.counts[node.dataset.viewers] ?? 0;
      node.textContent = `${count} viewer${count === 1 ? "" : "s"}`;
    }
  },
});
