// monviz Timeline: step through a recorded trace.
//
// The trace arrives once, as binary columns (see monviz/widgets/_payload.py), and
// stays in typed arrays. A few linear passes derive the rest: dense code ids,
// per-kind counts, rank checkpoints into the sparse tables, and the flame spans.
// Drawing is two canvases (the picture, redrawn when the viewport changes; the
// cursor, redrawn every step) with level of detail: spans and markers narrower
// than a pixel are merged per pixel column. Every user-derived string goes into
// the DOM as text (textContent / canvas fillText), never as HTML.

const TYPED = {
  i8: Int8Array, u8: Uint8Array, i16: Int16Array, u16: Uint16Array,
  i32: Int32Array, u32: Uint32Array, i64: BigInt64Array, u64: BigUint64Array,
};
const CHECKPOINT = 512; // rank checkpoints every this many events
const GUTTER = 104; // px left of the plot, for row labels
const MAX_SCAN = 2_000_000;
const BLOCK = 256; // events per block of the per-kind summary drawn when zoomed out
// While a streamed trace's chunks come, their work (deriving events, parsing the value
// strings) runs in slices between frames, each about SLICE_MS of the main thread, so a
// step or a frame never waits long for a chunk; what they show is redrawn at most
// every REFRESH_MS (a redraw of a 10M-event overview is 10-40 ms).
const SLICE_MS = 8;
const SLICE_EVENTS = 1 << 15; // events derived between two looks at the clock
const SLICE_BYTES = 1 << 17; // bytes of value strings parsed between two looks
const REFRESH_MS = 500;

function bytesOf(buf) {
  if (buf == null) return new Uint8Array(0);
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  throw new Error("monviz: expected a binary buffer");
}

function typed(buf, type) {
  const T = TYPED[type];
  const b = bytesOf(buf);
  if (b.byteOffset % T.BYTES_PER_ELEMENT === 0) {
    return new T(b.buffer, b.byteOffset, b.byteLength / T.BYTES_PER_ELEMENT);
  }
  return new T(b.slice().buffer); // unaligned: copy once
}

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = String(text);
  return e;
}

// 1234567 -> "1,234,567" (toLocaleString costs ~20 ms on its first call)
function fmt(n) {
  return String(Math.trunc(Number(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// A JSON list, parsed a slice at a time: JSON.parse of a 10M-event trace's 7 MB of value
// strings blocks the page ~70 ms at once. The text is cut after top-level commas and each
// piece parsed as a list of its own, so the items are exactly JSON.parse's.
class ListReader {
  constructor(buf) {
    this.bytes = bytesOf(buf);
    this.items = [];
    this.decoder = new TextDecoder();
    this.depth = 0; // brackets open inside the current item
    let i = 0;
    const b = this.bytes;
    while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
    if (b[i] !== 0x5b) { // not a list: whatever JSON.parse makes of it (or its error)
      this.items = JSON.parse(this.decoder.decode(b));
      this.done = true;
      return;
    }
    this.from = this.pos = i + 1; // the first byte not parsed / not scanned yet
    this.done = false;
  }

  // Scan about `limit` more bytes and parse the items they complete; true while some
  // are left.
  step(limit) {
    if (this.done) return false;
    const b = this.bytes;
    const end = Math.min(b.length, this.pos + Math.max(1, limit));
    let depth = this.depth;
    let cut = -1;
    let i = this.pos;
    for (; i < end; i++) {
      const c = b[i];
      if (c === 0x22) { // a string: on to its closing quote (one not escaped)
        let q = i;
        for (;;) {
          q = b.indexOf(0x22, q + 1);
          if (q < 0) throw new Error("monviz: value strings end inside a string");
          let slashes = 0;
          while (b[q - 1 - slashes] === 0x5c) slashes++;
          if (slashes % 2 === 0) break;
        }
        i = q;
      } else if (c === 0x5b || c === 0x7b) depth++;
      else if (c === 0x5d || c === 0x7d) {
        if (depth === 0) { // the list's own closing bracket
          this.parse(i);
          this.done = true;
          return false;
        }
        depth--;
      } else if (c === 0x2c && depth === 0) cut = i;
    }
    if (i >= b.length) throw new Error("monviz: value strings end before the list does");
    this.pos = i;
    this.depth = depth;
    if (cut >= 0) {
      this.parse(cut);
      this.from = cut + 1;
    }
    return true;
  }

  parse(to) {
    const part = JSON.parse(`[${this.decoder.decode(this.bytes.subarray(this.from, to))}]`);
    for (const item of part) this.items.push(item);
  }
}

// Streamed chunks and the value strings come deflated (zlib) when the page can inflate
// them: about a tenth of the bytes (receiving a 7 MB message costs Chromium's main thread
// ~100 ms in JupyterLab). They are inflated in a worker where one can be started, else on
// the page by DecompressionStream (in pieces, between other tasks).
const CAN_INFLATE = typeof DecompressionStream === "function" && typeof Response === "function" &&
  typeof Blob === "function";
const INFLATE_WORKER = `onmessage = async (e) => {
  const { id, bufs } = e.data;
  try {
    const out = await Promise.all(bufs.map((b) => new Response(new Blob([b]).stream()
      .pipeThrough(new DecompressionStream("deflate"))).arrayBuffer()));
    postMessage({ id, out }, out);
  } catch (err) {
    postMessage({ id, error: String(err) });
  }
};`;

function inflateHere(bytes) {
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate")))
    .arrayBuffer();
}

class Inflater {
  constructor(useWorker = true) {
    this.jobs = new Map();
    this.next = 0;
    this.worker = null;
    if (!useWorker || typeof Worker !== "function" || typeof URL === "undefined" ||
        !URL.createObjectURL) return;
    try {
      this.url = URL.createObjectURL(new Blob([INFLATE_WORKER], { type: "text/javascript" }));
      this.worker = new Worker(this.url);
    } catch (err) { // e.g. a page whose policy allows no workers
      this.worker = null;
      return;
    }
    this.worker.onmessage = (e) => {
      const job = this.jobs.get(e.data.id);
      if (!job) return;
      this.jobs.delete(e.data.id);
      if (e.data.error) this.here(job); // the worker cannot: the page may
      else job.resolve(e.data.out);
    };
    this.worker.onerror = (e) => { // it did not start: everything on the page
      if (e && e.preventDefault) e.preventDefault();
      this.stop();
      for (const job of this.jobs.values()) this.here(job);
      this.jobs.clear();
    };
  }

  here(job) {
    Promise.all(job.bytes.map(inflateHere)).then(job.resolve, job.reject);
  }

  // the buffers inflated: a promise of ArrayBuffers, in order
  inflate(bufs) {
    const bytes = bufs.map((b) => bytesOf(b).slice()); // ours to send (and to keep)
    return new Promise((resolve, reject) => {
      const job = { bytes, resolve, reject };
      if (!this.worker) return this.here(job);
      const id = this.next++;
      this.jobs.set(id, job);
      this.worker.postMessage({ id, bufs: bytes });
    });
  }

  stop() {
    if (this.worker) this.worker.terminate();
    this.worker = null;
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }
}

// ---------------------------------------------------------------------------------
// The trace, in typed arrays

class TraceData {
  // meta: the payload's JSON; cols: the first chunk's buffers (the whole trace unless
  // meta.stream says there are more chunks, which append() adds in order as they come).
  constructor(meta, cols) {
    const t0 = performance.now();
    this.meta = meta;
    const n = (this.n = meta.n);
    const plan = meta.stream;
    this.plan = plan;
    this.loaded = 0; // events [0, loaded) are here
    this.queued = 0; // and [loaded, queued) taken in, to derive (work)
    this.values = cols.values ? JSON.parse(new TextDecoder().decode(bytesOf(cols.values))) : null;
    this.kinds = meta.kinds;
    this.codes = meta.codes;
    const nk = this.kinds.length;
    this.isLine = new Uint8Array(256);
    this.isPush = new Uint8Array(256);
    this.kinds.forEach((k, i) => {
      this.isLine[i] = k.line ? 1 : 0;
      this.isPush[i] = k.push ? 1 : 0;
    });
    // which kinds each rank-ordered table holds
    this.tableNames = ["jump_dest", "time_ns", "value_ids", "call_func"];
    this.inTable = this.tableNames.map((name) => {
      const flags = new Uint8Array(256);
      for (const k of meta.tables[name] || []) flags[k] = 1;
      return flags;
    });
    this.members = this.tableNames.map((name) => meta.tables[name] || []);
    this.code = new Int32Array(n);
    this.ran = new Set();
    this.threadStart = [];
    this.threadIdx = [];
    // the whole trace's layout, known before its events are: deepest depth, count per kind
    this.counts = new Float64Array(256);
    plan.kind_counts.forEach((c, k) => { this.counts[k] = c; });
    this.maxDepth = plan.max_depth;
    this.nk = nk;
    this.running = new Float64Array(256); // counts per kind of the events so far
    this.checkpoints = this.tableNames.map(() => new Int32Array(Math.floor(n / CHECKPOINT) + 1));
    this.blocks = new Uint16Array((Math.floor(n / BLOCK) + 1) * nk);
    this.spans = { cap: 1024, count: 0, stack: [], byDepth: [], byLen: [] };
    for (let d = 0; d <= this.maxDepth; d++) {
      this.spans.byDepth.push(new Int32Array(64));
      this.spans.byLen.push(0);
    }
    this.spanStart = new Int32Array(1024);
    this.spanEnd = new Int32Array(1024);
    this.spanDepth = new Int32Array(1024);
    this.spanCode = new Int32Array(1024);
    this.spanCount = 0;
    this.append(meta.first, cols);
    this.fv = meta.frame_values ? new FrameValues(meta.frame_values, cols, this) : null;
    this.decodeMs = performance.now() - t0;
  }

  get complete() {
    return this.loaded >= this.n;
  }

  // The value strings, when they come after the first chunk.
  setValues(buf) {
    this.values = JSON.parse(new TextDecoder().decode(bytesOf(buf)));
  }

  // Chunk head.index: events [head.start, head.end), after every earlier chunk, at once.
  append(head, cols) {
    this.enqueue(head, cols);
    while (this.work(Infinity));
  }

  // Chunk head.index taken in (its columns copied into place, its runs widened) but
  // not yet derived: work() does that, a slice at a time, in order; the events it has
  // done are [0, loaded), as if the chunks had been cut there.
  enqueue(head, cols) {
    const n = this.n;
    const s = head.start;
    const e = head.end;
    if (s !== this.queued) throw new Error(`monviz: chunk at ${s}, expected ${this.queued}`);
    const col = (name) => typed(cols[name], head.columns[name].type);
    const place = (field, name, length, at) => {
      const part = col(name);
      if (!this[field]) {
        // the whole trace in one chunk: view it in place; else a full-length array
        this[field] = part.length === length ? part : new TYPED[head.columns[name].type](length);
      }
      if (this[field] !== part) this[field].set(part, at);
    };
    const totals = this.plan.totals;
    place("kind", "kind", n, s);
    place("a", "a", n, s);
    place("depth", "depth", n, s);
    place("jumpDest", "jump_dest", totals.jump_dest, head.ranks.jump_dest);
    place("time", "time_ns", totals.time_ns, head.ranks.time_ns);
    place("valueIds", "value_ids", totals.value_ids, head.ranks.value_ids);
    place("callFunc", "call_func", totals.call_func, head.ranks.call_func);
    place("callArg0", "call_arg0", totals.call_arg0, head.ranks.call_arg0);
    // dense code id per event, from the runs (the first starts at s)
    const starts = col("code_start");
    const ids = col("code_id");
    for (let r = 0; r < starts.length; r++) {
      this.ran.add(ids[r]);
      const end = r + 1 < starts.length ? Number(starts[r + 1]) : e;
      this.code.fill(ids[r], Number(starts[r]), end);
    }
    this.codesRun = this.ran.size;
    const ts = col("thread_start");
    const ti = col("thread_idx");
    for (let r = 0; r < ts.length; r++) {
      const last = this.threadIdx.length - 1;
      if (last >= 0 && this.threadIdx[last] === ti[r]) continue; // a run going on
      this.threadStart.push(Number(ts[r]));
      this.threadIdx.push(ti[r]);
    }
    this.queued = e;
  }

  // events taken in but not yet derived
  get backlog() {
    return this.queued - this.loaded;
  }

  // Derive up to `limit` more events (rank checkpoints, per-kind blocks, flame spans);
  // true while some are left. Any cut gives the same result as the whole at once.
  work(limit) {
    const s = this.loaded;
    const e = Math.min(this.queued, s + Math.max(1, limit));
    if (e <= s) return false;
    // rank checkpoints (from the counts so far) and the per-kind blocks: one pass
    const nt = this.tableNames.length;
    const { kind, running, blocks, members, nk } = this;
    for (let i = s; i < e; i++) {
      if ((i & (CHECKPOINT - 1)) === 0) {
        const c = i / CHECKPOINT;
        for (let t = 0; t < nt; t++) {
          let sum = 0;
          for (const k of members[t]) sum += running[k];
          this.checkpoints[t][c] = sum;
        }
      }
      const k = kind[i];
      running[k]++;
      blocks[(i >> 8) * nk + k]++;
    }
    this.buildSpans(s, e);
    this.loaded = e;
    return e < this.queued;
  }

  // Frames as spans [start, end] (inclusive) per depth, from depth, code and the
  // kinds that open a frame: a deeper event opens a span, a shallower one closes
  // the deeper spans, a frame-opening event or another code object at the same
  // depth closes the span there and opens a new one. Resumed chunk after chunk: a
  // span still open ends at the last event until a later chunk closes it.
  buildSpans(from, to) {
    const n = this.n;
    const sp = this.spans;
    let { cap, count } = sp;
    let start = this.spanStart;
    let end = this.spanEnd;
    let sdepth = this.spanDepth;
    let scode = this.spanCode;
    const { byDepth, byLen, stack } = sp;
    const { kind, depth, code, isPush } = this;
    for (let i = from; i < to; i++) {
      const d = depth[i];
      const c = code[i];
      while (stack.length && sdepth[stack[stack.length - 1]] > d) end[stack.pop()] = i - 1;
      if (stack.length) {
        const top = stack[stack.length - 1];
        if (sdepth[top] === d) {
          if (scode[top] === c && !isPush[kind[i]]) continue;
          end[stack.pop()] = i - 1;
        }
      }
      if (count === cap) {
        cap *= 2;
        const grow = (arr) => {
          const next = new Int32Array(cap);
          next.set(arr);
          return next;
        };
        start = grow(start);
        end = grow(end);
        sdepth = grow(sdepth);
        scode = grow(scode);
      }
      start[count] = i;
      end[count] = n - 1;
      sdepth[count] = d;
      scode[count] = c;
      if (byLen[d] === byDepth[d].length) {
        const next = new Int32Array(byDepth[d].length * 2);
        next.set(byDepth[d]);
        byDepth[d] = next;
      }
      byDepth[d][byLen[d]++] = count;
      stack.push(count);
      count++;
    }
    sp.cap = cap;
    sp.count = count;
    this.spanStart = start;
    this.spanEnd = end;
    this.spanDepth = sdepth;
    this.spanCode = scode;
    this.spanCount = count;
    this.byDepth = byDepth.map((ids, d) => ids.subarray(0, byLen[d]));
  }

  // the span at depth d that contains event i, or -1
  spanAt(d, i) {
    const ids = this.byDepth[d];
    if (!ids) return -1;
    let lo = 0;
    let hi = ids.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.spanStart[ids[mid]] <= i) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return -1;
    const s = ids[found];
    return this.spanEnd[s] >= i ? s : -1;
  }

  // first index into byDepth[d] whose span ends at or after event i
  firstSpanFrom(d, i) {
    const ids = this.byDepth[d];
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.spanEnd[ids[mid]] < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // rank of event i in table t (the n-th event of that table's kinds)
  rank(t, i) {
    const c = Math.floor(i / CHECKPOINT);
    let r = this.checkpoints[t][c];
    const flags = this.inTable[t];
    for (let j = c * CHECKPOINT; j < i; j++) r += flags[this.kind[j]];
    return r;
  }

  kindName(i) {
    const k = this.kinds[this.kind[i]];
    return k ? k.name : `kind ${this.kind[i]}`;
  }

  offsetOf(i) {
    return this.isLine[this.kind[i]] ? null : Number(this.a[i]);
  }

  lineFor(cid, offset) {
    const code = this.codes[cid];
    if (!code) return null;
    const t = code.lines; // flat (start, end, line)
    let lo = 0;
    let hi = t.length / 3 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (t[mid * 3] <= offset) {
        if (offset < t[mid * 3 + 1]) return t[mid * 3 + 2] < 0 ? null : t[mid * 3 + 2];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return null;
  }

  lineOf(i) {
    if (this.isLine[this.kind[i]]) return Number(this.a[i]);
    return this.lineFor(this.code[i], Number(this.a[i]));
  }

  // (line, end line, column, end column) of the instruction at an offset, if known
  positionsOf(cid, offset) {
    const code = this.codes[cid];
    if (!code || !code.positions || offset == null) return null;
    const u = offset >> 1;
    const p = code.positions;
    if (u * 4 + 3 >= p.length) return null;
    const pos = [p[u * 4], p[u * 4 + 1], p[u * 4 + 2], p[u * 4 + 3]];
    return pos[0] < 0 || pos[2] < 0 ? null : pos;
  }

  threadOf(i) {
    let lo = 0;
    let hi = this.threadStart.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.threadStart[mid] <= i) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const t = this.threadIdx.length ? this.threadIdx[found] : 0;
    return this.meta.threads[t];
  }

  // Everything the details panel shows about event i.
  details(i) {
    const k = this.kind[i];
    const info = this.kinds[k] || { name: `kind ${k}`, meaning: "" };
    const cid = this.code[i];
    const code = this.codes[cid];
    const out = {
      step: i, event: info.name, meaning: info.meaning, colour: info.colour,
      code: code ? code.qualname : "<unknown>", file: code ? code.filename : "",
      line: this.lineOf(i), offset: this.offsetOf(i), target: null, callable: null,
      arg0: null, value: null, exception: null, time: null, depth: this.depth[i],
      thread: this.threadOf(i), codeIndex: cid,
    };
    if (this.inTable[0][k]) out.target = Number(this.jumpDest[this.rank(0, i)]);
    if (this.inTable[1][k]) out.time = Number(this.time[this.rank(1, i)]);
    const text = (id) => (this.values ? this.values[id] : "(loading…)");
    if (this.inTable[2][k] && info.field) out[info.field] = text(this.valueIds[this.rank(2, i)]);
    if (this.inTable[3][k]) {
      const r = this.rank(3, i);
      out.callable = text(this.callFunc[r]);
      out.arg0 = text(this.callArg0[r]);
    }
    return out;
  }

  // Where event i is, for a linked control-flow graph: its offset (or, for a LINE,
  // the last known offset of its frame before it) and the jump/branch just taken.
  cursor(i) {
    const det = this.details(i);
    const d = this.depth[i];
    const c = this.code[i];
    let from = null;
    let jump = null;
    if (det.target != null) jump = [det.offset, det.target, det.event];
    const stop = Math.max(0, i - MAX_SCAN);
    for (let j = i - 1; j >= stop && (from === null || jump === null); j--) {
      const dj = this.depth[j];
      if (dj > d) {
        // a call made from this frame: skip its whole subtree at once
        const s = this.spanAt(d + 1, j);
        if (s >= 0) j = this.spanStart[s];
        continue;
      }
      if (dj < d || this.code[j] !== c) break;
      const k = this.kind[j];
      if (this.inTable[0][k]) {
        const dst = Number(this.jumpDest[this.rank(0, j)]);
        if (from === null) from = dst;
        if (jump === null) jump = [Number(this.a[j]), dst, this.kinds[k].name];
      } else if (!this.isLine[k] && from === null) {
        from = Number(this.a[j]);
      }
      if (this.isPush[k]) break;
    }
    return {
      step: i, code: c, qualname: det.code, event: det.event, offset: det.offset,
      line: det.line, target: det.target, from, jump,
    };
  }

  // The frames open at event i, outermost first: [{span, code, line}]
  stack(i) {
    const frames = [];
    const d = this.depth[i];
    for (let level = 0; level <= d; level++) {
      const s = this.spanAt(level, i);
      if (s < 0) continue;
      frames.push({ span: s, code: this.spanCode[s], line: null, start: this.spanStart[s] });
    }
    // each frame's current line: the last event of it before the next frame started
    for (let f = 0; f < frames.length; f++) {
      const at = f + 1 < frames.length ? frames[f + 1].start - 1 : i;
      frames[f].line = at >= frames[f].start ? this.lineOf(at) : null;
    }
    return frames;
  }
}

// ---------------------------------------------------------------------------------
// Variables per step (values=True): what monviz/frames.py FrameValues.frames_at answers,
// from the same columns. A text refers to a heap object as \ue000<tag>\ue001; the
// object's own text at a point is its last change at or before that point.

const REF = /\ue000(\d+)\ue001/g;
const OPEN = "\ue000";
const MAX_RESOLVE = 3; // objects inside objects shown, as monviz.heap.MAX_DEPTH
const MAX_FRAMES_SHOWN = 12;

// index of the last element <= x in an ascending array (-1 if none)
function lastAtOrBefore(arr, x) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

// [{points, values}] per key, from flat (point, key, value) triples
function changesBy(flat, keyOf) {
  const out = new Map();
  for (let j = 0; j < flat.length; j += 3) {
    const key = keyOf(flat[j], flat[j + 1]);
    let e = out.get(key);
    if (!e) out.set(key, (e = { points: [], values: [] }));
    e.points.push(flat[j]);
    e.values.push(flat[j + 2]);
  }
  return out;
}

class FrameValues {
  constructor(info, cols, data) {
    const t0 = performance.now();
    const i32 = (name) => typed(cols[name], "i32");
    this.data = data;
    this.pointEvent = i32("fv_point_event");
    this.pointFrame = i32("fv_point_frame");
    this.pointKind = info.point_kind;
    this.names = info.names;
    this.frameCode = info.frame_code;
    this.frameModule = info.frame_module || [];
    this.texts = JSON.parse(new TextDecoder().decode(bytesOf(cols.fv_texts)));
    const nf = this.frameCode.length;
    this.framePoints = Array.from({ length: nf }, () => []);
    for (let p = 0; p < this.pointFrame.length; p++) {
      const f = this.pointFrame[p];
      if (f >= 0) this.framePoints[f].push(p);
    }
    const nn = Math.max(this.names.length, 1);
    this.frameNames = Array.from({ length: nf }, () => []);
    const seen = new Set();
    this.byName = changesBy(i32("fv_changes"), (p, name) => {
      const f = this.pointFrame[p];
      const key = f * nn + name;
      if (!seen.has(key)) {
        seen.add(key);
        this.frameNames[f].push(name);
      }
      return key;
    });
    this.byObject = changesBy(i32("fv_heap"), (p, tag) => tag);
    this.parents = changesBy(i32("fv_parents"), (p, f) => f);
    this.nn = nn;
    this.buildMs = performance.now() - t0;
  }

  asOf(e, p) {
    if (!e) return null;
    const j = lastAtOrBefore(e.points, p);
    return j >= 0 ? e.values[j] : null;
  }

  // the last point at or before event i, in event i's thread (-1: none)
  pointAt(i) {
    let p = lastAtOrBefore(this.pointEvent, i);
    if (this.data.meta.threads.length > 1) {
      const t = this.data.threadOf(i);
      while (p >= 0 && this.data.threadOf(this.pointEvent[p]) !== t) p--;
    }
    return p;
  }

  resolve(text, p, depth = 0, seen = []) {
    if (text.indexOf(OPEN) < 0) return text;
    return text.replace(REF, (m, g) => {
      const tag = Number(g);
      const t = this.asOf(this.byObject.get(tag), p);
      if (t == null || seen.includes(tag) || depth >= MAX_RESOLVE) return "[...]";
      return this.resolve(this.texts[t], p, depth + 1, [...seen, tag]);
    });
  }

  // [[name, raw text]] of frame f as of point p, in the order the names were first bound
  localsOf(f, p) {
    const out = [];
    if (f < 0 || p < 0) return out;
    for (const name of this.frameNames[f]) {
      const t = this.asOf(this.byName.get(f * this.nn + name), p);
      if (t != null && t >= 0) out.push([this.names[name], this.texts[t]]);
    }
    return out;
  }

  // The frames at event i, outermost first: {frame, code, line, event, vars: [{name, text,
  // tag, changed}]} (as FrameValues.frames_at in Python)
  framesAt(i) {
    const p = this.pointAt(i);
    if (p < 0) return [];
    const chain = [];
    for (let f = this.pointFrame[p]; f >= 0 && chain.length < 10000;) {
      chain.push(f);
      const parent = this.asOf(this.parents.get(f), p);
      f = parent == null ? -1 : parent;
    }
    const depth = this.data.depth[i];
    const out = [];
    for (const f of chain.reverse()) {
      const pts = this.framePoints[f];
      const j = lastAtOrBefore(pts, p);
      if (j < 0) continue;
      const ev = this.pointEvent[pts[j]];
      if (this.data.depth[ev] > depth) continue; // ended since
      const firstOfModule = this.frameModule[f] && lastAtOrBefore(pts, p - 1) < 0;
      // a module's first step: its names were there already (earlier cells, statements)
      const before = new Map(p > 0 && !firstOfModule ? this.localsOf(f, p - 1) : []);
      const vars = this.localsOf(f, p).map(([name, raw]) => {
        const text = this.resolve(raw, p);
        const m = /^\ue000(\d+)\ue001$/.exec(raw);
        const old = before.get(name);
        return { name, text, tag: m ? Number(m[1]) : null,
          changed: !firstOfModule && (old === undefined || this.resolve(old, p - 1) !== text) };
      });
      out.push({ frame: f, code: this.frameCode[f], line: this.data.lineOf(ev), event: ev, vars });
    }
    return out;
  }

  // [{event, line, text}]: the steps at which a name of frame f took a new value
  history(f, name) {
    const nid = this.names.indexOf(name);
    const e = this.byName.get(f * this.nn + nid);
    if (!e) return [];
    const pts = this.framePoints[f];
    const end = pts.length ? pts[pts.length - 1] : -1;
    const out = [];
    let previous = null;
    e.points.forEach((start, j) => {
      const stop = j + 1 < e.points.length ? e.points[j + 1] - 1 : end;
      const t = e.values[j];
      if (t < 0) {
        previous = null;
        return;
      }
      const raw = this.texts[t];
      const candidates = new Set([start]);
      for (const m of raw.matchAll(REF)) {
        const obj = this.byObject.get(Number(m[1]));
        if (obj) for (const q of obj.points) if (q >= start && q <= stop) candidates.add(q);
      }
      for (const q of [...candidates].sort((x, y) => x - y)) {
        const text = this.resolve(raw, q);
        if (text !== previous) {
          const ev = this.pointEvent[q];
          out.push({ event: ev, line: this.data.lineOf(ev), text });
          previous = text;
        }
      }
    });
    return out;
  }
}

// ---------------------------------------------------------------------------------
// The view

class TimelineView {
  constructor(model, el) {
    this.t0 = performance.now();
    this.model = model;
    this.el = el;
    this.root = h("div", "monviz-timeline");
    this.root.tabIndex = 0;
    this.root.dataset.lmSuppressShortcuts = "true";
    el.appendChild(this.root);
    this.data = new TraceData(model.get("_meta"), model.get("_columns"));
    this.root.dataset.decodeMs = this.data.decodeMs.toFixed(1);
    this.step = -1;
    this.v0 = 0;
    this.v1 = Math.max(this.data.n, 1);
    this.playing = false;
    this.build();
    this.listen();
    this.stream();
  }

  // -- the chunks after the first (meta.stream): asked for in order, a few ahead --------
  // A chunk is taken in as it comes (its columns copied into place); what is derived from
  // it follows in slices between frames (work), the status and the picture at most every
  // REFRESH_MS, and at once when the last chunk is done.
  stream() {
    const d = this.data;
    const plan = d.plan;
    this.root.dataset.loaded = String(d.loaded);
    if (d.complete && d.values) {
      this.root.dataset.complete = "1";
      return;
    }
    this.loadingEl = h("span", "monviz-tl-loading");
    this.root.querySelector(".monviz-tl-head").appendChild(this.loadingEl);
    let asked = 1;
    const ask = () => {
      while (asked < plan.chunks && asked - Math.ceil(d.queued / plan.size) < 2) {
        this.model.send({ type: "chunk", index: asked++, deflate: CAN_INFLATE });
      }
    };
    this.ask = ask;
    // chunks by index, until their turn to be taken in (an inflation may end out of order)
    this.early = new Map();
    this.nextChunk = 1;
    const arrived = (msg, buffers) => {
      if (this.failed || this.disposed) return;
      try {
        if (msg.type === "values") this.valuesReader = new ListReader(buffers[0]);
        else this.early.set(msg.index, [msg, buffers]);
      } catch (err) {
        this.fail(err);
        return;
      }
      this.schedule();
    };
    this.onCustom = (msg, buffers) => {
      if (!msg || (msg.type !== "values" && msg.type !== "chunk") || this.failed) return;
      if (!msg.deflate) {
        arrived(msg, buffers);
        return;
      }
      if (!this.inflater) this.inflater = new Inflater();
      this.inflater.inflate(buffers).then((out) => arrived(msg, out), (err) => this.fail(err));
    };
    this.model.on("msg:custom", this.onCustom);
    if (!d.values) this.model.send({ type: "values", deflate: CAN_INFLATE });
    ask();
    this.loaded();
  }

  fail(err) {
    this.failed = true;
    this.loadingEl.textContent = `monviz: loading failed: ${err}`;
    console.error(err);
  }

  // The next slice of work: in the idle time after a frame where the browser has it
  // (so a step's frame never waits for it), else in a task of its own.
  schedule() {
    if (this.sliceTimer != null || this.disposed || this.failed) return;
    if (typeof requestIdleCallback === "function") {
      this.sliceTimer = requestIdleCallback((deadline) => {
        this.sliceTimer = null;
        this.slice(() => deadline.timeRemaining() > 1);
      }, { timeout: 100 });
    } else {
      this.sliceTimer = setTimeout(() => {
        this.sliceTimer = null;
        const t = performance.now();
        this.slice(() => performance.now() - t < SLICE_MS);
      }, 0);
    }
  }

  unschedule() {
    if (this.sliceTimer == null) return;
    if (typeof cancelIdleCallback === "function" && typeof requestIdleCallback === "function") {
      cancelIdleCallback(this.sliceTimer);
    } else clearTimeout(this.sliceTimer);
    this.sliceTimer = null;
  }

  // Some work (at least a unit, more while more(), at most SLICE_MS): events to derive
  // first, then the next chunk's columns to take in, then the value strings.
  slice(more) {
    const d = this.data;
    const t = performance.now();
    try {
      do {
        if (d.backlog > 0) d.work(SLICE_EVENTS);
        else if (this.early.has(this.nextChunk)) { // the next chunk: its columns into place
          const [head, bufs] = this.early.get(this.nextChunk);
          this.early.delete(this.nextChunk++);
          const cols = {};
          head.names.forEach((name, j) => { cols[name] = bufs[j]; });
          d.enqueue(head, cols);
          this.ask();
        } else if (this.valuesReader) {
          if (!this.valuesReader.step(SLICE_BYTES)) {
            d.values = this.valuesReader.items;
            this.valuesReader = null;
          }
        } else break;
      } while (more() && performance.now() - t < SLICE_MS);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.root.dataset.loaded = String(d.loaded);
    if (this.pending != null && this.pending < d.loaded) { // a step that waited for its event
      const i = this.pending;
      this.pending = null;
      this.go(i);
    }
    if (d.backlog > 0 || this.valuesReader || this.early.has(this.nextChunk)) {
      this.schedule();
      this.refreshSoon();
    } else if (d.complete && d.values) {
      this.loaded(); // all here: at once
    } else this.refreshSoon();
  }

  refreshSoon() {
    if (this.refreshTimer != null || this.disposed) return;
    const wait = Math.max(0, (this.refreshedAt || 0) + REFRESH_MS - performance.now());
    this.refreshTimer = setTimeout(() => { // then at the start of an idle period
      if (typeof requestIdleCallback !== "function") this.loaded();
      else requestIdleCallback(() => this.loaded(), { timeout: 200 });
    }, wait);
  }

  // after some work: the status, the picture (if what it shows has changed), the details
  loaded() {
    const d = this.data;
    if (this.disposed) return;
    this.refreshedAt = performance.now();
    clearTimeout(this.refreshTimer); // due later: this is it
    this.refreshTimer = null;
    this.root.dataset.loaded = String(d.loaded);
    const done = d.complete && d.values;
    if (!this.failed) {
      this.loadingEl.textContent = done ? "" :
        `loading events: ${fmt(d.loaded)} of ${fmt(d.n)} (step through those already here)`;
    }
    // the picture shows events below the view's end (whole blocks of them, zoomed out)
    const seen = Math.ceil(this.v1) + BLOCK;
    if (this.drawnLoaded == null || Math.min(d.loaded, seen) !== Math.min(this.drawnLoaded, seen)) {
      this.draw();
    }
    if (this.step >= 0) {
      this.renderDetails(d.details(this.step)); // value strings may have come
      this.drawCursor(); // frames may have closed
    }
    if (done) this.root.dataset.complete = "1";
  }

  // -- DOM -----------------------------------------------------------------------
  build() {
    const d = this.data;
    const m = d.meta;
    const head = h("div", "monviz-tl-head");
    head.appendChild(h("span", "monviz-tl-title", "monviz timeline"));
    const codesRun = d.codesRun;
    let summary = `${fmt(d.n)} events · ${codesRun} code object${codesRun === 1 ? "" : "s"}` +
      ` · Python ${m.python}`;
    if (m.truncated) summary += ` · truncated (${fmt(m.dropped)} more not kept)`;
    head.appendChild(h("span", "monviz-tl-summary", summary));
    if (m.exception) head.appendChild(h("span", "monviz-tl-exc", `raised ${m.exception}`));
    this.root.appendChild(head);
    if (m.cap) { // the cap stopped the recording: say what is missing and how to get it
      const banner = h("div", "monviz-cap");
      banner.setAttribute("role", "status");
      banner.append(h("strong", "monviz-cap-head", m.cap[0]), h("div", "monviz-cap-how", m.cap[1]));
      this.root.appendChild(banner);
    }

    // controls
    const bar = h("div", "monviz-tl-controls");
    const button = (label, title, action, cls) => {
      const b = h("button", `monviz-btn ${cls}`, label);
      b.type = "button";
      b.title = title;
      b.addEventListener("click", () => {
        action();
        this.root.focus({ preventScroll: true });
      });
      bar.appendChild(b);
      return b;
    };
    button("|◀", "first event (Home)", () => this.go(0), "monviz-first");
    button("◀", "previous event (←; Shift+← jumps 10)", () => this.go(this.step - 1), "monviz-back");
    button("▶", "next event (→; Shift+→ jumps 10)", () => this.go(this.step + 1), "monviz-forward");
    button("▶|", "last event (End)", () => this.go(d.n - 1), "monviz-last");
    bar.appendChild(h("span", "monviz-sep"));
    button("◀ prev", "previous event of the chosen kind", () => this.seek(-1), "monviz-prev-kind");
    this.kindSelect = h("select", "monviz-kind-select");
    this.kindSelect.title = "event kind for prev/next";
    d.kinds.forEach((k, idx) => {
      if (!d.counts[idx]) return;
      const o = h("option", null, k.name);
      o.value = k.name;
      this.kindSelect.appendChild(o);
    });
    this.kindSelect.value = this.model.get("seek_kind");
    this.kindSelect.addEventListener("change", () => {
      this.model.set("seek_kind", this.kindSelect.value);
      this.model.save_changes();
    });
    bar.appendChild(this.kindSelect);
    button("next ▶", "next event of the chosen kind", () => this.seek(+1), "monviz-next-kind");
    bar.appendChild(h("span", "monviz-sep"));
    this.playButton = button("▶ play", "play / pause", () => this.togglePlay(), "monviz-play");
    this.speedSelect = h("select", "monviz-speed");
    this.speedSelect.title = "play speed (events per second)";
    for (const s of this.model.get("_speeds")) {
      const o = h("option", null, `${fmt(s)}/s`);
      o.value = String(s);
      this.speedSelect.appendChild(o);
    }
    this.speedSelect.value = String(this.model.get("speed"));
    this.speedSelect.addEventListener("change", () => {
      this.model.set("speed", Number(this.speedSelect.value));
      this.model.save_changes();
    });
    bar.appendChild(this.speedSelect);
    bar.appendChild(h("span", "monviz-sep"));
    this.stepInput = h("input", "monviz-step-input");
    this.stepInput.type = "number";
    this.stepInput.min = "0";
    this.stepInput.max = String(Math.max(d.n - 1, 0));
    this.stepInput.title = "event index";
    this.stepInput.addEventListener("change", () => this.go(Number(this.stepInput.value)));
    this.stepInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.go(Number(this.stepInput.value));
      }
    });
    bar.appendChild(this.stepInput);
    bar.appendChild(h("span", "monviz-of", `of ${fmt(Math.max(d.n - 1, 0))}`));
    const zoom = h("span", "monviz-zoom");
    for (const [label, title, f] of [
      ["−", "zoom out", () => this.zoom(2, null)],
      ["+", "zoom in (or wheel over the timeline)", () => this.zoom(0.5, null)],
      ["fit", "show the whole trace", () => this.setView(0, d.n)],
    ]) {
      const b = h("button", "monviz-btn monviz-zoom-btn", label);
      b.type = "button";
      b.title = title;
      b.addEventListener("click", f);
      zoom.appendChild(b);
    }
    bar.appendChild(zoom);
    this.root.appendChild(bar);

    this.scrubber = h("input", "monviz-scrubber");
    this.scrubber.type = "range";
    this.scrubber.min = "0";
    this.scrubber.max = String(Math.max(d.n - 1, 0));
    this.scrubber.addEventListener("input", () => this.go(Number(this.scrubber.value)));
    this.root.appendChild(this.scrubber);

    // canvases
    this.plot = h("div", "monviz-tl-plot");
    this.base = h("canvas", "monviz-tl-canvas");
    this.overlay = h("canvas", "monviz-tl-overlay");
    this.plot.append(this.base, this.overlay);
    this.root.appendChild(this.plot);
    this.hover = h("div", "monviz-tl-hover", "\u00a0");
    this.root.appendChild(this.hover);

    // legend: one item per kind present, with its count (catalogue meaning as tooltip)
    this.legend = h("div", "monviz-tl-legend");
    d.kinds.forEach((k, idx) => {
      if (!d.counts[idx]) return;
      const item = h("button", "monviz-legend-item");
      item.type = "button";
      item.dataset.kind = k.name;
      item.title = `${k.name}: ${k.meaning}\n(click: prev/next moves to this kind)`;
      const sw = h("span", "monviz-swatch");
      sw.style.background = k.colour;
      item.append(sw, h("span", "monviz-legend-name", k.name),
        h("span", "monviz-legend-count", fmt(d.counts[idx])));
      item.addEventListener("click", () => {
        this.kindSelect.value = k.name;
        this.model.set("seek_kind", k.name);
        this.model.save_changes();
      });
      this.legend.appendChild(item);
    });
    this.root.appendChild(this.legend);

    // panels: details | stack, source
    const panels = h("div", "monviz-tl-panels");
    const left = h("div", "monviz-tl-left");
    const det = h("div", "monviz-panel monviz-details");
    det.appendChild(h("div", "monviz-panel-title", "Current event"));
    this.detailRows = {};
    const table = h("table", "monviz-details-table");
    for (const [key, label] of [
      ["step", "step"], ["event", "event"], ["code", "code"], ["line", "line"],
      ["offset", "offset"], ["target", "target"], ["callable", "callable"], ["arg0", "arg0"],
      ["value", "value"], ["exception", "exception"], ["time", "time"], ["depth", "depth"],
      ["thread", "thread"],
    ]) {
      const tr = h("tr", "monviz-detail-row");
      tr.dataset.row = key;
      const td = h("td", "monviz-detail");
      td.dataset.field = key;
      tr.append(h("th", null, label), td);
      table.appendChild(tr);
      this.detailRows[key] = { tr, td };
    }
    det.appendChild(table);
    this.meaning = h("div", "monviz-meaning");
    det.appendChild(this.meaning);
    const stack = h("div", "monviz-panel monviz-stack");
    stack.appendChild(h("div", "monviz-panel-title", "Call stack (innermost first)"));
    this.stackList = h("ol", "monviz-stack-list");
    stack.appendChild(this.stackList);
    if (d.fv) {
      const vars = h("div", "monviz-panel monviz-values");
      vars.appendChild(h("div", "monviz-panel-title",
        "Variables (innermost frame first; click a name for its history)"));
      this.valuesBody = h("div", "monviz-values-body");
      this.historyBox = h("div", "monviz-history");
      this.historyBox.hidden = true;
      vars.append(this.valuesBody, this.historyBox);
      left.append(vars);
    }
    left.append(det, stack);
    const src = h("div", "monviz-panel monviz-source");
    this.sourceTitle = h("div", "monviz-panel-title", "Source");
    this.sourceBody = h("div", "monviz-source-body");
    src.append(this.sourceTitle, this.sourceBody);
    panels.append(left, src);
    this.root.appendChild(panels);
    this.sourceFile = -2;
  }

  // -- events ----------------------------------------------------------------------
  listen() {
    this.root.addEventListener("keydown", (e) => this.onKey(e));
    const m = this.model;
    this.onStep = () => {
      const s = m.get("step");
      if (s !== this.step) this.go(s, { fromModel: true });
    };
    this.onSeekKind = () => {
      this.kindSelect.value = m.get("seek_kind");
    };
    this.onPlaying = () => {
      if (m.get("playing") !== this.playing) this.togglePlay(true);
    };
    this.onSpeed = () => {
      this.speedSelect.value = String(m.get("speed"));
    };
    m.on("change:step", this.onStep);
    m.on("change:seek_kind", this.onSeekKind);
    m.on("change:playing", this.onPlaying);
    m.on("change:speed", this.onSpeed);
    // pointer: wheel zooms, drag pans, click jumps
    this.overlay.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoom(Math.pow(1.0015, e.deltaY), e.offsetX);
    }, { passive: false });
    let drag = null;
    this.overlay.addEventListener("pointerdown", (e) => {
      drag = { x: e.offsetX, v0: this.v0, v1: this.v1, moved: false };
      this.overlay.setPointerCapture(e.pointerId);
    });
    this.overlay.addEventListener("pointermove", (e) => {
      this.showHover(e.offsetX, e.offsetY);
      if (!drag) return;
      const dx = e.offsetX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (drag.moved) {
        const per = (drag.v1 - drag.v0) / this.plotWidth();
        this.setView(drag.v0 - dx * per, drag.v1 - dx * per);
      }
    });
    this.overlay.addEventListener("pointerup", (e) => {
      if (drag && !drag.moved) {
        const i = this.eventAtX(e.offsetX);
        const s = this.spanAtXY(e.offsetX, e.offsetY);
        this.go(s >= 0 && this.data.spanStart[s] !== i && e.altKey ? this.data.spanStart[s] : i);
      }
      drag = null;
      this.root.focus({ preventScroll: true });
    });
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(this.plot);
  }

  dispose() {
    const m = this.model;
    m.off("change:step", this.onStep);
    m.off("change:seek_kind", this.onSeekKind);
    m.off("change:playing", this.onPlaying);
    m.off("change:speed", this.onSpeed);
    if (this.onCustom) m.off("msg:custom", this.onCustom);
    this.disposed = true;
    this.unschedule();
    clearTimeout(this.refreshTimer);
    if (this.inflater) this.inflater.stop();
    this.resizer.disconnect();
    this.stopTimer();
  }

  onKey(e) {
    if (e.target !== this.root && e.target.tagName === "INPUT" && e.target.type === "number") {
      return; // typing an index
    }
    const by = e.shiftKey ? 10 : 1;
    let handled = true;
    switch (e.key) {
      case "ArrowRight": this.go(this.step + by); break;
      case "ArrowLeft": this.go(this.step - by); break;
      case "Home": this.go(0); break;
      case "End": this.go(this.data.n - 1); break;
      case " ": this.togglePlay(); break;
      default: handled = false;
    }
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  // -- stepping ------------------------------------------------------------------
  go(i, opts = {}) {
    const n = this.data.n;
    if (!n) return;
    i = Math.max(0, Math.min(n - 1, Math.round(i)));
    if (Number.isNaN(i)) return;
    if (i >= this.data.loaded) { // not here yet: go there once its chunk has come
      this.pending = i;
      i = this.data.loaded - 1;
      this.flash(`event ${fmt(this.pending)} is still loading; showing ${fmt(i)}`);
    } else this.pending = null;
    const t = performance.now();
    this.step = i;
    this.renderStep();
    const cursor = this.data.cursor(i);
    this.root.dataset.step = String(i);
    this.lastStepMs = performance.now() - t;
    this.root.dataset.lastStepMs = this.lastStepMs.toFixed(2);
    if (!opts.fromModel || this.model.get("step") !== i) this.model.set("step", i);
    this.model.set("cursor", cursor);
    if (!opts.quiet) this.model.save_changes();
  }

  seek(direction) {
    const d = this.data;
    const name = this.kindSelect.value;
    const k = d.kinds.findIndex((x) => x.name === name);
    if (k < 0) return;
    const kind = d.kind;
    if (direction > 0) {
      for (let i = this.step + 1; i < d.loaded; i++) if (kind[i] === k) return this.go(i);
    } else {
      for (let i = this.step - 1; i >= 0; i--) if (kind[i] === k) return this.go(i);
    }
    this.flash(direction > 0 && !d.complete ? `no later ${name} loaded yet`
      : `no ${direction > 0 ? "later" : "earlier"} ${name}`);
  }

  flash(text) {
    this.hover.textContent = text;
    this.hover.classList.add("monviz-flash");
    setTimeout(() => this.hover.classList.remove("monviz-flash"), 900);
  }

  togglePlay(fromModel = false) {
    this.playing = !this.playing;
    this.playButton.textContent = this.playing ? "⏸ pause" : "▶ play";
    this.playButton.classList.toggle("monviz-active", this.playing);
    if (!fromModel) {
      this.model.set("playing", this.playing);
      this.model.save_changes();
    }
    if (this.playing) {
      if (this.step >= this.data.n - 1) this.go(0);
      let last = performance.now();
      let carry = 0;
      let lastSave = 0;
      const tick = (now) => {
        if (!this.playing) return;
        carry += ((now - last) / 1000) * Number(this.model.get("speed"));
        last = now;
        const by = Math.floor(carry);
        if (by > 0) {
          carry -= by;
          const save = now - lastSave > 150;
          if (save) lastSave = now;
          this.go(this.step + by, { quiet: !save });
          if (this.step >= this.data.n - 1) {
            this.model.save_changes();
            this.togglePlay();
            return;
          }
        }
        this.timer = requestAnimationFrame(tick);
      };
      this.timer = requestAnimationFrame(tick);
    } else {
      this.stopTimer();
      this.model.save_changes();
    }
  }

  stopTimer() {
    if (this.timer) cancelAnimationFrame(this.timer);
    this.timer = null;
  }

  renderStep() {
    const i = this.step;
    const d = this.data;
    const det = d.details(i);
    this.scrubber.value = String(i);
    this.stepInput.value = String(i);
    // keep the step in view
    if (i < this.v0 || i >= this.v1) {
      const w = this.v1 - this.v0;
      this.setView(i - w / 2, i + w / 2);
    }
    this.renderDetails(det);
    this.renderStack(i);
    this.renderValues(i);
    this.renderSource(det);
    this.drawCursor();
  }

  renderDetails(det) {
    const rows = this.detailRows;
    const set = (key, value) => {
      const empty = value === null || value === undefined || value === "";
      rows[key].td.textContent = empty ? "—" : String(value);
      rows[key].tr.classList.toggle("monviz-empty", empty);
    };
    set("step", `${fmt(det.step)}`);
    rows.event.td.textContent = "";
    const sw = h("span", "monviz-swatch");
    sw.style.background = det.colour || "#999";
    rows.event.td.append(sw, h("span", "monviz-detail-kind", det.event));
    set("code", det.code);
    rows.code.td.title = det.file;
    set("line", det.line);
    set("offset", det.offset);
    set("target", det.target);
    set("callable", det.callable);
    set("arg0", det.arg0);
    set("value", det.value);
    set("exception", det.exception);
    set("time", det.time === null ? null : `${(det.time / 1e6).toFixed(3)} ms`);
    set("depth", det.depth);
    set("thread", det.thread);
    rows.thread.tr.hidden = this.data.meta.threads.length < 2;
    this.meaning.textContent = det.meaning || "";
    if (this.legendCurrent) this.legendCurrent.classList.remove("monviz-legend-current");
    this.legendCurrent = this.legend.querySelector(`[data-kind="${CSS.escape(det.event)}"]`);
    if (this.legendCurrent) this.legendCurrent.classList.add("monviz-legend-current");
  }

  renderStack(i) {
    const d = this.data;
    const frames = d.stack(i);
    this.stackList.textContent = "";
    const shown = frames.slice(-40).reverse();
    for (const f of shown) {
      const code = d.codes[f.code];
      const li = h("li", "monviz-frame");
      const sw = h("span", "monviz-swatch");
      sw.style.background = this.codeColour(f.code);
      li.append(sw, h("span", "monviz-frame-name", code ? code.qualname : "<unknown>"),
        h("span", "monviz-frame-line", f.line == null ? "" : `line ${f.line}`));
      li.title = `${code ? code.filename : ""} — click: go to this frame's first event`;
      li.addEventListener("click", () => this.go(f.start));
      this.stackList.appendChild(li);
    }
    if (frames.length > shown.length) {
      this.stackList.appendChild(h("li", "monviz-frame-more",
        `… ${frames.length - shown.length} outer frames`));
    }
  }

  renderValues(i) {
    const fv = this.data.fv;
    if (!fv || this.valuesAt === i) return; // unchanged: keep the rows (a click may be on one)
    this.valuesAt = i;
    const frames = fv.framesAt(i);
    const body = this.valuesBody;
    body.textContent = "";
    if (!frames.length) {
      body.appendChild(h("div", "monviz-values-empty", "no variables read yet at this step"));
      return;
    }
    const shown = frames.slice(-MAX_FRAMES_SHOWN).reverse();
    for (const fr of shown) {
      const code = this.data.codes[fr.code];
      const box = h("div", "monviz-vframe");
      const head = h("div", "monviz-vframe-head");
      const sw = h("span", "monviz-swatch");
      sw.style.background = this.codeColour(fr.code);
      head.append(sw, h("span", "monviz-frame-name", code ? code.qualname : "<unknown>"),
        h("span", "monviz-frame-line", fr.line == null ? "" : `line ${fr.line}`));
      box.appendChild(head);
      const table = h("table", "monviz-vars");
      for (const v of fr.vars) {
        const tr = h("tr", v.changed ? "monviz-var monviz-changed" : "monviz-var");
        tr.dataset.name = v.name;
        const name = h("th", "monviz-var-name", v.name);
        name.title = `history of ${v.name} in this call`;
        name.addEventListener("click", () => this.showHistory(fr.frame, v.name, code));
        const value = h("td", "monviz-var-value");
        if (v.tag != null) {
          const badge = h("span", "monviz-obj", `#${v.tag}`);
          badge.title = "an object: names with the same # are bound to the same object";
          badge.style.background = this.codeColour(v.tag + 3);
          value.appendChild(badge);
        }
        value.appendChild(h("span", "monviz-var-text", v.text));
        tr.append(name, value);
        table.appendChild(tr);
      }
      if (!fr.vars.length) box.appendChild(h("div", "monviz-values-empty", "no locals"));
      box.appendChild(table);
      body.appendChild(box);
    }
    if (frames.length > shown.length) {
      body.appendChild(h("div", "monviz-frame-more", `… ${frames.length - shown.length} outer frames`));
    }
  }

  showHistory(frame, name, code) {
    const box = this.historyBox;
    box.textContent = "";
    box.hidden = false;
    const changes = this.data.fv.history(frame, name);
    const title = h("div", "monviz-history-title",
      `${name} in ${code ? code.qualname : "?"}: ${changes.length} value${changes.length === 1 ? "" : "s"}`);
    const close = h("button", "monviz-btn monviz-history-close", "×");
    close.type = "button";
    close.title = "close the history";
    close.addEventListener("click", () => { box.hidden = true; });
    title.appendChild(close);
    const list = h("ol", "monviz-history-list");
    for (const c of changes.slice(0, 500)) {
      const li = h("li", "monviz-history-item");
      li.dataset.step = String(c.event);
      li.append(h("span", "monviz-history-step", `step ${fmt(c.event)}`),
        h("span", "monviz-frame-line", c.line == null ? "" : `line ${c.line}`),
        h("span", "monviz-var-text", c.text));
      li.addEventListener("click", () => this.go(c.event));
      list.appendChild(li);
    }
    if (changes.length > 500) list.appendChild(h("li", "monviz-frame-more", `… ${fmt(changes.length - 500)} more`));
    box.append(title, list);
  }

  renderSource(det) {
    const d = this.data;
    const code = d.codes[det.codeIndex];
    const fileIdx = code ? code.file : -1;
    const file = fileIdx >= 0 ? d.meta.files[fileIdx] : null;
    const text = file && file.source;
    if (fileIdx !== this.sourceFile) {
      this.sourceFile = fileIdx;
      this.sourceBody.textContent = "";
      this.lineEls = [];
      this.currentLineEl = null;
      this.sourceTitle.textContent = file ? `Source · ${file.name}` : "Source";
      if (!text) {
        this.sourceBody.appendChild(h("div", "monviz-no-source", "(source not available)"));
      } else {
        const lines = text.split("\n");
        if (lines.length && lines[lines.length - 1] === "") lines.pop();
        this.sourceLines = lines;
        const frag = document.createDocumentFragment();
        lines.forEach((line, idx) => {
          const row = h("div", "monviz-src-line");
          row.dataset.line = String(idx + 1);
          row.append(h("span", "monviz-lineno", String(idx + 1)),
            h("span", "monviz-src-text", line === "" ? " " : line));
          frag.appendChild(row);
          this.lineEls.push(row);
        });
        this.sourceBody.appendChild(frag);
      }
    }
    if (this.currentLineEl) {
      this.currentLineEl.classList.remove("monviz-line-current");
      const t = this.currentLineEl.querySelector(".monviz-src-text");
      const ln = Number(this.currentLineEl.dataset.line);
      t.textContent = this.sourceLines[ln - 1] || " ";
      this.currentLineEl = null;
    }
    const line = det.line;
    if (!text || line == null || line < 1 || line > this.lineEls.length) return;
    const row = this.lineEls[line - 1];
    row.classList.add("monviz-line-current");
    this.currentLineEl = row;
    // columns from co_positions (not for LINE events: they carry no offset)
    const pos = d.positionsOf(det.codeIndex, det.offset);
    const src = this.sourceLines[line - 1];
    if (pos && pos[0] === line) {
      const c0 = pos[2];
      const c1 = pos[1] === line ? pos[3] : src.length;
      if (c1 > c0) {
        const t = row.querySelector(".monviz-src-text");
        t.textContent = "";
        const mark = h("mark", "monviz-cols", src.slice(c0, c1));
        mark.title = `columns ${c0}–${c1} (co_positions)`;
        t.append(document.createTextNode(src.slice(0, c0)), mark,
          document.createTextNode(src.slice(c1)));
      }
    }
    // scroll inside the panel only (never the notebook)
    const body = this.sourceBody;
    const top = row.offsetTop - body.offsetTop;
    if (top < body.scrollTop + 8 || top > body.scrollTop + body.clientHeight - 30) {
      body.scrollTop = Math.max(0, top - body.clientHeight / 3);
    }
  }

  // -- drawing -----------------------------------------------------------------------
  codeColour(cid) {
    const p = this.data.meta.code_colours;
    return cid < 0 ? "#dddddd" : p[cid % p.length];
  }

  layout() {
    const d = this.data;
    const rows = d.maxDepth + 1;
    const rowH = Math.max(3, Math.min(18, Math.floor(230 / rows)));
    this.kindRows = [];
    d.kinds.forEach((k, idx) => {
      if (d.counts[idx]) this.kindRows.push(idx);
    });
    this.kindRowOf = new Int32Array(256).fill(-1);
    this.kindRows.forEach((k, r) => { this.kindRowOf[k] = r; });
    this.axisH = 20;
    this.rowH = rowH;
    this.flameTop = this.axisH;
    this.flameH = rows * rowH;
    this.markTop = this.flameTop + this.flameH + 8;
    this.markH = 14;
    this.height = this.markTop + this.kindRows.length * this.markH + 4;
  }

  plotWidth() {
    return Math.max(50, this.width - GUTTER - 10);
  }

  xOf(i) {
    return GUTTER + ((i - this.v0) / (this.v1 - this.v0)) * this.plotWidth();
  }

  eventAtX(x) {
    const i = this.v0 + ((x - GUTTER) / this.plotWidth()) * (this.v1 - this.v0);
    return Math.max(0, Math.min(this.data.loaded - 1, Math.floor(i)));
  }

  spanAtXY(x, y) {
    const depth = Math.floor((y - this.flameTop) / this.rowH);
    if (y < this.flameTop || depth < 0 || depth > this.data.maxDepth) return -1;
    return this.data.spanAt(depth, this.eventAtX(x));
  }

  showHover(x, y) {
    const d = this.data;
    if (!d.n || x < GUTTER) return;
    const i = this.eventAtX(x);
    const s = this.spanAtXY(x, y);
    let text = `event ${fmt(i)}: ${d.kindName(i)}`;
    if (s >= 0) {
      const code = d.codes[d.spanCode[s]];
      text = `${code ? code.qualname : "<unknown>"} · depth ${d.spanDepth[s]} · events ` +
        `${fmt(d.spanStart[s])}–${fmt(d.spanEnd[s])} (click: go to event ${fmt(i)})`;
    }
    this.hover.textContent = text;
  }

  resize() {
    const w = Math.floor(this.plot.clientWidth);
    if (!w || w === this.width) return;
    this.width = w;
    this.layout();
    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.base, this.overlay]) {
      c.width = Math.floor(w * dpr);
      c.height = Math.floor(this.height * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${this.height}px`;
      c.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    this.plot.style.height = `${this.height}px`;
    this.draw();
    if (this.step < 0 && this.data.n) this.go(Math.min(this.model.get("step"), this.data.n - 1));
    else this.drawCursor();
  }

  setView(v0, v1) {
    const n = Math.max(this.data.n, 1);
    let w = Math.max(Math.min(v1 - v0, n), Math.min(n, 20));
    v0 = Math.max(0, Math.min(v0, n - w));
    this.v0 = v0;
    this.v1 = v0 + w;
    this.draw();
    this.drawCursor();
  }

  zoom(factor, x) {
    const centre = x == null ? (this.step >= 0 ? this.step + 0.5 : (this.v0 + this.v1) / 2)
      : this.v0 + ((x - GUTTER) / this.plotWidth()) * (this.v1 - this.v0);
    const w = (this.v1 - this.v0) * factor;
    const left = x == null ? 0.5 : (x - GUTTER) / this.plotWidth();
    this.setView(centre - w * left, centre - w * left + w);
  }

  font(size, bold) {
    const family = getComputedStyle(this.root).fontFamily || "sans-serif";
    return `${bold ? "600 " : ""}${size}px ${family}`;
  }

  draw() {
    if (!this.width) return;
    const t = performance.now();
    const d = this.data;
    const ctx = this.base.getContext("2d");
    const W = this.width;
    const pw = this.plotWidth();
    ctx.clearRect(0, 0, W, this.height);
    ctx.textBaseline = "middle";
    const span = this.v1 - this.v0;
    const scale = pw / span; // px per event
    // axis
    ctx.fillStyle = "#555";
    ctx.font = this.font(11);
    ctx.fillText("event →", 6, 10);
    const rough = span / 8;
    const mag = Math.pow(10, Math.floor(Math.log10(Math.max(rough, 1))));
    const stepTick = [1, 2, 5, 10].map((x) => x * mag).find((x) => x >= rough) || mag * 10;
    ctx.strokeStyle = "#ddd";
    ctx.lineWidth = 1;
    for (let v = Math.ceil(this.v0 / stepTick) * stepTick; v <= this.v1; v += stepTick) {
      const x = Math.round(this.xOf(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, this.axisH - 5);
      ctx.lineTo(x, this.height);
      ctx.stroke();
      const label = fmt(v);
      if (x + 3 + ctx.measureText(label).width <= W) {
        ctx.fillStyle = "#666";
        ctx.fillText(label, x + 3, 10);
      }
    }
    // row labels
    ctx.fillStyle = "#666";
    ctx.font = this.font(11);
    const labelEvery = Math.max(1, Math.ceil(14 / this.rowH));
    for (let dep = 0; dep <= d.maxDepth; dep += labelEvery) {
      ctx.fillText(dep === 0 ? "depth 0" : String(dep), 6,
        this.flameTop + dep * this.rowH + this.rowH / 2);
    }
    // flame spans; spans narrower than a pixel are merged into runs of pixels (the
    // first span in a pixel gives it its colour), so a row costs at most ~width rects
    const lo = Math.floor(this.v0);
    const hi = Math.ceil(this.v1);
    const rowH = this.rowH;
    const right = Math.min(GUTTER + pw, this.xOf(d.loaded));
    if (d.loaded < this.v1) { // not loaded yet: a grey band
      ctx.fillStyle = "#eef0f3";
      ctx.fillRect(Math.max(GUTTER, right), this.axisH, GUTTER + pw - Math.max(GUTTER, right),
        this.height - this.axisH);
    }
    let fill = "";
    const setFill = (c) => {
      if (c !== fill) {
        ctx.fillStyle = c;
        fill = c;
      }
    };
    const labels = [];
    for (let dep = 0; dep <= d.maxDepth; dep++) {
      const ids = d.byDepth[dep];
      const y = this.flameTop + dep * rowH;
      let runX0 = 0;
      let runX1 = 0;
      let runColour = "";
      const flush = () => {
        if (runX1 > runX0) {
          setFill(runColour);
          ctx.fillRect(runX0, y, runX1 - runX0, rowH - 1);
        }
        runX0 = runX1 = 0;
      };
      for (let k = d.firstSpanFrom(dep, lo); k < ids.length; k++) {
        const s = ids[k];
        const st = d.spanStart[s];
        if (st >= hi) break;
        let x0 = GUTTER + (st - this.v0) * scale;
        let x1 = GUTTER + (d.spanEnd[s] + 1 - this.v0) * scale;
        if (x0 < GUTTER) x0 = GUTTER;
        if (x1 > right) x1 = right;
        const colour = this.codeColour(d.spanCode[s]);
        if (x1 - x0 < 1) {
          const px = Math.floor(x0);
          if (px >= runX1) {
            if (colour === runColour && px === runX1) runX1 = px + 1;
            else {
              flush();
              runX0 = px;
              runX1 = px + 1;
              runColour = colour;
            }
          }
          // skip the other spans of this pixel: on to the first span reaching the next one
          const skip = d.firstSpanFrom(dep, Math.ceil(this.v0 + (runX1 - GUTTER) / scale)) - 1;
          if (skip > k) k = skip;
          continue;
        }
        flush();
        setFill(colour);
        ctx.fillRect(x0, y, Math.max(1, x1 - x0 - (x1 - x0 >= 4 ? 1 : 0)), rowH - 1);
        runX1 = Math.ceil(x1);
        runX0 = runX1;
        if (x1 - x0 > 40 && rowH >= 11) labels.push([s, x0, x1, y]);
      }
      flush();
    }
    ctx.font = this.font(Math.min(12, rowH - 3));
    ctx.fillStyle = "#1f2a36";
    for (const [s, x0, x1, y] of labels.slice(0, 2000)) {
      const code = d.codes[d.spanCode[s]];
      const name = code ? code.qualname : "?";
      ctx.save();
      ctx.beginPath();
      ctx.rect(x0, y, x1 - x0 - 3, rowH);
      ctx.clip();
      ctx.fillText(name, x0 + 3, y + rowH / 2);
      ctx.restore();
    }
    // event markers: a row per kind; per pixel column when events are denser than pixels
    const rows = this.kindRows;
    ctx.font = this.font(11);
    rows.forEach((k, r) => {
      const y = this.markTop + r * this.markH;
      ctx.fillStyle = d.kinds[k].colour;
      ctx.fillText(d.kinds[k].name, 6, y + this.markH / 2);
    });
    const kind = d.kind;
    if (scale >= 2) {
      const w = Math.max(1, Math.min(scale - 1, 8));
      for (let i = lo; i < hi && i < d.loaded; i++) {
        const r = this.kindRowOf[kind[i]];
        ctx.fillStyle = d.kinds[kind[i]].colour;
        const x = this.xOf(i + 0.5) - w / 2;
        ctx.fillRect(x, this.markTop + r * this.markH + 1, w, this.markH - 2);
      }
    } else {
      const cols = Math.ceil(pw) + 1;
      const nr = rows.length;
      const bins = new Uint32Array(cols * nr);
      const total = new Uint32Array(cols);
      const end = Math.min(hi, d.loaded);
      const rowOf = this.kindRowOf;
      const v0 = this.v0;
      if (scale * BLOCK <= 1) {
        // a block per pixel or less: add up the per-block counts
        const nk = d.nk;
        const blocks = d.blocks;
        for (let b = Math.floor(lo / BLOCK); b * BLOCK < end; b++) {
          const c = ((b * BLOCK + BLOCK / 2 - v0) * scale) | 0;
          if (c < 0 || c >= cols) continue;
          for (let k = 0; k < nk; k++) {
            const v = blocks[b * nk + k];
            if (v) {
              bins[rowOf[k] * cols + c] += v;
              total[c] += v;
            }
          }
        }
      } else {
        for (let i = lo; i < end; i++) {
          const c = ((i - v0) * scale) | 0;
          if (c >= 0 && c < cols) {
            bins[rowOf[kind[i]] * cols + c]++;
            total[c]++;
          }
        }
      }
      // opacity by the kind's share of the pixel's events, relative to its largest share
      // in the row (8 levels; a run of pixels at one level is one rect): an even spread
      // reads as an even strip, a rare kind as faint marks
      const LEVELS = 8;
      const levels = new Uint8Array(cols);
      for (let r = 0; r < nr; r++) {
        let most = 0;
        for (let c = 0; c < cols; c++) {
          const v = bins[r * cols + c];
          if (v && v / total[c] > most) most = v / total[c];
        }
        for (let c = 0; c < cols; c++) {
          const v = bins[r * cols + c];
          levels[c] = v ? Math.max(1, Math.ceil((LEVELS * v) / total[c] / most - 1e-9)) : 0;
        }
        ctx.fillStyle = d.kinds[rows[r]].colour;
        const y = this.markTop + r * this.markH + 1;
        for (let L = 1; L <= LEVELS; L++) {
          ctx.globalAlpha = 0.2 + (0.8 * L) / LEVELS;
          ctx.beginPath();
          let run = -1;
          for (let c = 0; c <= cols; c++) {
            const on = c < cols && levels[c] === L;
            if (on && run < 0) run = c;
            else if (!on && run >= 0) {
              ctx.rect(GUTTER + run, y, c - run, this.markH - 2);
              run = -1;
            }
          }
          ctx.fill();
        }
      }
      ctx.globalAlpha = 1;
    }
    this.drawnLoaded = d.loaded;
    this.lastDrawMs = performance.now() - t;
    this.root.dataset.drawMs = this.lastDrawMs.toFixed(1);
    if (!this.root.dataset.firstDrawMs) {
      this.root.dataset.firstDrawMs = (performance.now() - this.t0).toFixed(1);
      this.root.dataset.drawn = "1";
    }
  }

  drawCursor() {
    if (!this.width) return;
    const ctx = this.overlay.getContext("2d");
    ctx.clearRect(0, 0, this.width, this.height);
    const i = this.step;
    if (i < 0 || i < this.v0 - 1 || i > this.v1) return;
    const d = this.data;
    // outline the frames of the current stack
    ctx.strokeStyle = "#1f2a36";
    ctx.lineWidth = 1.5;
    for (let dep = 0; dep <= d.depth[i]; dep++) {
      const s = d.spanAt(dep, i);
      if (s < 0) continue;
      const x0 = Math.max(GUTTER, this.xOf(d.spanStart[s]));
      const x1 = Math.min(GUTTER + this.plotWidth(), this.xOf(d.spanEnd[s] + 1));
      ctx.strokeRect(x0 + 0.75, this.flameTop + dep * this.rowH + 0.75,
        Math.max(1, x1 - x0 - 1.5), this.rowH - 2.5);
    }
    const scale = this.plotWidth() / (this.v1 - this.v0);
    const x = this.xOf(i + 0.5);
    const w = Math.max(2, Math.min(scale, 10));
    ctx.fillStyle = "rgba(233, 30, 99, 0.18)";
    ctx.fillRect(x - w / 2, this.axisH, w, this.height - this.axisH);
    ctx.strokeStyle = "#e91e63";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, this.axisH - 2);
    ctx.lineTo(x, this.height);
    ctx.stroke();
    ctx.fillStyle = "#e91e63";
    ctx.beginPath();
    ctx.moveTo(x - 6, this.axisH - 8);
    ctx.lineTo(x + 6, this.axisH - 8);
    ctx.lineTo(x, this.axisH);
    ctx.closePath();
    ctx.fill();
  }
}

function render({ model, el }) {
  let view;
  try {
    view = new TimelineView(model, el);
  } catch (err) {
    const box = h("pre", "monviz-error", `monviz Timeline failed: ${err && err.stack || err}`);
    el.appendChild(box);
    console.error(err);
    return;
  }
  return () => view.dispose();
}

export default { render };
export { Inflater, ListReader, TraceData };
