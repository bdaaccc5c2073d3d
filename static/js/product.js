// The product page (templates/catalog/product_detail.html), loaded with defer.
// Without it the page still works: thumbnails are links to the images, the option radios are
// posted and the server finds the variant they name (storefront/catalog/forms.py).
//
// - Gallery: a thumbnail shows its image in the main image instead of opening it.
// - Picker: choosing a size or colour resolves the variant (data from #variant-data, written
//   by storefront/catalog/picker.py) and shows its price, compare-at price, availability,
//   the add-to-cart button's state and the one notify-me form for it; options that are sold
//   out with the other choices are marked; the address bar keeps ?variant= for sharing.
(function () {
  "use strict";

  // ---- gallery
  var main = document.querySelector("[data-gallery-main]");
  var thumbs = document.querySelectorAll("[data-gallery-thumb]");
  thumbs.forEach(function (thumb) {
    thumb.addEventListener("click", function (event) {
      if (!main || event.metaKey || event.ctrlKey || event.shiftKey) { return; }
      event.preventDefault();
      main.src = thumb.getAttribute("href");
      var srcset = thumb.getAttribute("data-srcset");
      if (srcset) { main.srcset = srcset; } else { main.removeAttribute("srcset"); }
      main.alt = thumb.getAttribute("data-alt") || "";
      thumbs.forEach(function (other) { other.removeAttribute("aria-current"); });
      thumb.setAttribute("aria-current", "true");
    });
  });

  // ---- variant picker
  var dataElement = document.getElementById("variant-data");
  var form = document.querySelector("[data-add-to-cart]");
  if (!dataElement || !form) { return; }
  var variants = JSON.parse(dataElement.textContent);
  var groups = Array.prototype.slice.call(form.querySelectorAll("[data-option-group]"));

  function $(selector) { return document.querySelector(selector); }
  function show(element, visible) { if (element) { element.hidden = !visible; } }

  function chosenOptions() {
    return groups.map(function (group) {
      var checked = group.querySelector("input:checked");
      return checked ? checked.value : null;
    });
  }

  function sameOptions(a, b) {
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) { return false; } }
    return true;
  }

  function findVariant() {
    if (groups.length) {
      var options = chosenOptions();
      return variants.find(function (v) { return sameOptions(v.options, options); }) || null;
    }
    var radio = form.querySelector("[data-variant-input]:checked");
    if (radio) {
      return variants.find(function (v) { return String(v.id) === radio.value; }) || null;
    }
    return variants[0] || null;
  }

  // Marks each option value that, with the other current choices, names no variant that sells.
  function markOptions() {
    var options = chosenOptions();
    groups.forEach(function (group, index) {
      group.querySelectorAll("input[data-option-input]").forEach(function (input) {
        var combo = options.slice();
        combo[index] = input.value;
        var match = variants.find(function (v) { return sameOptions(v.options, combo); });
        var unavailable = !match || !match.sellable;
        input.closest(".option").classList.toggle("option--unavailable", unavailable);
        show(input.parentNode.querySelector("[data-option-soldout]"), unavailable);
      });
      var chosen = group.querySelector("[data-option-chosen]");
      if (chosen) { chosen.textContent = options[index] || ""; }
    });
  }

  var STOCK_CLASSES = { "in": "in-stock", "low": "stock-low", "backorder": "stock-backorder", "out": "stock-out" };

  function render() {
    markOptions();
    var variant = findVariant();
    var price = $("[data-price]");
    var compare = $("[data-compare]");
    var availability = $("[data-availability]");
    var button = form.querySelector("[data-add-button]");
    var notify = $("[data-notify]");
    if (!variant) {
      if (availability) {
        availability.textContent = (button && button.dataset.textUnavailable) || "Unavailable";
        availability.className = "stock-line stock-out";
      }
      if (button) { button.disabled = true; button.textContent = button.dataset.textUnavailable || "Unavailable"; }
      show(notify, false);
      return;
    }
    var onSale = Boolean(variant.compare_at);
    if (price) {
      price.textContent = variant.price;
      price.classList.toggle("price--sale", onSale);
    }
    if (compare) { compare.textContent = variant.compare_at || ""; }
    [compare, $("[data-compare-label]"), $("[data-sale-label]"), $("[data-sale-badge]")].forEach(function (el) {
      show(el, onSale);
    });
    if (availability) {
      availability.textContent = variant.availability;
      availability.className = "stock-line " + (STOCK_CLASSES[variant.status] || "");
    }
    var soldOut = variant.status === "out";
    if (button) {
      button.disabled = soldOut;
      // The words in the page's language, from the button's data-text-* (catalog/product_detail.html).
      button.textContent = soldOut ? (button.dataset.textSoldOut || "Sold out") : (button.dataset.textAdd || "Add to cart");
    }
    if (notify) {
      notify.querySelector("[data-notify-variant]").value = variant.id;
      // Worded by the server in the page's language (storefront/catalog/picker.py, variants_data).
      notify.querySelector("[data-notify-label]").textContent = variant.notify_label;
      show(notify, soldOut);
    }
    var sku = $("[data-sku]");
    if (sku) { sku.textContent = variant.sku; }
    if (window.history && window.history.replaceState) {
      var url = new URL(window.location.href);
      url.searchParams.set("variant", variant.id);
      window.history.replaceState(null, "", url.toString());
    }
  }

  // A browser that restores form fields (reload, back button) may restore another choice
  // than the one the server rendered: show that one.
  var restored = findVariant();
  if (restored && String(restored.id) !== form.getAttribute("data-selected")) { render(); }

  form.addEventListener("change", function (event) {
    if (event.target.matches("[data-option-input], [data-variant-input]")) { render(); }
  });
})();
