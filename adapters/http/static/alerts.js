// casegrid console: live alerts (实时提醒). Server-sent events from /console/events (the
// viewer's scope: a unit hears of dispatches to it and of cases due soon, the center of new
// reports) shown as toasts, with a beep (WebAudio, no file) the operator can turn off
// (localStorage 'cg_alert_sound'). The watermark and the alerts already shown are kept in
// sessionStorage, so moving between pages neither loses nor repeats one.
(function () {
  var me = document.getElementById('alerts-js'), who = document.getElementById('whoami');
  if (!me || !who || !window.EventSource) return;
  var w = function (k) { return me.getAttribute('data-' + k) || ''; };
  var state = window.cgAlerts = {shown: 0, beeps: 0, connected: false};
  var store = window.sessionStorage, SEEN = 'cg_alerts_seen', AFTER = 'cg_alerts_after';

  function soundOn() { return localStorage.getItem('cg_alert_sound') !== 'off'; }

  // the sound switch, in the header beside the user's name
  var toggle = document.createElement('button');
  toggle.type = 'button'; toggle.id = 'alert-sound'; toggle.className = 'link alert-sound';
  function paint() {
    var on = soundOn();
    toggle.textContent = w('sound') + (on ? w('on') : w('off'));
    toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
    toggle.classList.toggle('off', !on);
  }
  toggle.addEventListener('click', function () {
    localStorage.setItem('cg_alert_sound', soundOn() ? 'off' : 'on');
    paint();
  });
  paint();
  who.parentNode.insertBefore(toggle, who);

  var box = document.createElement('div');
  box.id = 'toasts'; box.className = 'toasts'; box.setAttribute('aria-live', 'polite');
  document.body.appendChild(box);

  var audio = null;
  function beep() {
    if (!soundOn()) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === 'suspended') audio.resume();
      var o = audio.createOscillator(), g = audio.createGain(), t = audio.currentTime;
      o.type = 'sine'; o.frequency.value = 880;
      g.gain.setValueAtTime(0.0001, t); g.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
      o.connect(g); g.connect(audio.destination); o.start(t); o.stop(t + 0.4);
      state.beeps += 1;
    } catch (e) { /* no audio device: the toast still shows */ }
  }

  function seen() { try { return JSON.parse(store.getItem(SEEN) || '[]'); } catch (e) { return []; } }

  function toast(kind, title, lines, href) {
    var t = document.createElement('div');
    t.className = 'toast toast-' + kind; t.setAttribute('role', 'status'); t.setAttribute('data-kind', kind);
    var h = document.createElement(href ? 'a' : 'strong');
    if (href) h.href = href;
    h.className = 'toast-title'; h.textContent = title;
    t.appendChild(h);
    lines.forEach(function (s) { if (!s) return; var p = document.createElement('div'); p.textContent = s; t.appendChild(p); });
    var x = document.createElement('button');
    x.type = 'button'; x.className = 'toast-close'; x.textContent = '×'; x.setAttribute('aria-label', w('close'));
    x.addEventListener('click', function () { t.remove(); });
    t.appendChild(x);
    box.appendChild(t);
    while (box.children.length > 4) box.removeChild(box.firstChild);
    setTimeout(function () { t.remove(); }, 15000);
    state.shown += 1;
  }

  function show(list) {
    var old = seen(), fresh = list.filter(function (a) { return old.indexOf(a.key) < 0; });
    if (!fresh.length) return;
    store.setItem(SEEN, JSON.stringify(old.concat(fresh.map(function (a) { return a.key; })).slice(-300)));
    fresh.slice(0, 3).forEach(function (a) {
      toast(a.kind, w(a.kind) + ' ' + a.no, [a.category + (a.community ? ' · ' + a.community : ''),
        a.kind === 'due' && a.due_local ? w('due-at') + ' ' + a.due_local : ''], '/cases/' + encodeURIComponent(a.case_id));
    });
    if (fresh.length > 3) toast('more', w('more').replace('{n}', fresh.length - 3), [], null);
    beep();
  }

  // connect a moment after the page has loaded, so the page first reaches "network idle"
  function connect() {
    var after = store.getItem(AFTER);
    var source = new EventSource('/console/events' + (after ? '?after=' + encodeURIComponent(after) : ''));
    source.addEventListener('hello', function (e) {
      state.connected = true;
      store.setItem(AFTER, JSON.parse(e.data).after);
    });
    source.addEventListener('alerts', function (e) {
      var d = JSON.parse(e.data);
      store.setItem(AFTER, d.after);
      show(d.alerts);
    });
    window.addEventListener('pagehide', function () { source.close(); });
  }
  function later() { setTimeout(connect, 1200); }
  if (document.readyState === 'complete') later(); else window.addEventListener('load', later);
})();
