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

  // The decision keys (an action's key, Enter on the decision form, c) act only on a case this agent holds:
  // on a case they are only browsing, a stray key press must never decide it. The server refuses too.
  function holding() {
    var main = $("#case-main");
    return !!main && main.getAttribute("data-holding") === "1";
  }

  function decisionForm(element) {
    var form = element && element.closest && element.closest("form");
    return form && form.querySelector('[data-shortcut="submit"], [data-shortcut="confirm"]') ? form : null;
  }

  function notHolding() {
    showToast("You are only browsing this case: claim it to decide it.", "info");
    return true;
  }

  function chooseAction(key) {
    // Keys are one digit or lower-case letter (validated on the action), safe inside the selector.
    var radio = $('#action-choices input[data-action-key="' + key + '"]');
    if (!radio) return false;
    if (!holding()) return notHolding();
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
      case "c": handled = $('[data-shortcut="confirm"]') && !holding() ? notHolding() : clickFirst('[data-shortcut="confirm"]'); break;
      case "Enter":
        // Enter on the decision form (its button, a chosen radio) submits it: not on a case being browsed.
        handled = decisionForm(target) && !holding() ? notHolding() : false;
        break;
      case "e": handled = escalate(); break;
      case "r": handled = clickFirst('.media-item.blurred [data-shortcut="reveal"]'); break;
      case "/": handled = focusNotes(); break;
      case "?": toggleHelp(); handled = true; break;
      default:
        if (/^[0-9a-z]$/.test(event.key)) handled = chooseAction(event.key);
    }
    if (handled) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest('[data-shortcut="help"]');
    if (button) toggleHelp();
  });

  // Toasts: the server sends HX-Trigger {"toast": {"message", "level"}}; text is set with textContent.
  function showToast(message, level) {
    var region = $("#toasts");
    if (!region) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + String(level || "info").replace(/[^a-z]/g, "");
    toast.textContent = String(message || "");
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 5000);
  }

  document.body.addEventListener("toast", function (event) {
    if (event.detail) showToast(event.detail.message, event.detail.level);
  });

  // After a case swap, put focus at the top of the new case so screen readers and keys start there.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "case-main") {
      var main = document.getElementById("case-main");
      var heading = main && main.querySelector("h1");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: false }); }
    }
  });

  // Wellness settings (classes on <body>, moderation/comfort.py): videos start muted; with auto-reveal on, the
  // media of a case opened is revealed through the same audited reveal as the button ("Blur again" stays put).
  function applyComfort(root) {
    var body = document.body;
    if (body.classList.contains("mute-video")) {
      root.querySelectorAll("video").forEach(function (video) { video.muted = true; });
    }
    if (body.classList.contains("auto-reveal")) {
      root.querySelectorAll('.media-item.blurred [data-shortcut="reveal"]').forEach(function (button) { button.click(); });
    }
  }

  // After htmx has processed the page (it starts on DOMContentLoaded too), so a reveal goes through it.
  document.addEventListener("DOMContentLoaded", function () { setTimeout(function () { applyComfort(document); }, 0); });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "case-main") applyComfort(event.detail.target);
  });

  // Server-rendered toasts (full page loads) fade out too.
  document.querySelectorAll("#toasts .toast").forEach(function (toast) {
    setTimeout(function () { toast.remove(); }, 6000);
  });
})();
