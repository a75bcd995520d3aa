// Progressive enhancement only: every page works without JavaScript.
(function () {
  "use strict";
  function focusFirst() {
    var el = document.querySelector("[data-focus]");
    if (el) { el.focus(); }
  }
  // A form marked data-once disables its submit buttons after the first submit, so a
  // double click sends one request (the server also answers a second one safely).
  function guardForms(root) {
    (root || document).querySelectorAll("form[data-once]").forEach(function (form) {
      if (form.dataset.onceBound) { return; }
      form.dataset.onceBound = "1";
      form.addEventListener("submit", function () {
        if (form.dataset.submitting) { return; }
        form.dataset.submitting = "1";
        window.setTimeout(function () {
          form.querySelectorAll("button[type=submit]").forEach(function (b) {
            b.setAttribute("aria-disabled", "true");
            b.disabled = true;
          });
        }, 0);
      });
    });
  }
  // Notices (role=status, always in the page): a live region announces changes, not what
  // the page loaded with, so the text of this load's notices is added once more, for
  // screen readers only, a moment after load; the visible ones stay as they are (hidden
  // from the accessibility tree, so nothing is read twice).
  function announceLoaded() {
    var region = document.getElementById("lotse-notices");
    if (!region || !region.children.length) { return; }
    var items = Array.prototype.slice.call(region.children);
    var text = items.map(function (n) { return n.textContent.replace(/\s+/g, " ").trim(); });
    items.forEach(function (n) { n.setAttribute("aria-hidden", "true"); });
    window.setTimeout(function () {
      text.forEach(function (line) {
        var p = document.createElement("p");
        p.className = "kern-sr-only";
        p.textContent = line;
        region.appendChild(p);
      });
      region.setAttribute("data-announced", "true");
    }, 150);
  }
  // An htmx action answers a row with its message: said once, through the page's region.
  // (a row's message still has role=status until it was said: outerHTML swaps replace the
  // target, so the new ones are looked up in the whole document)
  function announceSwapped() {
    var region = document.getElementById("lotse-notices");
    if (!region) { return; }
    var msgs = document.querySelectorAll(".lotse-row-message[role=status]");
    if (!msgs.length) { return; }
    region.textContent = "";
    msgs.forEach(function (m) {
      m.removeAttribute("role");
      var p = document.createElement("p");
      p.className = "kern-sr-only";
      p.textContent = m.textContent;
      region.appendChild(p);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    focusFirst();
    guardForms();
    announceLoaded();
  });
  document.addEventListener("htmx:afterSwap", function (evt) {
    guardForms(evt.target);
    announceSwapped();
  });
})();
