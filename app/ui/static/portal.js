// Small behaviours htmx does not give us; every page works without them for reading.

// A search form's empty choices ("Any status") are left out of the request, so the URL that
// live search pushes stays short (`?q=…`) and an empty filter is never sent as a value.
document.addEventListener("htmx:configRequest", (event) => {
  if (event.detail.verb !== "get") return;
  const params = event.detail.parameters;
  for (const [name, value] of Array.from(event.detail.formData || [])) {
    if (value === "") delete params[name];
  }
});

// Clear a form's old field messages before it is sent again.
document.addEventListener("htmx:beforeRequest", (event) => {
  const form = event.detail.elt.closest && event.detail.elt.closest("form");
  if (!form) return;
  form.querySelectorAll("[data-field-error]").forEach((el) => { el.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
});

// The next success of something the person did (typing, a click, a submit) clears the last
// error alert; background loads leave it. The response may still put its own message there.
document.addEventListener("htmx:beforeSwap", (event) => {
  const cause = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
  if (event.detail.isError || !(cause && cause.isTrusted)) return;
  const flash = document.getElementById("flash");
  if (flash && flash.getAttribute("role") === "alert") {
    flash.replaceChildren();
    flash.setAttribute("role", "status");
  }
});

// Mark the inputs whose messages came back; focus moves to the first of them once settled.
document.addEventListener("htmx:oobAfterSwap", (event) => {
  const slot = event.detail.target;
  if (!slot || !slot.id || !slot.id.startsWith("error-")) return;
  const input = document.getElementById("f-" + slot.id.slice(6));
  if (input) input.setAttribute("aria-invalid", "true");
});
// After a save replaces the main content, focus starts again at its top, as after a page load.
document.addEventListener("htmx:afterSettle", (event) => {
  const invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
  else if (event.detail.target && event.detail.target.id === "main") event.detail.target.focus();
});
