// Tell each opsnb board that this page has built its widgets: click its hidden "ready" button
// (opsnb.widgets.Board.ready) once it is on the page. The board draws its first round after that,
// so no update is sent before the page can take it.
(function () {
  var clicked = new WeakSet();
  function poke() {
    document.querySelectorAll("button.opsnb-ready").forEach(function (b) {
      if (!clicked.has(b)) { clicked.add(b); b.click(); }
    });
  }
  new MutationObserver(poke).observe(document.documentElement, { childList: true, subtree: true });
})();
