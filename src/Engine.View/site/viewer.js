// Shared by index.html and neuron.html. Browsers refuse fetch() of file:// URLs, so the data arrives as script
// files: data/site.js calls NV.site({...}), data/index/{layer}.js NV.indexChunk({...}), data/{layer}/{neuron}.js
// NV.neuron({...}). The formats are described in docs/viewer.md.
"use strict";

const NV = {
  siteData: null,
  chunks: {},
  neurons: {},

  site(data) { NV.siteData = data; },
  indexChunk(data) { NV.chunks[data.layer] = data; },
  neuron(data) { NV.neurons[`${data.layer}/${data.neuron}`] = data; },

  /** Loads a data script; resolves once it has run. */
  load(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => { script.remove(); resolve(); };
      script.onerror = () => { script.remove(); reject(new Error(`could not load ${src}`)); };
      document.head.appendChild(script);
    });
  },

  /** Whether the site holds this neuron (site.js lists each layer's neuron range, or its ids when not contiguous). */
  has(layer, neuron) {
    const l = NV.siteData.layers.find(x => x.layer === layer);
    if (!l || !Number.isInteger(neuron)) return false;
    return l.ids ? l.ids.includes(neuron) : neuron >= l.first && neuron <= l.last;
  },

  neuronHref(layer, neuron) { return `neuron.html?layer=${layer}&neuron=${neuron}`; },

  /** A DOM element: el("td", {class: "x"}, "text", child, ...). Text is always set as text, never parsed as HTML. */
  el(tag, attributes, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes || {})) {
      if (v === null || v === undefined) continue;
      if (k === "style") e.style.cssText = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  },

  /** A value for people: 3 decimals, or 3 significant digits when tiny; "—" when missing. */
  num(x) {
    if (x === null || x === undefined || Number.isNaN(x)) return "—";
    if (x === 0 || Math.abs(x) >= 0.001) return x.toFixed(3);
    return x.toExponential(2);
  },

  // Heatmap colours: white at 0, POSITIVE at +scale, NEGATIVE at −scale, linear in between (docs/viewer.md).
  POSITIVE: [52, 168, 83],
  NEGATIVE: [66, 133, 244],

  colour(value, scale) {
    if (value === null || !(scale > 0)) return "rgb(255, 255, 255)";
    const t = Math.max(-1, Math.min(1, value / scale));
    const end = t >= 0 ? NV.POSITIVE : NV.NEGATIVE;
    const [r, g, b] = end.map(c => Math.round(255 + (c - 255) * Math.abs(t)));
    return `rgb(${r}, ${g}, ${b})`;
  },

  /** How a token shows: newlines and tabs as visible marks (each token keeps its own box). */
  tokenText(token) { return token.replace(/\n/g, "↵").replace(/\t/g, "⇥"); },

  /** One record as a row of coloured tokens; hovering a token shows its value. */
  heatmap(tokenIds, values, scale, table, className) {
    const row = NV.el("div", { class: className || "record" });
    tokenIds.forEach((id, i) => {
      const v = values[i];
      row.appendChild(NV.el("span", {
        class: "tok", title: NV.num(v), "data-a": v === null ? "" : String(v), style: `background-color: ${NV.colour(v, scale)}`,
      }, NV.tokenText(table[id])));
    });
    return row;
  },

  /** Bars of a score histogram over [range[0], range[1]] as inline SVG. */
  histogram(counts, range, width, height) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "hist");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const top = Math.max(1, ...counts), w = width / counts.length, step = (range[1] - range[0]) / counts.length;
    counts.forEach((c, i) => {
      const h = c === 0 ? 0 : Math.max(1, (c / top) * (height - 1));
      const bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", i * w + 0.5);
      bar.setAttribute("y", height - h);
      bar.setAttribute("width", Math.max(1, w - 1));
      bar.setAttribute("height", h);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${(range[0] + i * step).toFixed(1)} to ${(range[0] + (i + 1) * step).toFixed(1)}: ${c}`;
      bar.appendChild(title);
      svg.appendChild(bar);
    });
    return svg;
  },

  /** The "go to layer/neuron" box: accepts "3/17", "3 17", "3:17" or "3.17"; refuses neurons the site lacks. */
  setupJump() {
    const form = document.getElementById("jump"), input = document.getElementById("jump-to"), message = document.getElementById("jump-message");
    form.addEventListener("submit", e => {
      e.preventDefault();
      const m = input.value.trim().match(/^(\d+)\s*[\/:., ]\s*(\d+)$/);
      if (!m) { message.textContent = "type layer/neuron, e.g. 3/17"; return; }
      const layer = Number(m[1]), neuron = Number(m[2]);
      if (!NV.has(layer, neuron)) { message.textContent = `no neuron ${layer}/${neuron} in this site`; return; }
      location.href = NV.neuronHref(layer, neuron);
    });
  },

  /** A message in place of content that cannot be shown. */
  notice(text) { return NV.el("p", { class: "notice" }, text); },
};
