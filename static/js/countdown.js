// Counts down to a reservation's expiry: <span data-countdown data-expires-at="ISO-8601">.
// At zero it shows data-expired-text and reloads the page so the server can say what became
// of the hold, unless the element has data-no-reload (a form the shopper is filling in).
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var expiresAt = Date.parse(el.dataset.expiresAt);
    if (isNaN(expiresAt)) { return; }
    function tick() {
      var left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
      if (left === 0) {
        el.textContent = el.dataset.expiredText || "expired";
        clearInterval(timer);
        if (el.hasAttribute("data-no-reload")) { return; }
        // Reload so the server shows the order as expired and the stock as released.
        setTimeout(function () { window.location.reload(); }, 1500);
        return;
      }
      el.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
    }
    var timer = setInterval(tick, 1000);
    tick();
  });
})();
