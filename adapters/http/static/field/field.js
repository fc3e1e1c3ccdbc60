// 城管通 (the field app, /m/): photos, GPS, and an outbox in IndexedDB.
// Every report and step is first saved on the phone, then sent; without network it waits
// and is sent when the network returns (online event, retries with backoff). Each item
// carries the time it was made (`at`) and its own idempotency key, so a resend never makes
// a second case. Photos are downscaled here, uploaded first, then sent by their refs.
(function () {
  'use strict';
  var W = JSON.parse(document.body.getAttribute('data-words') || '{}');
  var meta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = meta ? meta.content : '';
  var MAX_SIDE = 2000;
  var ME = document.body.getAttribute('data-user') || '';  // items wait for the one who made them
  function $(s, root) { return (root || document).querySelector(s); }
  function w(k) { return W[k] || k; }

  // ------------------------------------------------------------ the outbox (IndexedDB)
  var DB_NAME = 'casegrid-field', STORE = 'outbox';
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var rq = indexedDB.open(DB_NAME, 1);
        rq.onupgradeneeded = function () { rq.result.createObjectStore(STORE, { keyPath: 'key' }); };
        rq.onsuccess = function () { resolve(rq.result); };
        rq.onerror = function () { reject(rq.error); };
      });
    }
    return dbPromise;
  }
  function store(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(STORE, mode);
        var rq = fn(t.objectStore(STORE));
        t.oncomplete = function () { resolve(rq ? rq.result : undefined); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }
  var outbox = {
    all: function () {
      return store('readonly', function (s) { return s.getAll(); }).then(function (items) {
        return (items || []).filter(function (i) { return i.user === ME; })
          .sort(function (a, b) { return a.made < b.made ? -1 : 1; });
      });
    },
    put: function (item) { return store('readwrite', function (s) { return s.put(item); }); },
    del: function (key) { return store('readwrite', function (s) { return s.delete(key); }); }
  };

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // enqueue: save first (nothing is lost if the page closes), then try to send
  function enqueue(kind, path, body, photos, label) {
    var item = { key: uuid(), kind: kind, path: path, body: body, photos: photos || [],
                 refs: [], made: new Date().toISOString(), tries: 0, next: 0, error: null,
                 failed: false, label: label || '', page: location.pathname, user: ME };
    return outbox.put(item).then(function () {
      flash(navigator.onLine ? w('m_q_sending') : w('m_q_queued'));
      window.scrollTo(0, 0);  // the outbox and the message are at the top
      render();
      flush();
      return item;
    });
  }

  // ------------------------------------------------------------ sending
  // why an item was not sent: `kind` names the words shown (network, login, server, refused
  // or a form word); `detail` is the server's own text, kept for whoever helps (data-detail)
  function Problem(kind, detail, permanent) {
    this.kind = kind; this.detail = detail || ''; this.permanent = permanent;
  }

  function refusal(r) {
    // 4xx but 401 (log in again), 408, 425, 429: the server refuses it as it is: no retry
    var kind = r.status === 401 ? 'login' : (r.status >= 500 || [408, 425, 429].indexOf(r.status) >= 0)
      ? 'server' : 'refused';
    return r.json().catch(function () { return {}; }).then(function (b) {
      var msg = (b && (b.message || b.rule)) || '';
      throw new Problem(kind, r.status + ' ' + msg, kind === 'refused');
    });
  }

  function call(method, path, body, isForm) {
    var headers = { 'X-CSRF-Token': CSRF, 'Accept': 'application/json' };
    if (body && !isForm) headers['Content-Type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, credentials: 'same-origin',
                         body: isForm ? body : (body ? JSON.stringify(body) : undefined) })
      .catch(function (e) { throw new Problem('network', String(e.message || e), false); })
      .then(function (r) { return r.ok ? r.json() : refusal(r); });
  }

  function upload(item, i) {
    if (item.refs[i]) return Promise.resolve();
    var fd = new FormData();
    fd.append('file', item.photos[i], 'photo-' + (i + 1) + '.jpg');
    return call('POST', '/api/evidence', fd, true).then(function (res) {
      item.refs[i] = res.ref;
      return outbox.put(item);  // a retry does not upload it again
    });
  }

  function cellOf(item) {
    var b = item.body;
    if (item.kind !== 'report' || b.grid) return Promise.resolve();
    if (b.lat == null || b.lon == null) return Promise.reject(new Problem('m_need_cell', '', true));
    return call('GET', '/api/geo/cell?lat=' + b.lat + '&lon=' + b.lon).then(function (res) {
      if (!res.grid) throw new Problem('m_cell_none', b.lat + ',' + b.lon, true);
      b.grid = res.grid;
    });
  }

  function send(item) {
    var chain = Promise.resolve();
    item.photos.forEach(function (_, i) { chain = chain.then(function () { return upload(item, i); }); });
    return chain.then(function () { return cellOf(item); }).then(function () {
      var body = Object.assign({}, item.body, { at: item.made, idempotency_key: item.key });
      if (item.kind !== 'patrol' && item.refs.length) body.evidence = item.refs.slice();
      return call('POST', item.path, body);
    });
  }

  // the session's CSRF token, fresh: a page from the cache may be older than this login
  function freshToken() {
    return fetch('/m/', { credentials: 'same-origin', cache: 'no-store' }).catch(function (e) {
      throw new Problem('network', String(e.message || e), false);
    }).then(function (r) {
      if (r.redirected || !r.ok) throw new Problem('login', r.status + ' ' + r.url, false);
      return r.text();
    }).then(function (html) {
      var m = html.match(/name="csrf-token" content="([^"]+)"/);
      if (m) CSRF = m[1];
    });
  }

  function setback(item, e) {
    item.error = e.kind || 'network';
    item.detail = e.kind ? e.detail : String(e.message || e);
    if (e.permanent) { item.failed = true; } else { item.tries += 1; item.next = Date.now() + backoff(item.tries); }
    return outbox.put(item);
  }

  var flushing = false, timer = null;
  function backoff(tries) { return Math.min(300000, 2000 * Math.pow(2, tries - 1)); }

  function flush() {
    if (flushing || !navigator.onLine) return render();  // offline: the online event sends
    flushing = true;
    var sentOnThisPage = [];
    return outbox.all().then(function (items) {
      var due = items.filter(function (i) { return !i.failed && i.next <= Date.now(); });
      var chain = due.length ? freshToken() : Promise.resolve();
      due.forEach(function (item) {
        chain = chain.then(function () {
          return send(item).then(function (res) {
            sentOnThisPage.push({ item: item, res: res });
            return outbox.del(item.key);
          }, function (e) { return setback(item, e); });
        });
      });
      return chain.catch(function (e) {  // no session (or no network) before sending anything
        return Promise.all(due.map(function (item) { return setback(item, e); }));
      });
    }).catch(function (e) { flash(String(e.message || e)); }).then(function () {
      flushing = false;
      return render();
    }).then(function () { done(sentOnThisPage); schedule(); });
  }

  function schedule() {
    clearTimeout(timer);
    outbox.all().then(function (items) {
      var next = items.filter(function (i) { return !i.failed; })
        .reduce(function (m, i) { return Math.min(m, i.next); }, Infinity);
      if (next < Infinity) timer = setTimeout(flush, Math.max(500, next - Date.now()));
    });
  }

  function numberOf(res) {
    // the readable case number (2026-11-000123), else the id's first 8 hex
    var cid = res && res.case_id;
    if (!cid || res.number) return Promise.resolve(res && res.number || '');
    return call('GET', '/api/cases/' + cid).then(function (d) {
      return (d.case && d.case.number) || cid.slice(0, 8);
    }, function () { return cid.slice(0, 8); });
  }

  function done(sent) {
    if (!sent.length) return;
    var last = sent[sent.length - 1];
    var cid = last.res && last.res.case_id;
    numberOf(last.res).then(function (no) {
      var text = w('m_q_sent') + (no ? ' · ' + no : '');
      sessionStorage.setItem('cg-flash', JSON.stringify({ text: text, href: cid ? '/m/cases/' + cid : '' }));
      var here = $('#case');
      if (here && sent.some(function (s) { return s.item.path.indexOf(here.getAttribute('data-case')) >= 0; })) {
        location.reload();
        return;
      }
      showFlash();
    });
  }

  // ------------------------------------------------------------ what the screen shows
  function flash(text, href) {
    var el = $('#flash');
    if (!el) return;
    el.textContent = '';
    el.appendChild(document.createTextNode(text));
    if (href) {
      var a = document.createElement('a');
      a.href = href; a.id = 'flash-link'; a.textContent = w('m_q_open');
      el.appendChild(document.createTextNode(' '));
      el.appendChild(a);
    }
    el.hidden = false;
  }
  function showFlash() {
    var raw = sessionStorage.getItem('cg-flash');
    if (!raw) return;
    sessionStorage.removeItem('cg-flash');
    var f = JSON.parse(raw);
    flash(f.text, f.href);
  }

  function render() {
    return outbox.all().then(function (items) {
      var box = $('#queue');
      if (!box) return;
      box.hidden = items.length === 0;
      var count = $('#queue-count');
      count.setAttribute('data-n', String(items.length));
      count.textContent = items.length + ' ' + w('m_q_waiting');
      var last = items.filter(function (i) { return i.error; }).pop();
      var err = last && last.error;
      var e = $('#queue-error');
      e.hidden = !err;
      e.textContent = err ? w('m_q_error') + ': ' + w(err.indexOf('m_') === 0 ? err : 'm_err_' + err) : '';
      e.setAttribute('data-kind', err || '');
      e.setAttribute('data-detail', (last && last.detail) || '');
      if (err === 'login') {  // the session ended: log in, then it is sent
        var a = document.createElement('a');
        a.href = '/login?next=' + encodeURIComponent(location.pathname);
        a.id = 'relogin'; a.textContent = ' ' + w('m_relogin');
        e.appendChild(a);
      }
      var ul = $('#queue-items');
      ul.textContent = '';
      items.forEach(function (i) {
        var li = document.createElement('li');
        li.setAttribute('data-key', i.key);
        li.className = i.failed ? 'failed' : '';
        var when = new Date(i.made);
        li.textContent = w('m_q_' + i.kind) + ' · ' + (i.label || '') + ' · ' +
          String(when.getHours()).padStart(2, '0') + ':' + String(when.getMinutes()).padStart(2, '0') +
          (i.photos.length ? ' · ' + w('m_q_photos') + ' ' + i.photos.length : '') + (i.failed ? ' · ' + w('m_q_failed') : '');
        if (i.failed) {
          var b = document.createElement('button');
          b.type = 'button'; b.className = 'small'; b.textContent = w('m_discard');
          b.setAttribute('data-discard', i.key);
          li.appendChild(b);
        }
        ul.appendChild(li);
      });
    });
  }

  function net() {
    var el = $('#net');
    if (!el) return;
    el.setAttribute('data-state', navigator.onLine ? 'online' : 'offline');
    el.textContent = navigator.onLine ? w('m_online') : w('m_offline');
  }

  // ------------------------------------------------------------ photos
  function downscale(file) {
    if (!window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file).then(function (bmp) {
      var k = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
      if (k === 1 && file.type === 'image/jpeg' && file.size < 1500000) return file;
      var c = document.createElement('canvas');
      c.width = Math.round(bmp.width * k); c.height = Math.round(bmp.height * k);
      c.getContext('2d').drawImage(bmp, 0, 0, c.width, c.height);
      return new Promise(function (resolve) { c.toBlob(function (b) { resolve(b || file); }, 'image/jpeg', 0.85); });
    }).catch(function () { return file; });
  }

  function photoPicker(form) {
    var photos = [];
    var input = $('input[type=file]', form), box = $('#photo-previews', form) || $('#photo-previews');
    if (!input) return photos;
    input.addEventListener('change', function () {
      if ($('.form-error', form)) formError(form, '');
      Array.prototype.forEach.call(input.files || [], function (f) {
        downscale(f).then(function (blob) {
          photos.push(blob);
          var rd = new FileReader();
          rd.onload = function () {
            var img = document.createElement('img');
            img.src = rd.result; img.alt = ''; img.className = 'preview';
            box.appendChild(img);
            box.setAttribute('data-n', String(photos.length));
          };
          rd.readAsDataURL(blob);
        });
      });
      input.value = '';
    });
    return photos;
  }

  function formError(form, text) {
    var e = $('.form-error', form);
    e.textContent = text || '';
    e.hidden = !text;
    return !text;
  }

  // ------------------------------------------------------------ the report screen
  function reportScreen(form) {
    var photos = photoPicker(form);
    var pos = { lat: null, lon: null };
    var grid = $('#grid'), posText = $('#pos-text'), cellText = $('#cell-text');

    function findCell() {
      if (pos.lat == null) return;
      if (!navigator.onLine) { cellText.textContent = w('m_cell_later'); return; }
      call('GET', '/api/geo/cell?lat=' + pos.lat + '&lon=' + pos.lon).then(function (res) {
        if (!res.grid) { cellText.textContent = w('m_cell_none'); return; }
        cellText.textContent = (res.community || '') + ' · ' + res.grid;
        cellText.setAttribute('data-grid', res.grid);
        if (!grid.value || grid.getAttribute('data-auto') === '1') {
          grid.value = res.grid; grid.setAttribute('data-auto', '1');
        }
      }, function () { cellText.textContent = w('m_cell_later'); });
    }
    function locate() {
      if (!navigator.geolocation) { posText.textContent = w('m_no_gps'); return; }
      posText.textContent = w('m_locating');
      navigator.geolocation.getCurrentPosition(function (p) {
        pos.lat = Math.round(p.coords.latitude * 1e6) / 1e6;
        pos.lon = Math.round(p.coords.longitude * 1e6) / 1e6;
        posText.textContent = pos.lat.toFixed(5) + ', ' + pos.lon.toFixed(5) +
          (p.coords.accuracy ? ' ±' + Math.round(p.coords.accuracy) + ' m' : '');
        posText.setAttribute('data-lat', pos.lat); posText.setAttribute('data-lon', pos.lon);
        findCell();
      }, function () { posText.textContent = w('m_no_gps'); },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    }
    var cat = $('#category');
    recentChips(cat);
    $('#locate').addEventListener('click', locate);
    grid.addEventListener('change', function () { grid.setAttribute('data-auto', '0'); });
    window.addEventListener('online', findCell);
    locate();

    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (!cat.value) return formError(form, w('m_need_category'));
      if (!grid.value && pos.lat == null) return formError(form, w('m_need_cell'));
      formError(form, '');
      var urgency = ($('input[name=urgency]:checked', form) || {}).value || 'normal';
      var body = { channel: form.getAttribute('data-channel'), category: cat.value,
                   grid: grid.value,  // '' offline: found from lat/lon when sent
                   urgency: urgency, description: $('#description').value.trim(),
                   lat: pos.lat, lon: pos.lon };
      var label = cat.options[cat.selectedIndex].textContent;
      remember(cat.value);
      enqueue('report', '/api/cases', body, photos.splice(0), label).then(function () {
        form.reset();
        recentChips(cat);
        $('#photo-previews').textContent = '';
        $('#photo-previews').removeAttribute('data-n');
        grid.value = cellText.getAttribute('data-grid') || '';
      });
    });
  }

  // the categories this phone reported last, one tap each
  var RECENT = 'cg-recent-categories';
  function recent() {
    try { return JSON.parse(localStorage.getItem(RECENT) || '[]'); } catch (e) { return []; }
  }
  function remember(code) {
    var list = recent().filter(function (c) { return c !== code; });
    list.unshift(code);
    localStorage.setItem(RECENT, JSON.stringify(list.slice(0, 4)));
  }
  function recentChips(select) {
    var box = $('#recent-cats');
    if (!box) return;
    box.textContent = '';
    recent().forEach(function (code) {
      var opt = select.querySelector('option[value="' + code.replace(/[^A-Za-z0-9_-]/g, '') + '"]');
      if (!opt) return;
      var b = document.createElement('button');
      b.type = 'button'; b.className = 'chip'; b.textContent = opt.textContent;
      b.setAttribute('data-cat', code);
      b.addEventListener('click', function () {
        select.value = code;
        box.querySelectorAll('.chip').forEach(function (c) { c.classList.toggle('on', c === b); });
      });
      box.appendChild(b);
    });
    box.hidden = !box.children.length;
  }

  // ------------------------------------------------------------ a case's step
  function stepForm(form) {
    var action = form.getAttribute('data-action'), cid = form.getAttribute('data-case');
    var photos = action === 'resolve' ? photoPicker(form) : [];
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = {};
      var reason = $('textarea[name=reason]', form);
      if (reason && reason.value.trim()) body.reason = reason.value.trim();
      if (action === 'check' || action === 'verify') {
        body.passed = ev.submitter ? ev.submitter.value === '1' : true;
        if (!body.passed && !body.reason) return formError(form, w('m_reason_required'));
      }
      if (action === 'return' && !body.reason) return formError(form, w('m_reason_required'));
      var comment = $('textarea[name=comment]', form);  // 协办反馈: the assisting unit's words
      if (comment && comment.value.trim()) body.comment = comment.value.trim();
      if (action === 'assist-feedback' && !body.comment) return formError(form, w('m_assist_need'));
      if (action === 'resolve' && !photos.length) return formError(form, w('m_need_photo'));
      formError(form, '');
      var no = $('#case-no') ? $('#case-no').textContent : cid.slice(0, 8);
      enqueue('action', '/api/cases/' + cid + '/' + action, body, photos.splice(0), no);
      form.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
    });
  }

  // ------------------------------------------------------------ the patrol report
  function patrolScreen(form) {
    var nil = $('#nil'), findings = $('#findings');
    nil.addEventListener('change', function () { findings.disabled = nil.checked; });
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var n = findings.value.trim();
      if (!nil.checked && n !== '' && !/^\d{1,3}$/.test(n)) return formError(form, w('m_findings'));
      formError(form, '');
      var body = { squad: form.getAttribute('data-squad'), date: form.getAttribute('data-date'),
                   nil: nil.checked, note: $('#note').value.trim() };
      if (!nil.checked && n !== '') body.findings = parseInt(n, 10);
      enqueue('patrol', '/api/patrol/reports', body, [], body.date).then(function () { form.reset(); });
    });
  }

  // due times recoloured as they near and pass, without reloading (as the console does)
  function paintDue() {
    var now = Date.now(), NEAR = 60 * 60 * 1000;
    document.querySelectorAll('.due[data-due]').forEach(function (el) {
      var due = Date.parse((el.getAttribute('data-due') || '').replace(/\.(\d{3})\d*/, '.$1'));
      if (isNaN(due)) return;
      el.classList.remove('due-ok', 'due-near', 'due-over');
      el.classList.add(due < now ? 'due-over' : (due - now < NEAR ? 'due-near' : 'due-ok'));
    });
  }

  // ------------------------------------------------------------ start
  // logging out: this phone forgets the cached pages (they show the user's cases); what
  // is still waiting stays, and is sent when the same person logs in again
  var logout = $('#logout-form');
  if (logout) {
    logout.addEventListener('submit', function (ev) {
      if (!window.caches || logout.getAttribute('data-cleared')) return;
      ev.preventDefault();
      caches.keys().then(function (keys) {
        return Promise.all(keys.filter(function (k) { return k.indexOf('cg-field-') === 0; })
          .map(function (k) { return caches.delete(k); }));
      }).catch(function () {}).then(function () {
        logout.setAttribute('data-cleared', '1');
        logout.submit();
      });
    });
  }
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('[data-discard]');
    if (b) outbox.del(b.getAttribute('data-discard')).then(render);
    if (e.target.id === 'queue-retry') retryNow();
  });
  function retryNow() {  // the network is back (or the person asks): everything waiting, now
    return outbox.all().then(function (items) {
      return Promise.all(items.map(function (i) { i.next = 0; return outbox.put(i); }));
    }).then(flush);
  }
  window.addEventListener('online', function () { net(); retryNow(); });
  window.addEventListener('offline', net);
  var rf = $('#report-form'); if (rf) reportScreen(rf);
  var pf = $('#patrol-form'); if (pf) patrolScreen(pf);
  document.querySelectorAll('form.step').forEach(stepForm);
  net();
  showFlash();
  paintDue();
  setInterval(paintDue, 30000);
  render().then(flush);
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/m/sw.js', { scope: '/m/' }).catch(function () {});
  }
})();
