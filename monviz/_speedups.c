/* monviz._speedups: the compiled recording backend.
 *
 * sys.monitoring calls one Callback object per event kind (vectorcall, so no
 * argument tuple is built). Each call appends one row to narrow integer
 * columns that are already the Trace's storage format (see monviz/_stream.py):
 *
 *   dense, one entry per kept event:  kind (u8), a (offset or line), depth
 *   runs (a new entry when it changes): code_start/code_id, thread_start/thread_idx
 *   rank-ordered tables (the n-th entry belongs to the n-th event of a kind
 *   that has one): jump_dest, time_ns, value_ids, call_func, call_arg0
 *
 * A column starts one byte wide and is widened (copied once) the first time a
 * value does not fit, so each is as narrow as its values allow. Room for
 * `cap` rows is reserved up front, untouched (virtual memory): pages are
 * faulted in as rows are written and the buffer never moves or doubles. When a
 * recording's columns are freed their memory goes to a small pool, so the next
 * recording writes to pages that are already mapped.
 *
 * Objects (values, callables, exception texts) go to a side table, interned by
 * identity while recording and by value (for immutable atoms) at the end;
 * Python turns the distinct ones into display strings. Code objects are
 * interned by identity with strong references, so an index is never reused.
 *
 * This file holds no event numbers: Python passes, per event kind, its
 * "shape" (what the callback's arguments mean, numbered as in _stream.py) and
 * whether rows of that kind are kept. It uses only the stable ABI of 3.12.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <time.h>
#endif

/* Shapes, as numbered in monviz/_stream.py. */
enum { S_LINE, S_START, S_EXIT, S_UNWIND, S_THROW, S_EXC, S_CALLISH, S_JUMPISH, S_VALUED,
       S_BARE, N_SHAPES };

/* What a side-table entry is, for the text Python makes of it. */
enum { F_VALUE = 0, F_CALLABLE = 1, F_TEXT = 2, F_EXC = 3 };

#define N_KINDS 256

/* PyVectorcall_NARGS is a function call in the stable ABI; this is its documented
 * definition. */
#define NARGS(nargsf) ((Py_ssize_t)((nargsf) & ~PY_VECTORCALL_ARGUMENTS_OFFSET))

/* ------------------------------------------------------------------------ */
/* Clock: the one time.perf_counter_ns() reads (CLOCK_MONOTONIC on POSIX). */

static int64_t
now_ns(void)
{
#ifdef _WIN32
    static LARGE_INTEGER freq;
    LARGE_INTEGER t;
    if (freq.QuadPart == 0) {
        QueryPerformanceFrequency(&freq);
    }
    QueryPerformanceCounter(&t);
    return (int64_t)((double)t.QuadPart * 1e9 / (double)freq.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
#endif
}

/* Ticks: what the callbacks store for a frame event's time, turned into ns when the
 * recording ends. On x86-64 Linux, when the kernel itself keeps time with the TSC
 * (its clocksource is "tsc": constant rate, synchronised across CPUs), a tick is
 * one `rdtsc` (~20 ns here, against ~30 for clock_gettime in a VM); elsewhere, or
 * with MONVIZ_TICKS=ns in the environment at import, it is the nanosecond clock
 * itself. The rate is measured between the module's import and the end of each
 * recording. */
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <stdio.h>
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

static int use_tsc;
static uint64_t tsc_base;
static int64_t ns_base;

static void
ticks_init(void)
{
#ifdef HAVE_TSC
    const char *choice = getenv("MONVIZ_TICKS");  /* "ns": always clock_gettime */
    if (choice != NULL && strcmp(choice, "ns") == 0) {
        return;
    }
    char buf[16] = {0};
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f != NULL) {
        use_tsc = fgets(buf, sizeof(buf), f) != NULL && strcmp(buf, "tsc\n") == 0;
        fclose(f);
    }
    if (use_tsc) {
        ns_base = now_ns();
        tsc_base = __rdtsc();
    }
#endif
}

static inline int64_t
ticks(void)
{
#ifdef HAVE_TSC
    if (use_tsc) {
        return (int64_t)__rdtsc();
    }
#endif
    return now_ns();
}

/* ns per tick, measured since the import (1 when ticks are ns). */
static double
ns_per_tick(void)
{
#ifdef HAVE_TSC
    if (use_tsc) {
        int64_t ns = now_ns();
        uint64_t tsc = __rdtsc();
        if (tsc > tsc_base && ns > ns_base) {
            return (double)(ns - ns_base) / (double)(tsc - tsc_base);
        }
    }
#endif
    return 1.0;
}

/* ------------------------------------------------------------------------ */
/* Memory pool: blocks of freed columns, reused by the next recording. */

#define POOL_SLOTS 32
#define POOL_MAX_BYTES ((size_t)256 << 20)

static struct { char *p; size_t n; } pool[POOL_SLOTS];
static int pool_len;
static size_t pool_bytes;

/* A block of `n` bytes: the pooled block that fits best (resized to `n`: a large block
 * is resized by mremap, keeping its pages), else a fresh one. */
static char *
block_get(size_t n, size_t *got)
{
    if (n == 0) {
        n = 1;
    }
    if (pool_len > 0) {
        int best = 0;
        for (int i = 1; i < pool_len; i++) {  /* the smallest that fits, else the largest */
            int fits = pool[i].n >= n, best_fits = pool[best].n >= n;
            if (fits ? (!best_fits || pool[i].n < pool[best].n)
                     : (!best_fits && pool[i].n > pool[best].n)) {
                best = i;
            }
        }
        char *p = pool[best].p;
        size_t have = pool[best].n;
        pool_bytes -= have;
        pool[best] = pool[--pool_len];
        if (have != n) {
            char *q = realloc(p, n);
            if (q == NULL) {
                free(p);
                return NULL;
            }
            p = q;
        }
        *got = n;
        return p;
    }
    *got = n;
    return malloc(n);
}

static void
block_put(char *p, size_t n)
{
    if (p == NULL) {
        return;
    }
    if (pool_len < POOL_SLOTS && pool_bytes + n <= POOL_MAX_BYTES) {
        pool[pool_len].p = p;
        pool[pool_len].n = n;
        pool_len++;
        pool_bytes += n;
        return;
    }
    free(p);
}

static void
pool_clear(void)
{
    while (pool_len > 0) {
        pool_len--;
        free(pool[pool_len].p);
    }
    pool_bytes = 0;
}

/* ------------------------------------------------------------------------ */
/* Col: one growing column while recording. */

typedef struct {
    char *data;
    Py_ssize_t len;     /* rows written */
    Py_ssize_t cap;     /* rows reserved */
    Py_ssize_t limit;   /* rows it may ever need (the recording's cap) */
    size_t bytes;       /* size of the block */
    uint64_t max;       /* the largest value `size` bytes hold */
    int size;           /* bytes per row: 1, 2, 4 or 8 */
} Col;

static const uint64_t WIDTH_MAX[9] = {0, 0xFFu, 0xFFFFu, 0, 0xFFFFFFFFu, 0, 0, 0, UINT64_MAX};

/* Reserve room for `rows` rows of one byte (falls back to less if that fails). */
static int
col_init(Col *c, Py_ssize_t rows)
{
    memset(c, 0, sizeof(*c));
    c->size = 1;
    c->max = WIDTH_MAX[1];
    c->limit = rows;
    for (Py_ssize_t want = rows; ; want /= 8) {
        if (want < 64) {
            want = 64;
        }
        c->data = block_get((size_t)want, &c->bytes);
        if (c->data != NULL) {
            c->cap = (Py_ssize_t)c->bytes;
            return 0;
        }
        if (want == 64) {
            PyErr_NoMemory();
            return -1;
        }
    }
}

static void
col_free(Col *c)
{
    if (c->data != NULL) {
        block_put(c->data, c->bytes);
        c->data = NULL;
    }
}

static inline uint64_t
col_get(const Col *c, Py_ssize_t i)
{
    switch (c->size) {
    case 1: return ((const uint8_t *)c->data)[i];
    case 2: return ((const uint16_t *)c->data)[i];
    case 4: return ((const uint32_t *)c->data)[i];
    default: return ((const uint64_t *)c->data)[i];
    }
}

/* Append `v` (which fits): tests, not a jump table, since one width is almost always
 * the one a column keeps. */
static inline void
col_store(Col *c, uint64_t v)
{
    Py_ssize_t i = c->len++;
    int size = c->size;
    if (size == 1) {
        ((uint8_t *)c->data)[i] = (uint8_t)v;
    }
    else if (size == 2) {
        ((uint16_t *)c->data)[i] = (uint16_t)v;
    }
    else if (size == 4) {
        ((uint32_t *)c->data)[i] = (uint32_t)v;
    }
    else {
        ((uint64_t *)c->data)[i] = v;
    }
}

static inline void
col_set(Col *c, Py_ssize_t i, uint64_t v)
{
    switch (c->size) {
    case 1: ((uint8_t *)c->data)[i] = (uint8_t)v; break;
    case 2: ((uint16_t *)c->data)[i] = (uint16_t)v; break;
    case 4: ((uint32_t *)c->data)[i] = (uint32_t)v; break;
    default: ((uint64_t *)c->data)[i] = v; break;
    }
}

/* Rebuild the column `size` bytes wide with room for `cap` rows (widen or grow). */
static int
col_resize(Col *c, int size, Py_ssize_t cap)
{
    if (size == c->size) {
        char *q = realloc(c->data, (size_t)cap * size);
        if (q == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        c->data = q;
        c->bytes = (size_t)cap * size;
        c->cap = cap;
        return 0;
    }
    Col n = *c;
    n.data = malloc((size_t)cap * size);
    if (n.data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    n.bytes = (size_t)cap * size;
    n.cap = cap;
    n.size = size;
    n.max = WIDTH_MAX[size];
    n.len = 0;
    for (Py_ssize_t i = 0; i < c->len; i++) {
        col_store(&n, col_get(c, i));
    }
    col_free(c);
    *c = n;
    return 0;
}

/* The slow part of col_ensure: widen (same rows reserved, wider) and/or grow (only
 * when the up-front reservation had to be smaller than the cap). */
static int
col_make_room(Col *c, uint64_t v)
{
    int size = c->size;
    while (v > WIDTH_MAX[size]) {
        size *= 2;
    }
    Py_ssize_t cap = c->cap;
    if (c->len >= cap) {
        cap = c->len * 2 + 64;
        if (c->limit > 0 && cap > c->limit) {
            cap = c->limit > c->len ? c->limit : c->len + 1;
        }
    }
    if (col_resize(c, size, cap) == 0) {
        return 0;
    }
    if (cap > c->len * 2 + 64) {  /* no room for the whole reservation: less, and grow later */
        PyErr_Clear();
        return col_resize(c, size, c->len * 2 + 64);
    }
    return -1;
}

/* Make room for one more row holding `v` (a compare or two, almost always). */
static inline int
col_ensure(Col *c, uint64_t v)
{
    if (v <= c->max && c->len < c->cap) {
        return 0;
    }
    return col_make_room(c, v);
}

/* ------------------------------------------------------------------------ */
/* Column: the finished column, a read-only buffer (memoryview(col)). */

typedef struct {
    PyObject_HEAD
    char *data;
    size_t bytes;
    Py_ssize_t shape;     /* rows */
    Py_ssize_t stride;    /* bytes per row */
    Py_ssize_t exports;
} ColumnObject;

static const char *FORMATS[9] = {NULL, "B", "H", NULL, "I", NULL, NULL, NULL, "Q"};

static int
column_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    ColumnObject *col = (ColumnObject *)self;
    if (flags & PyBUF_WRITABLE) {
        PyErr_SetString(PyExc_BufferError, "a monviz column is read-only");
        return -1;
    }
    view->obj = Py_NewRef(self);
    view->buf = col->data;
    view->len = col->shape * col->stride;
    view->readonly = 1;
    view->itemsize = col->stride;
    view->format = (flags & PyBUF_FORMAT) ? (char *)FORMATS[col->stride] : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) ? &col->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) ? &col->stride : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    col->exports++;
    return 0;
}

static void
column_releasebuffer(PyObject *self, Py_buffer *view)
{
    ((ColumnObject *)self)->exports--;
}

static void
column_dealloc(PyObject *self)
{
    ColumnObject *col = (ColumnObject *)self;
    PyTypeObject *tp = Py_TYPE(self);
    block_put(col->data, col->bytes);
    col->data = NULL;
    freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    tp_free(self);
    Py_DECREF(tp);
}

static Py_ssize_t
column_len(PyObject *self)
{
    return ((ColumnObject *)self)->shape;
}

static PyType_Slot column_slots[] = {
    {Py_bf_getbuffer, column_getbuffer},
    {Py_bf_releasebuffer, column_releasebuffer},
    {Py_tp_dealloc, column_dealloc},
    {Py_sq_length, column_len},
    {Py_tp_doc, "A finished monviz column: read it through memoryview(column)."},
    {0, NULL},
};

static PyType_Spec column_spec = {
    .name = "monviz._speedups.Column",
    .basicsize = sizeof(ColumnObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = column_slots,
};

/* ------------------------------------------------------------------------ */
/* PtrTab: open addressing, pointer -> index. */

typedef struct {
    void **keys;
    Py_ssize_t *vals;
    Py_ssize_t size;   /* power of two */
    Py_ssize_t used;
} PtrTab;

static inline size_t
ptr_hash(void *p)
{
    uintptr_t x = (uintptr_t)p >> 4;
    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(x ^ (x >> 29));
}

static int
ptab_init(PtrTab *t, Py_ssize_t size)
{
    t->keys = calloc((size_t)size, sizeof(void *));
    t->vals = malloc((size_t)size * sizeof(Py_ssize_t));
    t->size = size;
    t->used = 0;
    if (t->keys == NULL || t->vals == NULL) {
        free(t->keys);
        free(t->vals);
        t->keys = NULL;
        t->vals = NULL;
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
ptab_free(PtrTab *t)
{
    free(t->keys);
    free(t->vals);
    t->keys = NULL;
    t->vals = NULL;
    t->used = t->size = 0;
}

static inline Py_ssize_t
ptab_get(const PtrTab *t, void *k)
{
    size_t mask = (size_t)t->size - 1;
    for (size_t i = ptr_hash(k) & mask; ; i = (i + 1) & mask) {
        void *key = t->keys[i];
        if (key == k) {
            return t->vals[i];
        }
        if (key == NULL) {
            return -1;
        }
    }
}

static int
ptab_put(PtrTab *t, void *k, Py_ssize_t v)
{
    if ((t->used + 1) * 2 > t->size) {
        PtrTab n;
        if (ptab_init(&n, t->size * 2) < 0) {
            return -1;
        }
        for (Py_ssize_t j = 0; j < t->size; j++) {
            if (t->keys[j] != NULL) {
                size_t mask = (size_t)n.size - 1;
                size_t i = ptr_hash(t->keys[j]) & mask;
                while (n.keys[i] != NULL) {
                    i = (i + 1) & mask;
                }
                n.keys[i] = t->keys[j];
                n.vals[i] = t->vals[j];
            }
        }
        n.used = t->used;
        ptab_free(t);
        *t = n;
    }
    size_t mask = (size_t)t->size - 1;
    size_t i = ptr_hash(k) & mask;
    while (t->keys[i] != NULL) {
        i = (i + 1) & mask;
    }
    t->keys[i] = k;
    t->vals[i] = v;
    t->used++;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Module state. */

typedef struct {
    PyTypeObject *column_type;
    PyTypeObject *recorder_type;
    PyTypeObject *callback_type;
} ModState;

/* ------------------------------------------------------------------------ */
/* Recorder. */

enum { C_KIND, C_A, C_DEPTH, C_CODE_START, C_CODE_ID, C_THREAD_START, C_THREAD_IDX,
       C_JUMP_DEST, C_TIME_NS, C_VALUE_IDS, C_CALL_FUNC, C_CALL_ARG0, N_COLS };

static const char *COL_NAMES[N_COLS] = {
    "kind", "a", "depth", "code_start", "code_id", "thread_start", "thread_idx",
    "jump_dest", "time_ns", "value_ids", "call_func", "call_arg0"};

#define MAX_ATOMS 8

typedef struct {
    PyObject_HEAD
    Col cols[N_COLS];
    int have_cols;
    Py_ssize_t cap;                 /* kept rows at most */
    Py_ssize_t rows;                /* kept rows written */
    Py_ssize_t dropped;             /* kept events past the cap */
    int full;                       /* the cap was reached (or memory ran out) */
    int stopped;                    /* ignore every event from now on */
    uint8_t shape[N_KINDS];
    uint8_t keep[N_KINDS];
    int64_t t0;                     /* ticks() when the recorder was made */
    /* code objects */
    PyObject *codes;                /* list: index -> code (strong references) */
    PtrTab code_tab;
    PyObject *last_code;
    Py_ssize_t last_code_idx;
    Py_ssize_t run_code;            /* code index of the current run, -1 before any */
    /* threads */
    unsigned long cur_thread;
    Py_ssize_t cur_tidx;
    Py_ssize_t run_thread;
    int64_t level;                  /* open frames of the current thread (may go negative) */
    unsigned long *tids;
    int64_t *levels;
    Py_ssize_t n_threads, tids_cap;
    PyObject *threads;              /* list of thread idents, by thread index */
    /* side table */
    PyObject *objects;              /* list */
    Col flags;                      /* F_VALUE / F_CALLABLE / F_TEXT / F_EXC per entry */
    PtrTab value_tab, func_tab;
    PyObject *exc_last, *exc_last_args;
    Py_ssize_t exc_last_idx;
    /* configuration from Python */
    PyTypeObject *atoms[MAX_ATOMS];
    int n_atoms;
    PyObject *snapshot;             /* value -> Snapshot or the value itself */
    PyObject *snap_exception;       /* exception -> Snapshot (for what C cannot do) */
    PyObject *decide;               /* (code, throw) -> bool: in scope (and now watched)? */
    PyObject *on_full;              /* () -> None: switch monitoring off */
    PyObject *disable;              /* sys.monitoring.DISABLE */
    PyObject *missing;              /* sys.monitoring.MISSING */
    Py_ssize_t max_repr;
    void *object_repr;              /* object.__repr__'s slot */
    void *exception_repr;           /* BaseException.__repr__'s slot */
} RecorderObject;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    RecorderObject *rec;
    int kind;
    int shape;
} CallbackObject;

static int
rec_traverse(PyObject *self, visitproc visit, void *arg)
{
    RecorderObject *r = (RecorderObject *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(r->codes);
    Py_VISIT(r->threads);
    Py_VISIT(r->objects);
    Py_VISIT(r->exc_last);
    Py_VISIT(r->exc_last_args);
    Py_VISIT(r->snapshot);
    Py_VISIT(r->snap_exception);
    Py_VISIT(r->decide);
    Py_VISIT(r->on_full);
    Py_VISIT(r->disable);
    Py_VISIT(r->missing);
    return 0;
}

static int
rec_clear(PyObject *self)
{
    RecorderObject *r = (RecorderObject *)self;
    r->stopped = 1;
    r->last_code = NULL;
    Py_CLEAR(r->codes);
    Py_CLEAR(r->threads);
    Py_CLEAR(r->objects);
    Py_CLEAR(r->exc_last);
    Py_CLEAR(r->exc_last_args);
    Py_CLEAR(r->snapshot);
    Py_CLEAR(r->snap_exception);
    Py_CLEAR(r->decide);
    Py_CLEAR(r->on_full);
    Py_CLEAR(r->disable);
    Py_CLEAR(r->missing);
    return 0;
}

static void
rec_free_memory(RecorderObject *r)
{
    if (r->have_cols) {
        for (int i = 0; i < N_COLS; i++) {
            col_free(&r->cols[i]);
        }
        col_free(&r->flags);
        r->have_cols = 0;
    }
    ptab_free(&r->code_tab);
    ptab_free(&r->value_tab);
    ptab_free(&r->func_tab);
    free(r->tids);
    free(r->levels);
    r->tids = NULL;
    r->levels = NULL;
    r->n_threads = r->tids_cap = 0;
}

static void
rec_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    rec_clear(self);
    rec_free_memory((RecorderObject *)self);
    freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    tp_free(self);
    Py_DECREF(tp);
}

/* Recorder(cap, shapes, keep, level0, atoms, snapshot, snap_exception, decide, on_full,
 *          disable, missing, max_repr) */
static PyObject *
rec_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Py_ssize_t cap, max_repr;
    long long level0;
    Py_buffer shapes, keep;
    PyObject *atoms, *snapshot, *snap_exception, *decide, *on_full, *disable, *missing;
    static char *kwlist[] = {"cap", "shapes", "keep", "level0", "atoms", "snapshot",
                             "snap_exception", "decide", "on_full", "disable", "missing",
                             "max_repr", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ny*y*LOOOOOOOn:Recorder", kwlist, &cap,
                                     &shapes, &keep, &level0, &atoms, &snapshot,
                                     &snap_exception, &decide, &on_full, &disable, &missing,
                                     &max_repr)) {
        return NULL;
    }
    RecorderObject *r = NULL;
    if (cap < 1 || shapes.len != keep.len || shapes.len > N_KINDS) {
        PyErr_SetString(PyExc_ValueError, "Recorder: cap >= 1 and one shape and keep flag "
                        "per kind (at most 256 kinds) are needed");
        goto done;
    }
    Py_ssize_t n_atoms = PySequence_Size(atoms);
    if (n_atoms < 0 || n_atoms > MAX_ATOMS) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "Recorder: at most 8 atom types");
        }
        goto done;
    }
    allocfunc tp_alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    r = (RecorderObject *)tp_alloc(type, 0);
    if (r == NULL) {
        goto done;
    }
    r->cap = cap;
    for (Py_ssize_t k = 0; k < shapes.len; k++) {
        uint8_t s = ((uint8_t *)shapes.buf)[k];
        r->shape[k] = s < N_SHAPES ? s : S_BARE;
        r->keep[k] = ((uint8_t *)keep.buf)[k] != 0;
    }
    for (Py_ssize_t i = 0; i < n_atoms; i++) {
        PyObject *t = PySequence_GetItem(atoms, i);
        if (t == NULL) {
            goto fail;
        }
        r->atoms[r->n_atoms++] = (PyTypeObject *)t;  /* types live as long as the process */
        Py_DECREF(t);
    }
    r->snapshot = Py_NewRef(snapshot);
    r->snap_exception = Py_NewRef(snap_exception);
    r->decide = Py_NewRef(decide);
    r->on_full = Py_NewRef(on_full);
    r->disable = Py_NewRef(disable);
    r->missing = Py_NewRef(missing);
    r->max_repr = max_repr;
    r->object_repr = PyType_GetSlot(&PyBaseObject_Type, Py_tp_repr);
    r->exception_repr = PyType_GetSlot((PyTypeObject *)PyExc_BaseException, Py_tp_repr);
    r->codes = PyList_New(0);
    r->threads = PyList_New(0);
    r->objects = PyList_New(0);
    if (!r->codes || !r->threads || !r->objects) {
        goto fail;
    }
    if (ptab_init(&r->code_tab, 64) < 0 || ptab_init(&r->value_tab, 256) < 0
            || ptab_init(&r->func_tab, 64) < 0) {
        goto fail;
    }
    for (int i = 0; i < N_COLS; i++) {
        if (col_init(&r->cols[i], cap + 1) < 0) {  /* +1: the runs' first entry */
            for (int j = 0; j < i; j++) {
                col_free(&r->cols[j]);
            }
            goto fail;
        }
    }
    if (col_init(&r->flags, 1024) < 0) {
        for (int j = 0; j < N_COLS; j++) {
            col_free(&r->cols[j]);
        }
        goto fail;
    }
    r->flags.limit = 0;  /* grows as needed */
    r->have_cols = 1;
    /* the recording thread is thread 0, with `level0` frames already open */
    r->tids_cap = 8;
    r->tids = malloc(sizeof(unsigned long) * r->tids_cap);
    r->levels = malloc(sizeof(int64_t) * r->tids_cap);
    if (!r->tids || !r->levels) {
        PyErr_NoMemory();
        goto fail;
    }
    r->cur_thread = PyThread_get_thread_ident();
    r->tids[0] = r->cur_thread;
    r->levels[0] = level0;
    r->n_threads = 1;
    r->cur_tidx = 0;
    r->level = level0;
    PyObject *ident = PyLong_FromUnsignedLong(r->cur_thread);
    if (ident == NULL || PyList_Append(r->threads, ident) < 0) {
        Py_XDECREF(ident);
        goto fail;
    }
    Py_DECREF(ident);
    col_store(&r->cols[C_THREAD_START], 0);  /* thread runs start with thread 0 */
    col_store(&r->cols[C_THREAD_IDX], 0);
    r->run_thread = 0;
    r->run_code = -1;
    r->t0 = ticks();
    goto done;
fail:
    Py_CLEAR(r);
done:
    PyBuffer_Release(&shapes);
    PyBuffer_Release(&keep);
    return (PyObject *)r;
}

/* -- interning ------------------------------------------------------------ */

static Py_ssize_t
intern_code(RecorderObject *r, PyObject *code)
{
    Py_ssize_t idx = ptab_get(&r->code_tab, code);
    if (idx >= 0) {
        return idx;
    }
    idx = PyList_Size(r->codes);
    if (PyList_Append(r->codes, code) < 0) {
        return -1;
    }
    if (ptab_put(&r->code_tab, code, idx) < 0) {
        return -1;
    }
    return idx;
}

static inline Py_ssize_t
lookup_code(RecorderObject *r, PyObject *code)
{
    if (code == r->last_code) {
        return r->last_code_idx;
    }
    Py_ssize_t idx = ptab_get(&r->code_tab, code);
    if (idx >= 0) {
        r->last_code = code;
        r->last_code_idx = idx;
    }
    return idx;
}

/* Add `obj` to the side table (a new strong reference); its index. */
static Py_ssize_t
add_object(RecorderObject *r, PyObject *obj, int flag)
{
    Py_ssize_t idx = PyList_Size(r->objects);
    if (col_ensure(&r->flags, (uint64_t)flag) < 0 || PyList_Append(r->objects, obj) < 0) {
        return -1;
    }
    col_store(&r->flags, (uint64_t)flag);
    return idx;
}

static Py_ssize_t
intern_by_identity(RecorderObject *r, PtrTab *tab, PyObject *obj, int flag)
{
    Py_ssize_t idx = ptab_get(tab, obj);
    if (idx >= 0) {
        return idx;
    }
    idx = add_object(r, obj, flag);
    if (idx < 0 || ptab_put(tab, obj, idx) < 0) {
        return -1;
    }
    return idx;
}

static PyObject *
call1(PyObject *func, PyObject *arg)
{
    PyObject *args[2] = {NULL, arg};
    return PyObject_Vectorcall(func, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

/* A return value or arg0: an atom or an object whose repr cannot change is kept by
 * reference; anything else is frozen now by values.snapshot(). */
static Py_ssize_t
value_index(RecorderObject *r, PyObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    if (tp == &PyLong_Type) {  /* only small ints are shared objects: others are appended */
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || x < -5 || x > 256) {
            return add_object(r, v, F_VALUE);
        }
        return intern_by_identity(r, &r->value_tab, v, F_VALUE);
    }
    for (int i = 0; i < r->n_atoms; i++) {
        if (tp == r->atoms[i]) {
            return intern_by_identity(r, &r->value_tab, v, F_VALUE);
        }
    }
    if (v == r->missing || PyType_GetSlot(tp, Py_tp_repr) == r->object_repr) {
        return intern_by_identity(r, &r->value_tab, v, F_VALUE);
    }
    PyObject *snap = call1(r->snapshot, v);
    if (snap == NULL) {
        return -1;
    }
    Py_ssize_t idx = intern_by_identity(r, &r->value_tab, snap, F_VALUE);
    Py_DECREF(snap);
    return idx;
}

/* Cut a repr to `max_repr` characters, as values.bounded_repr does. */
static PyObject *
cut_text(PyObject *text, Py_ssize_t max_repr)
{
    if (text == NULL || PyUnicode_GetLength(text) <= max_repr) {
        return text;
    }
    PyObject *head = PyUnicode_Substring(text, 0, max_repr - 3);
    Py_DECREF(text);
    if (head == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_FromFormat("%U...", head);
    Py_DECREF(head);
    return out;
}

/* "<T object; repr failed: E>" for the error being raised (which this clears). */
static PyObject *
repr_failed_type(PyTypeObject *type)
{
    PyObject *err = PyErr_GetRaisedException();
    PyObject *qualname = PyType_GetQualName(type);
    PyObject *errname = err ? PyType_GetName(Py_TYPE(err)) : NULL;
    PyObject *text = NULL;
    if (qualname != NULL && errname != NULL) {
        text = PyUnicode_FromFormat("<%U object; repr failed: %U>", qualname, errname);
    }
    Py_XDECREF(qualname);
    Py_XDECREF(errname);
    Py_XDECREF(err);
    return text;
}

static PyObject *
repr_failed(PyObject *obj)
{
    return repr_failed_type(Py_TYPE(obj));
}

/* Are a tuple's items all atoms whose repr is cheap and cannot fail? */
static int
atoms_only(RecorderObject *r, PyObject *tuple)
{
    Py_ssize_t n = PyTuple_Size(tuple);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GetItem(tuple, i);
        PyTypeObject *tp = Py_TYPE(item);
        if (tp == &PyLong_Type) {  /* a huge int's repr is slow, or refused */
            int overflow;
            PyLong_AsLongLongAndOverflow(item, &overflow);
            if (overflow) {
                return 0;
            }
            continue;
        }
        int atom = 0;
        for (int j = 0; !atom && j < r->n_atoms; j++) {
            atom = tp == r->atoms[j];
        }
        if (!atom) {
            return 0;
        }
    }
    return 1;
}

/* The exception's repr at this moment, described once while the same exception (with
 * the same args) passes through frame after frame (as values.py's snap_exception). */
static Py_ssize_t exception_index_ex(RecorderObject *r, PyObject *exc, int may_call);

static Py_ssize_t
exception_index(RecorderObject *r, PyObject *exc)
{
    return exception_index_ex(r, exc, 1);
}

/* exception_index() with `may_call` 0: -2 (and nothing done) where Python code would
 * run (a repr), since a fast path must not let another thread in. */
static Py_ssize_t
exception_index_ex(RecorderObject *r, PyObject *exc, int may_call)
{
    if (!PyExceptionInstance_Check(exc)) {  /* STOP_ITERATION's value, or odd input */
        if (!may_call) {
            return -2;
        }
        PyObject *snap = call1(r->snap_exception, exc);
        if (snap == NULL) {
            return -1;
        }
        Py_ssize_t idx = add_object(r, snap, F_VALUE);
        Py_DECREF(snap);
        return idx;
    }
    PyObject *args = PyException_GetArgs(exc);
    if (args == NULL) {
        PyErr_Clear();
    }
    if (exc == r->exc_last && args != NULL && args == r->exc_last_args) {
        Py_DECREF(args);
        return r->exc_last_idx;
    }
    Py_ssize_t idx;
    int plain = PyType_GetSlot(Py_TYPE(exc), Py_tp_repr) == r->exception_repr;
    if (plain && args != NULL && PyTuple_Check(args) && atoms_only(r, args)) {
        /* BaseException.__repr__ depends on the type and args only, and atoms cannot
         * change: keep them, write the text when the recording ends (F_EXC). */
        PyObject *entry = PyTuple_Pack(2, (PyObject *)Py_TYPE(exc), args);
        idx = entry == NULL ? -1 : add_object(r, entry, F_EXC);
        Py_XDECREF(entry);
        goto cache;
    }
    if (!may_call) {
        Py_XDECREF(args);
        return -2;
    }
    PyObject *text = PyObject_Repr(exc);
    if (text != NULL && !PyUnicode_CheckExact(text)) {  /* a str subclass: keep no user type */
        PyObject *plain_text = PyUnicode_FromObject(text);
        Py_DECREF(text);
        text = plain_text;
    }
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {  /* KeyboardInterrupt and co. */
            Py_XDECREF(args);
            return -1;
        }
        text = repr_failed(exc);  /* as values.bounded_repr words it (the repr runs once) */
    }
    text = cut_text(text, r->max_repr);
    if (text == NULL) {
        Py_XDECREF(args);
        return -1;
    }
    idx = add_object(r, text, F_TEXT);
    Py_DECREF(text);
cache:
    if (idx >= 0 && args != NULL && plain) {
        Py_XDECREF(r->exc_last);
        Py_XDECREF(r->exc_last_args);
        r->exc_last = Py_NewRef(exc);
        r->exc_last_args = Py_NewRef(args);
        r->exc_last_idx = idx;
    }
    Py_XDECREF(args);
    return idx;
}

/* -- threads --------------------------------------------------------------- */

static int
switch_thread(RecorderObject *r, unsigned long t)
{
    r->levels[r->cur_tidx] = r->level;
    Py_ssize_t i = 0;
    while (i < r->n_threads && r->tids[i] != t) {
        i++;
    }
    if (i == r->n_threads) {
        if (r->n_threads == r->tids_cap) {
            Py_ssize_t n = r->tids_cap * 2;
            unsigned long *tids = realloc(r->tids, sizeof(unsigned long) * n);
            if (tids == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            r->tids = tids;
            int64_t *levels = realloc(r->levels, sizeof(int64_t) * n);
            if (levels == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            r->levels = levels;
            r->tids_cap = n;
        }
        PyObject *ident = PyLong_FromUnsignedLong(t);
        if (ident == NULL || PyList_Append(r->threads, ident) < 0) {
            Py_XDECREF(ident);
            return -1;
        }
        Py_DECREF(ident);
        r->tids[i] = t;
        r->levels[i] = 0;
        r->n_threads++;
    }
    r->cur_thread = t;
    r->cur_tidx = i;
    r->level = r->levels[i];
    return 0;
}

/* -- the cap --------------------------------------------------------------- */

/* Stop recording (cap reached or no memory): Python switches the tool's events off,
 * so the program runs on at full speed. Never raises into the monitored program
 * unless on_full itself is interrupted. */
static int
trip(RecorderObject *r)
{
    if (r->full) {
        return 0;
    }
    r->full = 1;
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *res = PyObject_Vectorcall(r->on_full, NULL, 0, NULL);
    if (res == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            Py_XDECREF(exc);
            return -1;
        }
        PyErr_WriteUnraisable(r->on_full);
    }
    Py_XDECREF(res);
    Py_XDECREF(exc);  /* a MemoryError that caused this is reported by `full` */
    return 0;
}

/* -- one event ------------------------------------------------------------- */

/* Account for a frame event of thread `t`: `*depth` is the event's depth (a push is at
 * the depth of the frame it opens); the thread's open frames change by push - pop. */
static int
follow_frame(RecorderObject *r, unsigned long t, int push, int pop, int64_t *depth)
{
    if (t != r->cur_thread && switch_thread(r, t) < 0) {
        return -1;
    }
    *depth = r->level - 1 + push;
    r->level += push - pop;
    return 0;
}

/* Append a kept row. x: the table entry (dest, time or value index), y: call_arg0. */
static int
write_row(RecorderObject *r, int kind, int shape, Py_ssize_t cidx, uint64_t a, uint64_t depth,
          uint64_t x, uint64_t y)
{
    Col *c = r->cols;
    int new_code = cidx != r->run_code, new_thread = r->cur_tidx != r->run_thread;
    Col *table = NULL;
    switch (shape) {
    case S_JUMPISH: table = &c[C_JUMP_DEST]; break;
    case S_START: table = &c[C_TIME_NS]; break;
    case S_EXIT: case S_UNWIND: table = &c[C_TIME_NS]; break;
    case S_THROW: case S_EXC: case S_VALUED: table = &c[C_VALUE_IDS]; break;
    case S_CALLISH: table = &c[C_CALL_FUNC]; break;
    default: break;
    }
    uint64_t rows = (uint64_t)r->rows;
    if (col_ensure(&c[C_KIND], (uint64_t)kind) < 0 || col_ensure(&c[C_A], a) < 0
            || col_ensure(&c[C_DEPTH], depth) < 0
            || (new_code && (col_ensure(&c[C_CODE_START], rows) < 0
                             || col_ensure(&c[C_CODE_ID], (uint64_t)cidx) < 0))
            || (new_thread && (col_ensure(&c[C_THREAD_START], rows) < 0
                               || col_ensure(&c[C_THREAD_IDX], (uint64_t)r->cur_tidx) < 0))
            || (table && col_ensure(table, x) < 0)
            || ((shape == S_EXIT || shape == S_UNWIND)
                && col_ensure(&c[C_VALUE_IDS], y) < 0)
            || (shape == S_CALLISH && col_ensure(&c[C_CALL_ARG0], y) < 0)) {
        return -1;
    }
    col_store(&c[C_KIND], (uint64_t)kind);
    col_store(&c[C_A], a);
    col_store(&c[C_DEPTH], depth);
    if (new_code) {
        col_store(&c[C_CODE_START], rows);
        col_store(&c[C_CODE_ID], (uint64_t)cidx);
        r->run_code = cidx;
    }
    if (new_thread) {
        col_store(&c[C_THREAD_START], rows);
        col_store(&c[C_THREAD_IDX], (uint64_t)r->cur_tidx);
        r->run_thread = r->cur_tidx;
    }
    if (table) {
        col_store(table, x);
    }
    if (shape == S_EXIT || shape == S_UNWIND) {
        col_store(&c[C_VALUE_IDS], y);
    }
    else if (shape == S_CALLISH) {
        col_store(&c[C_CALL_ARG0], y);
    }
    r->rows++;
    return 0;
}

static PyObject *
#if defined(__GNUC__)
__attribute__((noinline))
#endif
cb_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CallbackObject *cb = (CallbackObject *)self;
    RecorderObject *r = cb->rec;
    Py_ssize_t nargs = NARGS(nargsf);
    if (r->stopped || nargs < 2) {
        Py_RETURN_NONE;
    }
    int kind = cb->kind, shape = cb->shape;
    int push = shape == S_START || shape == S_THROW;
    int pop = shape == S_EXIT || shape == S_UNWIND;
    unsigned long t = PyThread_get_thread_ident();
    int64_t d;
    PyObject *code = args[0];
    Py_ssize_t cidx = lookup_code(r, code);
    if (cidx < 0) {
        switch (shape) {
        case S_EXC: case S_UNWIND:  /* global before 3.15: someone else's code */
            Py_RETURN_NONE;
        case S_START: case S_THROW: {  /* a frame of code not seen yet: in scope? */
            PyObject *throw = shape == S_THROW ? Py_True : Py_False;
            PyObject *dargs[3] = {NULL, code, throw};
            PyObject *res = PyObject_Vectorcall(r->decide, dargs + 1,
                                                2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            if (res == NULL) {
                return NULL;
            }
            int yes = PyObject_IsTrue(res);
            Py_DECREF(res);
            if (yes < 0) {
                return NULL;
            }
            if (!yes) {
                if (shape == S_START) {
                    return Py_NewRef(r->disable);
                }
                Py_RETURN_NONE;
            }
            if (r->stopped) {
                Py_RETURN_NONE;
            }
            cidx = intern_code(r, code);  /* decide() watched it; this finds it */
            break;
        }
        default:  /* a local event of code whose events were just set by another thread */
            cidx = intern_code(r, code);
        }
        if (cidx < 0) {
            goto no_memory;
        }
    }
    if (!r->keep[kind] || r->full || r->rows >= r->cap) {
        if (follow_frame(r, t, push, pop, &d) < 0) {
            goto no_memory;
        }
        if (!r->keep[kind]) {
            Py_RETURN_NONE;
        }
        r->dropped++;
        return trip(r) < 0 ? NULL : Py_NewRef(Py_None);
    }
    long long a = PyLong_AsLongLong(args[1]);
    if (a < 0) {
        if (a == -1 && PyErr_Occurred()) {
            PyErr_Clear();
        }
        a = 0;
    }
    uint64_t x = 0, y = 0;
    Py_ssize_t i;
    switch (shape) {
    case S_START:
        x = (uint64_t)(ticks() - r->t0);
        break;
    case S_EXIT:
        if (nargs < 3) {
            Py_RETURN_NONE;
        }
        i = value_index(r, args[2]);
        if (i < 0) {
            goto error;
        }
        y = (uint64_t)i;
        x = (uint64_t)(ticks() - r->t0);
        break;
    case S_UNWIND:
        if (nargs < 3) {
            Py_RETURN_NONE;
        }
        i = exception_index(r, args[2]);
        if (i < 0) {
            goto error;
        }
        y = (uint64_t)i;
        x = (uint64_t)(ticks() - r->t0);
        break;
    case S_THROW: case S_EXC: case S_VALUED:
        if (nargs < 3) {
            Py_RETURN_NONE;
        }
        i = exception_index(r, args[2]);
        if (i < 0) {
            goto error;
        }
        x = (uint64_t)i;
        break;
    case S_CALLISH:
        if (nargs < 4) {
            Py_RETURN_NONE;
        }
        i = intern_by_identity(r, &r->func_tab, args[2], F_CALLABLE);
        if (i < 0) {
            goto error;
        }
        x = (uint64_t)i;
        i = value_index(r, args[3]);
        if (i < 0) {
            goto error;
        }
        y = (uint64_t)i;
        break;
    case S_JUMPISH: {
        if (nargs < 3) {
            Py_RETURN_NONE;
        }
        long long dest = PyLong_AsLongLong(args[2]);
        if (dest < 0) {
            if (dest == -1 && PyErr_Occurred()) {
                PyErr_Clear();
            }
            dest = 0;
        }
        x = (uint64_t)dest;
        break;
    }
    default:
        break;
    }
    /* The frame changes only now: a Python call above (a repr) may have raised, and
     * then this event did not happen for the program (CPython raises PY_UNWIND later). */
    if (follow_frame(r, t, push, pop, &d) < 0) {
        goto no_memory;
    }
    if (r->stopped) {  /* a Python call above ended the recording */
        Py_RETURN_NONE;
    }
    if (r->full || r->rows >= r->cap) {  /* another thread filled it meanwhile */
        r->dropped++;
        return trip(r) < 0 ? NULL : Py_NewRef(Py_None);
    }
    if (write_row(r, kind, shape, cidx, (uint64_t)a, (uint64_t)(d < 0 ? 0 : d), x, y) < 0) {
        goto no_memory;
    }
    Py_RETURN_NONE;
error:
    if (!PyErr_ExceptionMatches(PyExc_MemoryError)) {
        return NULL;  /* e.g. KeyboardInterrupt in a repr: the program gets it, as in Python */
    }
no_memory:  /* the event happened: follow the frame (when that is what failed, never mind) */
    PyErr_Clear();
    if (follow_frame(r, t, push, pop, &d) < 0) {
        PyErr_Clear();
    }
    r->dropped++;
    if (trip(r) < 0) {
        return NULL;
    }
    PyErr_Clear();
    Py_RETURN_NONE;
}

/* The fast paths: most events are of a watched code object, in the thread of the last
 * row, with values that need no Python call (atoms, a callable seen before). Those
 * write their row directly; anything else (a new code object or thread, a value to
 * snapshot, a column to widen, the cap) goes the general way, cb_vectorcall. */

/* Can a row of `code` be written the fast way? Its code object must be watched (a new
 * run of it is fine when the run columns have room), and the thread the last row's. */
static inline int
row_ok(RecorderObject *r, PyObject *code, int kind)
{
    if (!(r->cur_tidx == r->run_thread && r->keep[kind] && !r->full && r->rows < r->cap
          && r->rows < r->cols[C_KIND].cap && r->rows < r->cols[C_A].cap
          && r->rows < r->cols[C_DEPTH].cap)) {
        return 0;
    }
    if (code == r->last_code && r->last_code_idx == r->run_code) {
        return 1;
    }
    Py_ssize_t cidx = lookup_code(r, code);
    Col *c = r->cols;
    return cidx >= 0 && (uint64_t)r->rows <= c[C_CODE_START].max
        && c[C_CODE_START].len < c[C_CODE_START].cap
        && (uint64_t)cidx <= c[C_CODE_ID].max && c[C_CODE_ID].len < c[C_CODE_ID].cap;
}

/* An atom's side-table index, with no Python call (so no other thread runs meanwhile);
 * -1 for anything else, or on MemoryError (cleared: the general path tries again). */
static inline Py_ssize_t
atom_value(RecorderObject *r, PyObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    for (int i = 0; i < r->n_atoms; i++) {
        if (tp == r->atoms[i]) {
            Py_ssize_t idx = value_index(r, v);
            if (idx < 0) {
                PyErr_Clear();
            }
            return idx;
        }
    }
    return -1;
}

/* The fast paths' common test: recording, `nargs` arguments, the last row's thread,
 * and a row of this code object that row_ok() allows. */
static inline int
fast_ok(CallbackObject *cb, PyObject *const *args, size_t nargsf, Py_ssize_t nargs)
{
    RecorderObject *r = cb->rec;
    return !r->stopped && NARGS(nargsf) == nargs
        && PyThread_get_thread_ident() == r->cur_thread && row_ok(r, args[0], cb->kind);
}

static inline int
fits(const Col *c, uint64_t v)
{
    return v <= c->max && c->len < c->cap;
}

static inline void
store_head(RecorderObject *r, int kind, uint64_t a, uint64_t d)
{
    Col *c = r->cols;
    if (r->last_code_idx != r->run_code) {  /* row_ok() made sure of the room */
        col_store(&c[C_CODE_START], (uint64_t)r->rows);
        col_store(&c[C_CODE_ID], (uint64_t)r->last_code_idx);
        r->run_code = r->last_code_idx;
    }
    ((uint8_t *)c[C_KIND].data)[c[C_KIND].len++] = (uint8_t)kind;
    col_store(&c[C_A], a);
    col_store(&c[C_DEPTH], d);
    r->rows++;
}

static PyObject *
cb_line(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CallbackObject *cb = (CallbackObject *)self;
    RecorderObject *r = cb->rec;
    if (!fast_ok(cb, args, nargsf, 2)) {
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    long long a = PyLong_AsLongLong(args[1]);
    uint64_t d = r->level > 0 ? (uint64_t)(r->level - 1) : 0;
    if (a < 0 || (uint64_t)a > r->cols[C_A].max || d > r->cols[C_DEPTH].max) {
        if (a == -1) {
            PyErr_Clear();
        }
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    store_head(r, cb->kind, (uint64_t)a, d);
    Py_RETURN_NONE;
}

static PyObject *
cb_jump(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CallbackObject *cb = (CallbackObject *)self;
    RecorderObject *r = cb->rec;
    if (!fast_ok(cb, args, nargsf, 3)) {
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    long long a = PyLong_AsLongLong(args[1]);
    long long dest = PyLong_AsLongLong(args[2]);
    uint64_t d = r->level > 0 ? (uint64_t)(r->level - 1) : 0;
    Col *c = r->cols;
    if (a < 0 || dest < 0 || (uint64_t)a > c[C_A].max || d > c[C_DEPTH].max
            || !fits(&c[C_JUMP_DEST], (uint64_t)dest)) {
        if (a == -1 || dest == -1) {
            PyErr_Clear();
        }
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    store_head(r, cb->kind, (uint64_t)a, d);
    col_store(&c[C_JUMP_DEST], (uint64_t)dest);
    Py_RETURN_NONE;
}

static PyObject *
cb_start(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CallbackObject *cb = (CallbackObject *)self;
    RecorderObject *r = cb->rec;
    if (!fast_ok(cb, args, nargsf, 2) || r->level < 0) {
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    long long a = PyLong_AsLongLong(args[1]);
    uint64_t x = (uint64_t)(ticks() - r->t0);
    Col *c = r->cols;
    if (a < 0 || (uint64_t)a > c[C_A].max || (uint64_t)r->level > c[C_DEPTH].max
            || !fits(&c[C_TIME_NS], x)) {
        if (a == -1) {
            PyErr_Clear();
        }
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    store_head(r, cb->kind, (uint64_t)a, (uint64_t)r->level);
    col_store(&c[C_TIME_NS], x);
    r->level++;
    Py_RETURN_NONE;
}

static PyObject *
cb_exit(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CallbackObject *cb = (CallbackObject *)self;
    RecorderObject *r = cb->rec;
    if (!fast_ok(cb, args, nargsf, 3) || r->level < 1) {
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    long long a = PyLong_AsLongLong(args[1]);
    Py_ssize_t v = atom_value(r, args[2]);
    uint64_t x = (uint64_t)(ticks() - r->t0);
    Col *c = r->cols;
    if (a < 0 || v < 0 || (uint64_t)a > c[C_A].max || (uint64_t)(r->level - 1) > c[C_DEPTH].max
            || !fits(&c[C_TIME_NS], x) || !fits(&c[C_VALUE_IDS], (uint64_t)v)) {
        if (a == -1) {
            PyErr_Clear();
        }
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    store_head(r, cb->kind, (uint64_t)a, (uint64_t)(r->level - 1));
    col_store(&c[C_TIME_NS], x);
    col_store(&c[C_VALUE_IDS], (uint64_t)v);
    r->level--;
    Py_RETURN_NONE;
}

static PyObject *
cb_callish(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CallbackObject *cb = (CallbackObject *)self;
    RecorderObject *r = cb->rec;
    if (!fast_ok(cb, args, nargsf, 4)) {
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    long long a = PyLong_AsLongLong(args[1]);
    Py_ssize_t f = ptab_get(&r->func_tab, args[2]);
    Py_ssize_t v = f < 0 ? -1 : args[3] == r->missing ? ptab_get(&r->value_tab, args[3])
                                                      : atom_value(r, args[3]);
    uint64_t d = r->level > 0 ? (uint64_t)(r->level - 1) : 0;
    Col *c = r->cols;
    if (a < 0 || f < 0 || v < 0 || (uint64_t)a > c[C_A].max || d > c[C_DEPTH].max
            || !fits(&c[C_CALL_FUNC], (uint64_t)f) || !fits(&c[C_CALL_ARG0], (uint64_t)v)) {
        if (a == -1) {
            PyErr_Clear();
        }
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    store_head(r, cb->kind, (uint64_t)a, d);
    col_store(&c[C_CALL_FUNC], (uint64_t)f);
    col_store(&c[C_CALL_ARG0], (uint64_t)v);
    Py_RETURN_NONE;
}

/* RAISE, RERAISE, EXCEPTION_HANDLED (S_EXC) and PY_UNWIND (S_UNWIND): the exception is
 * the one of the last event, or a built-in-repr one with atom args. */
static PyObject *
cb_exc(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CallbackObject *cb = (CallbackObject *)self;
    RecorderObject *r = cb->rec;
    int unwind = cb->shape == S_UNWIND;
    if (!fast_ok(cb, args, nargsf, 3) || (unwind && r->level < 1)) {
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    long long a = PyLong_AsLongLong(args[1]);
    uint64_t d = r->level > 0 ? (uint64_t)(r->level - 1) : 0;
    Col *c = r->cols;
    if (a < 0 || (uint64_t)a > c[C_A].max || d > c[C_DEPTH].max) {
        if (a == -1) {
            PyErr_Clear();
        }
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    Py_ssize_t e = exception_index_ex(r, args[2], 0);
    if (e < 0) {
        PyErr_Clear();  /* -2: a repr to take; -1: no memory; the general way decides */
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    uint64_t x = unwind ? (uint64_t)(ticks() - r->t0) : (uint64_t)e;
    if (!fits(&c[unwind ? C_TIME_NS : C_VALUE_IDS], x)
            || (unwind && !fits(&c[C_VALUE_IDS], (uint64_t)e))) {
        return cb_vectorcall(self, args, nargsf, kwnames);
    }
    store_head(r, cb->kind, (uint64_t)a, d);
    if (unwind) {
        col_store(&c[C_TIME_NS], x);
        r->level--;
    }
    col_store(&c[C_VALUE_IDS], (uint64_t)e);
    Py_RETURN_NONE;
}

/* -- Python-facing methods --------------------------------------------------- */

static PyObject *
rec_callback(PyObject *self, PyObject *arg)
{
    RecorderObject *r = (RecorderObject *)self;
    long kind = PyLong_AsLong(arg);
    if (kind == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (kind < 0 || kind >= N_KINDS) {
        PyErr_SetString(PyExc_ValueError, "kind out of range");
        return NULL;
    }
    ModState *st = PyType_GetModuleState(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    allocfunc tp_alloc = (allocfunc)PyType_GetSlot(st->callback_type, Py_tp_alloc);
    CallbackObject *cb = (CallbackObject *)tp_alloc(st->callback_type, 0);
    if (cb == NULL) {
        return NULL;
    }
    switch (r->shape[kind]) {
    case S_LINE: cb->vectorcall = cb_line; break;
    case S_JUMPISH: cb->vectorcall = cb_jump; break;
    case S_START: cb->vectorcall = cb_start; break;
    case S_EXIT: cb->vectorcall = cb_exit; break;
    case S_CALLISH: cb->vectorcall = cb_callish; break;
    case S_EXC: case S_UNWIND: cb->vectorcall = cb_exc; break;
    default: cb->vectorcall = cb_vectorcall;
    }
    cb->rec = (RecorderObject *)Py_NewRef(self);
    cb->kind = (int)kind;
    cb->shape = r->shape[kind];
    return (PyObject *)cb;
}

static PyObject *
rec_watch(PyObject *self, PyObject *code)
{
    RecorderObject *r = (RecorderObject *)self;
    if (r->codes == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the recording is finished");
        return NULL;
    }
    Py_ssize_t idx = intern_code(r, code);
    return idx < 0 ? NULL : PyLong_FromSsize_t(idx);
}

static PyObject *
rec_is_watched(PyObject *self, PyObject *code)
{
    RecorderObject *r = (RecorderObject *)self;
    return PyBool_FromLong(r->codes != NULL && ptab_get(&r->code_tab, code) >= 0);
}

static PyObject *
rec_stop(PyObject *self, PyObject *unused)
{
    ((RecorderObject *)self)->stopped = 1;
    Py_RETURN_NONE;
}

/* Make a finished Column of `c` (its memory changes hands, trimmed to the rows used). */
static PyObject *
make_column(PyTypeObject *type, Col *c)
{
    allocfunc tp_alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    ColumnObject *col = (ColumnObject *)tp_alloc(type, 0);
    if (col == NULL) {
        return NULL;
    }
    size_t used = (size_t)c->len * c->size;
    if (used < c->bytes) {
        char *q = realloc(c->data, used ? used : 1);
        if (q != NULL) {
            c->data = q;
            c->bytes = used ? used : 1;
        }
    }
    col->data = c->data;
    col->bytes = c->bytes;
    col->shape = c->len;
    col->stride = c->size;
    col->exports = 0;
    c->data = NULL;
    return (PyObject *)col;
}

/* The time column, from ticks to ns since the recorder was made. */
static int
ticks_to_ns(RecorderObject *r)
{
    double scale = ns_per_tick();
    Col *c = &r->cols[C_TIME_NS];
    if (scale == 1.0 || c->len == 0) {
        return 0;
    }
    uint64_t top = 0;
    for (Py_ssize_t i = 0; i < c->len; i++) {
        uint64_t v = col_get(c, i);
        top = v > top ? v : top;
    }
    uint64_t top_ns = (uint64_t)((double)top * scale + 0.5);
    if (top_ns > c->max) {
        int size = c->size;
        while (top_ns > WIDTH_MAX[size]) {
            size *= 2;
        }
        if (col_resize(c, size, c->cap) < 0) {
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < c->len; i++) {
        col_set(c, i, (uint64_t)((double)col_get(c, i) * scale + 0.5));
    }
    return 0;
}

/* finish() -> dict: the columns (Column objects), the side-table objects and their
 * flags, codes, threads, dropped, full. The recorder is empty afterwards. */
static PyObject *
rec_finish(PyObject *self, PyObject *unused)
{
    RecorderObject *r = (RecorderObject *)self;
    if (!r->have_cols) {
        PyErr_SetString(PyExc_RuntimeError, "the recording is already finished");
        return NULL;
    }
    r->stopped = 1;
    ModState *st = PyType_GetModuleState(Py_TYPE(self));
    if (st == NULL || ticks_to_ns(r) < 0) {
        return NULL;
    }
    PyObject *out = Py_BuildValue("{sOsNsOsOsnsi}", "objects", r->objects,
                                  "flags", PyByteArray_FromStringAndSize(r->flags.data,
                                                                         r->flags.len),
                                  "codes", r->codes, "threads", r->threads,
                                  "dropped", r->dropped, "full", r->full);
    if (out == NULL) {
        return NULL;
    }
    for (int i = 0; i < N_COLS; i++) {
        PyObject *col = make_column(st->column_type, &r->cols[i]);
        if (col == NULL || PyDict_SetItemString(out, COL_NAMES[i], col) < 0) {
            Py_XDECREF(col);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(col);
    }
    rec_free_memory(r);
    rec_clear(self);
    return out;
}

static PyObject *
rec_get_rows(PyObject *self, void *closure)
{
    return PyLong_FromSsize_t(((RecorderObject *)self)->rows);
}

static PyObject *
rec_get_full(PyObject *self, void *closure)
{
    return PyBool_FromLong(((RecorderObject *)self)->full);
}

static PyMethodDef rec_methods[] = {
    {"callback", rec_callback, METH_O,
     "callback(kind) -> the callable to register for that event kind."},
    {"watch", rec_watch, METH_O, "watch(code) -> its index (interned by identity)."},
    {"is_watched", rec_is_watched, METH_O, "is_watched(code) -> bool."},
    {"stop", rec_stop, METH_NOARGS, "Ignore every later event."},
    {"finish", rec_finish, METH_NOARGS, "The recording's columns and tables (once)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef rec_getset[] = {
    {"rows", rec_get_rows, NULL, "kept rows so far", NULL},
    {"full", rec_get_full, NULL, "the cap was reached", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot rec_slots[] = {
    {Py_tp_new, rec_new},
    {Py_tp_dealloc, rec_dealloc},
    {Py_tp_traverse, rec_traverse},
    {Py_tp_clear, rec_clear},
    {Py_tp_methods, rec_methods},
    {Py_tp_getset, rec_getset},
    {Py_tp_doc, "One recording's columns, filled by its callbacks."},
    {0, NULL},
};

static PyType_Spec rec_spec = {
    .name = "monviz._speedups.Recorder",
    .basicsize = sizeof(RecorderObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = rec_slots,
};

/* -- Callback type ----------------------------------------------------------- */

static int
cb_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((CallbackObject *)self)->rec);
    return 0;
}

static int
cb_clear(PyObject *self)
{
    Py_CLEAR(((CallbackObject *)self)->rec);
    return 0;
}

static void
cb_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    cb_clear(self);
    freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
cb_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (((CallbackObject *)self)->rec == NULL) {
        Py_RETURN_NONE;
    }
    return PyVectorcall_Call(self, args, kwargs);
}

static PyObject *
cb_repr(PyObject *self)
{
    return PyUnicode_FromFormat("<monviz._speedups.Callback kind=%d>",
                                ((CallbackObject *)self)->kind);
}

static PyMemberDef cb_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(CallbackObject, vectorcall), Py_READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot cb_slots[] = {
    {Py_tp_dealloc, cb_dealloc},
    {Py_tp_traverse, cb_traverse},
    {Py_tp_clear, cb_clear},
    {Py_tp_call, cb_call},
    {Py_tp_repr, cb_repr},
    {Py_tp_members, cb_members},
    {0, NULL},
};

static PyType_Spec cb_spec = {
    .name = "monviz._speedups.Callback",
    .basicsize = sizeof(CallbackObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE
             | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = cb_slots,
};

/* ------------------------------------------------------------------------ */
/* Module functions. */

static PyObject *
noop(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_RETURN_NONE;
}

/* The text values.display() gives an atom, in C; NULL without an error when this
 * value is not one (Python handles it). */
static PyObject *
atom_text(PyObject *v, Py_ssize_t max_repr, Py_ssize_t max_string)
{
    if (PyUnicode_CheckExact(v) || PyBytes_CheckExact(v)) {
        Py_ssize_t n = PyUnicode_CheckExact(v) ? PyUnicode_GetLength(v) : PyBytes_Size(v);
        if (n <= max_string) {
            return cut_text(PyObject_Repr(v), max_repr);
        }
        PyObject *head = PySequence_GetSlice(v, 0, max_string);
        if (head == NULL) {
            return NULL;
        }
        PyObject *text = PyObject_Repr(head);
        Py_DECREF(head);
        if (text == NULL) {
            return NULL;
        }
        PyObject *out = PyUnicode_FromFormat("%U...", text);
        Py_DECREF(text);
        return cut_text(out, max_repr);
    }
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) {
            return NULL;  /* a big int: Python decides how to show it */
        }
        return PyObject_Repr(v);
    }
    if (v == Py_None || PyBool_Check(v) || PyFloat_CheckExact(v) || PyComplex_CheckExact(v)) {
        return cut_text(PyObject_Repr(v), max_repr);
    }
    if (PyUnicode_Check(v)) {  /* a Snapshot: the repr taken at the event */
        return PyObject_Str(v);
    }
    return NULL;
}

/* An atom that may be kept until its text is read: immutable, small, a cheap repr. */
static int
cheap_atom(PyObject *v, Py_ssize_t max_string)
{
    if (PyLong_CheckExact(v)) {
        int overflow;
        PyLong_AsLongLongAndOverflow(v, &overflow);
        return !overflow;
    }
    if (PyUnicode_CheckExact(v)) {
        return PyUnicode_GetLength(v) <= max_string;
    }
    if (PyBytes_CheckExact(v)) {
        return PyBytes_Size(v) <= max_string;
    }
    return v == Py_None || PyBool_Check(v) || PyFloat_CheckExact(v) || PyComplex_CheckExact(v);
}

/* BaseException.__repr__ of an F_EXC entry (type, args), cut to `max_repr`. Entries
 * whose args are all str share their text (equal tuples of other atoms may not:
 * (1,) == (True,)). */
static PyObject *
exception_text(PyObject *entry, PyObject *seen, Py_ssize_t max_repr)
{
    PyObject *type = PyTuple_GetItem(entry, 0), *args = PyTuple_GetItem(entry, 1);
    Py_ssize_t n = PyTuple_Size(args);
    int by_value = 1;
    for (Py_ssize_t i = 0; by_value && i < n; i++) {
        by_value = PyUnicode_CheckExact(PyTuple_GetItem(args, i));
    }
    if (by_value) {
        PyObject *text = PyDict_GetItemWithError(seen, entry);
        if (text != NULL) {
            return Py_NewRef(text);
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    PyObject *name = PyType_GetName((PyTypeObject *)type);
    if (name == NULL) {
        return NULL;
    }
    PyObject *text = n == 1 ? PyUnicode_FromFormat("%U(%R)", name, PyTuple_GetItem(args, 0))
                            : PyUnicode_FromFormat("%U%R", name, args);
    Py_DECREF(name);
    if (text == NULL && PyErr_ExceptionMatches(PyExc_Exception)) {
        text = repr_failed_type((PyTypeObject *)type);  /* not expected: args are atoms */
    }
    text = cut_text(text, max_repr);
    if (text != NULL && by_value && PyDict_SetItem(seen, entry, text) < 0) {
        Py_DECREF(text);
        return NULL;
    }
    return text;
}

/* texts(objects, flags, display, describe, max_repr, max_string) -> list[str]:
 * the display string of every side-table entry; atoms in C, the rest by Python. */
static PyObject *
texts(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 6 || nargs > 7 || !PyList_Check(args[0]) || !PyByteArray_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "texts(objects: list, flags: bytearray, display, describe, "
                        "max_repr, max_string, defer=False)");
        return NULL;
    }
    int defer = nargs == 7 ? PyObject_IsTrue(args[6]) : 0;
    if (defer < 0) {
        return NULL;
    }
    PyObject *pending = NULL;  /* with defer: flag + 1 where an entry is left for later */
    PyObject *objects = args[0], *display = args[2], *describe = args[3];
    Py_ssize_t max_repr = PyLong_AsSsize_t(args[4]), max_string = PyLong_AsSsize_t(args[5]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t n = PyList_Size(objects);
    if (PyByteArray_Size(args[1]) != n) {
        PyErr_SetString(PyExc_ValueError, "texts: one flag per object");
        return NULL;
    }
    PyObject *out = PyList_New(n);
    PyObject *seen = PyDict_New();  /* (type, args of str) -> text */
    if (defer) {
        pending = PyByteArray_FromStringAndSize(NULL, n);
        if (pending != NULL && n > 0) {
            memset(PyByteArray_AsString(pending), 0, (size_t)n);
        }
    }
    if (out == NULL || seen == NULL || (defer && pending == NULL)) {
        Py_XDECREF(out);
        Py_XDECREF(seen);
        Py_XDECREF(pending);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GetItem(objects, i);
        int flag = PyByteArray_AsString(args[1])[i];
        PyObject *text = NULL;
        if (flag == F_TEXT) {
            text = Py_NewRef(v);
        }
        else if (flag == F_EXC && defer
                 && !(PyType_GetFlags((PyTypeObject *)PyTuple_GetItem(v, 0))
                      & Py_TPFLAGS_HEAPTYPE)) {
            text = Py_NewRef(v);  /* a built-in exception type and atom args: later too */
            PyByteArray_AsString(pending)[i] = F_EXC + 1;
        }
        else if (flag == F_EXC) {
            text = exception_text(v, seen, max_repr);
            if (text == NULL) {
                Py_DECREF(out);
                Py_DECREF(seen);
                return NULL;
            }
        }
        else if (flag == F_VALUE && defer && cheap_atom(v, max_string)) {
            text = Py_NewRef(v);  /* immutable and small: its text is made when read */
            PyByteArray_AsString(pending)[i] = F_VALUE + 1;
        }
        else if (flag == F_VALUE) {
            text = atom_text(v, max_repr, max_string);
            if (text == NULL && PyErr_Occurred()) {
                PyErr_Clear();  /* Python's display() words a failing repr */
            }
        }
        if (text == NULL) {
            text = call1(flag == F_CALLABLE ? describe : display, v);
            if (text == NULL) {
                Py_DECREF(out);
                Py_DECREF(seen);
                Py_XDECREF(pending);
                return NULL;
            }
        }
        PyList_SetItem(out, i, text);
    }
    Py_DECREF(seen);
    if (defer) {
        return Py_BuildValue("NN", out, pending);
    }
    return out;
}

static PyObject *
release_memory(PyObject *self, PyObject *unused)
{
    pool_clear();
    Py_RETURN_NONE;
}

static PyObject *
pool_size(PyObject *self, PyObject *unused)
{
    return PyLong_FromSize_t(pool_bytes);
}

static PyMethodDef module_methods[] = {
    {"noop", (PyCFunction)(void (*)(void))noop, METH_FASTCALL,
     "noop(*args) -> None: the cheapest callback CPython can call (the C dispatch floor)."},
    {"texts", (PyCFunction)(void (*)(void))texts, METH_FASTCALL,
     "texts(objects, flags, display, describe, max_repr, max_string, defer=False) -> the "
     "display strings (with defer: (list, pending); pending is flag + 1 for the small atoms "
     "and built-in exceptions left as they are, 0 for the texts)."},
    {"release_memory", release_memory, METH_NOARGS,
     "Free the memory kept for reuse by the next recording."},
    {"pool_size", pool_size, METH_NOARGS, "Bytes kept for reuse by the next recording."},
    {NULL, NULL, 0, NULL},
};

static int
module_exec(PyObject *m)
{
    ticks_init();
    ModState *st = PyModule_GetState(m);
    st->column_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &column_spec, NULL);
    st->recorder_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &rec_spec, NULL);
    st->callback_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &cb_spec, NULL);
    if (!st->column_type || !st->recorder_type || !st->callback_type) {
        return -1;
    }
    if (PyModule_AddObjectRef(m, "Column", (PyObject *)st->column_type) < 0
            || PyModule_AddObjectRef(m, "Recorder", (PyObject *)st->recorder_type) < 0
            || PyModule_AddObjectRef(m, "Callback", (PyObject *)st->callback_type) < 0) {
        return -1;
    }
#ifdef Py_LIMITED_API
    if (PyModule_AddIntConstant(m, "LIMITED_API", Py_LIMITED_API) < 0) {
        return -1;
    }
#else
    if (PyModule_AddIntConstant(m, "LIMITED_API", 0) < 0) {
        return -1;
    }
#endif
    if (PyModule_AddIntConstant(m, "TSC_TICKS", use_tsc) < 0) {
        return -1;
    }
    return PyModule_AddIntConstant(m, "N_SHAPES", N_SHAPES);
}

static int
module_traverse(PyObject *m, visitproc visit, void *arg)
{
    ModState *st = PyModule_GetState(m);
    Py_VISIT(st->column_type);
    Py_VISIT(st->recorder_type);
    Py_VISIT(st->callback_type);
    return 0;
}

static int
module_clear(PyObject *m)
{
    ModState *st = PyModule_GetState(m);
    Py_CLEAR(st->column_type);
    Py_CLEAR(st->recorder_type);
    Py_CLEAR(st->callback_type);
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "monviz._speedups",
    .m_doc = "monviz's compiled recording backend (see monviz/_speedups.c).",
    .m_size = sizeof(ModState),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&module_def);
}
