// casegrid console: recolour due times as they near and pass, without reloading.
(function () {
  var NEAR = 60 * 60 * 1000;
  function paint() {
    var now = Date.now();
    document.querySelectorAll('.due[data-due]').forEach(function (el) {
      var s = el.getAttribute('data-due');
      if (!s) return;
      var due = Date.parse(s.replace(/\.(\d{3})\d*/, '.$1'));
      if (isNaN(due)) return;
      el.classList.remove('due-ok', 'due-near', 'due-over');
      el.classList.add(due < now ? 'due-over' : (due - now < NEAR ? 'due-near' : 'due-ok'));
    });
  }
  document.addEventListener('DOMContentLoaded', paint);
  setInterval(paint, 30000);
})();

// "back" links (error pages): history.back() without an inline javascript: URL (CSP).
document.addEventListener('click', function (e) {
  var a = e.target.closest && e.target.closest('a[data-back]');
  if (a && history.length > 1) { e.preventDefault(); history.back(); }
});
