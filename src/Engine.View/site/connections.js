// The "Connected neurons" section of a neuron page (engine view --connections): loads data/L/N.connections.js, which
// calls NV.connections({...}) with the neuron's upstream and downstream lists (docs/viewer.md), and shows each
// connected neuron as a link to its page with its weight, explanation and score, so a circuit can be walked page by page.
"use strict";

NV.connectionLists = {};
NV.connections = data => { NV.connectionLists[`${data.layer}/${data.neuron}`] = data; };

/** The section, filled once the neuron's file has loaded; null when the site was built without --connections. */
NV.connectionsSection = (layer, neuron) => {
  if (!NV.siteData.connections) return null;
  const body = NV.el("div", {}, NV.el("p", { class: "note" }, "loading…"));
  const section = NV.el("section", { id: "connections" }, NV.el("h2", {}, "Connected neurons (from the weights)"), body);
  const lists = [
    ["upstream_positive", "Upstream neurons that excite it"], ["upstream_negative", "Upstream neurons that inhibit it"],
    ["downstream_positive", "Downstream neurons it excites"], ["downstream_negative", "Downstream neurons it inhibits"]];
  const entry = c => NV.el("li", { class: "connection", "data-layer": c.l, "data-neuron": c.n },
    NV.has(c.l, c.n) ? NV.el("a", { href: NV.neuronHref(c.l, c.n) }, `${c.l}/${c.n}`) : NV.el("span", { class: "absent", title: "not in this site" }, `${c.l}/${c.n}`),
    NV.el("span", { class: "weight" }, NV.num(c.w)),
    c.e === undefined ? null : NV.el("span", { class: "connection-explanation" }, c.e, NV.el("small", {}, ` score ${NV.num(c.s)}`)));
  const empty = key => key.startsWith("upstream")
    ? (layer === 0 ? "none: layer 0 has no earlier layer" : "none")
    : (layer === NV.siteData.connections.model_layers - 1 ? "none: the last layer has no later layer" : "none");
  NV.load(`data/${layer}/${neuron}.connections.js`).then(() => {
    const d = NV.connectionLists[`${layer}/${neuron}`];
    body.replaceChildren(
      NV.el("p", { class: "note" }, "OpenAI's connection weight from (l₁, n₁) to a later (l₂, n₂): c_proj(l₁)[n₁] · diag(ln_2.g(l₂)) · c_fc(l₂)[:, n₂] — weights only (the residual path between them, no attention or LayerNorm statistics). Links open the connected neuron's page."),
      NV.el("div", { class: "related-lists" }, lists.map(([key, title]) => NV.el("div", { class: "connection-list", "data-list": key },
        NV.el("h3", {}, title),
        d[key].length > 0 ? NV.el("ol", {}, d[key].map(entry)) : NV.el("p", { class: "note" }, empty(key))))));
  }, () => body.replaceChildren(NV.notice("No connections for this neuron in the site.")));
  return section;
};
