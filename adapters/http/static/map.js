// casegrid console: the schematic map (no tiles). Data from the #map element's data-* attributes.
(function () {
  var el = document.getElementById('map');
  if (!el || !window.L) return;
  var points = JSON.parse(el.getAttribute('data-points')), cells = JSON.parse(el.getAttribute('data-cells')),
      bb = JSON.parse(el.getAttribute('data-bbox'));
  var map = L.map('map', {zoomSnap: 0.25, attributionControl: false});
  var bounds = [[bb[0], bb[1]], [bb[2], bb[3]]];
  map.fitBounds(bounds);
  var communities = {};
  cells.forEach(function (c) {
    L.rectangle(c.b, {color: '#8c959f', weight: 1, fillColor: '#f6f8fa', fillOpacity: 0.6})
      .bindTooltip(c.community + ' ' + c.code).addTo(map);
    var k = c.community; communities[k] = communities[k] || [90, 180, -90, -180];
    var r = communities[k]; r[0] = Math.min(r[0], c.b[0][0]); r[1] = Math.min(r[1], c.b[0][1]); r[2] = Math.max(r[2], c.b[1][0]); r[3] = Math.max(r[3], c.b[1][1]);
  });
  function text(s) { var d = document.createElement('div'); d.textContent = s == null ? '' : String(s); return d.innerHTML; }
  Object.keys(communities).forEach(function (k) {
    var r = communities[k];
    L.rectangle([[r[0], r[1]], [r[2], r[3]]], {color: '#24292f', weight: 2, fill: false, interactive: false}).addTo(map);
    L.marker([r[2], (r[1] + r[3]) / 2], {icon: L.divIcon({className: 'map-label', html: text(k), iconSize: null}), interactive: false}).addTo(map);
  });
  var col = {'due-over': '#cf222e', 'due-near': '#bf8700', 'due-ok': '#1a7f37', '': '#57606a'};
  points.forEach(function (p) {
    L.circleMarker([p.lat, p.lon], {radius: 6, color: '#fff', weight: 1, fillColor: col[p.cls] || '#57606a', fillOpacity: 0.9})
      .bindPopup('<a href="/cases/' + encodeURIComponent(p.id) + '">' + text(p.id.slice(0, 8)) + '</a><br>' + text(p.cat_name) + '<br>' + text(p.state_zh) + (p.unit ? ' · ' + text(p.unit) : ''))
      .addTo(map);
  });
  window.cgMap = map;
})();
