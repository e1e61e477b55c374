// A training run's page: polls the run's metrics JSON, grows the loss and lr curves (inline SVG),
// and fills the live fields until the run ends.
(function () {
  const root = document.getElementById("run");
  if (!root) return;
  const url = root.dataset.metricsUrl;
  const ENDED = new Set(["completed", "cancelled", "failed"]);
  const points = [];
  const NS = "http://www.w3.org/2000/svg";

  function draw(svg, key) {
    const W = 600, H = 220, L = 58, R = 10, T = 10, B = 28;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const add = (name, attrs, text) => {
      const el = document.createElementNS(NS, name);
      Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, v));
      if (text !== undefined) el.textContent = text;
      svg.appendChild(el);
      return el;
    };
    add("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B });
    add("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B });
    const values = points.filter((p) => p[key] !== null && p[key] !== undefined);
    svg.dataset.points = values.length;
    if (!values.length) return;
    const xs = values.map((p) => p.step), ys = values.map((p) => p[key]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
    let y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (y1 - y0 < 1e-12) { y0 -= 0.5 * (Math.abs(y0) || 1); y1 += 0.5 * (Math.abs(y1) || 1); }
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
    const fmt = (v) => (Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(1) : v.toFixed(3));
    add("polyline", { class: "line", points: values.map((p) => sx(p.step).toFixed(1) + "," + sy(p[key]).toFixed(1)).join(" ") });
    add("text", { x: 4, y: T + 10 }, fmt(y1));
    add("text", { x: 4, y: H - B }, fmt(y0));
    add("text", { x: L, y: H - 8 }, "step " + x0);
    add("text", { x: W - R, y: H - 8, "text-anchor": "end" }, "step " + x1);
  }

  function set(field, text) {
    const el = root.parentNode.querySelector("[data-field=" + field + "]");
    if (el) el.textContent = text;
  }

  function render(run) {
    const badge = root.querySelector(".badge[data-field=status]");
    badge.textContent = run.status;
    badge.className = "badge " + run.status;
    set("step", run.step);
    set("total_steps", run.total_steps === null ? "?" : run.total_steps);
    set("last_loss", run.last_loss === null ? "—" : run.last_loss.toFixed(4));
    set("samples_per_s", run.samples_per_s === null ? "—" : run.samples_per_s);
    set("gpu_mem_gb", run.gpu_mem_gb ? "· GPU memory " + run.gpu_mem_gb + " GB" : "");
    set("final_loss", run.final_loss === null ? "" : "· final loss " + run.final_loss.toFixed(4));
    set("error", run.error || "");
    set("log_tail", run.log_tail || "");
    const log = root.parentNode.querySelector("[data-field=log_tail]");
    if (log) log.scrollTop = log.scrollHeight;
    const bar = root.querySelector(".bar");
    if (bar) bar.style.width = (run.percent || 0) + "%";
    root.querySelector(".progress").className = "progress " + run.status;
    const active = run.status === "queued" || run.status === "running";
    root.querySelector("[data-show-when=active] button").hidden = !active;
    root.querySelector("[data-show-when=resumable] button").hidden = active || run.status === "completed";
    const table = document.getElementById("checkpoints");
    if (table && run.checkpoints.length) {
      table.querySelectorAll("tr:not(:first-child)").forEach((tr) => tr.remove());
      run.checkpoints.forEach((c) => {
        const tr = table.insertRow();
        tr.innerHTML = "<td class=num></td><td><code></code></td><td class=num></td>";
        tr.cells[0].textContent = c.step;
        tr.cells[1].firstChild.textContent = c.path;
        tr.cells[2].textContent = (c.bytes / 1e6).toFixed(1) + " MB";
      });
    }
    draw(document.getElementById("loss-chart"), "loss");
    draw(document.getElementById("lr-chart"), "lr");
  }

  function poll() {
    const after = points.length ? points[points.length - 1].step : 0;
    fetch(url + "?after=" + after, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((run) => {
        // A resumed run logs again the steps after its checkpoint: keep the newest of each step.
        run.points.forEach((p) => {
          while (points.length && points[points.length - 1].step >= p.step) points.pop();
          points.push(p);
        });
        render(run);
        if (!ENDED.has(run.status) || !ENDED.has(run.job_status === "succeeded" ? "completed" : run.job_status)) {
          setTimeout(poll, 1000);
        } else {
          setTimeout(poll, 5000); // ended: check now and then (a resume starts it again)
        }
      })
      .catch(() => setTimeout(poll, 3000));
  }
  poll();
})();
