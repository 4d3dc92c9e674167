// Keyboard shortcuts, toasts and the help overlay. No inline scripts anywhere (CSP); htmx does the requests.
(function () {
  "use strict";

  function $(selector) { return document.querySelector(selector); }

  function clickFirst(selector) {
    var element = $(selector);
    if (element && !element.disabled) { element.click(); return true; }
    return false;
  }

  function toggleHelp() {
    var help = $("#help");
    if (!help) return;
    if (help.open) help.close(); else help.showModal();
  }

  function chooseAction(number) {
    var radio = $('#action-choices input[data-action-key="' + number + '"]');
    if (!radio) return false;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    // Enter then submits: focus lands on the decision button.
    var submit = $('[data-shortcut="submit"]');
    if (submit) submit.focus(); else radio.focus();
    return true;
  }

  function escalate() {
    var details = $("#escalate");
    if (!details) return false;
    details.open = true;
    var select = details.querySelector("select");
    if (select) select.focus();
    return true;
  }

  function focusNotes() {
    var notes = $("#note-body");
    if (!notes) return false;
    notes.focus();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target && target.closest && target.closest("input:not([type=radio]):not([type=checkbox]), textarea, select, [contenteditable]");
    if (typing) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if ($("#help") && $("#help").open && event.key !== "?") return;
    var handled = false;
    switch (event.key) {
      case "n": handled = clickFirst('[data-shortcut="next"]'); break;
      case "s": handled = clickFirst('[data-shortcut="skip"]'); break;
      case "c": handled = clickFirst('[data-shortcut="confirm"]'); break;
      case "e": handled = escalate(); break;
      case "r": handled = clickFirst('.media-item.blurred [data-shortcut="reveal"]'); break;
      case "/": handled = focusNotes(); break;
      case "?": toggleHelp(); handled = true; break;
      default:
        if (/^[1-9]$/.test(event.key)) handled = chooseAction(event.key);
    }
    if (handled) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest('[data-shortcut="help"]');
    if (button) toggleHelp();
  });

  // Toasts: the server sends HX-Trigger {"toast": {"message", "level"}}; text is set with textContent.
  document.body.addEventListener("toast", function (event) {
    var region = $("#toasts");
    if (!region || !event.detail) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + String(event.detail.level || "info").replace(/[^a-z]/g, "");
    toast.textContent = String(event.detail.message || "");
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 5000);
  });

  // After a case swap, put focus at the top of the new case so screen readers and keys start there.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "case-main") {
      var main = document.getElementById("case-main");
      var heading = main && main.querySelector("h1");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: false }); }
    }
  });

  // Server-rendered toasts (full page loads) fade out too.
  document.querySelectorAll("#toasts .toast").forEach(function (toast) {
    setTimeout(function () { toast.remove(); }, 6000);
  });
})();
