// casegrid console: the scoreboard's week-by-week chart (data in the canvas's data-chart).
(function () {
  var canvas = document.getElementById('chart');
  if (!canvas || !window.Chart) return;
  var data = JSON.parse(canvas.getAttribute('data-chart'));
  if (!data) return;
  var colors = ['#1f6feb','#d73a49','#2da44e','#bf8700','#8250df','#0a7ea4','#e16f24','#57606a','#cf222e','#1b7c83','#6e40c9','#953800'];
  var labels = data.periods.map(function (p) { return p.from.slice(5) + '~' + p.to.slice(5); });
  var sets = data.series.map(function (s, i) {
    return {label: s.name, data: s.values.map(function (v) { return v == null ? null : Math.round(v * 1000) / 10; }),
            borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length], spanGaps: true, tension: 0.2, cubicInterpolationMode: 'monotone'};
  });
  var chart = new Chart(canvas, {type: 'line', data: {labels: labels, datasets: sets},
    options: {animation: false, responsive: true, scales: {y: {min: 0, max: 100, ticks: {callback: function (v) { return v + '%'; }}}},
      plugins: {legend: {position: 'right'}},
      onClick: function (evt, els) {
        if (!els.length) return;
        var s = data.series[els[0].datasetIndex], p = data.periods[els[0].index];
        location.href = '/scoreboard/explain?by=' + encodeURIComponent(data.by) + '&key=' + encodeURIComponent(s.key) +
          '&indicator=' + encodeURIComponent(data.indicator) + '&from=' + p.from + '&to=' + p.to;
      }}});
  window.cgChart = chart;
})();
