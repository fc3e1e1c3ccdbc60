// casegrid console: the scoreboard's week-by-week chart (data in the canvas's data-chart).
// A few lines at a time (the top five by rank; the reader ticks others in #chart-lines);
// an unfinished or cut-short week is drawn dashed and labelled partial.
(function () {
  var canvas = document.getElementById('chart');
  if (!canvas || !window.Chart) return;
  var data = JSON.parse(canvas.getAttribute('data-chart'));
  if (!data) return;
  var colors = ['#1f6feb','#d73a49','#2da44e','#bf8700','#8250df','#0a7ea4','#e16f24','#57606a','#cf222e','#1b7c83','#6e40c9','#953800'];
  var partial = data.partial || [];
  var shown = data.shown || data.series.map(function (s) { return s.key; });
  var labels = data.periods.map(function (p, i) {
    var text = p.from.slice(5) + '~' + p.to.slice(5);
    return partial.indexOf(i) >= 0 ? text + ' (' + (data.partial_label || 'partial') + ')' : text;
  });
  function dashed(ctx) { return partial.indexOf(ctx.p1DataIndex) >= 0 ? [6, 4] : undefined; }
  var sets = data.series.map(function (s, i) {
    var c = colors[i % colors.length];
    return {label: s.name, key: s.key, hidden: shown.indexOf(s.key) < 0,
            data: s.values.map(function (v) { return v == null ? null : Math.round(v * 1000) / 10; }),
            borderColor: c, backgroundColor: c, spanGaps: false,  // a week with no figure is a gap, not a slope
            tension: 0.2, cubicInterpolationMode: 'monotone',
            segment: {borderDash: dashed},
            pointStyle: s.values.map(function (v, j) { return partial.indexOf(j) >= 0 ? 'rectRot' : 'circle'; })};
  });
  var chart = new Chart(canvas, {type: 'line', data: {labels: labels, datasets: sets},
    options: {animation: false, responsive: true, maintainAspectRatio: true, aspectRatio: window.innerWidth < 700 ? 1.2 : 3,
      scales: {y: {min: 0, max: 100, ticks: {callback: function (v) { return v + '%'; }}}},
      plugins: {legend: {position: window.innerWidth < 700 ? 'bottom' : 'right',
                         labels: {filter: function (item) { return !sets[item.datasetIndex].hidden; }}}},
      onClick: function (evt, els) {
        if (!els.length) return;
        var s = data.series[els[0].datasetIndex], p = data.periods[els[0].index];
        location.href = '/scoreboard/explain?by=' + encodeURIComponent(data.by) + '&key=' + encodeURIComponent(s.key) +
          '&indicator=' + encodeURIComponent(data.indicator) + '&from=' + p.from + '&to=' + p.to;
      }}});
  document.querySelectorAll('#chart-lines input[data-key]').forEach(function (box) {
    box.addEventListener('change', function () {
      sets.forEach(function (d, i) {
        if (d.key === box.getAttribute('data-key')) { d.hidden = !box.checked; chart.setDatasetVisibility(i, box.checked); }
      });
      chart.update();
      var n = document.getElementById('lines-n');
      if (n) n.textContent = document.querySelectorAll('#chart-lines input:checked').length;
    });
  });
  window.cgChart = chart;
})();
