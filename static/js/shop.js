// Small behaviours shared by every page (loaded with defer from templates/base.html).
// Every page works without them: they only make it nicer. No inline handlers: the CSP forbids them.
//
// - [data-menu-toggle]: the header's menu button on small screens; opens the category
//   navigation (#site-nav) and keeps aria-expanded in step. Escape closes it.
// - [data-search-open]: the header's search icon on small screens; opens the navigation and
//   puts the cursor in its search field (without JS it is a link to the listing).
// - [data-qty-stepper]: − and + buttons ([data-step="-1"|"1"]) around a number input; they
//   respect its min and max and fire "input" and "change" as typing would.
// - [data-filters]: the listing's <details> filter panel is open on wide screens (a sidebar)
//   and folded on phones.
(function () {
  "use strict";

  var menuButton = document.querySelector("[data-menu-toggle]");
  var menu = document.getElementById("site-nav");

  function setMenu(open) {
    if (!menuButton || !menu) { return; }
    menuButton.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("is-open", open);
  }

  if (menuButton && menu) {
    menuButton.addEventListener("click", function () {
      setMenu(menuButton.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menuButton.getAttribute("aria-expanded") === "true") {
        setMenu(false);
        menuButton.focus();
      }
    });
    // Back on a wide screen the navigation is a row of links again: no open state to keep.
    window.matchMedia("(min-width: 990px)").addEventListener("change", function (event) {
      if (event.matches) { setMenu(false); }
    });
  }

  document.querySelectorAll("[data-search-open]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var field = menu && menu.querySelector("input[type=search]");
      if (!field) { return; }
      event.preventDefault();
      setMenu(true);
      field.focus();
    });
  });

  document.querySelectorAll("[data-qty-stepper]").forEach(function (stepper) {
    var input = stepper.querySelector("input");
    if (!input) { return; }
    stepper.querySelectorAll("[data-step]").forEach(function (button) {
      button.addEventListener("click", function () {
        var step = parseInt(button.getAttribute("data-step"), 10) || 0;
        var min = input.min === "" ? -Infinity : parseInt(input.min, 10);
        var max = input.max === "" ? Infinity : parseInt(input.max, 10);
        var current = parseInt(input.value, 10);
        if (isNaN(current)) { current = isFinite(min) ? min : 0; }
        var next = Math.min(max, Math.max(min, current + step));
        if (next === current && input.value !== "") { return; }
        input.value = String(next);
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  });

  var wide = window.matchMedia("(min-width: 900px)");
  function placeFilters() {
    document.querySelectorAll("[data-filters]").forEach(function (panel) {
      panel.open = wide.matches;
    });
  }
  placeFilters();
  wide.addEventListener("change", placeFilters);
})();
