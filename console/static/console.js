// ntsflow console: our one script, an ES module because GOV.UK Frontend 5's
// is one. The CSP allows no inline script, so the body class GOV.UK
// Frontend's template sets inline is set here, before its components start.
// Without script every page is complete: forms post, lists reload.
import { initAll } from "/console/static/govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// The at-risk list refreshes itself every few seconds (data-refresh) by
// asking the same page for its results; a reload does the same.
(function () {
  "use strict";
  var box = document.getElementById("at-risk-results");
  if (!box || !window.fetch) { return; }
  var every = parseInt(box.getAttribute("data-refresh"), 10);
  if (!(every > 0)) { return; }
  var query = box.getAttribute("data-query");
  var url = "/console/at-risk" + (query ? "?" + query : "");
  var busy = false;
  function refresh() {
    // Do not move the list under someone who is reading or using it.
    if (busy || document.hidden || box.contains(document.activeElement)) { return; }
    busy = true;
    fetch(url, { headers: { "X-Console-Fragment": "at-risk" }, credentials: "same-origin", cache: "no-store" })
      .then(function (res) { return res.ok && !res.redirected ? res.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; } })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  window.setInterval(refresh, every * 1000);
})();
