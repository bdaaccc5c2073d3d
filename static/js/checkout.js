// The checkout page: choosing another shipping method updates the order summary beside it
// (shipping, tax, total) from the figures the server priced for each method, carried on the
// radio cards (data-summary-*). Without JavaScript the review shows them.
(function () {
  "use strict";
  var summary = document.querySelector(".checkout-summary");
  if (!summary) { return; }
  function set(selector, text) {
    var el = summary.querySelector(selector);
    if (el && text !== undefined) { el.textContent = text; }
  }
  document.querySelectorAll("input[data-summary-total]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (!radio.checked) { return; }
      set("[data-shipping-method]", "(" + radio.dataset.summaryMethod + ")");
      set("[data-shipping]", radio.dataset.summaryShipping);
      set("[data-tax]", radio.dataset.summaryTax);
      set("[data-total]", radio.dataset.summaryTotal);
    });
  });
})();
