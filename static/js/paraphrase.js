// Paraphrase job page: fill the outcome bar and the counters table from app.js's live job updates.
(function () {
  document.addEventListener("job:update", function (event) {
    const counters = event.detail.counters || {};
    document.querySelectorAll("[data-count]").forEach(function (node) {
      const key = node.dataset.count;
      const value = counters[key] || 0;
      node.textContent = key === "cost_usd" ? Number(value).toFixed(4) : value;
    });
    ["accepted", "fallback", "failed"].forEach(function (key) {
      const seg = document.querySelector("#outcome-bar .seg." + key);
      if (seg) seg.style.flexGrow = counters[key] || 0;
    });
  });
})();
