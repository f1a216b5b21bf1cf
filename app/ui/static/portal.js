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

// --- UI shell: menu button, responsive lists and filters, busy buttons, confirmations ---------
document.documentElement.classList.add("js");
const narrow = window.matchMedia("(max-width: 40rem)");

// The menu button folds the navigation on a phone (CSS shows it only there, and only with JS).
document.addEventListener("click", (event) => {
  const toggle = event.target.closest && event.target.closest(".nav-toggle");
  if (!toggle) return;
  const list = document.getElementById(toggle.getAttribute("aria-controls"));
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  if (list) list.classList.toggle("open", open);
});

// A card's cells label themselves with their column's heading where the template did not.
function labelCells(root) {
  const selector = "table.list:not([data-cards=own])";
  const inside = root.closest && root.closest(selector);
  const tables = inside ? [inside] : Array.from(root.querySelectorAll(selector));
  tables.forEach((table) => {
    const headings = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((row) => {
      let column = 0;
      for (const cell of row.children) {
        const text = headings[column];
        if (text && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", text);
        column += cell.colSpan || 1;
      }
    });
  });
}

// Filters: open on a wide screen, folded on a phone (unless a field in them needs attention).
function fitFilters(root) {
  root.querySelectorAll("details[data-filters]").forEach((details) => {
    if (!narrow.matches) details.open = true;
    else if (!details.querySelector("[aria-invalid=true]")) details.open = false;
  });
}
narrow.addEventListener("change", () => fitFilters(document));

function settle(root) {
  if (!root || !root.querySelectorAll) return;
  labelCells(root);
  fitFilters(root);
}
settle(document);
document.addEventListener("htmx:load", (event) => settle(event.detail.elt));

// While a request runs, the element that started it (and a form's submit buttons) is disabled
// and marked busy, so a second click cannot send it twice; it comes back when the answer is in.
const busy = new WeakMap();
function busyElements(detail) {
  const elt = detail.elt;
  const found = new Set();
  if (elt.matches("button, input[type=submit], input[type=button]")) found.add(elt);
  if (elt.tagName === "A") found.add(elt);
  if (elt.tagName === "FORM") {
    const cause = detail.requestConfig && detail.requestConfig.triggeringEvent;
    if (cause && cause.type === "submit") {
      elt.querySelectorAll("button:not([type=button]), input[type=submit]").forEach((b) => found.add(b));
      if (cause.submitter) found.add(cause.submitter);
    }
  }
  return Array.from(found);
}
document.addEventListener("htmx:beforeRequest", (event) => {
  if (event.defaultPrevented || !event.detail.xhr) return;
  const elements = busyElements(event.detail);
  for (const el of elements) {
    if (el.tagName === "A") el.setAttribute("aria-disabled", "true");
    else if (!el.disabled) el.disabled = true;
    else continue;
    el.setAttribute("aria-busy", "true");
  }
  busy.set(event.detail.xhr, elements.filter((el) => el.getAttribute("aria-busy") === "true"));
});
document.addEventListener("htmx:afterRequest", (event) => {
  const elements = event.detail.xhr && busy.get(event.detail.xhr);
  if (!elements) return;
  busy.delete(event.detail.xhr);
  for (const el of elements) {
    el.removeAttribute("aria-busy");
    if (el.tagName === "A") el.removeAttribute("aria-disabled");
    else el.disabled = false;
  }
});

// A destructive plain form or button asks first: data-confirm="Delete this list?". (htmx
// buttons use hx-confirm.) Cancelling stops the event before htmx or the browser sees it.
function confirmed(el) {
  const question = el && el.getAttribute("data-confirm");
  return !question || window.confirm(question);
}
document.addEventListener("click", (event) => {
  const el = event.target.closest && event.target.closest("[data-confirm]:not(form)");
  if (el && !confirmed(el)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.matches && form.matches("form[data-confirm]") && !confirmed(form)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// --- tickets list (helper b): the heading's box ticks or clears every ticket on the page -----
document.addEventListener("change", (event) => {
  const all = event.target.closest && event.target.closest("[data-select-all]");
  if (!all) return;
  const scope = all.form || document;
  scope.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`).forEach((box) => {
    box.checked = all.checked;
  });
});

// maintenance: the filterable list of libraries on the window form (helper d). Typing in the
// search box hides the libraries whose name or code does not match; ticked ones always stay
// visible. Without JavaScript every library is listed.
document.addEventListener("input", (event) => {
  const box = event.target;
  if (!box.matches || !box.matches("[data-member-filter]")) return;
  const list = document.getElementById(box.dataset.memberFilter);
  if (!list) return;
  const words = box.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  list.querySelectorAll("li[data-member]").forEach((item) => {
    const ticked = item.querySelector("input:checked");
    const match = words.every((word) => item.dataset.member.includes(word));
    item.hidden = !(match || ticked);
  });
});

// Closing cannot be undone (a closed ticket is never reopened): the bulk bar asks first.
document.addEventListener("htmx:confirm", (event) => {
  const form = event.detail.elt;
  if (!form || !form.matches || !form.matches("form[data-confirm-closing]")) return;
  const status = form.querySelector("[name=status]");
  if (!status || status.value !== "closed") return;
  event.preventDefault();
  const count = form.querySelectorAll("input[name=tickets]:checked").length;
  const what = count === 1 ? "this ticket" : `these ${count} tickets`;
  if (window.confirm(`Close ${what}? A closed ticket cannot be reopened.`)) {
    event.detail.issueRequest(true);
  }
});
