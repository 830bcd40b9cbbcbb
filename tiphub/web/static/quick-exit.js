// Quick exit: leave for a neutral site at once, without a history entry for this page.
// Without JavaScript the button is a plain link to the same neutral site.
(function () {
  "use strict";
  var DEFAULT_NEUTRAL_URL = "https://www.wikipedia.org/";
  var DOUBLE_ESCAPE_MS = 800;
  var lastEscape = 0;
  var leaving = false;

  function button() {
    return document.getElementById("quick-exit");
  }

  function neutralUrl() {
    var control = button();
    var url = control && control.getAttribute("data-neutral-url");
    return url || DEFAULT_NEUTRAL_URL;
  }

  function tellServer() {
    // The server ends the session; a beacon still goes out while the page unloads.
    if (!navigator.sendBeacon) {
      return;
    }
    try {
      var control = button();
      var token = control && control.getAttribute("data-csrf-token");
      var body = new FormData();
      if (token) {
        body.append("csrf_token", token);
      }
      navigator.sendBeacon("/auth/quick-exit", body);
    } catch (ignored) {
      // Leaving matters more than telling the server.
    }
  }

  function quickExit(event) {
    if (event) {
      event.preventDefault();
    }
    if (leaving) {
      return;
    }
    leaving = true;
    tellServer();
    document.title = "";
    if (document.body) {
      document.body.hidden = true;
    }
    window.location.replace(neutralUrl());
  }

  function onKey(event) {
    if (event.key !== "Escape" && event.key !== "Esc") {
      return;
    }
    var now = Date.now();
    if (now - lastEscape < DOUBLE_ESCAPE_MS) {
      quickExit(event);
    }
    lastEscape = now;
  }

  function start() {
    var control = button();
    if (control) {
      control.addEventListener("click", quickExit);
    }
  }

  document.addEventListener("keydown", onKey, true);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
