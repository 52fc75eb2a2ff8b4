// monviz CFGView: a Graphviz control-flow graph whose blocks and edges can be pointed at.
//
// Python sends the SVG (laid out by dot) and a description of the graph. The SVG is
// parsed as XML (never as HTML), stripped of anything active, and each node is tagged
// data-block=<id>, each edge data-edge=<index into graph.edges>. The `block` and
// `edge` traits say what is highlighted; a linked Timeline's `cursor` sets them.

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
    for (const [ev, f] of Object.entries(this.handlers)) this.model.off(ev, f);
  }

  graph() {
    return this.model.get("_graphs")[this.model.get("code")];
  }

  // Draw the current graph's SVG (when Python has rendered it) and tag its parts.
  show() {
    const key = this.model.get("code");
    this.select.value = key;
    const text = this.model.get("_svgs")[key];
    if (key === this.shownKey && this.svg && text === this.shownText) return this.highlight();
    this.canvas.textContent = "";
    this.svg = null;
    this.blockEls = new Map();
    this.edgeEls = new Map();
    this.shownKey = key;
    this.shownText = text;
    if (!text) {
      this.canvas.appendChild(h("div", "monviz-cfg-wait", "drawing the graph…"));
      this.root.dataset.ready = "0";
      return;
    }
    const svg = parseSvg(text);
    if (!svg) {
      this.canvas.appendChild(h("div", "monviz-cfg-wait", "(could not read the graph's SVG)"));
      return;
    }
    svg.classList.add("monviz-cfg-svg");
    const g = this.graph();
    // nodes are titled b<id>; edges b<src>->b<dst>, in the order of graph.edges
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
      node.addEventListener("click", () => {
        this.model.set("block", Number(m[1]));
        this.model.save_changes();
      });
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
    this.canvas.appendChild(svg);
    this.svg = svg;
    this.root.dataset.ready = "1";
    this.root.dataset.code = key;
    this.highlight();
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
      parts.push(`block ${block}`);
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

function render({ model, el }) {
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
