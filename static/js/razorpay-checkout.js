// Opens Razorpay Checkout.js on the Razorpay Order of templates/payments/razorpay_checkout.html
// and posts its signed result (payment id, order id, signature) to our callback through the
// page's own form, so the CSRF token travels with it. The server verifies the signature and
// asks Razorpay about the payment; nothing here is trusted. Closing the window without
// paying posts the page's other form to payments:abandon, which releases the items at once.
(function () {
  "use strict";
  var data = document.getElementById("razorpay-options");
  var form = document.getElementById("razorpay-callback");
  var abandon = document.getElementById("razorpay-abandon");
  var button = document.querySelector("[data-razorpay-open]");
  var status = document.querySelector("[data-razorpay-status]");
  if (!data || !form || !button) { return; }

  // What the status line says, in the page's language: its data-text-* (payments/razorpay_checkout.html).
  function say(name, fallback) { if (status) { status.textContent = status.dataset[name] || fallback; } }

  if (typeof window.Razorpay !== "function") {
    button.disabled = true;
    say("textUnloaded", "The Razorpay payment window could not be loaded. Check your connection and reload the page.");
    return;
  }

  var options = JSON.parse(data.textContent);
  var submitted = false;
  var checkout = new window.Razorpay({
    key: options.key_id,
    amount: options.amount,          // minor units (paise), as the Razorpay Order says
    currency: options.currency,
    order_id: options.order_id,
    name: options.shop_name,
    description: options.description,
    prefill: options.prefill,
    notes: options.notes,
    // A failed attempt is not the end: the shopper may try again in this window, on the same
    // Razorpay Order, while the items stay reserved (the payment.failed webhook keeps the
    // payment pending). Closing the window is what gives up (modal.ondismiss below).
    retry: { enabled: true },
    handler: function (response) {
      submitted = true;
      button.disabled = true;
      form.elements.razorpay_payment_id.value = response.razorpay_payment_id;
      form.elements.razorpay_order_id.value = response.razorpay_order_id;
      form.elements.razorpay_signature.value = response.razorpay_signature;
      say("textReceived", "Payment received. Confirming it…");
      form.submit();
    },
    modal: {
      ondismiss: function () {
        if (submitted) { return; }
        submitted = true;
        button.disabled = true;
        if (abandon) {
          say("textReleasing", "The payment window was closed. Releasing your items…");
          abandon.submit();
        } else {
          say("textClosed", "The payment window was closed.");
        }
      }
    }
  });
  checkout.on("payment.failed", function (response) {
    var reason = response && response.error && response.error.description;
    var again = " You can try again in the payment window while your items are reserved.";
    if (reason) {
      var worded = status && status.dataset.textFailedReason;
      if (status) {
        status.textContent = worded ? worded.replace("{reason}", reason) : "The payment failed: " + reason + "." + again;
      }
    } else {
      say("textFailed", "The payment failed." + again);
    }
  });
  button.addEventListener("click", function () { checkout.open(); });
  checkout.open();
})();
