// Sign-in: paste a token; it is kept for this browser session only (sessionStorage).
import { gql, signIn, signOut } from "../api.js";
import { h } from "../dom.js";

export async function render(root, _params, page) {
  const input = h("textarea", { id: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false",
    placeholder: "eyJhbGciOi…", "aria-describedby": "token-help" });
  const form = h("form", { class: "card signin", onsubmit: async (event) => {
    event.preventDefault();
    const refused = signIn(input.value);
    if (refused) {
      page.error(new Error(refused));
      return;
    }
    try {
      await gql("{ nodeCounts { label count } }"); // the server's word that the token is good
      page.go("#/");
    } catch (err) {
      signOut();
      page.error(err);
    }
  } },
  h("h1", {}, "Sign in"),
  h("label", { for: "token" }, "Token"),
  input,
  h("p", { id: "token-help", class: "muted" },
    "Paste the token `maestro-graph serve` printed for a local run, or one your admin gave you. It stays in this browser tab until you close it."),
  h("button", { type: "submit" }, "Sign in"));
  root.replaceChildren(form);
  input.focus();
}
