// monviz report host: the notebook's Timeline and CFGView widgets, in a page of their own.
//
// The widgets are anywidget modules that talk to a model (get / set / on / off /
// save_changes). In a notebook the model is the kernel's; here it is `Model`
// below, filled from the report's payload, and the link the notebook makes with
// jslink (timeline.cursor -> cfgview.cursor) is one listener. So the report runs
// the very same front-end code as the widgets: one implementation, two hosts.
//
// The payload (see monviz/report.py) is one gzip'd binary blob, base64 in a
// <script type="application/octet-stream">: a little-endian u32 length, that many
// bytes of UTF-8 JSON, then the Timeline's column buffers at the offsets the JSON
// gives. The widget modules come base64 too and are imported from data: URLs, so
// nothing is fetched from anywhere: the page works from file:// with no network.
// Every user-derived string goes into the DOM as text (textContent), never as HTML.
//
// A report made without Graphviz's dot carries the graphs as DOT text and Viz.js
// (Graphviz in WebAssembly) as one more buffer of the payload: `info.viz` names it. It
// becomes the model a notebook's VizAsset would be, found through the graph model's
// `widget_manager.get_model` as in a notebook, and cfgview.js lays each graph out.

function same(a, b) {
  if (a === b) return true;
  if (a && b && typeof a === "object" && typeof b === "object") {
    return JSON.stringify(a) === JSON.stringify(b); // small dicts only (cursor)
  }
  return false;
}

// Backbone's semantics as widgets rely on them: set() fires "change:<name>" at once
// when the value changed; save_changes() would sync to a kernel, here there is none.
export class Model {
  constructor(state) {
    this.state = { ...state };
    this.listeners = new Map();
  }

  get(name) {
    return this.state[name];
  }

  set(name, value) {
    if (same(this.state[name], value)) return;
    this.state[name] = value;
    for (const f of [...(this.listeners.get(`change:${name}`) || [])]) f(this, value);
  }

  on(event, f) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(f);
  }

  off(event, f) {
    const list = this.listeners.get(event) || [];
    const at = list.indexOf(f);
    if (at >= 0) list.splice(at, 1);
  }

  save_changes() {}

  send() {}
}

// What a widget finds through model.widget_manager: the other models of the page, by id.
export class Manager {
  constructor() {
    this.models = new Map();
  }

  add(id, model) {
    this.models.set(id, model);
    model.widget_manager = this;
    return model;
  }

  async get_model(id) {
    const model = this.models.get(id);
    if (!model) throw new Error(`no model ${id} in this report`);
    return model;
  }
}

function base64Bytes(text) {
  const clean = text.replace(/\s+/g, "");
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(clean);
  const bin = atob(clean);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The payload: its JSON and, by name, the Timeline's buffers (views, no copies).
export async function unpack(base64) {
  const raw = await gunzip(base64Bytes(base64));
  const headLength = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, true);
  const info = JSON.parse(new TextDecoder().decode(raw.subarray(4, 4 + headLength)));
  const buffers = {};
  for (const [name, [offset, length]] of Object.entries(info.buffers)) {
    buffers[name] = raw.subarray(offset, offset + length);
  }
  return { info, buffers };
}

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = String(text);
  return e;
}

// The per-code-object table: counts per event kind; choosing a row shows its graph
// and steps the timeline to that code object's first event.
function explorer(el, table, timeline, cfg) {
  const box = h("table", "monviz-codes");
  const head = h("tr");
  for (const name of ["code object", "where", ...table.kinds]) head.appendChild(h("th", null, name));
  box.appendChild(h("thead")).appendChild(head);
  const body = box.appendChild(h("tbody"));
  const rows = [];
  for (const row of table.rows) {
    const tr = h("tr", "monviz-code-row");
    tr.dataset.code = row.key;
    tr.tabIndex = 0;
    tr.title = "show this code object's graph and go to its first event";
    tr.appendChild(h("td", "monviz-code-name", row.qualname));
    tr.appendChild(h("td", "monviz-code-where", row.where));
    for (const n of row.counts) tr.appendChild(h("td", "monviz-count", n ? n.toLocaleString("en") : ""));
    const choose = () => {
      if (cfg && cfg.get("_graphs")[row.key]) cfg.set("code", row.key);
      if (row.first >= 0) timeline.set("step", row.first);
      for (const r of rows) r.classList.toggle("monviz-chosen", r === tr);
    };
    tr.addEventListener("click", choose);
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter") choose();
    });
    rows.push(tr);
    body.appendChild(tr);
  }
  el.appendChild(box);
}

export async function boot({ data, timelineModule, cfgModule }) {
  const t0 = performance.now();
  const status = document.getElementById("monviz-status");
  try {
    const { info, buffers } = await unpack(data);
    const manager = new Manager();
    if (info.viz) { // laid out here: the Viz.js module's bytes, not a timeline column
      manager.add(info.viz.model, new Model({ version: info.viz.version,
                                              source: buffers[info.viz.buffer] }));
      delete buffers[info.viz.buffer];
    }
    const [{ default: tl }, cfgMod] = await Promise.all([
      import(timelineModule),
      cfgModule ? import(cfgModule) : Promise.resolve(null),
    ]);
    const timeline = new Model({ ...info.timeline, _columns: buffers, cursor: {} });
    const tlEl = document.getElementById("monviz-timeline");
    tl.render({ model: timeline, el: tlEl });
    let cfg = null;
    const cfgEl = document.getElementById("monviz-cfg");
    if (info.cfg && cfgMod) {
      cfg = manager.add("cfg", new Model({ ...info.cfg, cursor: timeline.get("cursor") || {} }));
      timeline.on("change:cursor", () => cfg.set("cursor", timeline.get("cursor")));
      cfgMod.default.render({ model: cfg, el: cfgEl });
    } else if (info.cfg_missing) {
      cfgEl.appendChild(h("p", "monviz-cfg-missing", info.cfg_missing));
    }
    explorer(document.getElementById("monviz-explorer"), info.codes, timeline, cfg);
    const root = tlEl.querySelector(".monviz-timeline");
    if (root) root.focus({ preventScroll: true });
    // arrows work without clicking first: keys on the page go to the timeline
    document.addEventListener("keydown", (e) => {
      if (root && (e.target === document.body || e.target === document.documentElement)) {
        root.dispatchEvent(new KeyboardEvent("keydown", e));
        if (["ArrowLeft", "ArrowRight", "Home", "End", " "].includes(e.key)) e.preventDefault();
      }
    });
    document.body.dataset.openMs = (performance.now() - t0).toFixed(1);
    document.body.dataset.ready = "true";
    if (status) status.remove();
    window.monviz = { timeline, cfg };
  } catch (err) {
    if (status) status.textContent = `monviz: this report could not be opened: ${err && err.stack || err}`;
    document.body.dataset.ready = "error";
    console.error(err);
  }
}
