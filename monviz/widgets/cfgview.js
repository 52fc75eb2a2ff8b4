// monviz CFGView: a Graphviz control-flow graph whose blocks and edges can be pointed at.
//
// Python sends the SVG (laid out by dot) and a description of the graph. The SVG is
// parsed as XML (never as HTML), stripped of anything active, and each node is tagged
// data-block=<id>, each edge data-edge=<index into graph.edges>. The `block` and
// `edge` traits say what is highlighted; a linked Timeline's `cursor` sets them.
//
// Without dot in Python (`_layout` "browser": not installed, Pyodide, MONVIZ_LAYOUT),
// Python sends the DOT text (`_dots`) and this lays it out with Viz.js, Graphviz 16
// compiled to WebAssembly, whose SVG has the same structure as dot's (g.node / g.edge
// titled b<id> / b<src>->b<dst>), so it is tagged and highlighted the same way. Viz.js
// comes from the model `_viz` refers to (its `source` bytes: one per kernel, or the
// report's host) and is imported from a Blob URL once per page and version.

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = String(text);
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";

// Parse Graphviz's SVG as XML and drop scripts, foreign content and event handlers.
function parseSvg(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (!svg || svg.namespaceURI !== SVG_NS || svg.nodeName !== "svg") return null;
  for (const bad of svg.querySelectorAll("script, foreignObject, iframe, object, embed")) {
    bad.remove();
  }
  for (const node of svg.querySelectorAll("*")) {
    for (const attr of Array.from(node.attributes)) {
      const name = attr.name.toLowerCase();
      const value = attr.value.trim().toLowerCase();
      if (name.startsWith("on") || ((name === "href" || name === "xlink:href") &&
          value.startsWith("javascript:"))) {
        node.removeAttribute(attr.name);
      }
    }
  }
  return document.importNode(svg, true);
}

// -- layout in the browser ------------------------------------------------------------

const VIZ = Symbol.for("monviz.viz"); // globalThis[VIZ]: version -> Promise<Viz instance>

function bytesOf(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return null;
}

// One Viz.js instance per page and version, whoever asks first loads it.
export function loadViz(version, getSource) {
  const cache = (globalThis[VIZ] ??= new Map());
  let promise = cache.get(version);
  if (!promise) {
    promise = (async () => {
      const t0 = performance.now();
      const bytes = bytesOf(await getSource());
      if (!bytes || !bytes.length) throw new Error(`no Viz.js source for version ${version}`);
      const url = URL.createObjectURL(new Blob([bytes], { type: "text/javascript" }));
      try {
        const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ url);
        const viz = await mod.instance();
        // how long loading took, for tests and benchmarks (once per page and version)
        try {
          performance.measure(`monviz viz.js ${version} load`, { start: t0 });
        } catch {} // an older browser without measure(name, options): no figure
        return viz;
      } finally {
        URL.revokeObjectURL(url);
      }
    })();
    cache.set(version, promise);
    promise.catch(() => {
      if (cache.get(version) === promise) cache.delete(version); // let a later view retry
    });
  }
  return promise;
}

// The Viz.js instance for a model whose `_viz` names the model holding it.
async function vizFor(model) {
  const ref = model.get("_viz");
  if (typeof ref !== "string" || !ref.startsWith("IPY_MODEL_")) {
    throw new Error("this graph is to be laid out in the browser, and no Viz.js came with it");
  }
  const asset = await model.widget_manager.get_model(ref.slice("IPY_MODEL_".length));
  return loadViz(asset.get("version"), () => asset.get("source"));
}

// {svg, ms} of each DOT text laid out (promises: two views asking at once share one
// layout), kept for the last few texts, for every view on the page.
const laidOut = new Map();
const LAID_OUT_KEEP = 64;

export function layoutDot(model, dot) {
  let promise = laidOut.get(dot);
  if (!promise) {
    promise = vizFor(model).then((viz) => {
      const t0 = performance.now();
      const svg = viz.renderString(dot, { format: "svg", engine: "dot" });
      return { svg, ms: performance.now() - t0 };
    });
    laidOut.set(dot, promise);
    promise.catch(() => laidOut.delete(dot));
    if (laidOut.size > LAID_OUT_KEEP) laidOut.delete(laidOut.keys().next().value);
  }
  return promise;
}

// How long the linked timeline's cursor stays in a folded section before it is opened
// (scrubbing through a big graph lays nothing out on the way).
const FOLLOW_OPEN_MS = 150;

class CFGViewView {
  constructor(model, el) {
    this.model = model;
    this.root = h("div", "monviz-cfgview");
    el.appendChild(this.root);
    this.lastCursorCode = null;
    this.build();
    this.listen();
    this.show();
    this.follow();
  }

  build() {
    const bar = h("div", "monviz-cfg-bar");
    bar.appendChild(h("span", "monviz-cfg-title", "control-flow graph"));
    this.select = h("select", "monviz-cfg-select");
    this.select.title = "code object";
    this.fillSelect();
    this.select.addEventListener("change", () => {
      this.model.set("code", this.select.value);
      this.model.set("block", -1);
      this.model.set("edge", -1);
      this.model.save_changes();
    });
    bar.appendChild(this.select);
    this.viewSelect = h("select", "monviz-cfg-view");
    this.viewSelect.title = "label blocks with source lines or bytecode";
    for (const v of ["source", "bytecode"]) {
      const o = h("option", null, v);
      o.value = v;
      this.viewSelect.appendChild(o);
    }
    this.viewSelect.value = this.model.get("view");
    this.viewSelect.addEventListener("change", () => {
      this.model.set("view", this.viewSelect.value);
      this.model.save_changes();
    });
    bar.appendChild(this.viewSelect);
    const follow = h("label", "monviz-cfg-follow");
    this.followBox = h("input");
    this.followBox.type = "checkbox";
    this.followBox.checked = this.model.get("follow");
    this.followBox.addEventListener("change", () => {
      this.model.set("follow", this.followBox.checked);
      this.model.save_changes();
    });
    follow.append(this.followBox, document.createTextNode(" follow the timeline"));
    bar.appendChild(follow);
    this.root.appendChild(bar);
    this.status = h("div", "monviz-cfg-status", "\u00a0");
    this.root.appendChild(this.status);
    this.error = h("div", "monviz-cfg-error");
    this.root.appendChild(this.error);
    this.canvas = h("div", "monviz-cfg-canvas");
    this.root.appendChild(this.canvas);
  }

  fillSelect() {
    const graphs = this.model.get("_graphs");
    this.select.textContent = "";
    for (const key of this.model.get("_order")) {
      const g = graphs[key];
      const o = h("option", null, `${g.qualname} (line ${g.firstlineno})`);
      o.value = key;
      this.select.appendChild(o);
    }
    this.select.value = this.model.get("code");
  }

  listen() {
    const m = this.model;
    this.handlers = {
      "change:code": () => this.show(),
      "change:_svgs": () => this.show(),
      "change:_dots": () => this.show(),
      "change:_maps": () => this.show(),
      "change:view": () => {
        this.viewSelect.value = m.get("view");
      },
      "change:block": () => this.highlight(),
      "change:edge": () => this.highlight(),
      "change:cursor": () => this.follow(),
      "change:follow": () => {
        this.followBox.checked = m.get("follow");
      },
      "change:_error": () => {
        this.error.textContent = m.get("_error");
      },
    };
    for (const [ev, f] of Object.entries(this.handlers)) m.on(ev, f);
    this.error.textContent = m.get("_error");
  }

  dispose() {
    clearTimeout(this.openTimer);
    this.drawing = (this.drawing || 0) + 1; // a layout still running draws nothing
    for (const [ev, f] of Object.entries(this.handlers)) this.model.off(ev, f);
  }

  graph() {
    return this.model.get("_graphs")[this.model.get("code")];
  }

  // Draw the current graph's SVG (when Python has rendered it, or once the browser has
  // laid its DOT out) and tag its parts.
  show() {
    const key = this.model.get("code");
    this.select.value = key;
    const svgText = this.model.get("_svgs")[key];
    const dotText = svgText ? null : (this.model.get("_dots") || {})[key];
    const text = svgText || dotText;
    if (key === this.shownKey && this.svg && text === this.shownText) return this.highlight();
    this.canvas.textContent = "";
    this.svg = null;
    this.blockEls = new Map();
    this.edgeEls = new Map();
    this.folded = null;
    this.shownKey = key;
    this.shownText = text;
    const token = (this.drawing = (this.drawing || 0) + 1);
    this.root.dataset.ready = "0";
    if (!text) {
      const why = this.model.get("_error");
      this.canvas.appendChild(h("div", "monviz-cfg-wait",
        why && this.model.get("_layout") === "browser" ? "(no graph: see above)" : "drawing the graph…"));
      return;
    }
    if (svgText) return this.draw(key, svgText, "dot");
    this.canvas.appendChild(h("div", "monviz-cfg-wait", "laying the graph out in the browser…"));
    layoutDot(this.model, dotText).then(
      ({ svg, ms }) => {
        if (token !== this.drawing) return; // another graph was asked for meanwhile
        this.root.dataset.layoutMs = ms.toFixed(1);
        this.draw(key, svg, "browser");
      },
      (err) => {
        if (token !== this.drawing) return;
        this.canvas.textContent = "";
        this.canvas.appendChild(h("div", "monviz-cfg-wait",
          `(could not lay the graph out in the browser: ${err && err.message || err})`));
        this.root.dataset.ready = "error";
        console.error(err);
      });
  }

  draw(key, text, layout) {
    this.canvas.textContent = "";
    const svg = parseSvg(text);
    if (!svg) {
      this.canvas.appendChild(h("div", "monviz-cfg-wait", "(could not read the graph's SVG)"));
      return;
    }
    this.root.dataset.layout = layout;
    svg.classList.add("monviz-cfg-svg");
    const g = this.graph();
    const map = (this.model.get("_maps") || {})[key];
    if (map) this.tagFolded(svg, g, map);
    else this.tagWhole(svg, g);
    this.canvas.appendChild(svg);
    this.svg = svg;
    this.root.dataset.ready = "1";
    this.root.dataset.code = key;
    this.highlight();
  }

  // A graph drawn whole: nodes are titled b<id>; edges b<src>->b<dst>, in the order of
  // graph.edges (g.drawn: an arrow drawn once for several identical edges).
  tagWhole(svg, g) {
    const waiting = new Map(); // "src,dst" -> edge indices not yet matched
    (g.drawn || g.edges.map((_, i) => i)).forEach((i) => {
      const e = g.edges[i];
      const k = `${e.src},${e.dst}`;
      if (!waiting.has(k)) waiting.set(k, []);
      waiting.get(k).push(i);
    });
    for (const node of svg.querySelectorAll("g.node")) {
      const title = node.querySelector("title");
      const m = title && /^b(\d+)$/.exec(title.textContent.trim());
      if (!m) continue;
      node.dataset.block = m[1];
      node.classList.add("monviz-block");
      this.blockEls.set(Number(m[1]), node);
      node.addEventListener("click", () => this.pick(Number(m[1])));
    }
    for (const edge of svg.querySelectorAll("g.edge")) {
      const title = edge.querySelector("title");
      const m = title && /^b(\d+)->b(\d+)$/.exec(title.textContent.trim());
      if (!m) continue;
      const list = waiting.get(`${m[1]},${m[2]}`);
      if (!list || !list.length) continue;
      const i = list.shift();
      const e = g.edges[i];
      edge.dataset.edge = String(i);
      edge.dataset.src = m[1];
      edge.dataset.dst = m[2];
      edge.dataset.kind = e.kind;
      edge.classList.add("monviz-edge");
      this.edgeEls.set(i, edge);
    }
    // an edge drawn once for several identical ones: all of them point at that arrow
    const twin = new Map();
    const keyOf = (e) => `${e.src},${e.dst},${e.kind},${e.label},${e.event}`;
    for (const [i, el] of this.edgeEls) twin.set(keyOf(g.edges[i]), el);
    g.edges.forEach((e, i) => {
      if (!this.edgeEls.has(i) && twin.has(keyOf(e))) this.edgeEls.set(i, twin.get(keyOf(e)));
    });
  }

  // A big graph drawn folded (Python's _maps[key]): nodes b<id> (a block) and s<k> (a folded
  // section, click to open), clusters cluster_s<k> (an opened section, click its label to
  // fold it), and arrows standing for one or more edges, matched in the order drawn.
  tagFolded(svg, g, map) {
    this.folded = map;
    for (const node of svg.querySelectorAll("g.node")) {
      const title = node.querySelector("title");
      const name = title && title.textContent.trim();
      const blocks = name && map.nodes[name];
      if (!blocks) continue;
      const section = /^s(\d+)$/.exec(name);
      node.classList.add("monviz-block");
      if (section) {
        node.classList.add("monviz-section");
        node.dataset.section = section[1];
        node.addEventListener("click", () => this.openSection(Number(section[1])));
      } else {
        node.dataset.block = String(blocks[0]);
        node.addEventListener("click", () => this.pick(blocks[0]));
      }
      for (const b of blocks) this.blockEls.set(b, node);
    }
    for (const cluster of svg.querySelectorAll("g.cluster")) {
      const title = cluster.querySelector("title");
      const m = title && /^cluster_s(\d+)$/.exec(title.textContent.trim());
      if (!m) continue;
      cluster.dataset.section = m[1];
      cluster.classList.add("monviz-open-section");
      const label = cluster.querySelector("text");
      if (label) label.addEventListener("click", () => this.closeSection(Number(m[1])));
    }
    const waiting = new Map(); // "tail->head" -> arrows (edge index lists) not yet matched
    for (const [tail, head, members] of map.arrows) {
      const k = `${tail}->${head}`;
      if (!waiting.has(k)) waiting.set(k, []);
      waiting.get(k).push(members);
    }
    for (const edge of svg.querySelectorAll("g.edge")) {
      const title = edge.querySelector("title");
      const list = title && waiting.get(title.textContent.trim());
      if (!list || !list.length) continue;
      const members = list.shift();
      const e = g.edges[members[0]];
      edge.dataset.edge = String(members[0]);
      edge.dataset.edges = members.join(" ");
      edge.dataset.kind = members.every((i) => g.edges[i].kind === e.kind) ? e.kind : "mixed";
      edge.classList.add("monviz-edge");
      for (const i of members) this.edgeEls.set(i, edge);
    }
  }

  pick(block) {
    this.model.set("block", block);
    this.model.save_changes();
  }

  // Open a folded section (Python lays the graph out again with its blocks drawn).
  openSection(k, auto = false) {
    if (!this.model.get("_can_open")) {
      this.status.textContent = "this page shows big graphs folded: open it in a notebook " +
        "(monviz.CFGView) to unfold a section";
      return;
    }
    const key = this.model.get("code");
    const all = { ...(this.model.get("_open") || {}) };
    const now = new Set(all[key] || []);
    if (auto) { // following the timeline: close the section it opened before
      if (this.autoOpened && this.autoOpened.key === key) now.delete(this.autoOpened.section);
      this.autoOpened = { key, section: k };
    } else if (this.autoOpened && this.autoOpened.section === k) {
      this.autoOpened = null; // opened by hand now: stays open
    }
    now.add(k);
    all[key] = [...now].sort((a, b) => a - b);
    this.status.textContent = `opening lines ${this.folded.sections[k][0]}–` +
      `${this.folded.sections[k][1]}…`;
    this.model.set("_open", all);
    this.model.save_changes();
  }

  closeSection(k) {
    const key = this.model.get("code");
    const all = { ...(this.model.get("_open") || {}) };
    all[key] = (all[key] || []).filter((x) => x !== k);
    if (this.autoOpened && this.autoOpened.section === k) this.autoOpened = null;
    this.model.set("_open", all);
    this.model.save_changes();
  }

  // The block and edge for the linked timeline's current event.
  follow() {
    const c = this.model.get("cursor");
    if (!c || c.code == null) return;
    const graphs = this.model.get("_graphs");
    const key = `c${c.code}`;
    const codeChanged = c.code !== this.lastCursorCode;
    this.lastCursorCode = c.code;
    if (!graphs[key]) {
      if (codeChanged && this.model.get("follow")) {
        this.status.textContent = `${c.qualname}: no graph here (not a live code object)`;
      }
      return;
    }
    if (this.model.get("code") !== key) {
      if (!(codeChanged && this.model.get("follow"))) {
        this.status.textContent = `timeline is in ${c.qualname} (choose it above to follow)`;
        return;
      }
      this.model.set("code", key);
    }
    const g = graphs[key];
    let edge = -1;
    if (c.jump) {
      const found = g.pairs[`${c.jump[0]},${c.jump[1]}`] || [];
      edge = found.find((i) => g.edges[i].event === c.jump[2]) ?? found[0] ?? -1;
    }
    let block = -1;
    if (c.target != null && edge >= 0 && c.jump && c.jump[0] === c.offset) {
      block = g.edges[edge].dst; // a jump or branch: now at its destination
    } else if (c.offset != null) {
      block = this.blockAt(g, c.offset);
    } else if (c.line != null) {
      block = this.blockOfLine(g, c.line, c.from);
    }
    this.model.set("block", block);
    this.model.set("edge", edge);
    this.model.save_changes();
    this.followInto(key, block);
  }

  // Following the timeline into a folded section of a big graph: open it (and close the
  // one opened the same way before), once the cursor has stayed there a moment.
  followInto(key, block) {
    clearTimeout(this.openTimer);
    const map = (this.model.get("_maps") || {})[key];
    if (!map || block < 0 || !this.model.get("follow")) return;
    const k = map.section_of[block];
    if (k == null || map.opened.includes(k)) return;
    this.openTimer = setTimeout(() => {
      if (this.model.get("code") === key && this.model.get("block") === block) {
        this.openSection(k, true);
      }
    }, FOLLOW_OPEN_MS);
  }

  blockAt(g, offset) {
    for (const b of g.blocks) if (b.start <= offset && offset < b.stop) return b.id;
    return -1;
  }

  // A LINE event has no offset: the first instruction of that line from the frame's
  // last known offset on (straight-line code runs forward), else the line's first block.
  blockOfLine(g, line, from) {
    const ins = g.instructions;
    let at = -1;
    if (from != null) {
      const startIdx = ins.findIndex((x) => x[0] >= from);
      if (startIdx >= 0) {
        for (let k = startIdx; k < ins.length; k++) {
          if (ins[k][1] === line) {
            at = ins[k][0];
            break;
          }
        }
      }
    }
    if (at < 0) {
      const first = ins.find((x) => x[1] === line);
      if (first) at = first[0];
    }
    return at < 0 ? -1 : this.blockAt(g, at);
  }

  highlight() {
    if (!this.svg) return;
    const block = this.model.get("block");
    const edge = this.model.get("edge");
    for (const el of this.svg.querySelectorAll(".monviz-current, .monviz-taken")) {
      el.classList.remove("monviz-current", "monviz-taken");
    }
    const g = this.graph();
    const parts = [];
    const b = this.blockEls.get(block);
    if (b) {
      b.classList.add("monviz-current");
      const k = b.dataset.section;
      parts.push(k == null ? `block ${block}` : `block ${block} (folded in lines ` +
        `${this.folded.sections[k][0]}–${this.folded.sections[k][1]}: click it to open)`);
      this.reveal(b);
    }
    const e = this.edgeEls.get(edge);
    if (e) {
      e.classList.add("monviz-taken");
      const info = g.edges[edge];
      const what = [info.kind, info.label, info.meaning && `(${info.meaning})`]
        .filter(Boolean).join(" ");
      parts.push(`last taken: b${info.src} → b${info.dst}, ${what}`);
    }
    this.root.dataset.block = String(block);
    this.root.dataset.edge = String(edge);
    this.status.textContent = parts.length ? `${g.qualname} · ${parts.join(" · ")}` : g.qualname;
  }

  // scroll the graph's box (only) so that a node is visible
  reveal(node) {
    const box = this.canvas;
    const r = node.getBoundingClientRect();
    const c = box.getBoundingClientRect();
    if (r.top < c.top || r.bottom > c.bottom) {
      box.scrollTop += r.top - c.top - c.height / 3;
    }
    if (r.left < c.left || r.right > c.right) {
      box.scrollLeft += r.left - c.left - c.width / 3;
    }
  }
}

// DotView: one DOT text laid out by Viz.js, nothing to point at (a ControlFlowGraph's
// display in a notebook without dot).
function renderDot(model, el) {
  const root = h("div", "monviz-cfgview monviz-dotview");
  const canvas = root.appendChild(h("div", "monviz-cfg-canvas"));
  canvas.appendChild(h("div", "monviz-cfg-wait", "laying the graph out in the browser…"));
  root.dataset.ready = "0";
  el.appendChild(root);
  layoutDot(model, model.get("_dot")).then(({ svg, ms }) => {
    canvas.textContent = "";
    const node = parseSvg(svg);
    if (node) {
      node.classList.add("monviz-cfg-svg");
      canvas.appendChild(node);
    }
    root.dataset.layout = "browser";
    root.dataset.layoutMs = ms.toFixed(1);
    root.dataset.ready = node ? "1" : "error";
  }, (err) => {
    canvas.textContent = "";
    canvas.appendChild(h("div", "monviz-cfg-wait",
      `(could not lay the graph out in the browser: ${err && err.message || err})`));
    root.dataset.ready = "error";
    console.error(err);
  });
}

function render({ model, el }) {
  if (model.get("_dot")) return renderDot(model, el);
  let view;
  try {
    view = new CFGViewView(model, el);
  } catch (err) {
    el.appendChild(h("pre", "monviz-error", `monviz CFGView failed: ${err && err.stack || err}`));
    console.error(err);
    return;
  }
  return () => view.dispose();
}

export default { render };
