// "Try it" on the API page: sends one request with the given bearer token.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-api-try]");
    if (!form) { return; }
    var out = document.getElementById("api-response");
    form.addEventListener("submit", function (evt) {
      evt.preventDefault();
      var method = document.getElementById("api-method").value;
      var path = document.getElementById("api-path").value;
      if (path.indexOf("/api/") !== 0) { out.textContent = "Path must start with /api/"; return; }
      var headers = { "Accept": "application/json" };
      var token = document.getElementById("api-token").value.trim();
      if (token) { headers["Authorization"] = "Bearer " + token; }
      var opts = { method: method, headers: headers, credentials: "omit" };
      var body = document.getElementById("api-body").value.trim();
      if (method !== "GET" && body) { headers["Content-Type"] = "application/json"; opts.body = body; }
      fetch(path, opts).then(function (r) {
        return r.text().then(function (text) {
          var shown = text;
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
          out.textContent = "HTTP " + r.status + "\n" + shown;
        });
      }).catch(function (e) { out.textContent = String(e); });
    });
  });
})();
