// The dashboard: a new network's cycle is built with the control panel's editor.
import { pageData } from "./live.js";
import { setupEditor } from "./editor.js";

const editor = document.getElementById("model-editor");
if (editor) {
  setupEditor(editor, pageData(), {
    field: document.getElementById("new-network-models"),
    submit: document.getElementById("create-network"),
  });
}
