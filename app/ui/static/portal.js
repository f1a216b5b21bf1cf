// Clear a form's old field messages before it is sent again; move focus to the first new one.
document.addEventListener("htmx:beforeRequest", (event) => {
  const form = event.detail.elt.closest && event.detail.elt.closest("form");
  if (!form) return;
  form.querySelectorAll("[data-field-error]").forEach((el) => { el.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
});
document.addEventListener("htmx:oobAfterSwap", (event) => {
  const slot = event.detail.target;
  if (!slot || !slot.id || !slot.id.startsWith("error-")) return;
  const input = document.getElementById("f-" + slot.id.slice(6));
  if (input) input.setAttribute("aria-invalid", "true");
});
document.addEventListener("htmx:afterSettle", () => {
  const invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
});
