// The terminal on a grid screen in front of a signed-in kiosk (the network's
// owner or an admin): the same terminal as the terminal page, over the
// network's live socket, with the lockout countdown; the screen itself keeps
// drawing from its display socket.
import { clockOffset, connectNetwork } from "./live.js";
import { setupTerminal } from "./terminal.js";

export function setupKiosk(form, data) {
  const terminal = setupTerminal(form, data, clockOffset(data));
  terminal.attach(connectNetwork(data.network_id, {
    onOpen: () => terminal.opened(),
    onClose: () => terminal.closed(),
    onMessage: (message) => {
      if (message.type === "status") terminal.status(message.status);
      else if (message.type !== "invocation") terminal.reply(message);
    },
  }));
}
