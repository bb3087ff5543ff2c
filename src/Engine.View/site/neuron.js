// One neuron's page: neuron.html?layer=L&neuron=N loads data/L/N.js (and nothing else of other neurons).
"use strict";

(function () {
  const site = NV.siteData;
  const $ = id => document.getElementById(id);
  const content = $("content");
  const params = new URLSearchParams(location.search);
  const layer = Number(params.get("layer")), neuron = Number(params.get("neuron"));
  NV.setupJump();

  if (!Number.isInteger(layer) || !Number.isInteger(neuron) || params.get("layer") === null || !NV.has(layer, neuron)) {
    $("title").textContent = "No such neuron";
    content.appendChild(NV.notice(params.get("layer") === null
      ? "Open a neuron from the index, or give ?layer=L&neuron=N."
      : `This site has no neuron ${params.get("layer")}/${params.get("neuron")}.`));
    for (const id of ["prev", "next"]) $(id).hidden = true;
    return;
  }
  const name = `layer ${layer}, neuron ${neuron}`;
  document.title = `${name} — ${site.title}`;
  $("title").textContent = `Layer ${layer}, neuron ${neuron}`;

  NV.load(`data/${layer}/${neuron}.js`).then(() => render(NV.neurons[`${layer}/${neuron}`]), e => {
    content.appendChild(NV.notice(`${e.message}: the site is incomplete; rebuild it with engine view.`));
  });

  function section(id, title, ...children) {
    return NV.el("section", { id }, NV.el("h2", {}, title), ...children);
  }

  function records(d, list, scale) {
    return NV.el("div", { class: "records" }, list.map(i => NV.heatmap(d.records[i].t, d.records[i].a, scale, d.tokens)));
  }

  function render(d) {
    const table = d.tokens, max = d.max;
    for (const [id, target] of [["prev", d.prev], ["next", d.next]]) {
      const a = $(id);
      if (target) { a.href = NV.neuronHref(target[0], target[1]); a.title = `${target[0]}/${target[1]}`; }
      else a.hidden = true;
    }

    // Explanations first: what a person checks against the records below.
    if (d.explanations.length > 0) {
      content.appendChild(section("explanations", d.explanations.length === 1 ? "Explanation" : `Explanations (${d.explanations.length})`,
        d.explanations.map((e, i) => explanation(e, i, table, max))));
    } else if (site.results) {
      content.appendChild(section("explanations", "Explanation", NV.notice("No explanation for this neuron in the results.")));
    }

    const scaleNote = NV.el("p", { class: "note" }, `Colour: activation ÷ ${NV.num(max)} (the neuron's largest activation in these records); hover a token for its value.`);
    content.appendChild(section("top-records", `Top activations (${d.top.length} records)`, scaleNote, records(d, d.top, max)));
    if (d.related) content.appendChild(section("related", "Related tokens (from the weights)", related(d.related)));
    const connections = NV.connectionsSection(layer, neuron);
    if (connections) content.appendChild(connections);
    if (d.ablation) content.appendChild(section("ablation", "Ablation (what the neuron does to the output)", ablation(d.ablation)));
    if (d.lookup) content.appendChild(section("token-lookup", "Tokens with the highest average activation (from the corpus)", lookup(d.lookup)));
    content.appendChild(section("stats", "Activation statistics", statistics(d)));
    content.appendChild(section("random-records", `Random sample (${d.random.length} records)`, records(d, d.random, max)));
    const bandNames = ["0 – 0.5", "0.5 – 0.9", "0.9 – 0.99", "0.99 – 0.999", "0.999 – 1"];
    const q = d.quantiles;
    content.appendChild(section("quantile-records", "Records by quantile of the window maximum",
      d.bands.map((band, b) => NV.el("div", { class: "band", "data-band": b },
        NV.el("h3", {}, `Quantiles ${bandNames[b]}`,
          NV.el("span", { class: "note" }, ` window max ${b === 0 ? "below" : "≥"} ${NV.num(q[b === 0 ? 0 : b - 1])}${b > 0 && b < 4 ? `, below ${NV.num(q[b])}` : ""} · ${band.length} records`)),
        records(d, band, max)))));
  }

  function explanation(e, i, table, max) {
    const scores = [["ev_correlation_score", e.ev], ["top-only", e.top_ev], ["random-only", e.random_ev],
      ["rsquared_score", e.rsq], ["absolute_dev_explained_score", e.absdev]];
    const sequences = NV.el("details", i === 0 ? { open: "" } : {},
      NV.el("summary", {}, `True vs simulated activations (${e.sequences.length} scored sequences)`),
      e.sequences.map(s => NV.el("div", { class: "sequence", "data-source": s.source },
        NV.el("div", { class: "sequence-label" }, `${s.source} record · correlation ${NV.num(s.ev)}`),
        NV.el("div", { class: "pair" }, NV.el("span", { class: "row-label" }, "true"), NV.heatmap(s.t, s.true, max, table, "record true")),
        NV.el("div", { class: "pair" }, NV.el("span", { class: "row-label" }, "simulated"), NV.heatmap(s.t, s.sim, s.sim_max, table, "record simulated")))));
    const c = e.candidate;
    return NV.el("div", { class: "explanation", "data-candidate": c ? c.name : "" },
      c ? NV.el("h3", { class: "candidate" }, c.name, i === 0 ? NV.el("span", { class: "best" }, " ★ best") : null) : null,
      NV.el("blockquote", { class: "explanation-text" }, e.text),
      NV.el("table", { class: "scores" }, NV.el("tbody", {}, NV.el("tr", {}, scores.map(([k]) => NV.el("th", {}, k))),
        NV.el("tr", {}, scores.map(([k, v]) => NV.el("td", { "data-score": k }, NV.num(v)))))),
      sequences, c ? probes(c, table, max) : null);
  }

  // A revised neuron's candidate (engine run --revise): its generation score and the explainer's test texts as measured
  // on the subject model, the texts written to make the neuron fire apart from the similar ones written not to.
  function probes(c, table, max) {
    const g = c.generation;
    const score = g
      ? NV.el("table", { class: "scores generation" }, NV.el("tbody", {},
          NV.el("tr", {}, ["should fire: above threshold", "should not: above threshold", "AUROC", "threshold"].map(k => NV.el("th", {}, k))),
          NV.el("tr", {}, [["fire", g.fire], ["not_fire", g.not_fire], ["auroc", g.auroc], ["threshold", g.threshold]].map(([k, v]) => NV.el("td", { "data-generation": k }, NV.num(v))))))
      : NV.el("p", { class: "note" }, "No test texts for this explanation.");
    const group = (fire, title) => {
      const list = c.probes.filter(p => p.fire === fire);
      return NV.el("div", { class: "probe-group", "data-fire": String(fire) }, NV.el("h4", {}, `${title} (${list.length})`),
        list.length ? list.map(p => NV.heatmap(p.t, p.a, max, table, "record probe")) : NV.el("p", { class: "note" }, "none"));
    };
    return NV.el("details", { class: "probes" },
      NV.el("summary", {}, `Generation score and test texts (${c.probes.length})`), score,
      group(true, "Written to make it fire"), group(false, "Similar, written not to"));
  }

  function statistics(d) {
    const s = d.stats, q = d.quantiles;
    const cells = [["mean", s.mean], ["variance", s.variance], ["skewness", s.skewness], ["kurtosis (excess)", s.kurtosis], ["max in records", d.max]];
    return NV.el("div", {},
      NV.el("table", { class: "scores" }, NV.el("tbody", {},
        NV.el("tr", {}, cells.map(([k]) => NV.el("th", {}, k))),
        NV.el("tr", {}, cells.map(([k, v]) => NV.el("td", { "data-stat": k }, NV.num(v)))))),
      q.length === 4 ? NV.el("p", { class: "note" }, `Quantiles of the window maximum: 50% ${NV.num(q[0])}, 90% ${NV.num(q[1])}, 99% ${NV.num(q[2])}, 99.9% ${NV.num(q[3])}.`) : null);
  }

  function lookup(l) {
    return NV.el("div", {},
      NV.el("p", { class: "note" }, "Mean activation over every corpus position holding the token (engine records --token-lookup), highest first."),
      NV.el("div", { class: "related-list", "data-list": "token_lookup" }, l.t.map((t, i) => NV.el("span", { class: "chip", title: NV.num(l.a[i]) },
        NV.tokenText(t), NV.el("small", {}, NV.num(l.a[i]))))));
  }

  // What the related-token strengths are (docs/related.md, "Two definitions"); null: no related.json beside the lists.
  function relatedDefinition(definition) {
    const scope = " Weights only: no attention, no other layers.";
    if (definition === "openai") return "OpenAI's definition: input = wte[t] · diag(ln_2.g) · c_fc[:, n]; output = c_proj[n] · diag(ln_f.g) · wte[t] (no LayerNorm centring or scale, no biases)." + scope;
    if (definition === "direct-path") return "Direct path: input = the token's embedding through this layer's ln_2 and c_fc (with bias); output = the neuron's centred c_proj row through ln_f's scale and the unembedding." + scope;
    return "Definition not recorded (no related.json beside the lists); OpenAI's published lists use OpenAI's definition." + scope;
  }

  // engine ablate (docs/ablation.md): the neuron set to its mean (or 0) at every position of the windows.
  function ablation(a) {
    const lists = [["promoted", "Output tokens it promotes (their log-probability falls on ablation)"],
      ["suppressed", "Output tokens it suppresses (their log-probability rises on ablation)"]];
    return NV.el("div", {},
      NV.el("p", { class: "note", "data-ablation": a.kind },
        `${a.kind === "zero" ? "Zero" : "Mean"}-ablated (value ${NV.num(a.value)}) over ${a.windows} windows: ` +
        `Δ loss ${NV.num(a.delta_loss)} nats per token, KL(original ‖ ablated) ${NV.num(a.kl)} nats per position. Through the whole network, unlike the related tokens' direct path.`),
      NV.el("div", { class: "related-lists" }, lists.map(([key, title]) => NV.el("div", { class: "related-list", "data-list": "ablation_" + key },
        NV.el("h3", {}, title),
        NV.el("div", {}, a[key].t.map((t, i) => NV.el("span", { class: "chip", title: NV.num(a[key].s[i]) },
          NV.tokenText(t), NV.el("small", {}, NV.num(a[key].s[i])))))))));
  }

  function related(r) {
    const lists = [
      ["input_positive", "Input tokens that excite it"], ["input_negative", "Input tokens that inhibit it"],
      ["output_positive", "Output tokens it promotes"], ["output_negative", "Output tokens it suppresses"]];
    return NV.el("div", {},
      NV.el("p", { class: "note", "data-definition": site.related.definition || "" }, relatedDefinition(site.related.definition)),
      NV.el("div", { class: "related-lists" }, lists.map(([key, title]) => NV.el("div", { class: "related-list", "data-list": key },
        NV.el("h3", {}, title),
        NV.el("div", {}, r[key].t.map((t, i) => NV.el("span", { class: "chip", title: NV.num(r[key].s[i]) },
          NV.tokenText(t), NV.el("small", {}, NV.num(r[key].s[i])))))))));
  }
})();
