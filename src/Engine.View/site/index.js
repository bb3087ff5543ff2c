// The index: layers with their score histograms, and a table of neurons (sortable, filterable by layer and by
// words of the explanation, 100 rows a page). Each layer's rows are a separate chunk, loaded when first shown.
"use strict";

(function () {
  const site = NV.siteData;
  const PAGE = 100;
  const state = { layer: site.default_layer, words: [], key: "neuron", dir: 1, page: 0 };
  const $ = id => document.getElementById(id);

  document.title = site.title;
  $("title").textContent = site.title;
  const meanText = site.explained > 0 ? `, mean score ${NV.num(site.mean_ev)}` : "";
  const records = site.records ? ` Records: ${site.records.windows} windows of ${site.records.seq_len} tokens` +
    (site.records.corpus ? ` from ${site.records.corpus}` : "") + ` (top ${site.records.top_k}, random ${site.records.random}).` : "";
  $("summary").textContent = `${site.layers.length} layers, ${site.neurons} neurons, ${site.explained} explained${meanText}.${records}`;
  if (site.explained > 0)
    $("summary").after(NV.el("p", { id: "all-scores" }, NV.histogram(site.hist, site.hist_range, 300, 40), NV.el("span", { class: "note" }, " scores of all explained neurons, −1 … 1")));
  NV.setupJump();

  // Layers: one row each, with its histogram; clicking a row shows that layer's neurons.
  const layerBody = $("layer-table").querySelector("tbody");
  for (const l of site.layers) {
    layerBody.appendChild(NV.el("tr", { "data-layer": l.layer, onclick: () => { $("layer-filter").value = String(l.layer); select(String(l.layer)); } },
      NV.el("td", {}, String(l.layer)), NV.el("td", {}, String(l.neurons)), NV.el("td", {}, String(l.explained)),
      NV.el("td", {}, l.explained > 0 ? NV.num(l.mean_ev) : "—"),
      NV.el("td", {}, l.explained > 0 ? NV.histogram(l.hist, site.hist_range, 200, 28) : "")));
  }

  const filter = $("layer-filter");
  filter.appendChild(NV.el("option", { value: "all" }, `all layers (${site.neurons})`));
  for (const l of site.layers) filter.appendChild(NV.el("option", { value: String(l.layer) }, `layer ${l.layer} (${l.neurons})`));
  filter.value = String(state.layer);
  filter.addEventListener("change", () => select(filter.value));
  $("text-filter").addEventListener("input", e => {
    state.words = e.target.value.toLowerCase().split(/\s+/).filter(w => w.length > 0);
    state.page = 0;
    render();
  });
  for (const th of document.querySelectorAll("#neuron-table th[data-sort]")) {
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      // Scores and activations sort highest first on the first click; neuron and explanation ascending.
      state.dir = key === state.key ? -state.dir : (key === "neuron" || key === "explanation" ? 1 : -1);
      state.key = key;
      state.page = 0;
      render();
    });
  }
  $("prev-page").addEventListener("click", () => { state.page--; render(); });
  $("next-page").addEventListener("click", () => { state.page++; render(); });

  let rows = [];

  async function select(value) {
    state.layer = value === "all" ? "all" : Number(value);
    state.page = 0;
    const layers = state.layer === "all" ? site.layers.map(l => l.layer) : [state.layer];
    const missing = layers.filter(l => !NV.chunks[l]);
    if (missing.length > 0) $("status").textContent = `loading ${missing.length} layer(s)…`;
    for (let i = 0; i < missing.length; i += 4) // a few chunks at a time
      await Promise.all(missing.slice(i, i + 4).map(l => NV.load(`data/index/${l}.js`)));
    rows = [];
    for (const l of layers) {
      const c = NV.chunks[l];
      for (let i = 0; i < c.neuron.length; i++)
        rows.push({ layer: l, neuron: c.neuron[i], explanation: c.explanation[i], ev: c.ev[i], top_ev: c.top_ev[i], random_ev: c.random_ev[i], max: c.max[i] });
    }
    render();
  }

  function compare(a, b) {
    const k = state.key;
    if (k === "neuron") return state.dir * (a.layer - b.layer || a.neuron - b.neuron);
    const x = a[k], y = b[k];
    if (x === null && y === null) return a.layer - b.layer || a.neuron - b.neuron;
    if (x === null) return 1; // missing values last, whichever the direction
    if (y === null) return -1;
    const d = k === "explanation" ? x.localeCompare(y) : x - y;
    return state.dir * d || a.layer - b.layer || a.neuron - b.neuron;
  }

  function render() {
    const shown = state.words.length === 0 ? rows.slice()
      : rows.filter(r => r.explanation !== null && state.words.every(w => r.explanation.toLowerCase().includes(w)));
    shown.sort(compare);
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.max(0, Math.min(state.page, pages - 1));
    const first = state.page * PAGE, page = shown.slice(first, first + PAGE);
    const body = $("neuron-table").querySelector("tbody");
    body.replaceChildren(...page.map(r => NV.el("tr", { "data-layer": r.layer, "data-neuron": r.neuron },
      NV.el("td", {}, NV.el("a", { href: NV.neuronHref(r.layer, r.neuron) }, `${r.layer}/${r.neuron}`)),
      NV.el("td", { class: "explanation" }, r.explanation === null ? "" : r.explanation),
      NV.el("td", { class: "score" }, NV.num(r.ev)),
      NV.el("td", { class: "score" }, NV.num(r.top_ev)),
      NV.el("td", { class: "score" }, NV.num(r.random_ev)),
      NV.el("td", { class: "score" }, NV.num(r.max)))));
    for (const th of document.querySelectorAll("#neuron-table th[data-sort]")) {
      const active = th.dataset.sort === state.key;
      th.classList.toggle("sorted", active);
      th.dataset.dir = active ? (state.dir > 0 ? "asc" : "desc") : "";
    }
    $("status").textContent = shown.length === 0 ? "no neurons match"
      : `showing ${first + 1}–${first + page.length} of ${shown.length} neurons`;
    $("page").textContent = `page ${state.page + 1} of ${pages}`;
    $("prev-page").disabled = state.page === 0;
    $("next-page").disabled = state.page >= pages - 1;
  }

  select(String(state.layer)).catch(e => { $("status").textContent = e.message; });
})();
