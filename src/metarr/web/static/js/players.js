// Players page: live `player.status` and `player.activity` events (relayed by live.js as
// `metarr:event`) update each player's status badge and now-playing line in place.
(function () {
  "use strict";

  function text(tag, className, value) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    el.textContent = value;
    return el;
  }

  function activity(box, playing, connected) {
    if (!box) return;
    box.textContent = "";
    if (playing && playing.length) {
      playing.forEach(function (item) {
        var name = item.title || (item.path ? item.path.split(/[\\/]/).pop() : "") || item.media_type;
        box.appendChild(text("span", "now-playing", (item.paused ? "❚❚ " : "▶ ") + name));
      });
    } else if (connected) {
      box.appendChild(text("span", "muted", "idle"));
    }
  }

  function status(player) {
    var box = document.querySelector('[data-player-status="' + player.player_id + '"]');
    if (!box) return;
    var keep = box.querySelector("[data-player-activity]");
    Array.prototype.slice.call(box.childNodes).forEach(function (node) {
      if (node !== keep) box.removeChild(node);
    });
    var badge;
    if (player.connected) {
      badge = text("span", "badge ok", "connected");
      badge.setAttribute("data-state", "connected");
      box.insertBefore(badge, keep);
      if (player.version) {
        box.insertBefore(document.createTextNode(" "), keep);
        box.insertBefore(text("span", "muted", player.version), keep);
      }
    } else {
      badge = text("span", "badge err", "unreachable");
      badge.setAttribute("data-state", "down");
      box.insertBefore(badge, keep);
      box.insertBefore(document.createTextNode(" "), keep);
      box.insertBefore(text("span", "player-error", player.error || ""), keep);
    }
    activity(keep, player.playing, player.connected);
  }

  document.addEventListener("metarr:event", function (event) {
    var msg = event.detail || {};
    if (msg.type === "player.status" && msg.player) {
      status(msg.player);
    } else if (msg.type === "player.activity") {
      var box = document.querySelector('[data-player-activity="' + msg.player_id + '"]');
      var badge = box && box.parentNode ? box.parentNode.querySelector("[data-state]") : null;
      activity(box, msg.playing, badge ? badge.getAttribute("data-state") === "connected" : true);
    }
  });
})();
