// The watcher form shows only the fields of the chosen type.
const form = document.getElementById("watcher-form");
const type = document.getElementById("watcher-type");

function update() {
  form.dataset.type = type.value;
  for (const fieldset of form.querySelectorAll("fieldset")) {
    const shown = fieldset.classList.contains(`for-${type.value}`);
    fieldset.hidden = !shown;
    fieldset.disabled = !shown;
  }
}
type.addEventListener("change", update);
update();
