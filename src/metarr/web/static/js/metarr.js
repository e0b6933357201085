// Metarr UI behaviour: CSRF header for htmx, theme toggle, mobile navigation,
// secret reveal/copy and toasts (also for live.js). No inline scripts: the CSP forbids them.
(function () {
  "use strict";

  var THEME_KEY = "metarr-theme";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast " + (kind || "err");
    el.setAttribute("role", "status");
    el.textContent = message;
    box.appendChild(el);
  }

  // live.js (live events) shows its toasts through this too.
  window.Metarr = window.Metarr || {};
  window.Metarr.toast = toast;

  // Every state-changing htmx request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    var verb = (event.detail.verb || "get").toLowerCase();
    if (verb !== "get") {
      event.detail.headers["X-CSRF-Token"] = csrfToken();
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = xhr.status === 403
      ? "Refused (403): reload the page and try again."
      : "Request failed (" + xhr.status + ").";
    toast(text, "err");
  });

  document.addEventListener("htmx:sendError", function () {
    toast("Metarr is not reachable. Is it running?", "err");
  });

  // Finished toasts (they fade out in CSS) leave the DOM.
  document.addEventListener("animationend", function (event) {
    var el = event.target;
    if (el instanceof Element && el.classList.contains("toast")) {
      el.remove();
    }
  });

  // The library page's schedule panel: when a job of one of its tasks ends (live.js
  // dispatches `metarr:event`), refresh it once per burst, so "last run" is current.
  // A form with unsaved edits is left alone until it is saved.
  var SCHEDULE_MS = 400;
  var scheduleTimer = null;

  document.addEventListener("input", function (event) {
    var form = event.target instanceof Element ? event.target.closest("#schedule-form") : null;
    if (form) form.setAttribute("data-dirty", "true");
  });

  document.addEventListener("metarr:event", function (event) {
    var msg = event.detail || {};
    if (msg.type !== "job.succeeded" && msg.type !== "job.failed" &&
        msg.type !== "job.cancelled") return;
    var job = msg.job || {};
    var panel = document.querySelector("[data-schedule]");
    if (!panel || !window.htmx) return;
    var types = (panel.getAttribute("data-job-types") || "").split(" ");
    var library = String((job.payload || {}).library_id);
    if (types.indexOf(job.type) === -1 || library !== panel.getAttribute("data-library")) return;
    if (scheduleTimer !== null) return;
    scheduleTimer = window.setTimeout(function () {
      scheduleTimer = null;
      var current = document.querySelector("[data-schedule]");
      var form = current ? current.querySelector("#schedule-form") : null;
      if (!current || (form && form.hasAttribute("data-dirty"))) return;
      window.htmx.trigger(current, "metarr-schedule");
    }, SCHEDULE_MS);
  });

  function setTheme(theme) {
    document.documentElement.setAttribute("data-theme", theme);
    try {
      window.localStorage.setItem(THEME_KEY, theme);
    } catch (e) {
      // storage disabled: the choice lasts for this page only
    }
  }

  function setNav(open) {
    document.body.classList.toggle("nav-open", open);
    var button = document.querySelector("[data-nav-toggle]");
    if (button) button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;

    if (target.closest("[data-theme-toggle]")) {
      var current = document.documentElement.getAttribute("data-theme");
      setTheme(current === "light" ? "dark" : "light");
      return;
    }
    if (target.closest("[data-nav-toggle]")) {
      setNav(!document.body.classList.contains("nav-open"));
      return;
    }
    if (target.closest("[data-nav-close]")) {
      setNav(false);
      return;
    }

    var reveal = target.closest("[data-reveal]");
    if (reveal) {
      var input = document.getElementById(reveal.getAttribute("data-reveal"));
      if (!input) return;
      var show = input.getAttribute("type") === "password";
      input.setAttribute("type", show ? "text" : "password");
      reveal.textContent = show ? "Hide" : "Show";
      reveal.setAttribute("aria-pressed", show ? "true" : "false");
      return;
    }

    var copy = target.closest("[data-copy]");
    if (copy) {
      var source = document.getElementById(copy.getAttribute("data-copy"));
      if (!source) return;
      var done = function () { toast("Copied to the clipboard.", "ok"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value).then(done, function () {
          toast("Could not copy: select the key and copy it by hand.", "err");
        });
      } else {
        toast("Copying needs https or localhost: use Show and copy by hand.", "err");
      }
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.body.classList.contains("nav-open")) {
      setNav(false);
    }
    // "/" focuses the search box of a list, as in the *arr apps.
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      var active = document.activeElement;
      var typing = active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA" ||
        active.tagName === "SELECT" || active.isContentEditable);
      var search = document.querySelector("input[type=search]");
      if (search && !typing) {
        event.preventDefault();
        search.focus();
      }
    }
  });
})();
