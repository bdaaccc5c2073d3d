// The account area's navigation (templates/accounts/_area.html). On phones it is one row that
// scrolls sideways within itself; this brings the current page's item into view, centred, so
// that "Addresses" or "Privacy & data" is not hidden past the edge. Without JS the row still
// scrolls. Loaded with defer; no inline script (the CSP forbids it).
(function () {
  "use strict";
  var list = document.querySelector("[data-account-nav]");
  var current = list && list.querySelector("[aria-current='page']");
  if (!list || !current || list.scrollWidth <= list.clientWidth) { return; }
  var box = list.getBoundingClientRect();
  var item = current.getBoundingClientRect();
  list.scrollLeft += item.left - box.left - (box.width - item.width) / 2;
})();
