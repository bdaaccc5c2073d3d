// The cart page: a quantity changed with the stepper (or typed) updates its line by itself,
// a moment after the last change, through the line's own form; without JavaScript the
// shopper presses the form's "Update" button (in a noscript: never laid out when this runs).
(function () {
  "use strict";
  document.querySelectorAll("form[data-cart-quantity]").forEach(function (form) {
    var input = form.querySelector("input[name=quantity]");
    if (!input) { return; }
    var initial = input.value;
    var timer = null;
    function submitSoon() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (input.value === initial) { return; }
        if (!input.checkValidity()) {
          // Out of range: say so; the corrected value's change sends the form.
          input.reportValidity();
          return;
        }
        form.requestSubmit ? form.requestSubmit() : form.submit();
      }, 600);
    }
    input.addEventListener("change", submitSoon);
  });
})();
