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
  document.addEventListener("DOMContentLoaded", function () {
    focusFirst();
    guardForms();
  });
  document.addEventListener("htmx:afterSwap", function (evt) { guardForms(evt.target); });
})();
