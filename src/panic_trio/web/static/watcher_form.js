// The watcher form shows only the fields of the chosen type, and says as you
// type when a grid is larger than a screen can show (the server's own limit).
const form = document.getElementById("watcher-form");
const type = document.getElementById("watcher-type");
const submit = form.querySelector('button[type="submit"]');

function update() {
  form.dataset.type = type.value;
  for (const fieldset of form.querySelectorAll("fieldset")) {
    const shown = fieldset.classList.contains(`for-${type.value}`);
    fieldset.hidden = !shown;
    fieldset.disabled = !shown;
  }
  checkLimits();
}

// The same words as the server's message (watchers._at_least).
function limitProblem(input) {
  if (input.value === "") return "";
  const value = Number(input.value);
  if (!Number.isInteger(value)) return "must be a whole number";
  if (value < Number(input.min)) return `must be greater than or equal to ${input.min}`;
  if (value > Number(input.max)) return `must be less than or equal to ${input.max}`;
  return "";
}

function checkLimits() {
  let bad = false;
  for (const input of form.querySelectorAll("input[data-limit]")) {
    const message = form.querySelector(`[data-live-error="${input.name}"]`);
    const problem = input.closest("fieldset").disabled ? "" : limitProblem(input);
    message.textContent = problem;
    message.hidden = !problem;
    input.setAttribute("aria-invalid", problem ? "true" : "false");
    bad ||= Boolean(problem);
  }
  submit.disabled = bad;
}

type.addEventListener("change", update);
form.addEventListener("input", checkLimits);
update();
