// The forms' photo field (现场照片): name the chosen files, refuse too many or too big
// before the upload, and show small previews (data: URLs; the policy allows no blob:).
(function () {
  "use strict";
  if (window.cgEvidence) { return; }
  window.cgEvidence = true;

  function bind(input) {
    var id = input.id;
    var names = document.querySelector('.file-names[data-for="' + id + '"]');
    var previews = document.querySelector('.photo-previews[data-for="' + id + '"]');
    var none = names ? names.textContent : "";
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      var max = parseInt(input.dataset.max, 10) || 5;
      var maxBytes = parseInt(input.dataset.maxBytes, 10) || 10485760;
      var problem = "";
      if (files.length > max) { problem = input.dataset.tooMany; }
      files.forEach(function (f) { if (f.size > maxBytes) { problem = input.dataset.tooBig + " " + f.name; } });
      input.setCustomValidity(problem);
      if (names) {
        names.textContent = files.length
          ? (problem || input.dataset.chosen.replace("{n}", files.length) + " " +
             files.map(function (f) { return f.name; }).join("、"))
          : none;
        names.classList.toggle("bad", !!problem);
      }
      if (!previews) { return; }
      previews.textContent = "";
      if (problem) { return; }
      files.forEach(function (f) {
        if (!/^image\/(jpeg|png|webp)$/.test(f.type)) { return; }
        var reader = new FileReader();
        reader.onload = function () {
          var img = document.createElement("img");
          img.src = reader.result;
          img.alt = f.name;
          img.className = "photo-preview";
          previews.appendChild(img);
        };
        reader.readAsDataURL(f);
      });
    });
  }

  function start() {
    document.querySelectorAll("input[data-photo-input]").forEach(function (input) {
      if (!input.dataset.bound) { input.dataset.bound = "1"; bind(input); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
