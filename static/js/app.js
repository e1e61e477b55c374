// Live progress for every element with data-job-url: polls the job's JSON endpoint until it ends.
(function () {
  // Status words in the reader's language (base.html loads the /jsi18n/ catalogue first; djangojs.po).
  const gettext = window.gettext || ((s) => s);
  const STATUS_WORDS = {
    queued: gettext("queued"), running: gettext("running"), succeeded: gettext("succeeded"),
    failed: gettext("failed"), cancelled: gettext("cancelled"),
  };
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
  function render(el, job) {
    const bar = el.querySelector(".bar");
    const pct = job.percent === null ? 0 : job.percent;
    if (bar) bar.style.width = pct + "%";
    const box = el.querySelector(".progress");
    const shown = job.display_status || job.status; // "warning": succeeded without doing what was asked
    if (box) box.className = "progress " + shown;
    const set = (sel, text) => { const n = el.querySelector(sel); if (n) n.textContent = text; };
    set("[data-field=status]", STATUS_WORDS[shown] || shown);
    const badge = el.querySelector(".badge[data-field=status]");
    if (badge) badge.className = "badge " + shown;
    const warning = el.querySelector("[data-field=warning]");
    if (warning) {
      warning.textContent = job.warning || "";
      warning.hidden = !job.warning;
    }
    set("[data-field=done]", job.done);
    set("[data-field=total]", job.total === null ? "?" : job.total);
    set("[data-field=percent]", job.percent === null ? "" : job.percent + "%");
    set("[data-field=message]", job.message || "");
    set("[data-field=error]", job.error || "");
    const counters = el.querySelector("[data-field=counters]");
    if (counters) {
      counters.textContent = Object.entries(job.counters || {}).map(([k, v]) => k + ": " + v).join(" · ");
    }
    el.dispatchEvent(new CustomEvent("job:update", { detail: job, bubbles: true }));
  }
  function poll(el) {
    fetch(el.dataset.jobUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((job) => {
        render(el, job);
        if (!TERMINAL.has(job.status)) setTimeout(() => poll(el), 1000);
        else if (el.dataset.reloadOnEnd) window.location.reload();
      })
      .catch(() => setTimeout(() => poll(el), 3000));
  }
  document.querySelectorAll("[data-job-url]").forEach(poll);
})();

// The top navigation collapses behind "Menu" on narrow screens.
(function () {
  const toggle = document.querySelector(".nav-toggle");
  if (!toggle) return;
  toggle.addEventListener("click", () => {
    const open = toggle.closest(".topbar").classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
