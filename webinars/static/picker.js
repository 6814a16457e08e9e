// The municipality picker: a <select data-picker> becomes a box to type in with a list of
// the municipalities that match (the ARIA 1.2 combobox pattern with a listbox, list
// autocomplete with the first match highlighted).
//
// The select stays in the form, hidden, and holds the value the form posts; without this
// file it is the picker. Each option's data-search holds its name forms folded
// (municipalities.fold in Python; fold() below does the same to what is typed), "|" between
// them: a municipality matches when what is typed begins one of the words of one of its
// names (Norwegian, Sami or Kven), or begins its number.
//
// Keys: Down/Up open the list and move through it (Alt+Down opens it only), Enter or Tab
// takes the highlighted municipality, Escape closes the list (and empties the box when the
// list is closed), Home/End go to the first/last match once the arrows are in the list
// (before that they move the cursor in the box). The number of matches is announced.
(function () {
  "use strict";

  var FOLD = { "æ": "ae", "ø": "o", "đ": "d", "ŋ": "n", "ŧ": "t", "ʒ": "z", "ß": "ss" };
  var ANNOUNCE_AFTER_MS = 400;

  function fold(text) {
    return text
      .toLowerCase()
      .replace(/[æøđŋŧʒß]/g, function (c) { return FOLD[c]; })
      .normalize("NFD")
      .replace(/\p{M}/gu, "")
      .replace(/[^0-9a-z]+/g, " ")
      .trim();
  }

  // 0: the Norwegian name begins with what was typed, as typed; 1: the same, folded;
  // 2: another name form begins with it; 3: a later word of a name does; -1: no match.
  function rank(option, query, typed) {
    if (/^\d+$/.test(query)) {
      return option.value.indexOf(query) === 0 ? 0 : -1;
    }
    var best = -1;
    option.forms.forEach(function (form, index) {
      var found;
      if (form.indexOf(query) === 0) {
        found = index === 0 ? 1 : 2;
        if (index === 0 && option.label.toLowerCase().indexOf(typed) === 0) {
          found = 0;
        }
      } else if ((" " + form).indexOf(" " + query) >= 0) {
        found = 3;
      } else {
        return;
      }
      best = best < 0 ? found : Math.min(best, found);
    });
    return best;
  }

  function Picker(select) {
    var id = select.id;
    var self = this;
    this.select = select;
    this.options = Array.prototype.filter.call(select.options, function (o) {
      return o.value !== "";
    }).map(function (o) {
      return {
        value: o.value,
        label: o.textContent,
        forms: (o.getAttribute("data-search") || fold(o.textContent)).split("|"),
      };
    });
    this.matches = [];
    this.active = -1;
    this.inList = false;
    this.announceTimer = null;

    // The box takes the select's id, so the label, the error summary's link and the
    // field's messages point at what a person uses; the select keeps its name.
    var input = document.createElement("input");
    input.type = "text";
    input.id = id;
    select.id = id + "-select";
    input.className = "picker-input";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", id + "-listbox");
    input.setAttribute("autocomplete", "off");
    input.setAttribute("autocapitalize", "off");
    input.setAttribute("spellcheck", "false");
    if (select.hasAttribute("aria-invalid")) {
      input.setAttribute("aria-invalid", select.getAttribute("aria-invalid"));
    }

    var hint = document.createElement("p");
    hint.className = "hint";
    hint.id = id + "-picker-hint";
    hint.textContent = select.getAttribute("data-picker-hint") || "";
    var described = [hint.textContent ? hint.id : ""].concat(
      (select.getAttribute("aria-describedby") || "").split(/\s+/)).filter(Boolean);
    if (described.length) {
      input.setAttribute("aria-describedby", described.join(" "));
    }

    var list = document.createElement("ul");
    list.id = id + "-listbox";
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", select.getAttribute("data-picker-list") || "");
    list.hidden = true;

    var status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-atomic", "true");

    var box = document.createElement("div");
    box.className = "picker";
    box.appendChild(input);
    box.appendChild(list);
    box.appendChild(status);
    select.hidden = true;
    select.tabIndex = -1;
    select.parentNode.insertBefore(box, select);
    if (hint.textContent) {
      // Between the label and the box, where the field macro puts a hint.
      box.insertAdjacentElement("beforebegin", hint);
    }

    this.input = input;
    this.list = list;
    this.status = status;
    this.sync();

    input.addEventListener("input", function () { self.typed(); });
    input.addEventListener("keydown", function (event) { self.key(event); });
    input.addEventListener("blur", function () { self.leave(); });
    input.addEventListener("click", function () {
      if (list.hidden) {
        self.show(self.query(), true);
      }
    });
    // mousedown would take the focus from the box before the click chooses.
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });
    list.addEventListener("click", function (event) {
      var item = event.target.closest("[role=option]");
      if (item) {
        self.choose(self.matches[Number(item.getAttribute("data-index"))]);
      }
    });
    // Coming back with the Back button restores the select, not the box.
    window.addEventListener("pageshow", function () { self.sync(); });
  }

  Picker.prototype.chosen = function () {
    var value = this.select.value;
    return this.options.filter(function (o) { return o.value === value; })[0] || null;
  };

  Picker.prototype.sync = function () {
    var chosen = this.chosen();
    this.input.value = chosen ? chosen.label : "";
  };

  // What to match: nothing while the box shows the chosen municipality (all are offered).
  Picker.prototype.query = function () {
    var chosen = this.chosen();
    return chosen && this.input.value === chosen.label ? "" : this.input.value;
  };

  Picker.prototype.filter = function (text) {
    var query = fold(text);
    if (!query) {
      return this.options.slice();
    }
    var typed = text.trim().toLowerCase();
    var found = [];
    this.options.forEach(function (option, order) {
      var r = rank(option, query, typed);
      if (r >= 0) {
        found.push({ option: option, rank: r, order: order });
      }
    });
    found.sort(function (a, b) { return a.rank - b.rank || a.order - b.order; });
    return found.map(function (f) { return f.option; });
  };

  Picker.prototype.show = function (text, keepActive) {
    var self = this;
    this.matches = this.filter(text);
    this.list.textContent = "";
    var fragment = document.createDocumentFragment();
    this.matches.forEach(function (option, index) {
      var item = document.createElement("li");
      item.id = self.input.id + "-option-" + option.value;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.setAttribute("data-index", String(index));
      item.textContent = option.label;
      fragment.appendChild(item);
    });
    this.list.appendChild(fragment);
    this.list.hidden = this.matches.length === 0;
    this.input.setAttribute("aria-expanded", this.matches.length ? "true" : "false");
    this.active = -1;
    this.inList = false;
    var chosen = this.chosen();
    var start = keepActive && chosen ? this.matches.indexOf(chosen) : (text.trim() ? 0 : -1);
    this.highlight(start);
    this.announce();
  };

  Picker.prototype.hide = function () {
    this.list.hidden = true;
    this.list.textContent = "";
    this.matches = [];
    this.active = -1;
    this.inList = false;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  };

  Picker.prototype.highlight = function (index) {
    var items = this.list.children;
    if (this.active >= 0 && items[this.active]) {
      items[this.active].setAttribute("aria-selected", "false");
      items[this.active].classList.remove("active");
    }
    this.active = index >= 0 && index < items.length ? index : -1;
    if (this.active < 0) {
      this.input.removeAttribute("aria-activedescendant");
      return;
    }
    var item = items[this.active];
    item.setAttribute("aria-selected", "true");
    item.classList.add("active");
    this.input.setAttribute("aria-activedescendant", item.id);
    item.scrollIntoView({ block: "nearest" });
  };

  Picker.prototype.announce = function () {
    var status = this.status;
    var select = this.select;
    var count = this.matches.length;
    clearTimeout(this.announceTimer);
    // Waits until typing pauses, so a screen reader says the count once, not per letter.
    this.announceTimer = setTimeout(function () {
      var text;
      if (count === 0) {
        text = select.getAttribute("data-picker-none");
      } else if (count === 1) {
        text = select.getAttribute("data-picker-one");
      } else {
        text = (select.getAttribute("data-picker-many") || "").replace("{n}", String(count));
      }
      status.textContent = text || "";
    }, ANNOUNCE_AFTER_MS);
  };

  Picker.prototype.setValue = function (value) {
    if (this.select.value !== value) {
      this.select.value = value;
      this.select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  };

  Picker.prototype.choose = function (option) {
    if (!option) {
      return;
    }
    this.input.value = option.label;
    this.hide();
    this.setValue(option.value);
  };

  Picker.prototype.typed = function () {
    var chosen = this.chosen();
    if (chosen && this.input.value !== chosen.label) {
      this.setValue("");  // what is in the box is no longer the chosen municipality
    }
    if (this.input.value.trim()) {
      this.show(this.input.value, false);
    } else {
      this.hide();
      this.setValue("");
    }
  };

  Picker.prototype.key = function (event) {
    var open = !this.list.hidden;
    var last = this.matches.length - 1;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!open) {
          this.show(this.query(), true);
          if (!event.altKey && this.active < 0) {
            this.highlight(0);
          }
        } else {
          this.highlight(Math.min(this.active + 1, last));
        }
        this.inList = !event.altKey;
        break;
      case "ArrowUp":
        event.preventDefault();
        if (!open) {
          this.show(this.query(), true);
          if (this.active < 0) {
            this.highlight(this.matches.length - 1);
          }
        } else {
          this.highlight(Math.max(this.active - 1, 0));
        }
        this.inList = true;
        break;
      case "Home":
      case "End":
        if (open && this.inList) {
          event.preventDefault();
          this.highlight(event.key === "Home" ? 0 : last);
        }
        break;
      case "Enter":
        if (open && this.active >= 0) {
          event.preventDefault();  // takes the municipality; the next Enter sends the form
          this.choose(this.matches[this.active]);
        }
        break;
      case "Escape":
        if (open) {
          event.preventDefault();
          this.hide();
        } else if (this.input.value) {
          event.preventDefault();
          this.input.value = "";
          this.setValue("");
        }
        break;
      case "Tab":
        if (open && this.active >= 0) {
          this.choose(this.matches[this.active]);
        }
        break;
      default:
        break;
    }
  };

  Picker.prototype.leave = function () {
    // Leaving the box takes the highlighted match, as Tab does (GOV.UK's confirmOnBlur).
    if (!this.list.hidden && this.active >= 0 && this.input.value.trim()) {
      this.choose(this.matches[this.active]);
    } else {
      this.hide();
    }
  };

  function start() {
    document.querySelectorAll("select[data-picker]").forEach(function (select) {
      return new Picker(select);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
