// Metarr live events: keeps the WebSocket to /api/v1/ws open (the session cookie
// authenticates it), shows the link state in the header, and turns events into
// `metarr:event` DOM events, moving progress bars, fragment refreshes and toasts.
//
// States of the header indicator (data-state):
//   connecting    first attempt after the page loaded
//   connected     events flowing (a heartbeat comes at least every 15 s)
//   reconnecting  lost: retrying after 0.5 s, 1 s, 2 s ... up to 30 s, with jitter
//   disconnected  gave up (too many failures, page hidden, or the session ended);
//                 a click (or the page becoming visible again) retries at once
(function () {
  "use strict";

  var BASE_DELAY = 500; // ms before the first retry, doubled per failure
  var MAX_DELAY = 30000;
  var MAX_FAILURES = 12; // about five minutes of retrying, then "disconnected"
  var SILENCE_MS = 40000; // no message (not even a heartbeat) this long: the link is dead
  var FRESH_MS = 2500; // a scan moved by events this recently needs no poll
  var REFRESH_MS = 250; // job events within this window cause one fragment refresh
  var UNAUTHORISED = 4401;

  var indicator = document.querySelector("[data-live]");
  var label = indicator ? indicator.querySelector(".live-label") : null;
  var socket = null;
  var state = "";
  var failures = 0;
  var everConnected = false;
  var gap = false; // reconnected: the next resync refreshes what may have been missed
  var sessionEnded = false;
  var leaving = false;
  var lastMessage = 0;
  var retryTimer = null;
  var retryAt = 0;
  var countdown = null;
  var watchdog = null;
  var refreshTimers = {};
  var fresh = {}; // scan status element id -> time of the last live update
  var forced = []; // scan status elements whose next request is ours (never skipped)
  var toastedScans = {};

  // ---- the indicator ---------------------------------------------------------

  var LABELS = {
    connecting: "Connecting",
    connected: "Live",
    reconnecting: "Reconnecting",
    disconnected: "Offline"
  };

  function show(newState, title) {
    var changed = newState !== state;
    state = newState;
    if (indicator) {
      indicator.hidden = false;
      indicator.setAttribute("data-state", newState);
      indicator.title = title;
      indicator.setAttribute("aria-label", title);
      if (label) label.textContent = LABELS[newState];
    }
    if (changed) {
      document.dispatchEvent(new CustomEvent("metarr:live", { detail: { state: newState } }));
    }
  }

  function showCountdown() {
    var seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    show("reconnecting", "Live updates lost: reconnecting in " + seconds + " s (attempt " +
      (failures + 1) + " of " + (MAX_FAILURES + 1) + "). Click to retry now.");
  }

  // ---- the connection --------------------------------------------------------

  function wsUrl() {
    return (window.location.protocol === "https:" ? "wss://" : "ws://") +
      window.location.host + "/api/v1/ws";
  }

  function clearTimers() {
    if (retryTimer !== null) window.clearTimeout(retryTimer);
    if (countdown !== null) window.clearInterval(countdown);
    retryTimer = countdown = null;
  }

  function connect() {
    clearTimers();
    if (socket !== null || sessionEnded || leaving) return;
    if (everConnected || failures > 0) {
      show("reconnecting", "Live updates lost: reconnecting now (attempt " + (failures + 1) + ").");
    } else {
      show("connecting", "Live updates: connecting.");
    }
    var ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (e) {
      lost();
      return;
    }
    socket = ws;
    ws.onopen = function () {
      failures = 0;
      lastMessage = Date.now();
      show("connected", "Live updates: connected.");
      // The server sends a snapshot on connect; after a gap ask again explicitly, so
      // whatever happened while we were away is reflected even if that changes.
      if (everConnected) {
        gap = true;
        ws.send(JSON.stringify({ type: "resync" }));
      }
      everConnected = true;
      watchdog = window.setInterval(function () {
        if (Date.now() - lastMessage > SILENCE_MS) drop(ws);
      }, 5000);
    };
    ws.onmessage = function (message) {
      lastMessage = Date.now();
      var data;
      try {
        data = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      if (data && typeof data.type === "string") handle(data);
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      window.clearInterval(watchdog);
      if (event.code === UNAUTHORISED) {
        sessionEnded = true;
        show("disconnected", "Live updates stopped: the session has ended. Click to log in again.");
        return;
      }
      lost();
    };
  }

  // A silent link (e.g. a dead network path) is closed by hand and treated as lost.
  function drop(ws) {
    if (socket !== ws) return;
    socket = null;
    window.clearInterval(watchdog);
    ws.onclose = null;
    try {
      ws.close();
    } catch (e) {
      // already closing
    }
    lost();
  }

  function lost() {
    if (leaving) return;
    if (document.visibilityState === "hidden") {
      show("disconnected", "Live updates paused while the page is hidden.");
      return;
    }
    failures += 1;
    if (failures > MAX_FAILURES) {
      show("disconnected", "Live updates: Metarr is not reachable. Click to retry now.");
      return;
    }
    var delay = Math.min(MAX_DELAY, BASE_DELAY * Math.pow(2, failures - 1));
    delay = delay / 2 + Math.random() * delay / 2; // jitter: clients do not return in step
    retryAt = Date.now() + delay;
    retryTimer = window.setTimeout(connect, delay);
    showCountdown();
    countdown = window.setInterval(showCountdown, 1000);
  }

  function retryNow() {
    if (sessionEnded) {
      window.location.reload(); // the server answers with the login page
      return;
    }
    if (socket !== null) return;
    failures = 0;
    connect();
  }

  if (indicator) {
    indicator.addEventListener("click", function () {
      if (state !== "connected" && state !== "connecting") retryNow();
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      if (state === "reconnecting") {
        clearTimers();
        show("disconnected", "Live updates paused while the page is hidden.");
      }
    } else if (state === "disconnected" || state === "reconnecting") {
      retryNow();
    }
  });
  window.addEventListener("online", function () {
    if (state === "disconnected" || state === "reconnecting") retryNow();
  });
  window.addEventListener("pagehide", function () {
    leaving = true;
    clearTimers();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { // back from the bfcache: the old socket is gone
      leaving = false;
      socket = null;
      retryNow();
    }
  });

  // ---- events ----------------------------------------------------------------

  function toast(message, kind) {
    if (window.Metarr && window.Metarr.toast) window.Metarr.toast(message, kind);
  }

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  // Fires `name` on <body> once per burst of events (hx-trigger="name from:body").
  function refresh(name) {
    if (refreshTimers[name]) return;
    refreshTimers[name] = window.setTimeout(function () {
      refreshTimers[name] = null;
      // With the link down the server is likely away too; the resync after reconnecting
      // refreshes everything anyway.
      if (window.htmx && state === "connected") window.htmx.trigger(document.body, name);
    }, REFRESH_MS);
  }

  function setBar(bar, done, total, fraction) {
    if (total > 0) {
      bar.max = total;
      bar.value = Math.min(done, total);
    } else if (fraction > 0) {
      bar.max = 1;
      bar.value = Math.min(fraction, 1);
    }
  }

  function updateStats(stats) {
    if (!stats || !stats.by_status) return;
    each("[data-stat]", function (el) {
      var count = stats.by_status[el.getAttribute("data-stat")] || 0;
      el.textContent = String(count);
    });
  }

  function updateJob(job) {
    if (!job || job.id === undefined) return;
    var id = String(job.id);
    each('[data-job-progress="' + id + '"]', function (bar) {
      setBar(bar, 0, 0, job.progress || 0);
      if (!job.progress) bar.value = 0;
    });
    each('[data-job-message="' + id + '"]', function (el) {
      el.textContent = job.progress_message || "";
    });
    var payload = job.payload || {};
    if (job.type === "scan" && payload.library_id !== undefined) {
      // "probing: 120/300" -> phase and counts for the library page
      var m = /^([a-z_]+)(?::\s*(\d+)\/(\d+))?$/.exec(job.progress_message || "");
      liveScan(payload.library_id, {
        phase: m ? m[1] : null,
        done: m && m[2] ? Number(m[2]) : 0,
        total: m && m[3] ? Number(m[3]) : 0,
        fraction: job.progress || 0
      });
    }
  }

  // The library page's scan status: move the bar between (skipped) polls.
  function liveScan(libraryId, p) {
    var box = scanBox(libraryId);
    if (!box || !box.hasAttribute("data-live-scan")) return;
    fresh[box.id] = Date.now();
    var bar = box.querySelector("[data-scan-bar]");
    if (bar) setBar(bar, p.done, p.total, p.fraction);
    var count = box.querySelector("[data-scan-count]");
    if (count && p.total > 0) count.textContent = p.done + "/" + p.total;
    var phase = box.querySelector("[data-scan-phase]");
    if (phase && p.phase) phase.textContent = p.phase.replace(/_/g, " ");
  }

  // Ask for a library's scan status fragment now: the final state once its scan ended,
  // or the running state (which polls) when a scan started somewhere else.
  function refreshScan(box) {
    if (!window.htmx || !box || !box.classList.contains("scan-status")) return;
    var library = box.getAttribute("data-library");
    if (!library) return;
    forced = forced.filter(function (el) { return el.isConnected; });
    forced.push(box);
    window.htmx.ajax("GET", "/libraries/" + encodeURIComponent(library) + "/scan-status", {
      source: box, target: box, swap: "outerHTML"
    });
  }

  function scanBox(libraryId) {
    return document.getElementById("scan-" + libraryId);
  }

  // A library's name when the page shows it somewhere (a job row, a scan status).
  function libraryName(libraryId) {
    if (!/^\d+$/.test(String(libraryId))) return "a library";
    var el = document.querySelector('[data-library-name][data-library="' + libraryId + '"]');
    return el ? el.getAttribute("data-library-name") : "library " + libraryId;
  }

  function scanFinished(scanId, libraryId, status, stats) {
    var box = scanBox(libraryId);
    if (box && box.hasAttribute("data-live-scan")) refreshScan(box);
    if (scanId === undefined || toastedScans[scanId]) return;
    toastedScans[scanId] = true;
    if (status === "succeeded") {
      var s = stats || {};
      var text = "Scan of " + libraryName(libraryId) + " finished";
      if (s.movies !== undefined) {
        text += ": " + s.movies + " movies, " + (s.added || 0) + " added, " +
          (s.updated || 0) + " updated, " + (s.deleted || 0) + " deleted.";
      } else {
        text += ".";
      }
      toast(text, "ok");
    } else if (status === "failed") {
      toast("Scan of " + libraryName(libraryId) + " failed.", "err");
    }
  }

  function jobFinished(type, job) {
    refresh("metarr-jobs");
    refresh("metarr-history");
    var payload = job.payload || {};
    if (type === "job.failed") {
      var error = (job.last_error || "no error recorded").split("\n")[0];
      if (error.length > 160) error = error.slice(0, 157) + "…";
      toast("Job #" + job.id + " (" + job.type + ") failed: " + error, "err");
      if (job.type === "scan" && payload.scan_id !== undefined) toastedScans[payload.scan_id] = true;
    }
    if (job.type === "scan" && payload.library_id !== undefined) {
      var result = job.result || {};
      scanFinished(payload.scan_id, payload.library_id,
        type === "job.succeeded" ? (result.status || "succeeded") : null, result.stats);
    }
  }

  function handle(msg) {
    document.dispatchEvent(new CustomEvent("metarr:event", { detail: msg }));
    var type = msg.type;
    if (type === "resync") {
      updateStats(msg.stats);
      (msg.running || []).forEach(updateJob);
      refresh("metarr-jobs"); // cheap, and covers events between page load and connect
      if (gap) {
        gap = false;
        refresh("metarr-history");
        each(".scan-status[data-library]", refreshScan);
      }
    } else if (type === "queue.stats") {
      updateStats(msg.stats);
    } else if (type === "job.progress") {
      updateJob(msg.job);
    } else if (type === "job.succeeded" || type === "job.failed" || type === "job.cancelled") {
      jobFinished(type, msg.job || {});
    } else if (type.indexOf("job.") === 0) {
      refresh("metarr-jobs");
      if (type === "job.requeued") refresh("metarr-history");
      var job = msg.job || {};
      var lib = (job.payload || {}).library_id;
      if (job.type === "scan" && lib !== undefined) {
        var idle = scanBox(lib);
        if (idle && !idle.hasAttribute("data-live-scan")) refreshScan(idle);
      }
    } else if (type === "scan.progress" && msg.scan) {
      var scan = msg.scan;
      var stats = scan.stats || {};
      each('[data-scan-progress="' + scan.id + '"]', function (bar) {
        setBar(bar, 0, 0, scan.progress || 0);
      });
      if (scan.status === "running" || scan.status === "queued") {
        liveScan(scan.library_id, {
          phase: scan.phase, done: stats.done || 0, total: stats.total || 0,
          fraction: scan.progress || 0
        });
      } else {
        scanFinished(scan.id, scan.library_id, scan.status, stats);
      }
    } else if (type === "library.changed" && msg.library_id !== undefined) {
      refreshScan(scanBox(msg.library_id));
    }
  }

  // A change made on this page (cancel, retry) refreshes the job tables too.
  document.addEventListener("metarr:changed", function () {
    refresh("metarr-jobs");
    refresh("metarr-history");
  });

  // While events move a scan's bar, its 1 s poll is skipped (the poll is the fallback).
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    if (!(elt instanceof Element) || !elt.hasAttribute("data-live-scan")) return;
    var mine = forced.indexOf(elt);
    if (mine !== -1) {
      forced.splice(mine, 1);
      return;
    }
    if (state === "connected" && Date.now() - (fresh[elt.id] || 0) < FRESH_MS) {
      event.preventDefault();
    }
  });

  window.Metarr = window.Metarr || {};
  window.Metarr.live = {
    state: function () { return state; },
    retry: retryNow
  };

  connect();
})();
