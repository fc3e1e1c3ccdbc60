// 城管通's service worker (served as /m/sw.js, scope /m/): the app shell from the cache when
// there is no network. Pages: network first, the cached copy offline. The app's static
// files: the cache first. The API and photos always go to the network (the page's outbox
// keeps what could not be sent).
'use strict';
var CACHE = 'cg-field-__VERSION__';
var SHELL = ['/m/', '/m/report', '/m/patrol', '/m/inbox', '/m/check',
             '/static/field/field.js', '/static/field/field.css',
             '/static/field/icon-192.png', '/m/manifest.webmanifest'];

self.addEventListener('install', function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) {
    return Promise.all(SHELL.map(function (u) {
      return fetch(u, { credentials: 'same-origin' }).then(function (r) {
        if (r.ok && !r.redirected) return c.put(u, r);
      }).catch(function () {});
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf('cg-field-') === 0 && k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener('fetch', function (e) {
  var req = e.request;
  if (req.method !== 'GET') return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf('/m/') === 0 && url.pathname !== '/m/sw.js') {
    e.respondWith(fetch(req).then(function (r) {
      if (r.ok && !r.redirected) {
        var copy = r.clone();
        caches.open(CACHE).then(function (c) { c.put(req, copy); });
      }
      return r;
    }).catch(function () {
      return caches.match(req, { ignoreSearch: true }).then(function (hit) {
        return hit || caches.match('/m/');
      });
    }));
  } else if (url.pathname.indexOf('/static/field/') === 0) {
    e.respondWith(caches.match(req).then(function (hit) {
      return hit || fetch(req).then(function (r) {
        var copy = r.clone();
        if (r.ok) caches.open(CACHE).then(function (c) { c.put(req, copy); });
        return r;
      });
    }));
  }
});
