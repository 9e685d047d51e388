// Being built: see issue #27.
import { h } from "../dom.js";

export async function render(root) {
  root.replaceChildren(h("p", { class: "muted" }, "This view is being built."));
}
