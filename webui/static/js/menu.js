// The header menu on phones: collapsed behind a "Menu" button (aria-expanded / aria-controls), opened and closed
// by click, Enter or Space (it is a real <button>); Escape closes it and gives the focus back to the button.
// A classic script loaded in <head>: the "js" class is on <html> before the first paint, so the CSS collapses the
// menu only when this script runs (without JavaScript the menu is simply shown, as on a wide screen). Browsers too
// old for ES modules get no class either: the rest of the app's scripts would not run there.
(function () {
  "use strict";
  if (!("noModule" in HTMLScriptElement.prototype)) return;
  document.documentElement.classList.add("js");

  function setOpen(button, menu, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  }

  function wire() {
    var button = document.querySelector(".menu-button[aria-controls]");
    if (!button) return;
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) return;
    setOpen(button, menu, false);
    button.addEventListener("click", function () {
      setOpen(button, menu, button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || button.getAttribute("aria-expanded") !== "true") return;
      if (getComputedStyle(button).display === "none") return; // wide screen: no menu to close
      setOpen(button, menu, false);
      button.focus();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
