// casegrid console: pick a report's location on a small map (report form). A click fills
// #lat / #lon and selects the grid cell the server finds there (GET /api/geo/cell).
(function () {
  var el = document.getElementById('pick-map');
  if (!el || !window.L || !window.cgLayers) return;
  var G = window.cgLayers, lat = document.getElementById('lat'), lon = document.getElementById('lon'),
      grid = document.getElementById('grid'), out = document.getElementById('pick-result');
  fetch('/api/geo/layers', {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (layers) {
    el.setAttribute('data-bbox', JSON.stringify(layers.bbox));
    el.setAttribute('data-tiles', JSON.stringify(layers.tiles));
    var map = G.base(el), marker = null, byCode = {}, chosen = null;
    var group = G.cells(map, layers.cells, {labels: false});
    group.eachLayer(function (l) { byCode[l.cgCode] = l; l.on('click', pick); });
    map.on('click', pick);
    function mark() {  // the selected grid cell, outlined on the map
      if (chosen) chosen.setStyle({color: '#8c959f', weight: 1, fillColor: '#f6f8fa'});
      chosen = byCode[grid.value] || null;
      if (chosen) { chosen.setStyle({color: '#0969da', weight: 2, fillColor: '#ddf4ff'}); chosen.bringToFront(); }
    }
    grid.addEventListener('change', mark);
    mark();
    if (lat.value && lon.value && isFinite(+lat.value) && isFinite(+lon.value)) {
      marker = L.marker([+lat.value, +lon.value], {keyboard: false}).addTo(map);
    }
    function pick(e) {
      var la = e.latlng.lat.toFixed(6), lo = e.latlng.lng.toFixed(6);
      lat.value = la; lon.value = lo;
      if (marker) marker.setLatLng(e.latlng); else marker = L.marker(e.latlng, {keyboard: false}).addTo(map);
      fetch('/api/geo/cell?lat=' + la + '&lon=' + lo, {credentials: 'same-origin'})
        .then(function (r) { return r.json(); })
        .then(function (a) {
          if (a.grid) {
            grid.value = a.grid;
            grid.dispatchEvent(new Event('change'));  // outlines it (mark)
            out.textContent = (a.community || '') + ' ' + a.grid;
            out.setAttribute('data-grid', a.grid);
          } else {
            out.textContent = out.getAttribute('data-outside');
            out.setAttribute('data-grid', '');
          }
        });
    }
    window.cgPickMap = map;
  });
})();
