/* parsers._native: the per-node and per-access loops of the graph engine, in C.
 *
 * Optional: setup.py builds it when the tree-sitter C runtime sources are at hand (setup.sh fetches
 * the sdist of the installed tree-sitter release); without it parsers/ runs the same algorithms in
 * Python (parsers/tree.py, parsers/dataflow.py), and tests/parsers/test_native.py checks that both
 * give identical results.
 *
 * flatten(language, source, keep, comments) parses with the C runtime (the same release as the
 * py-tree-sitter binding, so the same trees) and walks the tree once with a cursor, returning the
 * kept nodes in preorder: the columns as lists (for the scalar lookups of the Python passes) and as
 * int64 buffers (for numpy), the byte ranges of ERROR/MISSING nodes and the node count.
 *
 * reaching(points, succ, ...) is the def-use fixpoint of one scope: see its docstring below.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tree_sitter/api.h"

/* --- growable int64 columns --------------------------------------------------------------------- */

typedef struct {
    int64_t *v;
    Py_ssize_t n, cap;
} Vec;

static int vec_push(Vec *a, int64_t x) {
    if (a->n == a->cap) {
        Py_ssize_t cap = a->cap ? a->cap * 2 : 1024;
        int64_t *v = realloc(a->v, (size_t)cap * sizeof(int64_t));
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

static PyObject *vec_list(const Vec *a) {
    PyObject *out = PyList_New(a->n);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < a->n; i++) {
        PyObject *x = PyLong_FromLongLong(a->v[i]);
        if (!x) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, x);
    }
    return out;
}

static PyObject *vec_bytes(const Vec *a) {
    return PyBytes_FromStringAndSize((const char *)a->v, a->n * (Py_ssize_t)sizeof(int64_t));
}

/* --- parsers, one per language ------------------------------------------------------------------ */

#define MAX_LANGUAGES 32
static const TSLanguage *languages[MAX_LANGUAGES];
static TSParser *parsers[MAX_LANGUAGES];

static TSParser *parser_for(const TSLanguage *lang) {
    for (int i = 0; i < MAX_LANGUAGES; i++) {
        if (languages[i] == lang) return parsers[i];
        if (languages[i] == NULL) {
            TSParser *p = ts_parser_new();
            if (!p) return NULL;
            if (!ts_parser_set_language(p, lang)) {
                ts_parser_delete(p);
                PyErr_SetString(PyExc_ValueError, "grammar ABI not supported by the native runtime");
                return NULL;
            }
            languages[i] = lang;
            parsers[i] = p;
            return p;
        }
    }
    PyErr_SetString(PyExc_RuntimeError, "too many languages for the native parser cache");
    return NULL;
}

static const TSLanguage *language_of(PyObject *capsule) {
    const TSLanguage *lang = PyCapsule_GetPointer(capsule, "tree_sitter.Language");
    return lang;
}

/* --- flatten ------------------------------------------------------------------------------------ */

static PyObject *error_ranges(TSNode root) {
    PyObject *out = PyList_New(0);
    if (!out || !ts_node_has_error(root)) return out;
    /* preorder over the nodes with errors below them, not descending into ERROR/MISSING nodes */
    Py_ssize_t cap = 64, n = 0;
    TSNode *stack = malloc((size_t)cap * sizeof(TSNode));
    if (!stack) goto fail;
    stack[n++] = root;
    while (n) {
        TSNode node = stack[--n];
        if (ts_node_is_error(node) || ts_node_is_missing(node)) {
            PyObject *t = Py_BuildValue("(II)", ts_node_start_byte(node), ts_node_end_byte(node));
            if (!t || PyList_Append(out, t) < 0) {
                Py_XDECREF(t);
                free(stack);
                goto fail;
            }
            Py_DECREF(t);
        } else if (ts_node_has_error(node)) {
            /* children pushed in order and popped from the end, as the Python walk does */
            TSTreeCursor c = ts_tree_cursor_new(node);
            if (ts_tree_cursor_goto_first_child(&c)) {
                do {
                    if (n == cap) {
                        cap *= 2;
                        TSNode *s = realloc(stack, (size_t)cap * sizeof(TSNode));
                        if (!s) {
                            ts_tree_cursor_delete(&c);
                            free(stack);
                            goto fail;
                        }
                        stack = s;
                    }
                    stack[n++] = ts_tree_cursor_current_node(&c);
                } while (ts_tree_cursor_goto_next_sibling(&c));
            }
            ts_tree_cursor_delete(&c);
        }
    }
    free(stack);
    return out;
fail:
    Py_DECREF(out);
    return PyErr_NoMemory();
}

static PyObject *native_flatten(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer src, keep, comments;
    if (!PyArg_ParseTuple(args, "Oy*y*y*", &capsule, &src, &keep, &comments)) return NULL;
    PyObject *result = NULL;
    TSTree *tree = NULL;
    Vec col[6] = {{0}};   /* kind, field, start, end, parent, stop */
    Vec own = {0}, owners = {0};
    const TSLanguage *lang = language_of(capsule);
    if (!lang) goto done;
    uint32_t nkinds = ts_language_symbol_count(lang);
    if (keep.len < (Py_ssize_t)nkinds + 1 || comments.len < (Py_ssize_t)nkinds + 1) {
        PyErr_SetString(PyExc_ValueError, "keep/comments tables shorter than the grammar's kind count");
        goto done;
    }
    const uint8_t *kp = keep.buf, *cm = comments.buf;
    TSParser *parser = parser_for(lang);
    if (!parser) goto done;
    if (src.len > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "source larger than 4 GiB");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    tree = ts_parser_parse_string(parser, NULL, src.buf, (uint32_t)src.len);
    Py_END_ALLOW_THREADS
    if (!tree) {
        PyErr_SetString(PyExc_RuntimeError, "tree-sitter returned no tree");
        goto done;
    }
    TSNode root = ts_tree_root_node(tree);
    TSTreeCursor cur = ts_tree_cursor_new(root);
    const int64_t error_kind = nkinds;
    int64_t owner = -1, n = 0;
    int oom = 0;
    for (;;) {
        TSNode node = ts_tree_cursor_current_node(&cur);
        int64_t k = ts_node_symbol(node);
        int64_t i;
        if (k >= error_kind || kp[k]) {
            i = n++;
            oom |= vec_push(&col[0], k < error_kind ? k : error_kind);
            oom |= vec_push(&col[1], ts_tree_cursor_current_field_id(&cur));
            oom |= vec_push(&col[2], ts_node_start_byte(node));
            oom |= vec_push(&col[3], ts_node_end_byte(node));
            oom |= vec_push(&col[4], owner);
            oom |= vec_push(&col[5], n);
        } else {
            i = cm[k] ? -2 : -1; /* -2: a comment, whose tokens are dropped too */
        }
        if (oom) break;
        if (i != -2 && ts_tree_cursor_goto_first_child(&cur)) {
            oom |= vec_push(&own, i);
            oom |= vec_push(&owners, owner);
            if (i >= 0) owner = i;
            if (oom) break;
            continue;
        }
        int finished = 0;
        while (!ts_tree_cursor_goto_next_sibling(&cur)) {
            if (!ts_tree_cursor_goto_parent(&cur)) {
                finished = 1;
                break;
            }
            int64_t j = own.v[--own.n];
            owner = owners.v[--owners.n];
            if (j >= 0) col[5].v[j] = n;
        }
        if (finished) break;
    }
    ts_tree_cursor_delete(&cur);
    if (oom) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *lists = PyTuple_New(6), *bufs = PyTuple_New(6);
    PyObject *errors = error_ranges(root);
    if (!lists || !bufs || !errors) goto fail_out;
    for (int c = 0; c < 6; c++) {
        PyObject *l = vec_list(&col[c]), *b = vec_bytes(&col[c]);
        if (!l || !b) {
            Py_XDECREF(l);
            Py_XDECREF(b);
            goto fail_out;
        }
        PyTuple_SET_ITEM(lists, c, l);
        PyTuple_SET_ITEM(bufs, c, b);
    }
    result = Py_BuildValue("(NNN)", lists, bufs, errors);
    goto done;
fail_out:
    Py_XDECREF(lists);
    Py_XDECREF(bufs);
    Py_XDECREF(errors);
done:
    if (tree) ts_tree_delete(tree);
    for (int c = 0; c < 6; c++) free(col[c].v);
    free(own.v);
    free(owners.v);
    PyBuffer_Release(&src);
    PyBuffer_Release(&keep);
    PyBuffer_Release(&comments);
    return result;
}

/* --- reaching accesses ------------------------------------------------------------------------- */

typedef struct {
    int64_t node;
    Py_ssize_t name;
    int mode;
    Py_ssize_t wbit, rbit; /* -1 when the access has no write / read role */
} Access;

#define READ_BIT 1
#define WRITE_BIT 2

static void clear_range(uint64_t *st, Py_ssize_t lo, Py_ssize_t hi) {
    while (lo < hi && (lo & 63)) {
        st[lo >> 6] &= ~(1ULL << (lo & 63));
        lo++;
    }
    while (lo + 64 <= hi) {
        st[lo >> 6] = 0;
        lo += 64;
    }
    while (lo < hi) {
        st[lo >> 6] &= ~(1ULL << (lo & 63));
        lo++;
    }
}

static int append3(PyObject *et, PyObject *es, PyObject *ed, PyObject *type, int64_t src, int64_t dst) {
    PyObject *a = PyLong_FromLongLong(src), *b = PyLong_FromLongLong(dst);
    int bad = !a || !b || PyList_Append(et, type) < 0 || PyList_Append(es, a) < 0 || PyList_Append(ed, b) < 0;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return bad ? -1 : 0;
}

/* Emit edges of ``type`` from ``src`` to the nodes of the set bits of st in [lo, hi), ascending. */
static int emit_range(const uint64_t *st, Py_ssize_t lo, Py_ssize_t hi, const int64_t *bit_node, PyObject *et,
                      PyObject *es, PyObject *ed, PyObject *type, int64_t src) {
    for (Py_ssize_t w = lo >> 6; lo < hi; w++) {
        uint64_t word = st[w];
        Py_ssize_t base = w << 6;
        if (base < lo) word &= ~0ULL << (lo - base);
        if (hi - base < 64) word &= (1ULL << (hi - base)) - 1;
        while (word) {
            int b = __builtin_ctzll(word);
            if (append3(et, es, ed, type, src, bit_node[base + b]) < 0) return -1;
            word &= word - 1;
        }
        lo = base + 64;
    }
    return 0;
}

/* One point's effect on state st: each access replaces the other write (read) bits of its name. */
static void apply_point(uint64_t *st, const Access *acc, Py_ssize_t a0, Py_ssize_t a1, const Py_ssize_t *wbase,
                        const Py_ssize_t *rbase, const Py_ssize_t *rend) {
    for (Py_ssize_t a = a0; a < a1; a++) {
        const Access *x = &acc[a];
        if (x->wbit >= 0) {
            clear_range(st, wbase[x->name], rbase[x->name]);
            st[x->wbit >> 6] |= 1ULL << (x->wbit & 63);
        }
        if (x->rbit >= 0) {
            clear_range(st, rbase[x->name], rend[x->name]);
            st[x->rbit >> 6] |= 1ULL << (x->rbit & 63);
        }
    }
}

typedef struct {
    int64_t node;
    Py_ssize_t seq, name;
} LexItem;

static int lex_cmp(const void *pa, const void *pb) {
    const LexItem *a = pa, *b = pb;
    if (a->node != b->node) return a->node < b->node ? -1 : 1;
    return a->seq < b->seq ? -1 : (a->seq > b->seq);
}

static PyObject *native_reaching(PyObject *self, PyObject *args) {
    PyObject *points, *succ, *et, *es, *ed, *lw, *lr, *lex;
    int want_lex, want_w, want_r;
    if (!PyArg_ParseTuple(args, "O!O!pppO!O!O!OOO", &PyList_Type, &points, &PyList_Type, &succ, &want_lex,
                          &want_w, &want_r, &PyList_Type, &et, &PyList_Type, &es, &PyList_Type, &ed, &lw, &lr,
                          &lex))
        return NULL;
    Py_ssize_t npts = PyList_GET_SIZE(points);
    if (PyList_GET_SIZE(succ) != npts) {
        PyErr_SetString(PyExc_ValueError, "reaching: points and succ differ in length");
        return NULL;
    }
    PyObject *names = PyDict_New();
    Py_ssize_t *aoff = calloc((size_t)npts + 1, sizeof(Py_ssize_t));
    Access *acc = NULL;
    Py_ssize_t *cw = NULL, *cr = NULL, *wbase = NULL, *rbase = NULL, *rend = NULL, *pred_off = NULL, *preds = NULL;
    Py_ssize_t *work = NULL;
    char *queued = NULL;
    int64_t *bit_node = NULL, *prev = NULL;
    uint64_t *in = NULL, *out = NULL, *st = NULL;
    LexItem *items = NULL;
    PyObject *result = NULL;
    if (!names || !aoff) goto nomem;

    /* accesses, names interned to ids */
    Py_ssize_t nacc = 0;
    for (Py_ssize_t p = 0; p < npts; p++) {
        PyObject *row = PyList_GET_ITEM(points, p);
        if (!PyList_Check(row)) {
            PyErr_SetString(PyExc_TypeError, "reaching: each point must be a list of accesses");
            goto done;
        }
        nacc += PyList_GET_SIZE(row);
        aoff[p + 1] = nacc;
    }
    acc = malloc(((size_t)nacc + 1) * sizeof(Access));
    if (!acc) goto nomem;
    Py_ssize_t a = 0;
    for (Py_ssize_t p = 0; p < npts; p++) {
        PyObject *row = PyList_GET_ITEM(points, p);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(row); j++, a++) {
            PyObject *t = PyList_GET_ITEM(row, j);
            if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 4) {
                PyErr_SetString(PyExc_TypeError, "reaching: an access must be (order, node, name, mode)");
                goto done;
            }
            acc[a].node = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 1));
            acc[a].mode = (int)PyLong_AsLong(PyTuple_GET_ITEM(t, 3));
            if (PyErr_Occurred()) goto done;
            PyObject *key = PyTuple_GET_ITEM(t, 2);
            PyObject *id = PyDict_GetItemWithError(names, key);
            if (id) {
                acc[a].name = PyLong_AsSsize_t(id);
            } else {
                if (PyErr_Occurred()) goto done;
                Py_ssize_t k = PyDict_GET_SIZE(names);
                PyObject *v = PyLong_FromSsize_t(k);
                if (!v || PyDict_SetItem(names, key, v) < 0) {
                    Py_XDECREF(v);
                    goto done;
                }
                Py_DECREF(v);
                acc[a].name = k;
            }
        }
    }
    Py_ssize_t nnames = PyDict_GET_SIZE(names);

    if (want_lex && nacc) { /* each access -> the previous access of its name in source order */
        items = malloc((size_t)nacc * sizeof(LexItem));
        prev = malloc(((size_t)nnames + 1) * sizeof(int64_t));
        if (!items || !prev) goto nomem;
        for (Py_ssize_t i = 0; i < nacc; i++) items[i] = (LexItem){acc[i].node, i, acc[i].name};
        qsort(items, (size_t)nacc, sizeof(LexItem), lex_cmp);
        for (Py_ssize_t k = 0; k < nnames; k++) prev[k] = -1;
        for (Py_ssize_t i = 0; i < nacc; i++) {
            if (prev[items[i].name] >= 0 && append3(et, es, ed, lex, items[i].node, prev[items[i].name]) < 0)
                goto done;
            prev[items[i].name] = items[i].node;
        }
    }
    if (!(want_w || want_r) || !nacc) {
        result = Py_NewRef(Py_None);
        goto done;
    }

    /* bit space: per name, its write bits then its read bits, each in access order */
    cw = calloc((size_t)nnames + 1, sizeof(Py_ssize_t));
    cr = calloc((size_t)nnames + 1, sizeof(Py_ssize_t));
    wbase = malloc(((size_t)nnames + 1) * sizeof(Py_ssize_t));
    rbase = malloc(((size_t)nnames + 1) * sizeof(Py_ssize_t));
    rend = malloc(((size_t)nnames + 1) * sizeof(Py_ssize_t));
    if (!cw || !cr || !wbase || !rbase || !rend) goto nomem;
    for (Py_ssize_t i = 0; i < nacc; i++) {
        cw[acc[i].name] += (acc[i].mode & WRITE_BIT) != 0;
        cr[acc[i].name] += (acc[i].mode & READ_BIT) != 0;
    }
    Py_ssize_t nbits = 0;
    for (Py_ssize_t k = 0; k < nnames; k++) {
        wbase[k] = nbits;
        rbase[k] = nbits + cw[k];
        rend[k] = rbase[k] + cr[k];
        nbits = rend[k];
        cw[k] = cr[k] = 0; /* reused as fill counters */
    }
    bit_node = malloc(((size_t)nbits + 1) * sizeof(int64_t));
    if (!bit_node) goto nomem;
    for (Py_ssize_t i = 0; i < nacc; i++) {
        Access *x = &acc[i];
        x->wbit = x->rbit = -1;
        if (x->mode & WRITE_BIT) {
            x->wbit = wbase[x->name] + cw[x->name]++;
            bit_node[x->wbit] = x->node;
        }
        if (x->mode & READ_BIT) {
            x->rbit = rbase[x->name] + cr[x->name]++;
            bit_node[x->rbit] = x->node;
        }
    }
    Py_ssize_t words = (nbits + 63) / 64;
    if ((double)npts * (double)words * 16.0 > 4e9) {
        PyErr_NoMemory();
        goto done;
    }

    /* predecessors */
    pred_off = calloc((size_t)npts + 1, sizeof(Py_ssize_t));
    if (!pred_off) goto nomem;
    Py_ssize_t nedges = 0;
    for (Py_ssize_t p = 0; p < npts; p++) {
        PyObject *row = PyList_GET_ITEM(succ, p);
        if (!PyList_Check(row)) {
            PyErr_SetString(PyExc_TypeError, "reaching: succ rows must be lists");
            goto done;
        }
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(row); j++) {
            Py_ssize_t q = PyLong_AsSsize_t(PyList_GET_ITEM(row, j));
            if (q < 0 || q >= npts) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "reaching: successor out of range");
                goto done;
            }
            pred_off[q + 1]++;
            nedges++;
        }
    }
    for (Py_ssize_t p = 0; p < npts; p++) pred_off[p + 1] += pred_off[p];
    preds = malloc(((size_t)nedges + 1) * sizeof(Py_ssize_t));
    Py_ssize_t *fill = calloc((size_t)npts + 1, sizeof(Py_ssize_t));
    if (!preds || !fill) {
        free(fill);
        goto nomem;
    }
    for (Py_ssize_t p = 0; p < npts; p++) {
        PyObject *row = PyList_GET_ITEM(succ, p);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(row); j++) {
            Py_ssize_t q = PyLong_AsSsize_t(PyList_GET_ITEM(row, j));
            preds[pred_off[q] + fill[q]++] = p;
        }
    }
    free(fill);

    /* forward fixpoint: IN[p] = OR of OUT[preds]; OUT[p] = apply_point(IN[p]) */
    in = calloc((size_t)npts * (size_t)words + 1, sizeof(uint64_t));
    out = calloc((size_t)npts * (size_t)words + 1, sizeof(uint64_t));
    st = calloc((size_t)words + 1, sizeof(uint64_t));
    work = malloc(((size_t)npts + 1) * sizeof(Py_ssize_t));
    queued = malloc((size_t)npts + 1);
    if (!in || !out || !st || !work || !queued) goto nomem;
    for (Py_ssize_t p = 0; p < npts; p++) apply_point(out + p * words, acc, aoff[p], aoff[p + 1], wbase, rbase, rend);
    Py_ssize_t nwork = 0;
    for (Py_ssize_t p = npts - 1; p >= 0; p--) work[nwork++] = p;
    memset(queued, 1, (size_t)npts);
    while (nwork) {
        Py_ssize_t p = work[--nwork];
        queued[p] = 0;
        uint64_t *ip = in + p * words;
        memset(ip, 0, (size_t)words * sizeof(uint64_t));
        for (Py_ssize_t j = pred_off[p]; j < pred_off[p + 1]; j++) {
            const uint64_t *o = out + preds[j] * words;
            for (Py_ssize_t w = 0; w < words; w++) ip[w] |= o[w];
        }
        memcpy(st, ip, (size_t)words * sizeof(uint64_t));
        apply_point(st, acc, aoff[p], aoff[p + 1], wbase, rbase, rend);
        uint64_t *op = out + p * words;
        if (memcmp(st, op, (size_t)words * sizeof(uint64_t)) != 0) {
            memcpy(op, st, (size_t)words * sizeof(uint64_t));
            PyObject *row = PyList_GET_ITEM(succ, p);
            for (Py_ssize_t j = 0; j < PyList_GET_SIZE(row); j++) {
                Py_ssize_t q = PyLong_AsSsize_t(PyList_GET_ITEM(row, j));
                if (!queued[q]) {
                    queued[q] = 1;
                    work[nwork++] = q;
                }
            }
        }
    }

    /* edges: each access -> the writes / reads of its name that reach it */
    for (Py_ssize_t p = 0; p < npts; p++) {
        memcpy(st, in + p * words, (size_t)words * sizeof(uint64_t));
        for (Py_ssize_t i = aoff[p]; i < aoff[p + 1]; i++) {
            const Access *x = &acc[i];
            if (want_w && emit_range(st, wbase[x->name], rbase[x->name], bit_node, et, es, ed, lw, x->node) < 0)
                goto done;
            if (want_r && emit_range(st, rbase[x->name], rend[x->name], bit_node, et, es, ed, lr, x->node) < 0)
                goto done;
            apply_point(st, acc, i, i + 1, wbase, rbase, rend);
        }
    }
    result = Py_NewRef(Py_None);
    goto done;
nomem:
    PyErr_NoMemory();
done:
    Py_XDECREF(names);
    free(aoff);
    free(acc);
    free(cw);
    free(cr);
    free(wbase);
    free(rbase);
    free(rend);
    free(pred_off);
    free(preds);
    free(work);
    free(queued);
    free(bit_node);
    free(prev);
    free(in);
    free(out);
    free(st);
    free(items);
    return result;
}

static PyObject *native_runtime_version(PyObject *self, PyObject *noargs) {
    return Py_BuildValue("(ii)", TREE_SITTER_LANGUAGE_VERSION, TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION);
}

static PyMethodDef methods[] = {
    {"flatten", native_flatten, METH_VARARGS,
     "flatten(language, source, keep, comments) -> (lists, int64 buffers, error ranges)"},
    {"reaching", native_reaching, METH_VARARGS,
     "reaching(points, succ, want_lex, want_w, want_r, et, es, ed, LAST_WRITE, LAST_READ, LAST_LEXICAL_USE): "
     "append the def-use edges of one scope"},
    {"abi_range", native_runtime_version, METH_NOARGS, "(newest, oldest) grammar ABI the runtime reads"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

#ifndef GALLA_TREE_SITTER_VERSION
#define GALLA_TREE_SITTER_VERSION "unknown"
#endif

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "TREE_SITTER_VERSION", GALLA_TREE_SITTER_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
