// The model-cycle editor: pick only models whose input matches the previous
// output, reorder, remove; the server says whether the cycle is valid and
// Save is enabled only then. In a form (a new network), the editor fills the
// form's `field` with the cycle instead, and `submit` waits for a valid one.
import { csrfToken } from "./live.js";

export function setupEditor(root, data, { onSaved, field, submit } = {}) {
  const rows = root.querySelector("#model-rows");
  const validity = root.querySelector("#network-validity");
  const unsaved = root.querySelector("#unsaved");
  const picker = root.querySelector("#model-select-input");
  const options = root.querySelector("#model-options");
  const addButton = root.querySelector("#add-model");
  const resetButton = root.querySelector("#reset-models");
  const saveButton = root.querySelector("#save-models");
  const note = root.querySelector("#editor-message");
  const warnings = root.querySelector("#network-warnings");
  const catalog = data.catalog;
  let saved = [...data.models];
  let draft = [...data.models];
  let valid = false;
  let checks = 0;

  const changed = () => draft.join(",") !== saved.join(",");
  const lastOutput = () => {
    for (let i = draft.length - 1; i >= 0; i--) {
      if (catalog[draft[i]]) return catalog[draft[i]].output;
    }
    return "text";
  };
  const compatible = () => Object.values(catalog)
    .filter((m) => !m.deprecated && m.input === lastOutput());

  function button(text, label, onClick, disabled = false) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "icon-button";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.disabled = disabled;
    b.addEventListener("click", onClick);
    return b;
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    if (text !== undefined) td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderRows() {
    rows.replaceChildren();
    if (draft.length === 0) {
      cell(rows.insertRow(), "No models in network. Add a model below to get started.", "muted")
        .colSpan = 4;
    }
    draft.forEach((id, index) => {
      const model = catalog[id];
      const row = rows.insertRow();
      row.dataset.model = id;
      cell(row, String(index));
      cell(row, model ? model.name : `${id} (no longer exists)`, model ? "" : "missing");
      const badge = document.createElement("span");
      badge.className = model ? `io-badge io-${model.input}-${model.output}` : "io-badge";
      badge.textContent = model ? `${model.input} → ${model.output}` : "?";
      cell(row).append(badge);
      cell(row, undefined, "row-actions").append(
        button("↑", `Move ${model?.name ?? id} up`, () => move(index, -1), index === 0),
        button("↓", `Move ${model?.name ?? id} down`, () => move(index, 1),
               index === draft.length - 1),
        button("✕", `Remove ${model?.name ?? id}`, () => { draft.splice(index, 1); update(); }),
      );
    });
    options.replaceChildren(...compatible().map((m) => {
      const option = document.createElement("option");
      option.value = m.name;
      option.label = `${m.input} → ${m.output}${m.paid ? " · paid: needs a token" : ""}`;
      return option;
    }));
  }

  function move(index, step) {
    const [id] = draft.splice(index, 1);
    draft.splice(index + step, 0, id);
    update();
  }

  function renderButtons() {
    unsaved.hidden = !changed();
    resetButton.hidden = !changed();
    if (submit) submit.disabled = !valid;
    if (!saveButton) return;
    saveButton.hidden = !changed();
    saveButton.disabled = !(changed() && valid);
  }

  async function check() {
    const mine = ++checks;
    valid = false;
    renderButtons();
    if (draft.length === 0) {
      validity.textContent = "";
      validity.className = "validity";
      warnings.hidden = true;
      return;
    }
    const network = data.network_id ? `&network=${data.network_id}` : "";
    const query = `models=${encodeURIComponent(draft.join(","))}${network}`;
    const response = await fetch(`/api/models/check?${query}`);
    const result = await response.json();
    if (mine !== checks) return;  // a newer draft is being checked
    valid = result.valid;
    validity.textContent = valid ? "✓ Valid network" : `Invalid: ${result.problem}`;
    validity.className = `validity ${valid ? "valid" : "invalid"}`;
    warnings.replaceChildren(...(result.warnings ?? []).map((text) => {
      const item = document.createElement("li");
      item.textContent = `⚠ ${text}`;
      return item;
    }));
    warnings.hidden = !(result.warnings ?? []).length;
    renderButtons();
  }

  function update() {
    note.textContent = "";
    if (field) field.value = draft.join(",");
    renderRows();
    check();
  }

  function add() {
    const wanted = picker.value.trim().toLowerCase();
    if (!wanted) return;
    const choices = compatible();
    const exact = choices.find((m) => m.name.toLowerCase() === wanted || m.id === wanted);
    const partial = choices.filter((m) => m.name.toLowerCase().includes(wanted));
    const model = exact ?? (partial.length === 1 ? partial[0] : null);
    if (!model) {
      note.textContent = partial.length
        ? `Several models match “${picker.value}”: keep typing`
        : `No model taking ${lastOutput()} matches “${picker.value}”`;
      return;
    }
    draft.push(model.id);
    picker.value = "";
    update();
    picker.focus();
  }

  picker.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); add(); }
  });
  picker.addEventListener("change", () => {
    const wanted = picker.value.trim().toLowerCase();
    if (compatible().some((m) => m.name.toLowerCase() === wanted)) add();
  });
  addButton.addEventListener("click", add);
  resetButton.addEventListener("click", () => { draft = [...saved]; update(); });
  saveButton?.addEventListener("click", async () => {
    saveButton.disabled = true;
    const response = await fetch(`/api/networks/${data.network_id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ models: draft }),
    });
    const body = await response.json();
    if (response.ok) {
      saved = [...body.network.models];
      note.textContent = "Saved";
      onSaved?.(saved);
    } else {
      note.textContent = body.message ?? "Failed to save models";
    }
    renderButtons();
  });

  update();
}
