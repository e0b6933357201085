// Apply the saved theme before the page paints (loaded synchronously in <head>).
(function () {
  "use strict";
  try {
    var theme = window.localStorage.getItem("metarr-theme");
    if (theme === "light" || theme === "dark") {
      document.documentElement.setAttribute("data-theme", theme);
    }
  } catch (e) {
    // storage disabled: keep the default (dark)
  }
})();
