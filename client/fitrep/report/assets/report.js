// FITRep report: renders the cluster list from the embedded JSON, a page at a time.
// Vanilla JS, no network. Writes data-render-ms on <html> when the first page is drawn
// (scripts/test_report.py reads it from the headless browser's DOM).
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const PAGE = 25;
  const LEVELS = ["primary", "auxiliary", "content", "form", "objective", "subjective", "visual"];
  const $ = (id) => document.getElementById(id);
  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);
  const num = (x, d = 3) => Number(x).toFixed(d);
  // Quote like Python's shlex.quote, so the command pastes into a POSIX shell as is.
  const shell = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\"'\"'")}'`);
  const threshold = data.threshold;
  const haystack = new WeakMap();
  data.clusters.forEach((c, i) => { c.index = i; });
  let view = [];
  let page = 0;

  function text(c) {
    let t = haystack.get(c);
    if (t === undefined) {
      t = (c.id + " " + (c.family || "") + " " + c.members.map((m) => m.id + " " + m.title).join(" ")).toLowerCase();
      haystack.set(c, t);
    }
    return t;
  }

  function apply() {
    const terms = $("filter").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const singles = $("singles").checked;
    view = data.clusters.filter(
      (c) => (singles || c.members.length > 1) && terms.every((t) => text(c).includes(t))
    );
    page = 0;
    render();
  }

  // The levels any member has, in canonical order: every row shows the same bars.
  const present = new Set();
  for (const c of data.clusters) for (const m of c.members) for (const lv in m.levels) present.add(lv);
  const levels = LEVELS.filter((lv) => present.has(lv));
  const images = data.clusters.some((c) => c.members.some((m) => "img" in m));

  function bars(m) {
    if (!levels.length) return `<span class="muted">—</span>`;
    if (!Object.keys(m.levels).length) return `<span class="muted">—</span>`;
    const weights = {};
    if (m.explain) for (const [lv, , w] of m.explain.levels) weights[lv] = w;
    const cells = levels.map((lv) => {
      const name = `<span class="lvn">${lv.slice(0, 3)}</span>`;
      if (!(lv in m.levels)) {
        return `<span class="lv absent" title="${lv}: absent">${name}<span class="track"></span></span>`;
      }
      const v = Math.max(0, Math.min(1, m.levels[lv]));
      const w = lv in weights ? ` · weight ${num(weights[lv], 2)}` : "";
      const dim = weights[lv] === 0 ? " unweighted" : "";
      return `<span class="lv${dim}" title="${lv} ${num(m.levels[lv])}${w}">${name}` +
        `<span class="track"><span class="fill" style="width:${(v * 100).toFixed(0)}%"></span></span></span>`;
    });
    return `<div class="bars">${cells.join("")}</div>`;
  }

  function gates(m) {
    if (!m.explain) return `<span class="muted">—</span>`;
    if (!m.explain.gates.length) return `<span class="muted">none fired</span>`;
    // a hard gate would have vetoed the join: only soft evidence can fire inside a cluster
    return m.explain.gates
      .map(([g, d, hard]) => `<span class="gate${hard ? "" : " soft"}" title="${esc(d || g)}">` +
        `${esc(g.replace(/_/g, " "))}</span>`)
      .join("");
  }

  function thumb(m) {
    if (!("img" in m)) return `<div class="noimg">no image</div>`;
    if (!m.img) return `<div class="noimg bad" title="image could not be read">unreadable</div>`;
    return `<img src="${m.img}" alt="${esc(m.id)}" loading="lazy">`;
  }

  function score(m) {
    if (!m.via) {
      const best = m.sim > 0 ? `<div class="sub">best other ${num(m.sim)}</div>` : "";
      return `<span class="badge first">first</span>${best}`;
    }
    const cls = threshold == null ? "" : m.sim >= threshold ? " pass" : " low";
    return `<span class="pill${cls}">${num(m.sim)}</span><div class="sub">conf ${num(m.conf, 2)}</div>`;
  }

  function member(m, ci, mi, rep) {
    const via = m.via
      ? `<span class="mono">${esc(m.via)}</span>`
      : `<span class="muted">starts the cluster</span>`;
    const why = m.via ? `<button type="button" class="why" data-c="${ci}" data-m="${mi}">explain</button>` : "";
    const pic = images ? `<td class="thumb">${thumb(m)}</td>` : "";
    return `<tr>${pic}` +
      `<td class="item"><div class="mono iid">${esc(m.id)}` +
      (m.id === rep ? ` <span class="badge rep" title="the item shown for this cluster">representative</span>` : "") +
      `</div>` +
      (m.title ? `<div class="title">${esc(m.title)}</div>` : "") +
      (m.sub ? `<div class="sub">${esc(m.sub)}</div>` : "") + `</td>` +
      `<td class="via">${via}</td><td class="score">${score(m)}</td>` +
      `<td>${bars(m)}</td><td class="gates">${gates(m)}</td><td class="act">${why}</td></tr>`;
  }

  function detail(m) {
    const cmd = `fitrep explain ${shell(m.id)} ${shell(m.via)} --run ${data.run}`;
    const parts = [`<div class="cmd"><code>${esc(cmd)}</code>` +
      `<button type="button" class="copy">copy</button></div>`];
    const e = m.explain;
    if (e) {
      const rows = e.levels.map(([lv, s, w, p]) => p
        ? `<tr><td>${lv}</td><td>${num(s)}</td><td>${num(w, 2)}</td><td>${num(s * w)}</td></tr>`
        : `<tr class="muted"><td>${lv}</td><td>absent</td><td>${num(w, 2)}</td><td></td></tr>`);
      const table = `<table class="exp"><tr><th>level</th><th>similarity</th><th>weight</th>` +
        `<th>weighted</th></tr>${rows.join("")}</table>`;
      const side = [];
      const ev = Object.entries(e.evidence).map(([k, v]) => `${esc(k.replace(/_/g, " "))} ${num(v, 2)}`);
      side.push(`<p class="verdict"><b>score ${num(e.score)}</b> vs threshold ${num(e.threshold)}: ` +
        (e.duplicate ? `<span class="ok">duplicates</span>` : `<span class="no">not duplicates</span>`) + `</p>`);
      for (const [g, d, hard] of e.gates)
        side.push(`<p class="gatefired">${hard ? "hard" : "soft"} gate ${esc(g)} fired ${esc(d)}</p>`);
      if (e.verdict) side.push(`<p><b>why</b> ${esc(e.verdict)}</p>`);
      if (ev.length) side.push(`<p><b>evidence</b> ${ev.join(" · ")}</p>`);
      if (m.concepts) side.push(`<p><b>concepts</b> ${esc(m.concepts)}</p>`);
      parts.push(`<div class="expwrap">${table}<div class="side">${side.join("")}</div></div>`);
    } else if (m.concepts) {
      parts.push(`<p><b>concepts</b> ${esc(m.concepts)}</p>`);
    }
    const pad = images ? "<td></td>" : "";
    return `<tr class="detail">${pad}<td colspan="6">${parts.join("")}</td></tr>`;
  }

  function render() {
    const pages = Math.max(1, Math.ceil(view.length / PAGE));
    page = Math.min(page, pages - 1);
    const shown = view.slice(page * PAGE, (page + 1) * PAGE);
    const html = shown.map((c) => {
      const ci = c.index;
      const n = c.members.length;
      const fam = c.family ? `<span class="family mono" title="same product up to variants">${esc(c.family)}</span>` : "";
      return `<article class="cluster"><h3><span class="mono">${esc(c.id)}</span>${fam}` +
        `<span class="size">${n} item${n > 1 ? "s" : ""}</span></h3><table class="members">` +
        (images ? `<col class="c-thumb">` : "") + `<col><col class="c-via"><col class="c-score">` +
        `<col class="c-levels"><col class="c-gates"><col class="c-act">` +
        `<thead><tr>${images ? "<th></th>" : ""}<th>item</th><th>joined via</th><th>score</th><th>per level</th>` +
        `<th>gates fired</th><th></th></tr></thead><tbody>` +
        c.members.map((m, mi) => member(m, ci, mi, c.rep)).join("") + `</tbody></table></article>`;
    });
    const none = data.clusters.some((c) => c.members.length > 1)
      ? "No clusters match the filter." : "No duplicates found.";
    $("list").innerHTML = html.join("") || `<p class="empty">${none}</p>`;
    const om = data.omitted;
    const left = om.clusters || om.singletons
      ? ` (the report leaves out ${om.clusters} smaller clusters and ${om.singletons} single items)` : "";
    $("count").textContent = `${view.length.toLocaleString()} clusters${left}`;
    $("page").textContent = `page ${page + 1} of ${pages}`;
    for (const id of ["prev", "prev2"]) $(id).disabled = page === 0;
    for (const id of ["next", "next2"]) $(id).disabled = page >= pages - 1;
  }

  function turn(delta) {
    page += delta;
    render();
    $("filter").scrollIntoView({ block: "start" });
  }

  $("list").addEventListener("click", (ev) => {
    const why = ev.target.closest(".why");
    if (why) {
      const row = why.closest("tr");
      const next = row.nextElementSibling;
      if (next && next.classList.contains("detail")) {
        next.remove();
        why.textContent = "explain";
      } else {
        row.insertAdjacentHTML("afterend", detail(data.clusters[why.dataset.c].members[why.dataset.m]));
        why.textContent = "hide";
      }
      return;
    }
    const copy = ev.target.closest(".copy");
    if (copy) {
      const code = copy.previousElementSibling;
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      const done = () => { copy.textContent = "copied"; };
      if (navigator.clipboard) navigator.clipboard.writeText(code.textContent).then(done, () => {});
      else if (document.execCommand("copy")) done();
    }
  });
  let timer = 0;
  $("filter").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(apply, 120); });
  $("singles").addEventListener("change", apply);
  $("prev").addEventListener("click", () => turn(-1));
  $("next").addEventListener("click", () => turn(1));
  $("prev2").addEventListener("click", () => turn(-1));
  $("next2").addEventListener("click", () => turn(1));
  apply();
  const root = document.documentElement.dataset;
  root.clustersShown = String(document.querySelectorAll("#list .cluster").length);
  root.renderMs = performance.now().toFixed(0);
  addEventListener("load", () => { root.loadMs = performance.now().toFixed(0); });
})();
