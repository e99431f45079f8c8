// Shared by every page: dismissable flash messages, and no form sent twice.

// A page that answered a form names the page the form was on (reloads.py):
// a reload then asks for that page instead of sending the form again.
const reloadUrl = document.querySelector('meta[name="reload-url"]')?.content;
if (reloadUrl) history.replaceState(history.state, "", reloadUrl);

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-dismiss]");
  if (button) button.parentElement.remove();
});
