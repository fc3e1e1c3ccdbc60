// casegrid console: the case map. Open cases as points coloured by state, gathered into
// clusters on a pixel grid (CELL px) at each zoom; a cluster shows its count in the colour
// of its most frequent state and zooms in on a click. Data from #map's data-* attributes.
(function () {
  var el = document.getElementById('map');
  if (!el || !window.L || !window.cgLayers) return;
  var G = window.cgLayers, text = G.text;
  var points = G.data(el, 'points'), colours = G.data(el, 'colours');
  var CELL = 56;  // cluster grid, in screen pixels
  var map = G.base(el);
  G.cells(map, G.data(el, 'cells'));
  var layer = L.layerGroup().addTo(map);

  function popup(p) {
    return '<a href="/cases/' + encodeURIComponent(p.id) + '">' + text(p.no) + '</a><br>' +
      text(p.cat_name) + '<br>' + text(p.state_label) + (p.unit ? ' · ' + text(p.unit) : '');
  }

  function clusters(zoom) {
    var buckets = {};
    points.forEach(function (p) {
      var xy = map.project([p.lat, p.lon], zoom), k = Math.floor(xy.x / CELL) + ':' + Math.floor(xy.y / CELL);
      (buckets[k] = buckets[k] || []).push(p);
    });
    return Object.keys(buckets).map(function (k) { return buckets[k]; });
  }

  function main(group) {
    var n = {}, best = group[0].state;
    group.forEach(function (p) { n[p.state] = (n[p.state] || 0) + 1; if (n[p.state] > n[best]) best = p.state; });
    return best;
  }

  function draw() {
    layer.clearLayers();
    var drawn = {points: 0, clusters: 0};
    clusters(map.getZoom()).forEach(function (group) {
      if (group.length === 1) {
        var p = group[0];
        L.circleMarker([p.lat, p.lon], {radius: 7, color: '#fff', weight: 1.5, fillColor: colours[p.state] || '#57606a',
                                        fillOpacity: 0.95, className: 'case-point st-' + p.state})
          .bindPopup(popup(p)).addTo(layer);
        drawn.points += 1;
        return;
      }
      var lat = 0, lon = 0, bounds = L.latLngBounds([]);
      group.forEach(function (p) { lat += p.lat; lon += p.lon; bounds.extend([p.lat, p.lon]); });
      var size = group.length < 10 ? 30 : group.length < 100 ? 36 : 44, st = main(group);
      var m = L.marker([lat / group.length, lon / group.length], {
        icon: L.divIcon({className: 'case-cluster st-' + st, html: '<span>' + group.length + '</span>', iconSize: [size, size]}),
        title: String(group.length)});
      m.on('click', function () {
        if (map.getZoom() >= map.getMaxZoom() || bounds.getNorthEast().equals(bounds.getSouthWest())) {
          m.bindPopup(group.slice(0, 20).map(popup).join('<hr>')).openPopup();
        } else {
          map.fitBounds(bounds.pad(0.2));
        }
      });
      m.addTo(layer);
      drawn.clusters += 1;
    });
    el.setAttribute('data-drawn-points', drawn.points);
    el.setAttribute('data-drawn-clusters', drawn.clusters);
  }

  map.on('zoomend', draw);
  draw();
  window.cgMap = map;
})();
