// Opens Razorpay Checkout.js on the Razorpay Order of templates/payments/razorpay_checkout.html
// and posts its signed result (payment id, order id, signature) to our callback through the
// page's own form, so the CSRF token travels with it. The server verifies the signature and
// asks Razorpay about the payment; nothing here is trusted.
(function () {
  "use strict";
  var data = document.getElementById("razorpay-options");
  var form = document.getElementById("razorpay-callback");
  var button = document.querySelector("[data-razorpay-open]");
  var status = document.querySelector("[data-razorpay-status]");
  if (!data || !form || !button) { return; }

  function say(text) { if (status) { status.textContent = text; } }

  if (typeof window.Razorpay !== "function") {
    button.disabled = true;
    say("The Razorpay payment window could not be loaded. Check your connection and reload the page.");
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
    // A failed payment releases the reservation at once (payment.failed webhook), so an
    // attempt is final here: the shopper starts a new payment from our page instead.
    retry: { enabled: false },
    handler: function (response) {
      submitted = true;
      button.disabled = true;
      form.elements.razorpay_payment_id.value = response.razorpay_payment_id;
      form.elements.razorpay_order_id.value = response.razorpay_order_id;
      form.elements.razorpay_signature.value = response.razorpay_signature;
      say("Payment received. Confirming it…");
      form.submit();
    },
    modal: {
      ondismiss: function () {
        if (!submitted) { say("The payment window was closed. Press Pay to open it again while your items are reserved."); }
      }
    }
  });
  checkout.on("payment.failed", function (response) {
    var reason = response && response.error && response.error.description;
    say((reason ? "The payment failed: " + reason : "The payment failed.") + " Your reservation was released.");
  });
  button.addEventListener("click", function () { checkout.open(); });
  checkout.open();
})();
