// The cart page: a quantity changed with the stepper (or typed) updates its line by itself,
// a moment after the last change, through the line's own form; without JavaScript the
// shopper presses the form's "Update" button, which this script hides.
(function () {
  "use strict";
  document.querySelectorAll("form[data-cart-quantity]").forEach(function (form) {
    var input = form.querySelector("input[name=quantity]");
    var update = form.querySelector("[data-cart-update]");
    if (!input) { return; }
    if (update) { update.hidden = true; }
    var initial = input.value;
    var timer = null;
    function submitSoon() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (input.value === initial) { return; }
        if (!input.checkValidity()) {
          // Out of range: say so, and give back the button to send a corrected value.
          if (update) { update.hidden = false; }
          input.reportValidity();
          return;
        }
        form.requestSubmit ? form.requestSubmit() : form.submit();
      }, 600);
    }
    input.addEventListener("change", submitSoon);
  });
})();
