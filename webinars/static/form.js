// Forms that came back with errors (templates/_macros.html: error_summary, field).
//
// Without this file the page already works: the form posts to the summary's anchor, so the
// browser opens the page there and focuses the summary. This file makes sure of the focus
// in every browser, keeps a summary link from hiding its field's label, and takes a
// field's message away once the person has fixed the field.
(function () {
  "use strict";

  function controlOf(field) {
    // The control the form posts: the one with a name (the picker's own box has none).
    return field.querySelector("input[name], select[name], textarea[name]");
  }

  function isFixed(control) {
    if (control.tagName === "SELECT") {
      return control.value !== "";
    }
    if (!control.checkValidity()) {
      return false;
    }
    // Spaces satisfy the browser's `required` but not the server, which strips them.
    return !control.required || control.value.trim() !== "";
  }

  function withoutId(list, id) {
    return (list || "").split(/\s+/).filter(function (token) {
      return token && token !== id;
    }).join(" ");
  }

  function clearField(field, summary) {
    var message = field.querySelector(".error[id]");
    if (!message) {
      return;
    }
    var id = message.id;
    field.classList.remove("has-error");
    field.querySelectorAll("[aria-invalid]").forEach(function (control) {
      control.removeAttribute("aria-invalid");
    });
    field.querySelectorAll("[aria-describedby]").forEach(function (control) {
      var rest = withoutId(control.getAttribute("aria-describedby"), id);
      if (rest) {
        control.setAttribute("aria-describedby", rest);
      } else {
        control.removeAttribute("aria-describedby");
      }
    });
    message.remove();
    if (!summary) {
      return;
    }
    var link = summary.querySelector('a[href="#' + id.replace(/-error$/, "") + '"]');
    if (link) {
      link.closest("li").remove();
    }
    if (!summary.querySelector("li")) {
      // Nothing left to fix: the summary and the title's "Feil:" go too.
      var prefix = summary.getAttribute("data-title-prefix") || "";
      if (prefix && document.title.indexOf(prefix) === 0) {
        document.title = document.title.slice(prefix.length);
      }
      summary.remove();
    }
  }

  function followLink(event) {
    // The browser would scroll the field to the top edge and hide its label; show the
    // label too, then put focus in the field (the picker's box, when it has one).
    var link = event.target.closest("a[href^='#']");
    if (!link) {
      return;
    }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) {
      return;
    }
    var field = target.closest(".field");
    var focusable = target.hidden && field ? field.querySelector("[role=combobox]") : target;
    var label = field && field.querySelector("label");
    event.preventDefault();
    (label || target).scrollIntoView();
    if (focusable) {
      focusable.focus({ preventScroll: true });
    }
  }

  function setUp(summary) {
    var form = summary.closest("form");
    if (document.activeElement !== summary) {
      summary.focus();
    }
    summary.addEventListener("click", followLink);
    if (!form) {
      return;
    }
    function check(event) {
      var field = event.target.closest(".field.has-error");
      if (!field || !event.target.name) {
        return;
      }
      var control = controlOf(field);
      if (control === event.target && isFixed(control)) {
        clearField(field, form.querySelector("[data-error-summary]"));
      }
    }
    form.addEventListener("input", check);
    form.addEventListener("change", check);
  }

  function start() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      setUp(summary);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
