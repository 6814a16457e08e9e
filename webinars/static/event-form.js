// The organiser's event form, enhanced: only the deadline fields of the chosen kind show,
// the end follows the start while the end has not been changed by hand, and choosing a
// programme fills in its organiser. Without this script the form works the same (both
// deadline groups show, labelled; the server moves the end when only the start moved).
(function () {
  "use strict";
  var form = document.getElementById("event-form");
  if (!form) return;

  // --- the deadline fields of the chosen kind --------------------------------------------
  var modes = form.querySelectorAll('input[name="deadline_mode"]');
  var groups = form.querySelectorAll("[data-deadline-kind]");
  function showDeadlineKind() {
    var chosen = form.querySelector('input[name="deadline_mode"]:checked');
    var kind = chosen ? chosen.value : "";
    groups.forEach(function (group) {
      // A group with an error stays in view whatever is chosen, so the message is seen.
      var hasError = group.querySelector(".has-error") !== null;
      group.hidden = group.getAttribute("data-deadline-kind") !== kind && !hasError;
    });
  }
  modes.forEach(function (radio) { radio.addEventListener("change", showDeadlineKind); });
  showDeadlineKind();

  // --- the end follows the start ----------------------------------------------------------
  var startDate = document.getElementById("start_date");
  var startTime = document.getElementById("start_time");
  var endDate = document.getElementById("end_date");
  var endTime = document.getElementById("end_time");

  // Wall-clock date-times as UTC milliseconds: durations in local time, whatever the
  // browser's own zone and its summer time.
  function wallClock(day, clock) {
    var d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || "");
    var t = /^(\d{2}):(\d{2})/.exec(clock || "");
    if (!d || !t) return null;
    return Date.UTC(+d[1], +d[2] - 1, +d[3], +t[1], +t[2]);
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function dayOf(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }
  function clockOf(ms) {
    var d = new Date(ms);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  if (startDate && startTime && endDate && endTime) {
    var endTouched = false;
    var before = { day: startDate.value, clock: startTime.value };
    [endDate, endTime].forEach(function (input) {
      input.addEventListener("input", function () { endTouched = true; });
    });
    function followStart() {
      var oldStart = wallClock(before.day, before.clock);
      var newStart = wallClock(startDate.value, startTime.value);
      if (newStart === null) return;  // half typed: wait for a whole date and time
      if (!endTouched && oldStart !== null) {
        var oldEnd = wallClock(endDate.value || before.day, endTime.value);
        if (oldEnd !== null && oldEnd > oldStart) {
          var newEnd = newStart + (oldEnd - oldStart);
          endTime.value = clockOf(newEnd);
          if (endDate.value || dayOf(newEnd) !== startDate.value) endDate.value = dayOf(newEnd);
        }
      }
      before = { day: startDate.value, clock: startTime.value };
    }
    startDate.addEventListener("change", followStart);
    startTime.addEventListener("change", followStart);
  }

  // --- the programme's organiser ------------------------------------------------------------
  var programme = document.getElementById("programme");
  var organiserName = document.getElementById("organiser_name");
  var organiserEmail = document.getElementById("organiser_email");
  if (programme && organiserName && organiserEmail) {
    var typed = false;
    [organiserName, organiserEmail].forEach(function (input) {
      input.addEventListener("input", function () { typed = true; });
    });
    programme.addEventListener("change", function () {
      var option = programme.options[programme.selectedIndex];
      var email = option ? option.getAttribute("data-organiser-email") : "";
      if (typed || !email) return;
      organiserName.value = option.getAttribute("data-organiser-name") || "";
      organiserEmail.value = email;
    });
  }
})();
