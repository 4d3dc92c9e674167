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

  // Global search (header). Ctrl-K focuses it on every page, even from a text field; "/" does where it is not
  // the note shortcut (a case page). Suggestions follow the ARIA combobox pattern: focus stays in the box,
  // arrow keys move aria-activedescendant over the options, Enter opens the active one (or, with none
  // active, submits for the full results page), Escape closes the list.
  function searchBox() { return document.getElementById("global-search"); }
  function searchPopup() { return document.getElementById("search-popup"); }

  function focusSearch() {
    var box = searchBox();
    if (!box) return false;
    box.focus();
    box.select();
    return true;
  }

  function searchOptions() {
    return Array.prototype.slice.call(document.querySelectorAll('#search-popup [role="option"]'));
  }

  function activeOption() {
    var options = searchOptions();
    for (var i = 0; i < options.length; i++) if (options[i].getAttribute("aria-selected") === "true") return i;
    return -1;
  }

  function setActiveOption(index) {
    var box = searchBox();
    searchOptions().forEach(function (option, i) {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
      option.classList.toggle("active", i === index);
      if (i === index) {
        box.setAttribute("aria-activedescendant", option.id);
        option.scrollIntoView({ block: "nearest" });
      }
    });
    if (index < 0) box.removeAttribute("aria-activedescendant");
  }

  function showSearchPopup(open) {
    var box = searchBox(), popup = searchPopup();
    if (!box || !popup) return;
    popup.hidden = !open;
    box.setAttribute("aria-expanded", open && searchOptions().length ? "true" : "false");
    if (!open) setActiveOption(-1);
  }

  var box = searchBox();
  if (box) {
    box.addEventListener("keydown", function (event) {
      var options = searchOptions(), current = activeOption(), popup = searchPopup();
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!options.length) return;
        event.preventDefault();
        showSearchPopup(true);
        var step = event.key === "ArrowDown" ? 1 : -1;
        setActiveOption(current < 0 ? (step > 0 ? 0 : options.length - 1) : (current + step + options.length) % options.length);
      } else if (event.key === "Enter" && current >= 0 && popup && !popup.hidden) {
        event.preventDefault();
        window.location.assign(options[current].href);
      } else if (event.key === "Escape" && popup && !popup.hidden) {
        event.preventDefault();  // close the list first; a second Escape leaves the box
        showSearchPopup(false);
      }
    });
    box.addEventListener("focus", function () { if (searchPopup().children.length) showSearchPopup(true); });
    document.addEventListener("click", function (event) {
      if (!event.target.closest || !event.target.closest(".global-search")) showSearchPopup(false);
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail && event.detail.target && event.detail.target.id === "search-popup") {
        showSearchPopup(searchPopup().children.length > 0 && document.activeElement === searchBox());
        setActiveOption(-1);
      }
    });
  }

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && (event.key === "k" || event.key === "K")) {
      if (focusSearch()) event.preventDefault();
    }
  });

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
      case "/": handled = focusNotes() || focusSearch(); break;
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
  function showToast(message, level, undo) {
    var region = $("#toasts");
    if (!region) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + String(level || "info").replace(/[^a-z]/g, "");
    toast.textContent = String(message || "");
    var seconds = 5;
    if (undo && undo.url && /^\/[\w\/-]*$/.test(undo.url)) {
      // Undo for the decision's window: an htmx button (CSRF header inherited from <body>), gone when it closes.
      seconds = Math.max(5, Number(undo.seconds) || 0);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "toast-undo";
      button.textContent = "Undo";
      button.setAttribute("data-shortcut", "undo");
      button.setAttribute("hx-post", undo.url);
      button.setAttribute("hx-vals", JSON.stringify({ decision: String(undo.decision) }));
      button.setAttribute("hx-target", "#case-main");
      button.setAttribute("hx-swap", "outerHTML");
      button.addEventListener("click", function () { setTimeout(function () { toast.remove(); }, 0); });
      toast.appendChild(document.createTextNode(" "));
      toast.appendChild(button);
      setTimeout(function () { button.remove(); }, (Number(undo.seconds) || 0) * 1000);
      if (window.htmx) window.htmx.process(button);
    }
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, seconds * 1000);
  }

  document.body.addEventListener("toast", function (event) {
    if (event.detail) showToast(event.detail.message, event.detail.level, event.detail.undo);
  });

  // After a case swap, put focus at the top of the new case so screen readers and keys start there.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "case-main") {
      var main = document.getElementById("case-main");
      var heading = main && main.querySelector("h1");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: false }); }
    }
  });

  // Bulk decide: "select all on this page" ticks every case box of the form; the action list offers only
  // what the chosen policy allows (the server checks again).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target || !target.getAttribute) return;
    var form = target.getAttribute("data-select-all");
    if (form) {
      document.querySelectorAll('input[type=checkbox][name=cases][form="' + form.replace(/[^\w-]/g, "") + '"]')
        .forEach(function (box) { box.checked = target.checked; });
    }
    if (target.hasAttribute("data-filters-actions")) filterActions(target);
  });

  function filterActions(policySelect) {
    var actions = document.getElementById(policySelect.getAttribute("data-filters-actions"));
    if (!actions) return;
    var chosen = policySelect.value;
    var firstAllowed = null;
    Array.prototype.forEach.call(actions.options, function (option) {
      var allowed = (" " + (option.getAttribute("data-policies") || "") + " ").indexOf(" " + chosen + " ") !== -1;
      option.disabled = !allowed;
      option.hidden = !allowed;
      if (allowed && firstAllowed === null) firstAllowed = option;
    });
    var current = actions.options[actions.selectedIndex];
    if ((!current || current.disabled) && firstAllowed) firstAllowed.selected = true;
  }

  function filterAllActions() {
    document.querySelectorAll("[data-filters-actions]").forEach(filterActions);
  }
  filterAllActions();
  document.body.addEventListener("htmx:afterSwap", filterAllActions);

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
