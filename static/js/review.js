// The review page: one sample at a time, driven by the keyboard (a, r, e, u, s, j, k, ?, Esc).
// Nothing is final until the reviewer submits (s); u takes back the last decision until then.
// Without JavaScript every sample shows with plain forms; with it, decisions go by fetch and the
// page moves to the next undecided sample.
(function () {
  const root = document.getElementById("review");
  if (!root) return;
  document.body.classList.add("js-review");
  const items = Array.from(root.querySelectorAll(".review-item"));
  const dots = Array.from(root.querySelectorAll(".dot"));
  const help = document.getElementById("help");
  const flashBox = document.getElementById("flash");
  const canAct = root.dataset.canAct === "1";
  let current = 0;

  function fromHash() {
    const m = /^#item-(\d+)$/.exec(window.location.hash);
    return m ? Number(m[1]) - 1 : Number(root.dataset.start || 0);
  }

  function show(index) {
    current = Math.max(0, Math.min(items.length - 1, index));
    items.forEach((el, k) => el.classList.toggle("current", k === current));
    dots.forEach((el, k) => el.classList.toggle("current", k === current));
    closePanels();
    // the next sample's images are lazy and hidden: start fetching them now so j/a feel instant
    const next = items[current + 1];
    if (next) next.querySelectorAll("img[loading=lazy]").forEach((img) => (img.loading = "eager"));
    history.replaceState(null, "", "#item-" + (current + 1));
  }

  function nextPending(from) {
    for (let step = 1; step <= items.length; step++) {
      const k = (from + step) % items.length;
      if (items[k].dataset.verdict === "pending") return k;
    }
    return Math.min(from + 1, items.length - 1);
  }

  function flash(text) {
    flashBox.textContent = text;
    flashBox.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => (flashBox.hidden = true), 4000);
  }

  function closePanels() {
    root.querySelectorAll(".panel.open").forEach((d) => d.classList.remove("open"));
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  }

  function renderLoadCheck(check) {
    const box = document.getElementById("loadcheck");
    if (!box || !check) return;
    const problems = Object.keys(check.problems || {}).length;
    box.className = "loadcheck " + (check.ok ? "ok" : "bad");
    box.innerHTML = "";
    const strong = document.createElement("strong");
    strong.textContent = check.ok ? "Load check passed" : "Load check failed";
    box.append(strong, check.ok
      ? " · " + check.records + " records re-read as the exporter writes them"
      : " · " + problems + " of " + check.records + " records have problems");
  }

  function renderFixes(fixes) {
    const box = document.getElementById("loadcheck-fixes");
    if (!box) return;
    const list = box.querySelector("ul");
    list.innerHTML = "";
    (fixes || []).forEach((fix) => {
      const li = document.createElement("li");
      const strong = document.createElement("strong");
      strong.textContent = fix.problem;
      li.append(strong, " (sample " + fix.samples.join(", ") + "): " + fix.who);
      list.append(li);
    });
    box.hidden = !(fixes && fixes.length);
  }

  function apply(el, data) {
    const item = data.item;
    el.dataset.verdict = item.verdict;
    const badge = el.querySelector("[data-field=verdict]");
    badge.className = "badge " + item.verdict;
    badge.textContent = item.verdict.charAt(0).toUpperCase() + item.verdict.slice(1);
    el.querySelector("[data-field=inputs]").textContent = item.inputs;
    el.querySelector("[data-field=outputs]").textContent = item.outputs;
    dots[items.indexOf(el)].className = "dot " + item.verdict;
    document.getElementById("progress-text").textContent = data.decided + "/" + data.total;
    document.getElementById("progress-bar").style.width = Math.round((100 * data.decided) / data.total) + "%";
    renderLoadCheck(data.load_check);
    renderFixes(data.fixes);
    const count = el.querySelector("[data-field=audit-count]");
    if (count) count.textContent = Number(count.textContent) + 1;
    const note = el.querySelector("[data-field=note]");
    if (note && item.verdict === "pending") note.remove();
    if (data.review_status !== "open") window.location.reload();
    const panel = document.getElementById("submit-panel");
    if (panel) panel.hidden = data.decided !== data.total;
  }

  async function undo() {
    const form = root.querySelector(".undo-form");
    if (!form || form.dataset.busy) return;
    form.dataset.busy = "1";
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const data = await response.json().catch(() => ({ error: "The server answered " + response.status }));
      if (!response.ok) {
        flash(data.error || "That did not work.");
        return;
      }
      const el = items[data.item.position];
      apply(el, data);
      show(data.item.position);
      flash("Undone: sample " + (data.item.position + 1) + " is undecided again.");
    } catch (error) {
      flash("No answer from the server; nothing was undone.");
    } finally {
      delete form.dataset.busy;
    }
  }

  function submitReview() {
    const panel = document.getElementById("submit-panel");
    if (!panel || panel.hidden) {
      flash("Decide every sample first; then s submits the review.");
      return;
    }
    const form = panel.querySelector("form");
    if (form.reportValidity()) form.submit();
  }

  async function send(form) {
    const el = form.closest(".review-item");
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({ error: "The server answered " + response.status }));
    if (!response.ok) {
      flash(data.error || "That did not work.");
      return false;
    }
    apply(el, data);
    return true;
  }

  // Move on at once (the server answers in the background); come back to the sample if it refuses.
  async function submit(form, advance) {
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    const el = form.closest(".review-item");
    const index = items.indexOf(el);
    const was = el.dataset.verdict;
    if (advance) {
      el.dataset.verdict = "sending";
      show(nextPending(index));
    }
    try {
      if (!(await send(form))) {
        el.dataset.verdict = was;
        if (advance) show(index);
      }
    } catch (error) {
      el.dataset.verdict = was;
      flash("No answer from the server; nothing was saved.");
      if (advance) show(index);
    } finally {
      delete form.dataset.busy;
    }
  }

  function openPanel(selector, focus) {
    const panel = items[current].querySelector(selector);
    if (!panel) return;
    closePanels();
    panel.classList.add("open");
    const target = panel.querySelector(focus);
    if (target) {
      target.focus();
      if (target.setSelectionRange) target.setSelectionRange(target.value.length, target.value.length);
    }
  }

  const actions = {
    approve: () => canAct && submit(items[current].querySelector(".approve-form"), true),
    reject: () => canAct && openPanel(".reject-panel", ".reject-form"),
    edit: () => canAct && openPanel(".edit-panel", "textarea[name=outputs]"),
    undo: () => canAct && undo(),
    submit: () => canAct && submitReview(),
    next: () => show(current + 1),
    prev: () => show(current - 1),
    help: () => (help.hidden = !help.hidden),
  };
  const keys = { a: "approve", r: "reject", e: "edit", u: "undo", s: "submit", j: "next", k: "prev", "?": "help" };

  document.addEventListener("keydown", (event) => {
    if (event.altKey || (event.ctrlKey && event.key !== "Enter") || event.metaKey) return;
    const target = event.target;
    const form = target.closest && target.closest("form");
    if (event.key === "Escape") {
      help.hidden = true;
      closePanels();
      return;
    }
    if (form && form.classList.contains("edit-form")) {
      if (event.key === "Enter" && event.ctrlKey) {
        event.preventDefault();
        submit(form, true);
      }
      return;
    }
    if (form && form.classList.contains("reject-form")) {
      const typing = target.tagName === "TEXTAREA";
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        submit(form, true);
      } else if (!typing && /^[1-5]$/.test(event.key)) {
        const box = form.querySelectorAll("input[name=problems]")[Number(event.key) - 1];
        box.checked = !box.checked;
        event.preventDefault();
      } else if (!typing && event.key === "c") {
        form.querySelector("textarea").focus();
        event.preventDefault();
      }
      return;
    }
    if (["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) && target.type !== "radio") return;
    const name = keys[event.key];
    if (name) {
      event.preventDefault();
      actions[name]();
    }
  });

  root.addEventListener("click", (event) => {
    const trigger = event.target.closest("[data-action]");
    if (trigger && ["approve", "reject", "edit", "undo", "help"].includes(trigger.dataset.action)) {
      event.preventDefault();
      actions[trigger.dataset.action]();
      return;
    }
    const dot = event.target.closest(".dot");
    if (dot) {
      event.preventDefault();
      show(Number(dot.dataset.index));
    }
  });
  root.addEventListener("submit", (event) => {
    const form = event.target;
    // the submit, re-check and next-split forms are plain posts; decisions go by fetch
    if (!form.closest(".review-item")) return;
    event.preventDefault();
    submit(form, true);
  });
  help.addEventListener("click", (event) => {
    if (event.target === help) help.hidden = true;
  });

  show(fromHash());
})();
