// Keyboard-first triage. Loaded as a file (the Content-Security-Policy forbids inline script);
// it only moves focus and fills forms: every decision is an ordinary form POST.
(function () {
  "use strict";

  var page = document.body.getAttribute("data-page");
  var help = document.getElementById("help");
  var rows = [];
  var current = -1;

  function toggleHelp() {
    if (help) help.hidden = !help.hidden;
  }

  function typing(target) {
    return target && target.closest && target.closest("input, textarea, select, [contenteditable]");
  }

  function follow(id) {
    var link = document.getElementById(id);
    if (link) window.location.href = link.getAttribute("href");
  }

  function select(index) {
    if (!rows.length) return;
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (current >= 0) {
      rows[current].classList.remove("selected");
      rows[current].removeAttribute("aria-selected");
    }
    current = index;
    rows[current].classList.add("selected");
    rows[current].setAttribute("aria-selected", "true");
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function rowBox(row) {
    return row ? row.querySelector("input[type=checkbox]") : null;
  }

  function queueVerdict(verb) {
    var action = document.getElementById("bulk-action");
    var reason = document.getElementById("bulk-reason");
    var hint = document.getElementById("bulk-hint");
    if (!action || !reason) return;
    var allowed = Array.prototype.some.call(action.options, function (option) {
      return option.value === verb;
    });
    if (!allowed) {
      if (hint) hint.textContent = "Cannot " + verb + " versions in this state.";
      return;
    }
    action.value = verb;
    var checked = document.querySelectorAll("input[name=package][form=bulk]:checked");
    if (!checked.length && current >= 0 && rowBox(rows[current])) {
      rowBox(rows[current]).checked = true;
      checked = document.querySelectorAll("input[name=package][form=bulk]:checked");
    }
    if (hint) hint.textContent = "Enter: " + verb + " " + checked.length + " version(s); Esc: cancel";
    reason.focus();
  }

  function packageVerdict(verb) {
    var input = document.getElementById("reason-" + verb);
    if (input) input.focus();
  }

  function toggleEvidence() {
    var boxes = document.querySelectorAll("details.evidence");
    var open = Array.prototype.some.call(boxes, function (box) { return !box.open; });
    Array.prototype.forEach.call(boxes, function (box) { box.open = open; });
  }

  if (page === "queue") {
    rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-row]"));
    rows.forEach(function (row, index) {
      row.addEventListener("click", function (event) {
        if (!event.target.closest("a, input")) select(index);
      });
    });
    if (rows.length) select(0);
  }

  var toggle = document.getElementById("help-toggle");
  if (toggle) toggle.addEventListener("click", toggleHelp);

  var queueKeys = {
    j: function () { select(current + 1); },
    k: function () { select(current - 1); },
    o: function () { if (current >= 0) window.location.href = rows[current].getAttribute("data-href"); },
    x: function () { var box = rowBox(rows[current]); if (box) box.checked = !box.checked; },
    c: function () { queueVerdict("confirm"); },
    d: function () { queueVerdict("dismiss"); },
    w: function () { queueVerdict("withdraw"); },
    n: function () { follow("next-page"); },
    p: function () { follow("prev-page"); }
  };
  queueKeys.Enter = queueKeys.o;

  var packageKeys = {
    j: function () { follow("next-item"); },
    k: function () { follow("prev-item"); },
    u: function () { follow("back-to-queue"); },
    e: toggleEvidence,
    c: function () { packageVerdict("confirm"); },
    d: function () { packageVerdict("dismiss"); },
    w: function () { packageVerdict("withdraw"); }
  };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (typing(event.target)) event.target.blur();
      if (help) help.hidden = true;
      return;
    }
    if (typing(event.target)) return;
    var keys = page === "queue" ? queueKeys : page === "package" ? packageKeys : {};
    var handler = event.key === "?" ? toggleHelp : keys[event.key];
    if (!handler || !Object.prototype.hasOwnProperty.call(keys, event.key) && event.key !== "?") return;
    event.preventDefault();
    handler();
  });
})();
