// The instruction pool editor: live token counts, pool statistics and warnings while typing.
// The numbers come from the server (annotator/stats.py), so the page and the statistics page agree.
(function () {
  const panel = document.getElementById("pool-stats");
  if (!panel) return;
  const liveUrl = panel.dataset.liveUrl;
  const unitSingular = { words: "word", characters: "character" };
  let timer = null;
  let sequence = 0;

  function fmt(value) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(1);
  }

  function renderFeedback(box, data) {
    box.textContent = "";
    const draft = data.draft;
    const count = document.createElement("span");
    count.className = "draft-tokens";
    const unit = draft.tokens === 1 ? unitSingular[data.token_unit] : data.token_unit;
    count.textContent = draft.tokens + " " + unit;
    box.appendChild(count);
    draft.warnings.forEach((w) => {
      const line = document.createElement("div");
      line.className = "warning-line " + w.kind;
      line.textContent = "⚠ " + w.message;
      box.appendChild(line);
    });
  }

  function renderPool(data, editing) {
    // saved instructions only; a draft shows apart until it is saved
    const extra = data.count_with_draft > data.count ? " (+1 draft)" : "";
    document.getElementById("stat-count").textContent = data.count + extra;
    document.getElementById("stat-tokens").textContent = fmt(data.tokens.mean);
    document.getElementById("stat-distance").textContent = fmt(data.edit_distance.mean);
    if (editing) {
      const row = data.instructions.find((i) => String(i.pk) === String(editing));
      const badge = document.querySelector('[data-tokens-for="' + editing + '"]');
      if (row && badge) badge.textContent = row.tokens + " " + data.token_unit;
    }
  }

  function refresh(input) {
    const box = input.parentElement.querySelector(".draft-feedback");
    const editing = input.dataset.editing || "";
    const params = new URLSearchParams({ draft: input.value });
    if (editing) params.set("editing", editing);
    const mine = ++sequence;
    fetch(liveUrl + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => {
        if (mine !== sequence) return; // an older answer arriving late
        renderFeedback(box, data);
        renderPool(data, editing);
      })
      .catch(() => {
        box.textContent = "Live statistics are unavailable right now; saving still works.";
      });
  }

  document.querySelectorAll(".instruction-input").forEach((input) => {
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => refresh(input), 200);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        input.form.requestSubmit();
      }
    });
    if (input.value.trim() && !input.closest("[hidden]")) refresh(input);
  });

  // Edit in place: show the row's form instead of following the ?edit= link.
  document.querySelectorAll(".edit-link").forEach((link) => {
    link.addEventListener("click", (event) => {
      const item = link.closest(".pool-item");
      const form = item.querySelector(".edit-form");
      if (!form) return;
      event.preventDefault();
      item.querySelector(".pool-text").hidden = true;
      form.hidden = false;
      const area = form.querySelector("textarea");
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
      refresh(area);
    });
  });
  document.querySelectorAll(".cancel-edit").forEach((link) => {
    link.addEventListener("click", (event) => {
      const item = link.closest(".pool-item");
      event.preventDefault();
      item.querySelector(".edit-form").hidden = true;
      item.querySelector(".pool-text").hidden = false;
      const first = document.querySelector("#new-instruction");
      if (first) refresh(first);
    });
  });
  document.querySelectorAll(".delete-form").forEach((form) => {
    form.addEventListener("submit", (event) => {
      const text = form.closest(".pool-item").querySelector(".text").textContent;
      if (!window.confirm("Delete this instruction?\n\n" + text)) event.preventDefault();
    });
  });
})();
