// report.html filters: by verdict, SCR table and IUT role. Only toggles classes; every text
// on the page was written (escaped) when the page was generated.
(function () {
  "use strict";
  var boxes = document.querySelectorAll('#filters input[name="verdict"]');
  var table = document.getElementById("filter-table");
  var role = document.getElementById("filter-role");
  // Present only in a run with --expect.
  var expectation = document.getElementById("filter-expectation");
  function apply() {
    var verdicts = {};
    boxes.forEach(function (b) { if (b.checked) verdicts[b.value] = true; });
    var shown = 0, cases = 0;
    document.querySelectorAll(".case, .item").forEach(function (el) {
      var tables = (el.getAttribute("data-tables") || "").split(" ");
      var ok = verdicts[el.getAttribute("data-verdict")] === true &&
        (!table.value || tables.indexOf(table.value) >= 0) &&
        (!role.value || el.getAttribute("data-role") === role.value) &&
        (!expectation || !expectation.value || !el.classList.contains("case") ||
          el.getAttribute("data-expectation") === expectation.value);
      el.classList.toggle("hidden", !ok);
      if (el.classList.contains("case")) { cases++; if (ok) shown++; }
    });
    document.querySelectorAll(".table-row").forEach(function (el) {
      el.classList.toggle("hidden", !!table.value && el.getAttribute("data-table") !== table.value);
    });
    document.getElementById("shown-count").textContent = shown + " of " + cases + " cases shown";
  }
  boxes.forEach(function (b) { b.addEventListener("change", apply); });
  table.addEventListener("change", apply);
  role.addEventListener("change", apply);
  if (expectation) { expectation.addEventListener("change", apply); }
  document.getElementById("expand-all").addEventListener("click", function () {
    document.querySelectorAll(".case:not(.hidden)").forEach(function (d) { d.open = true; });
  });
  document.getElementById("collapse-all").addEventListener("click", function () {
    document.querySelectorAll(".case").forEach(function (d) { d.open = false; });
  });
  // A link to a case opens it.
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === "DETAILS") { el.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  apply();
})();
