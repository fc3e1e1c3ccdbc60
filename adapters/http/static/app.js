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

// The case page's steps (form.act): a step that needs a reason is not sent without one (the
// field says so), and a destructive step (作废、退回、不通过、不同意) asks for confirmation
// in the page's <dialog> first. No inline script: the CSP allows only this file.
(function () {
  var dialog = document.getElementById('confirm-dialog');
  function negative(form) {
    var r = form.querySelector('input[data-negative]');
    return !!(r && r.checked);
  }
  function destructive(form) { return form.getAttribute('data-kind') === 'destructive' || negative(form); }
  function needsReason(form) {
    var rule = form.getAttribute('data-reason');
    if (rule === 'always' || (rule === 'negative' && negative(form))) return true;
    var unit = form.querySelector('select[data-suggested]');  // dispatch away from the rule's unit
    return !!(unit && unit.getAttribute('data-suggested') && unit.value !== unit.getAttribute('data-suggested'));
  }
  function mark(form) {  // the look follows the choice: rejecting turns the button red
    var btn = form.querySelector('button[type=submit]');
    if (btn && form.getAttribute('data-kind') !== 'destructive') {
      btn.classList.toggle('danger', negative(form));
    }
    var reason = form.querySelector('input[name=reason]');
    if (reason) reason.required = needsReason(form);
  }
  document.querySelectorAll('form.act').forEach(function (form) {
    form.noValidate = true;  // checked here, with the message beside the field
    mark(form);
    form.addEventListener('change', function () { mark(form); });
    form.addEventListener('submit', function (e) {
      var reason = form.querySelector('input[name=reason]');
      var msg = form.querySelector('.field-error[data-field=reason]');
      if (reason && needsReason(form) && !reason.value.trim()) {
        e.preventDefault();
        if (msg) msg.hidden = false;
        reason.setAttribute('aria-invalid', 'true');
        reason.focus();
        return;
      }
      if (msg) msg.hidden = true;
      if (reason) reason.removeAttribute('aria-invalid');
      if (!destructive(form) || form.getAttribute('data-confirmed') === '1' || !dialog) return;
      e.preventDefault();
      document.getElementById('confirm-text').textContent = form.getAttribute('data-confirm-text');
      document.getElementById('confirm-reason').textContent = reason ? reason.value.trim() : '';
      dialog.returnValue = '';
      dialog.onclose = null;
      dialog.addEventListener('close', function done() {
        dialog.removeEventListener('close', done);
        if (dialog.returnValue === 'ok') {
          form.setAttribute('data-confirmed', '1');
          form.requestSubmit ? form.requestSubmit() : form.submit();
        }
      });
      dialog.showModal();
    });
  });
})();
