"""The placement page's script: draws the embedded report as SVG and makes it explorable.

One SVG element of class `node` per graph node (hidden while its cluster is collapsed) and
one box per cluster for its collapsed form; a small layered layout (longest-path layers,
barycentre ordering; the graph flows top to bottom); the legend, whose entries expand or
collapse a cluster; search by node name (Enter jumps to the next match, expanding its
cluster), selection with the node's reason and detail, and zoom. The URL's fragment picks
the opening state: #expanded, #collapsed or #search=NAME.

The page reads its data from the `ovtf-data` JSON element that `ovtf.partitioner.html` fills.
"""

SCRIPT = r"""(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("ovtf-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const nodes = data.nodes, N = nodes.length;
  const svg = document.getElementById("graph");
  const clusterOf = {}; data.clusters.forEach((c, i) => { clusterOf[c.name] = i; });
  // Golden-angle hues from blue on, never red (red marks what stays in TensorFlow).
  const colour = i => {
    let hue = (205 + i * 137.508) % 360;
    if (hue < 25 || hue > 335) hue = (hue + 60) % 360;
    return "hsl(" + Math.round(hue) + ",58%," + (i % 2 ? 52 : 42) + "%)";
  };
  const collapsed = new Set(N > data.collapse_above ? data.clusters.map(c => c.name) : []);
  let zoom = 1, selected = -1, matchList = [], matchAt = -1;
  const folded = new Array(N).fill(null);   // node -> the collapsed cluster it is folded beside
  const ROW = 64, GAP = 14, H = 24, HR = 36;

  function el(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  const inputs = nodes.map(() => []), outputs = nodes.map(() => []);
  data.edges.forEach(([s, d]) => { inputs[d].push(s); outputs[s].push(d); });

  document.getElementById("headline").textContent = data.headline;

  // --- one SVG element per graph node, one per cluster (its collapsed form) ---------------
  const edgeLayer = el("g", {id: "edges"}, svg);
  const nodeLayer = el("g", {id: "nodes"}, svg);
  const groupLayer = el("g", {id: "groups"}, svg);
  const nodeEls = nodes.map((n, i) => {
    const g = el("g", {"class": "node", "data-name": n.name, "data-index": i}, nodeLayer);
    const why = !n.cluster && n.compute && n.reason ? n.reason : "";
    g.classList.add(n.cluster ? "clustered" : (n.compute ? "tf" : "aux"));
    if (why) g.classList.add("reason");
    n.w = Math.min(190, Math.max(54, 7 * Math.max(n.op.length, why.length * 0.85) + 16));
    n.h = why ? HR : H;
    const rect = el("rect", {width: n.w, height: n.h, rx: 5}, g);
    if (n.cluster) rect.setAttribute("fill", colour(clusterOf[n.cluster]));
    const label = el("text", {x: n.w / 2, y: 15, "text-anchor": "middle"}, g);
    label.textContent = n.op.length > 26 ? n.op.slice(0, 25) + "\u2026" : n.op;
    if (n.cluster) label.setAttribute("fill", "#fff");
    if (why) {
      const t = el("text", {"class": "why", x: n.w / 2, y: 29, "text-anchor": "middle"}, g);
      t.textContent = why;
    }
    el("title", {}, g).textContent = n.name + " [" + n.op + "] " +
      (n.cluster ? "-> " + n.cluster : "TF" + (n.reason ? ": " + n.reason : "")) +
      (n.detail && !n.cluster ? " (" + n.detail + ")" : "");
    g.addEventListener("click", () => select(i));
    return g;
  });
  const boxEls = data.clusters.map((c, ci) => {
    const g = el("g", {"class": "cluster-box", "data-cluster": c.name}, nodeLayer);
    const sub = c.ops.slice(0, 3).map(([op, k]) => op + " " + k).join(", ") + " \u2026 (click to expand)";
    c.w = Math.max(200, 6.1 * sub.length + 20); c.h = 44;
    el("rect", {width: c.w, height: c.h, rx: 8, fill: colour(ci)}, g);
    el("text", {x: c.w / 2, y: 18, "text-anchor": "middle"}, g).textContent =
      c.name + " \u00b7 " + c.size + " ops";
    el("text", {"class": "sub", x: c.w / 2, y: 34, "text-anchor": "middle"}, g).textContent = sub;
    el("title", {}, g).textContent = c.name + ": " + c.size + " compute ops, " + c.members +
      " nodes; click to expand";
    g.addEventListener("click", () => { collapsed.delete(c.name); layout(); });
    return g;
  });

  // --- legend ---------------------------------------------------------------------------
  const legend = document.getElementById("legend");
  if (!data.clusters.length) legend.textContent = "none";
  data.clusters.forEach((c, ci) => {
    const row = document.createElement("div");
    row.className = "legend-row";
    row.innerHTML = '<span class="swatch"></span><span></span><span class="state"></span>';
    row.children[0].style.background = colour(ci);
    row.children[1].textContent = c.name + " (" + c.size + " ops)";
    row.title = "click to collapse or expand";
    row.addEventListener("click", () => {
      if (collapsed.has(c.name)) collapsed.delete(c.name); else collapsed.add(c.name);
      layout();
    });
    c.row = row;
    legend.appendChild(row);
  });
  const reasons = document.getElementById("reasons");
  if (!data.left.length) reasons.textContent = "no compute op";
  data.left.forEach(([op, reason, count]) => {
    const row = document.createElement("div");
    row.className = "reason-row";
    row.innerHTML = "<span></span><span class=count></span>";
    row.children[0].textContent = op + " \u2014 " + (reason || "-");
    row.children[1].textContent = count;
    reasons.appendChild(row);
  });

  // --- layout: units are visible nodes and collapsed clusters ------------------------------
  function layout() {
    // A unit is a visible node, a collapsed cluster, or a fold of the non-compute nodes that
    // only touch one collapsed cluster (its variables, _Args, _Retvals: one box beside it).
    const key = new Array(N);
    for (let i = 0; i < N; i++) {
      const c = nodes[i].cluster;
      key[i] = c && collapsed.has(c) ? "box:" + c : "node:" + i;
    }
    folded.fill(null);
    const aux = i => !nodes[i].compute && !nodes[i].cluster;
    const comp = new Int32Array(N).fill(-1);
    for (let start = 0; start < N; start++) {
      if (!aux(start) || comp[start] >= 0) continue;
      // A connected group of such nodes (e.g. _Arg -> ReadVariableOp) folds as a whole.
      const members = [start], outside = new Set();
      let feeds = false;
      comp[start] = start;
      for (let m = 0; m < members.length; m++) {
        const i = members[m];
        for (const [list, forward] of [[inputs[i], false], [outputs[i], true]]) {
          for (const k of list) {
            if (aux(k)) { if (comp[k] < 0) { comp[k] = start; members.push(k); } }
            else { outside.add(key[k]); if (forward) feeds = true; }
          }
        }
      }
      const only = outside.size === 1 ? [...outside][0] : "";
      if (only.startsWith("box:")) {
        members.forEach(i => { key[i] = (feeds ? "in:" : "out:") + only.slice(4); folded[i] = only.slice(4); });
      } else if (!outside.size && N > data.collapse_above) {
        members.forEach(i => { key[i] = "apart:"; });  // unconnected: one box for all
      }
    }
    const unitOf = new Array(N), units = [], byKey = {};
    for (let i = 0; i < N; i++) {
      if (!(key[i] in byKey)) {
        byKey[key[i]] = units.length;
        const [kind, rest] = [key[i].slice(0, key[i].indexOf(":")), key[i].slice(key[i].indexOf(":") + 1)];
        if (kind === "node") units.push({node: i});
        else if (kind === "box") units.push({box: clusterOf[rest]});
        else units.push({group: [], side: {in: "inputs", out: "outputs"}[kind] || "unconnected"});
      }
      unitOf[i] = byKey[key[i]];
      if (units[unitOf[i]].group) units[unitOf[i]].group.push(i);
    }
    const U = units.length;
    units.forEach(u => {
      if (u.group) {
        const ops = {};
        u.group.forEach(i => { ops[nodes[i].op] = (ops[nodes[i].op] || 0) + 1; });
        u.ops = ops;
        u.label = u.group.length + " " + u.side + " (" + Object.keys(ops).slice(0, 2).join(", ") +
          (Object.keys(ops).length > 2 ? ", \u2026" : "") + ")";
        u.w = 6.6 * u.label.length + 16; u.h = H;
      }
      else {
        const o = u.box !== undefined ? data.clusters[u.box] : nodes[u.node];
        u.w = o.w; u.h = o.h;
      }
      u.succ = new Set(); u.pred = new Set();
      u.aux = u.group !== undefined || (u.box === undefined && !nodes[u.node].compute);
    });
    data.edges.forEach(([s, d]) => {
      const a = unitOf[s], b = unitOf[d];
      if (a !== b) { units[a].succ.add(b); units[b].pred.add(a); }
    });
    // Topological order (Kahn, stable); a leftover cycle (loop back edge) is broken.
    const indeg = units.map(u => u.pred.size), done = new Uint8Array(U), order = [];
    let ready = [];
    for (let u = U - 1; u >= 0; u--) if (!indeg[u]) ready.push(u);
    let scan = 0;
    while (order.length < U) {
      if (!ready.length) {
        while (done[scan]) scan++;
        ready.push(scan);
      }
      const u = ready.pop();
      if (done[u]) continue;
      done[u] = 1; order.push(u);
      const next = [];
      units[u].succ.forEach(v => { if (!done[v] && --indeg[v] === 0) next.push(v); });
      for (let k = next.length - 1; k >= 0; k--) ready.push(next[k]);
    }
    const pos = new Int32Array(U); order.forEach((u, k) => { pos[u] = k; });
    const fwdPred = u => [...units[u].pred].filter(v => pos[v] < pos[u]);
    const fwdSucc = u => [...units[u].succ].filter(v => pos[v] > pos[u]);
    // Longest-path layers; sources move down next to their first consumer.
    const layer = new Int32Array(U);
    order.forEach(u => { fwdSucc(u).forEach(v => { layer[v] = Math.max(layer[v], layer[u] + 1); }); });
    // Then as late as possible: side computations (variable reads, batch-norm constants)
    // move down next to their first consumer instead of piling up in the top rows.
    for (let k = U - 1; k >= 0; k--) {
      const u = order[k], s = fwdSucc(u);
      if (s.length) {
        layer[u] = Math.max(layer[u], Math.min(...s.map(v => layer[v])) - 1);
      }
    }
    const rows = [];
    order.forEach(u => { (rows[layer[u]] = rows[layer[u]] || []).push(u); });
    for (let r = 0; r < rows.length; r++) rows[r] = rows[r] || [];
    // Barycentre ordering, a few sweeps down and up.
    const rank = new Float64Array(U);
    const setRanks = row => row.forEach((u, k) => { rank[u] = (k + 0.5) / row.length; });
    rows.forEach(setRanks);
    const bary = (u, nbrs) => nbrs.length ? nbrs.reduce((a, v) => a + rank[v], 0) / nbrs.length : rank[u];
    for (let sweep = 0; sweep < 4; sweep++) {
      for (let r = 1; r < rows.length; r++) {
        const b = new Map(rows[r].map(u => [u, bary(u, fwdPred(u))]));
        rows[r].sort((x, y) => b.get(x) - b.get(y)); setRanks(rows[r]);
      }
      for (let r = rows.length - 2; r >= 0; r--) {
        const b = new Map(rows[r].map(u => [u, bary(u, fwdSucc(u))]));
        rows[r].sort((x, y) => b.get(x) - b.get(y)); setRanks(rows[r]);
      }
    }
    // x: packed rows, then each node pulled toward its predecessors (order kept).
    const x = new Float64Array(U);
    let width = 0;
    rows.forEach(row => {
      let cx = 0;
      row.forEach(u => { x[u] = cx; cx += units[u].w + GAP; });
      width = Math.max(width, cx);
    });
    rows.forEach(row => {
      const total = row.reduce((a, u) => a + units[u].w + GAP, 0);
      row.forEach(u => { x[u] += (width - total) / 2; });
    });
    const centre = u => x[u] + units[u].w / 2;
    for (let pass = 0; pass < 2; pass++) {
      for (let r = 1; r < rows.length; r++) {
        const row = rows[r];
        const want = row.map(u => {
          // Pulled toward compute predecessors (constants and reads sit beside the chain).
          const all = fwdPred(u), main = all.filter(v => !units[v].aux);
          const p = main.length ? main : all;
          return p.length ? p.reduce((a, v) => a + centre(v), 0) / p.length - units[u].w / 2 : x[u];
        });
        for (let k = 0; k < row.length; k++) {
          const lo = k ? x[row[k - 1]] + units[row[k - 1]].w + GAP : 0;
          x[row[k]] = Math.max(lo, want[k]);
        }
      }
    }
    const y = new Float64Array(U);
    let maxX = 0;
    units.forEach((u, k) => { y[k] = 20 + layer[k] * ROW; maxX = Math.max(maxX, x[k] + u.w); });
    // Place the elements.
    nodeEls.forEach(g => { g.style.display = "none"; });
    boxEls.forEach(g => { g.style.display = "none"; });
    while (groupLayer.firstChild) groupLayer.removeChild(groupLayer.firstChild);
    units.forEach((u, k) => {
      const at = "translate(" + (20 + x[k]).toFixed(1) + "," + y[k] + ")";
      if (u.group) {
        const g = el("g", {"class": "group", transform: at}, groupLayer);
        el("rect", {width: u.w, height: u.h, rx: 5}, g);
        el("text", {x: u.w / 2, y: 15, "text-anchor": "middle"}, g).textContent = u.label;
        el("title", {}, g).textContent = Object.entries(u.ops).map(([op, n]) => op + " \u00d7" + n).join(", ");
        return;
      }
      const g = u.box !== undefined ? boxEls[u.box] : nodeEls[u.node];
      g.style.display = "";
      g.setAttribute("transform", at);
    });
    // Edges.
    while (edgeLayer.firstChild) edgeLayer.removeChild(edgeLayer.firstChild);
    units.forEach((u, a) => {
      u.succ.forEach(b => {
        const x1 = 20 + centre(a), y1 = y[a] + u.h, x2 = 20 + centre(b), y2 = y[b];
        let d, cls = "edge";
        if (u.aux && u.succ.size > 4) cls += " shared";  // a constant many nodes read
        if (pos[b] > pos[a]) {
          const m = (y1 + y2) / 2;
          d = "M" + x1 + "," + y1 + " C" + x1 + "," + m + " " + x2 + "," + m + " " + x2 + "," + y2;
        } else {
          cls += " back";
          const side = Math.max(x1, x2) + 60;
          d = "M" + x1 + "," + y1 + " C" + side + "," + (y1 + 30) + " " + side + "," + (y2 - 30) + " " + x2 + "," + y2;
        }
        el("path", {"class": cls, d: d}, edgeLayer);
      });
    });
    const W = maxX + 120, Hh = 40 + rows.length * ROW;
    svg.setAttribute("viewBox", "0 0 " + W + " " + Hh);
    svg.setAttribute("width", Math.round(W * zoom));
    svg.setAttribute("height", Math.round(Hh * zoom));
    data.clusters.forEach(c => {
      c.row.querySelector(".state").textContent = collapsed.has(c.name) ? "collapsed" : "expanded";
    });
    svg.setAttribute("data-units", U);
    highlight();
  }

  // --- search, selection, zoom --------------------------------------------------------------
  const search = document.getElementById("search");
  function highlight() {
    const q = search.value.trim().toLowerCase();
    matchList = [];
    const boxes = new Set();
    nodes.forEach((n, i) => {
      const hit = q !== "" && n.name.toLowerCase().includes(q);
      nodeEls[i].classList.toggle("match", hit);
      if (hit) { matchList.push(i); if (n.cluster) boxes.add(n.cluster); }
    });
    // compute nodes first: they are what a search is usually after
    matchList.sort((a, b) => (nodes[b].compute - nodes[a].compute) || (a - b));
    boxEls.forEach((g, ci) => g.classList.toggle("match", boxes.has(data.clusters[ci].name)));
    document.getElementById("matches").textContent = q ? matchList.length + " match" + (matchList.length === 1 ? "" : "es") : "";
    nodeEls.forEach((g, i) => g.classList.toggle("selected", i === selected));
  }
  function reveal(i) {
    const c = nodes[i].cluster || folded[i];
    if (c && collapsed.has(c)) { collapsed.delete(c); layout(); }
    nodeEls[i].scrollIntoView({block: "center", inline: "center"});
  }
  function select(i) {
    selected = i;
    const n = nodes[i];
    const names = list => list.map(k => nodes[k].name).join(", ") || "-";
    document.getElementById("details").textContent =
      n.name + "\nop: " + n.op + "\n" +
      (n.cluster ? "cluster: " + n.cluster : "TensorFlow" + (n.reason ? ": " + n.reason : "")) +
      (n.detail ? "\ndetail: " + n.detail : "") +
      "\ninputs: " + names(inputs[i]) + "\noutputs: " + names(outputs[i]);
    highlight();
  }
  search.addEventListener("input", () => { matchAt = -1; highlight(); });
  search.addEventListener("keydown", e => {
    if (e.key !== "Enter" || !matchList.length) return;
    matchAt = (matchAt + 1) % matchList.length;
    const i = matchList[matchAt];
    reveal(i); select(i);
  });
  document.getElementById("collapse-all").addEventListener("click", () => {
    data.clusters.forEach(c => collapsed.add(c.name)); layout();
  });
  document.getElementById("expand-all").addEventListener("click", () => {
    collapsed.clear(); layout();
  });
  function setZoom(z) { zoom = Math.min(4, Math.max(0.1, z)); layout(); }
  document.getElementById("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
  document.getElementById("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));
  // #expanded opens with every cluster expanded, #collapsed with every one collapsed,
  // #search=NAME with NAME searched for (its first match shown and selected).
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash === "expanded") collapsed.clear();
  if (hash === "collapsed") data.clusters.forEach(c => collapsed.add(c.name));
  if (hash.startsWith("search=")) search.value = hash.slice(7);
  layout();
  if (matchList.length) { matchAt = 0; reveal(matchList[0]); select(matchList[0]); }
  document.body.setAttribute("data-ready", "1");
})();"""
