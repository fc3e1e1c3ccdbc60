// casegrid console: what the case map and the report form's map share (window.cgLayers):
// the city's own tiles (only when configured), the grid cells' outlines, community labels.
(function () {
  function text(s) { var d = document.createElement('div'); d.textContent = s == null ? '' : String(s); return d.innerHTML; }
  function data(el, name) { var v = el.getAttribute('data-' + name); return v ? JSON.parse(v) : null; }

  function base(el) {
    var tiles = data(el, 'tiles'), bb = data(el, 'bbox');
    var map = L.map(el, {zoomSnap: 0.25, attributionControl: !!tiles});
    if (tiles) {  // the city's own GIS; with none configured no tile is ever requested
      L.tileLayer(tiles.url, {maxZoom: tiles.max_zoom, attribution: text(tiles.attribution)}).addTo(map);
    }
    map.fitBounds([[bb[0], bb[1]], [bb[2], bb[3]]]);
    return map;
  }

  function cells(map, list, options) {
    var communities = {}, layer = L.featureGroup().addTo(map);
    list.forEach(function (c) {
      var poly = L.polygon(c.poly, {color: '#8c959f', weight: 1, fillColor: '#f6f8fa', fillOpacity: 0.55, className: 'cell-poly'})
        .bindTooltip(text(c.community + ' ' + c.code)).addTo(layer);
      poly.cgCode = c.code;
      var r = communities[c.community] = communities[c.community] || [90, 180, -90, -180];
      c.poly.forEach(function (p) {
        r[0] = Math.min(r[0], p[0]); r[1] = Math.min(r[1], p[1]); r[2] = Math.max(r[2], p[0]); r[3] = Math.max(r[3], p[1]);
      });
    });
    if (!options || options.labels !== false) {
      var labels = Object.keys(communities).map(function (k) {
        var r = communities[k];
        return {r: r, n: k.length, m: L.marker([r[2], (r[1] + r[3]) / 2], {icon: L.divIcon({className: 'map-label', html: text(k), iconSize: null}), interactive: false}).addTo(map)};
      });
      // a community's name shows only where its strip is wide enough to hold it
      var fit = function () {
        labels.forEach(function (l) {
          var w = map.latLngToContainerPoint([l.r[2], l.r[3]]).x - map.latLngToContainerPoint([l.r[2], l.r[1]]).x;
          var el = l.m.getElement();
          if (el) el.classList.toggle('map-label-hidden', w < l.n * 13 + 6);
        });
      };
      map.on('zoomend', fit);
      fit();
    }
    return layer;
  }

  window.cgLayers = {base: base, cells: cells, text: text, data: data};
})();
