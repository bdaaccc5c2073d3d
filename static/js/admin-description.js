"use strict";
// The product description in the admin (catalog/admin.py, DescriptionEditor): edited as
// formatted text in a contenteditable area with a few buttons, instead of raw HTML. The
// area's HTML goes back into the form's textarea, and the server sanitises it (nh3) on save.
// Without this script the textarea, holding the HTML, stays as it is.
(function () {
  const BUTTONS = [
    ["bold", "B", "Bold (Ctrl+B)"],
    ["italic", "I", "Italic (Ctrl+I)"],
    ["insertUnorderedList", "• List", "Bulleted list"],
    ["insertOrderedList", "1. List", "Numbered list"],
    ["createLink", "Link", "Link the selected text"],
    ["removeFormat", "Clear", "Clear the formatting of the selected text"],
  ];
  const INERT = "script, style, iframe, object, embed, link, meta, form, input, button, textarea, select";

  // The stored HTML, parsed in an inert document (nothing runs, nothing loads) and stripped of
  // active content before it is shown; the server sanitises whatever comes back anyway.
  function safeFragment(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    doc.body.querySelectorAll(INERT).forEach((node) => node.remove());
    doc.body.querySelectorAll("*").forEach((node) => {
      for (const attribute of Array.from(node.attributes)) {
        const name = attribute.name.toLowerCase();
        const value = attribute.value.trim().toLowerCase();
        if (name.startsWith("on") || name === "style" || value.startsWith("javascript:")) {
          node.removeAttribute(attribute.name);
        }
      }
    });
    const fragment = document.createDocumentFragment();
    Array.from(doc.body.childNodes).forEach((node) => fragment.appendChild(document.importNode(node, true)));
    return fragment;
  }

  function enhance(source) {
    const wrapper = document.createElement("div");
    wrapper.className = "rich-text";
    const toolbar = document.createElement("div");
    toolbar.className = "rich-text__toolbar";
    toolbar.setAttribute("role", "toolbar");
    toolbar.setAttribute("aria-label", "Formatting");
    const area = document.createElement("div");
    area.className = "rich-text__area";
    area.contentEditable = "true";
    area.setAttribute("role", "textbox");
    area.setAttribute("aria-multiline", "true");
    area.id = source.id + "_editor";
    area.appendChild(safeFragment(source.value));

    const label = document.querySelector('label[for="' + source.id + '"]');
    if (label) {
      label.id = label.id || source.id + "_label";
      area.setAttribute("aria-labelledby", label.id);
      label.htmlFor = area.id;
      label.addEventListener("click", () => area.focus());
    }
    const describedBy = source.getAttribute("aria-describedby");
    if (describedBy) area.setAttribute("aria-describedby", describedBy);

    const sync = () => {
      source.value = area.innerHTML;
    };
    for (const [command, text, title] of BUTTONS) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = text;
      button.title = title;
      button.dataset.command = command;
      button.setAttribute("aria-label", title);
      button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
      button.addEventListener("click", () => {
        area.focus();
        if (command === "createLink") {
          const url = window.prompt("Link address (https://…)", "https://");
          if (!url || url === "https://") return;
          document.execCommand("createLink", false, url);
        } else {
          document.execCommand(command, false);
        }
        sync();
      });
      toolbar.appendChild(button);
    }
    area.addEventListener("input", sync);
    area.addEventListener("focus", () => document.execCommand("defaultParagraphSeparator", false, "p"));
    if (source.form) source.form.addEventListener("submit", sync);

    wrapper.append(toolbar, area);
    source.before(wrapper);
    source.hidden = true;
  }

  function start() {
    document.querySelectorAll("textarea[data-rich-text]").forEach(enhance);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
