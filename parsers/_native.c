/* parsers._native: the per-node and per-access loops of the graph engine, in C.
 *
 * Optional: setup.py builds it when the tree-sitter C runtime sources are at hand (setup.sh fetches
 * the sdist of the installed tree-sitter release); without it parsers/ runs the same algorithms in
 * Python, and the parser tests run on both engines (tests/parsers/test_native.py compares them on
 * real files) so both give identical graphs.
 *
 * Its language tables come as one parsers.compiled.CompiledLanguage, which language() reads by
 * attribute name and copies once per language; every value the tables share with the Python engine
 * (flags, roles, edge types) is checked against parsers/abi.py when the module is loaded.
 *
 * language(compiled): a language's tables, as a capsule the functions below take.
 * flatten(lang, source): parse with the C runtime (the release of the py-tree-sitter binding, so the
 *     same trees) and walk the tree once with a cursor; the kept nodes in preorder as int64 buffers
 *     (viewed by numpy, and as memoryviews for the scalar lookups of the Python passes).
 * file_context(lang, source, kind, field, start, end, parent, stop): one file's arrays and its scan
 *     events, the identifiers' access modes among them (parsers/accesses.py: events), for the passes.
 * events(ctx): those events, as the int64 columns parsers/accesses.py: Events holds.
 * build_cfg(ctx, scope, hint): one scope's CFG built exactly as parsers/controlflow.py's _Builder
 *     builds it.
 * scope_flows(ctx, scopes, hints, want): for every scope of a file, build_cfg, then its CFG_NEXT edges,
 *     its points' variable accesses (parsers/accesses.py: scan_points) and the def-use fixpoint over them
 *     (LAST_WRITE, LAST_READ, LAST_LEXICAL_USE).
 * computed_from(ctx, nodes): COMPUTED_FROM edges of assignments.
 * call_edges(ctx, within, want): RETURNS_TO, CALLS and FORMAL_ARG_NAME edges (parsers/calls.py), for
 *     languages without qualified names.
 * take_edges(ctx): the edges added so far, as int64 buffers, in the order the Python engine
 *     appends them.
 * slice_units(lang, ...): a file's edges and nodes cut into units (parsers/extract.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree_sitter/api.h"

/* --- values shared with the Python engine ----------------------------------------------------------
 *
 * Each is defined once on the Python side, in parsers/abi.py, under the name it has here minus the
 * prefix (KB_BLOCK is abi.FlowFlag.BLOCK); the module exports them all as ABI (name -> value) with
 * ABI_VERSION, and parsers/abi.py: check_abi refuses a core whose values differ. A change to any of
 * them, to the attributes of parsers.compiled.CompiledLanguage read below, or to a function's arguments
 * bumps GALLA_ABI_VERSION here and ABI_VERSION there. */

#define GALLA_ABI_VERSION 1

/* Compound roles: the index of the role in parsers.languages.Role. */
enum { R_IF, R_ELIF, R_ELSE, R_WHILE, R_FOR_EACH, R_FOR, R_DO, R_TRY, R_SWITCH, R_SEQUENCE, R_LABELED, R_CASE };

/* Per grammar kind flags of the control-flow tables (FlowTables' kind sets). */
enum {
    KB_BLOCK = 1 << 0, KB_STATEMENT = 1 << 1, KB_FUNCTION = 1 << 2, KB_SCOPE = 1 << 3, KB_RETURN = 1 << 4,
    KB_BREAK = 1 << 5, KB_CONTINUE = 1 << 6, KB_RAISE = 1 << 7, KB_LOOP = 1 << 8, KB_SWITCH = 1 << 9,
    KB_LABEL = 1 << 10, KB_INLINE = 1 << 11, KB_SELF_LABELLED = 1 << 12, KB_FALLTHROUGH = 1 << 13,
    KB_BREAK_TARGET = 1 << 14, KB_GOTO = 1 << 15, KB_NAMED = 1 << 16, KB_LABELED = 1 << 17,
};
/* Per compound, per grammar kind: membership in its kind sets. */
enum { CS_CLAUSE = 1, CS_ELSE = 2, CS_FINALLY = 4, CS_DEFAULT = 8, CS_EMPTY = 16, CS_HEAD = 32 };

/* Field ids that are no grammar field (-1: a field the grammar lacks). */
#define F_ABSENT (-1)
#define F_NONE (-2)          /* a compound part given as None in the language table: the last block child */
#define F_STAR (-3)          /* "*" in a head: a field-less child */
#define F_NOT_THIS_KIND (-2) /* call tables: no call, member access or keyword argument kind */
#define F_EVERY_OTHER (-2)   /* assignment tables: the value is every child outside the target field */

/* Per grammar kind flags of the data-flow tables (DataTables.kind_flags). */
enum {
    DK_IDENT = 1 << 0, DK_SKIP = 1 << 1, DK_COMPREHENSION = 1 << 2, DK_PATTERN = 1 << 3,
    DK_FIRST_CHILD_ONLY = 1 << 4, DK_FIRST_CHILD_NOT_VARIABLE = 1 << 5, DK_VALUE_REQUIRED = 1 << 6,
    DK_DEFINITION_NAME = 1 << 7, DK_DEFINITION = 1 << 8, DK_UPDATE_OPERATOR = 1 << 9,
};
/* (parent kind, field) -> access class in the low bits, plus flags (DataTables.pair_class). */
enum {
    PC_UNDECIDED = 0, PC_NON_VARIABLE = 1, PC_WRITE = 2, PC_UPDATE = 3, PC_ACCESS_MASK = 7,
    PC_DEFERRED = 1 << 3, PC_HEADER = 1 << 4,
};
/* Flags of a file's scan events. */
enum { EV_SKIP = 1, EV_DEFER = 2, EV_COMP = 4, EV_IDENT = 8, EV_HEADER = 16 };
/* Access modes. */
enum { M_READ = 1, M_WRITE = 2, M_UPDATE = 3 };
/* Per grammar kind flags of the call tables. */
enum { CM_FUNCTION = 1, CM_CLASS = 2, CM_SCOPE = 4, CM_IDENT = 8, CM_NAMED = 16, CM_RETURN = 32 };
/* The edge types the core emits (parsers.graph.EdgeType); `want` arguments are masks of 1 << type. */
enum {
    ET_CFG_NEXT = 2, ET_LAST_WRITE = 3, ET_LAST_READ = 4, ET_COMPUTED_FROM = 5, ET_RETURNS_TO = 6, ET_CALLS = 7,
    ET_FORMAL_ARG_NAME = 8, ET_LAST_LEXICAL_USE = 9,
};
#define WANTS(mask, type) (((mask) >> (type)) & 1)

#define ABI_VALUE(name) {#name, name}
static const struct {
    const char *name;
    long long value;
} abi_values[] = {
    ABI_VALUE(R_IF), ABI_VALUE(R_ELIF), ABI_VALUE(R_ELSE), ABI_VALUE(R_WHILE), ABI_VALUE(R_FOR_EACH),
    ABI_VALUE(R_FOR), ABI_VALUE(R_DO), ABI_VALUE(R_TRY), ABI_VALUE(R_SWITCH), ABI_VALUE(R_SEQUENCE),
    ABI_VALUE(R_LABELED), ABI_VALUE(R_CASE),
    ABI_VALUE(KB_BLOCK), ABI_VALUE(KB_STATEMENT), ABI_VALUE(KB_FUNCTION), ABI_VALUE(KB_SCOPE),
    ABI_VALUE(KB_RETURN), ABI_VALUE(KB_BREAK), ABI_VALUE(KB_CONTINUE), ABI_VALUE(KB_RAISE), ABI_VALUE(KB_LOOP),
    ABI_VALUE(KB_SWITCH), ABI_VALUE(KB_LABEL), ABI_VALUE(KB_INLINE), ABI_VALUE(KB_SELF_LABELLED),
    ABI_VALUE(KB_FALLTHROUGH), ABI_VALUE(KB_BREAK_TARGET), ABI_VALUE(KB_GOTO), ABI_VALUE(KB_NAMED),
    ABI_VALUE(KB_LABELED),
    ABI_VALUE(CS_CLAUSE), ABI_VALUE(CS_ELSE), ABI_VALUE(CS_FINALLY), ABI_VALUE(CS_DEFAULT), ABI_VALUE(CS_EMPTY),
    ABI_VALUE(CS_HEAD),
    ABI_VALUE(F_ABSENT), ABI_VALUE(F_NONE), ABI_VALUE(F_STAR), ABI_VALUE(F_NOT_THIS_KIND),
    ABI_VALUE(F_EVERY_OTHER),
    ABI_VALUE(DK_IDENT), ABI_VALUE(DK_SKIP), ABI_VALUE(DK_COMPREHENSION), ABI_VALUE(DK_PATTERN),
    ABI_VALUE(DK_FIRST_CHILD_ONLY), ABI_VALUE(DK_FIRST_CHILD_NOT_VARIABLE), ABI_VALUE(DK_VALUE_REQUIRED),
    ABI_VALUE(DK_DEFINITION_NAME), ABI_VALUE(DK_DEFINITION), ABI_VALUE(DK_UPDATE_OPERATOR),
    ABI_VALUE(PC_UNDECIDED), ABI_VALUE(PC_NON_VARIABLE), ABI_VALUE(PC_WRITE), ABI_VALUE(PC_UPDATE),
    ABI_VALUE(PC_ACCESS_MASK), ABI_VALUE(PC_DEFERRED), ABI_VALUE(PC_HEADER),
    ABI_VALUE(EV_SKIP), ABI_VALUE(EV_DEFER), ABI_VALUE(EV_COMP), ABI_VALUE(EV_IDENT), ABI_VALUE(EV_HEADER),
    ABI_VALUE(M_READ), ABI_VALUE(M_WRITE), ABI_VALUE(M_UPDATE),
    ABI_VALUE(CM_FUNCTION), ABI_VALUE(CM_CLASS), ABI_VALUE(CM_SCOPE), ABI_VALUE(CM_IDENT), ABI_VALUE(CM_NAMED),
    ABI_VALUE(CM_RETURN),
    ABI_VALUE(ET_CFG_NEXT), ABI_VALUE(ET_LAST_WRITE), ABI_VALUE(ET_LAST_READ), ABI_VALUE(ET_COMPUTED_FROM),
    ABI_VALUE(ET_RETURNS_TO), ABI_VALUE(ET_CALLS), ABI_VALUE(ET_FORMAL_ARG_NAME), ABI_VALUE(ET_LAST_LEXICAL_USE),
};
#undef ABI_VALUE

/* --- a language's tables: parsers.compiled.CompiledLanguage, copied once by language() ------------- */

typedef struct FlowTab FlowTab; /* the control-flow tables, below */

typedef struct {
    PyObject *grammar; /* the grammar capsule (owned) */
    const TSLanguage *ts;
    Py_ssize_t nk;      /* grammar kinds + ERROR */
    Py_ssize_t nfields; /* columns of pair_class */
    uint8_t *keep, *comments;
    int64_t *kind_flags, *pair_class, *value_field; /* nk + 1 rows: the last one is "no parent" */
    int64_t *comp_clause, *comp_target;             /* comprehension: clause kind, target field */
    int64_t *assign_target, *assign_value;          /* assignment: target field, value field */
    int64_t operator_fid, name_fid, definition_body_fid;
    FlowTab *flow;
    uint8_t *call_flags;
    int64_t *call_fids; /* 5 rows: callee, arguments, object, member, keyword name */
    PyObject *selves;   /* tuple of bytes (owned) */
    int64_t call_params_fid;
    int16_t *global_kind;
    int8_t *named;
} Lang;

static const Lang *lang_of(PyObject *capsule) { return PyCapsule_GetPointer(capsule, "galla.native.lang"); }

/* obj.<name> as an int64; 0, or -1 with an exception. */
static int attr_int(PyObject *obj, const char *name, int64_t *out) {
    PyObject *v = PyObject_GetAttrString(obj, name);
    if (!v) return -1;
    long long x = PyLong_AsLongLong(v);
    Py_DECREF(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    *out = x;
    return 0;
}

/* obj.<name> as a truth value; 0, or -1 with an exception. */
static int attr_bool(PyObject *obj, const char *name, int *out) {
    PyObject *v = PyObject_GetAttrString(obj, name);
    if (!v) return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    if (r < 0) return -1;
    *out = r;
    return 0;
}

/* obj.<name>, a buffer of `count` items of `size` bytes, copied into a new array; NULL with an exception. */
static void *attr_array(PyObject *obj, const char *name, Py_ssize_t count, Py_ssize_t size) {
    PyObject *v = PyObject_GetAttrString(obj, name);
    if (!v) return NULL;
    Py_buffer b;
    void *out = NULL;
    if (PyObject_GetBuffer(v, &b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == 0) {
        if (b.itemsize != size)
            PyErr_Format(PyExc_ValueError, "language: %s holds %zd-byte items, not %zd-byte ones", name, b.itemsize,
                         size);
        else if (b.len != count * size)
            PyErr_Format(PyExc_ValueError,
                         "language: %s has %zd items, not %zd: tables of inconsistent lengths (%s than the grammar's)",
                         name, b.len / size, count, b.len < count * size ? "shorter" : "longer");
        else if (!(out = malloc((size_t)b.len + 1)))
            PyErr_NoMemory();
        else
            memcpy(out, b.buf, (size_t)b.len);
        PyBuffer_Release(&b);
    }
    Py_DECREF(v);
    return out;
}

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

/* --- preorder trees: stop[i] is one past the last node of i's subtree ---------------------------- */

/* The first child of n in grammar field fid, or -1. */
static int64_t child_in_field(const int64_t *stop, const int64_t *field, int64_t n, int64_t fid) {
    if (fid < 0) return -1;
    for (int64_t c = n + 1; c < stop[n]; c = stop[c])
        if (field[c] == fid) return c;
    return -1;
}

/* Sort a few node indices in place (insertion sort: heads and parameter lists are short). */
static void sort_nodes(int64_t *v, Py_ssize_t n) {
    for (Py_ssize_t i = 1; i < n; i++) {
        int64_t x = v[i];
        Py_ssize_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
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

/* --- an arena for one parse ---------------------------------------------------------------------
 * A file's parse and walk allocate tens of thousands of small blocks and free them all at the end
 * (ts_tree_delete alone visits every node again). For files up to ARENA_MAX_SOURCE bytes, flatten
 * points the runtime's allocator (ours only: the py-tree-sitter binding has its own copy) at a bump
 * arena, uses a parser of its own for the parse, and then drops everything at once. Blocks carry
 * their size in front so realloc can copy; free does nothing. The chunks are kept for the next file. */

#define ARENA_MAX_SOURCE (1 << 20)
#define ARENA_CHUNK ((size_t)4 << 20)
#define ARENA_KEEP ((size_t)64 << 20) /* more than this is returned to the system after a file */

typedef struct Chunk {
    struct Chunk *next;
    size_t used, cap;
    max_align_t data[];
} Chunk;

static Chunk *arena_chunks; /* in use, the current one first */
static Chunk *arena_spare;  /* emptied by arena_reset, for the next file */

static void arena_out_of_memory(size_t n) { /* as the runtime's own allocator: it never checks NULL */
    fprintf(stderr, "tree-sitter failed to allocate %zu bytes", n);
    abort();
}

/* A chunk with room for `need` bytes: a spare one if one is big enough, else a new one. */
static Chunk *arena_chunk(size_t need) {
    for (Chunk **link = &arena_spare; *link; link = &(*link)->next) {
        if ((*link)->cap >= need) {
            Chunk *c = *link;
            *link = c->next;
            return c;
        }
    }
    size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
    Chunk *c = malloc(sizeof(Chunk) + cap);
    if (!c) arena_out_of_memory(cap);
    c->cap = cap;
    return c;
}

static void *arena_malloc(size_t n) {
    size_t need = ((n + 15) & ~(size_t)15) + 16;
    if (need < n) arena_out_of_memory(n);
    Chunk *c = arena_chunks;
    if (!c || c->cap - c->used < need) {
        c = arena_chunk(need);
        c->used = 0;
        c->next = arena_chunks;
        arena_chunks = c;
    }
    char *block = (char *)c->data + c->used;
    c->used += need;
    *(size_t *)block = n;
    return block + 16;
}

static void *arena_calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) arena_out_of_memory(SIZE_MAX);
    void *p = arena_malloc(count * size);
    memset(p, 0, count * size);
    return p;
}

static void *arena_realloc(void *p, size_t n) {
    if (!p) return arena_malloc(n);
    size_t old = *(size_t *)((char *)p - 16);
    if (n <= old) return p;
    Chunk *c = arena_chunks;
    size_t old_span = ((old + 15) & ~(size_t)15) + 16, new_span = ((n + 15) & ~(size_t)15) + 16;
    if ((char *)p - 16 + old_span == (char *)c->data + c->used && c->used - old_span + new_span <= c->cap) {
        c->used += new_span - old_span; /* the last block grows in place */
        *(size_t *)((char *)p - 16) = n;
        return p;
    }
    void *q = arena_malloc(n);
    memcpy(q, p, old);
    return q;
}

static void arena_free(void *p) { (void)p; }

/* Forget every block; keep up to ARENA_KEEP bytes of chunks as spares for the next file. */
static void arena_reset(void) {
    size_t kept = 0;
    for (Chunk *c = arena_spare; c; c = c->next) kept += c->cap;
    while (arena_chunks) {
        Chunk *c = arena_chunks;
        arena_chunks = c->next;
        if (kept + c->cap <= ARENA_KEEP) {
            kept += c->cap;
            c->next = arena_spare;
            arena_spare = c;
        } else {
            free(c);
        }
    }
}

static PyObject *native_flatten(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer src;
    if (!PyArg_ParseTuple(args, "Oy*", &capsule, &src)) return NULL;
    PyObject *result = NULL;
    TSTree *tree = NULL;
    TSParser *arena_parser = NULL; /* set while the arena is the runtime's allocator */
    Vec col[6] = {{0}};   /* kind, field, start, end, parent, stop */
    Vec own = {0}, owners = {0};
    const Lang *L = lang_of(capsule);
    if (!L) goto done;
    const TSLanguage *lang = L->ts;
    uint32_t nkinds = ts_language_symbol_count(lang); /* language() checked: L->nk == nkinds + 1 */
    const uint8_t *kp = L->keep, *cm = L->comments;
    if (src.len > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "source larger than 4 GiB");
        goto done;
    }
    /* the GIL stays held: the parser of each language, and the arena, are shared by all threads */
    if (src.len <= ARENA_MAX_SOURCE) {
        ts_set_allocator(arena_malloc, arena_calloc, arena_realloc, arena_free);
        arena_parser = ts_parser_new();
        if (!ts_parser_set_language(arena_parser, lang)) {
            PyErr_SetString(PyExc_ValueError, "grammar ABI not supported by the native runtime");
            goto done;
        }
    }
    TSParser *parser = arena_parser ? arena_parser : parser_for(lang);
    if (!parser) goto done;
    tree = ts_parser_parse_string(parser, NULL, src.buf, (uint32_t)src.len);
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
    PyObject *bufs = PyTuple_New(6);
    PyObject *errors = error_ranges(root);
    if (!bufs || !errors) goto fail_out;
    for (int c = 0; c < 6; c++) {
        PyObject *b = vec_bytes(&col[c]);
        if (!b) goto fail_out;
        PyTuple_SET_ITEM(bufs, c, b);
    }
    result = Py_BuildValue("(NN)", bufs, errors);
    goto done;
fail_out:
    Py_XDECREF(bufs);
    Py_XDECREF(errors);
done:
    if (arena_parser) {
        ts_parser_delete(arena_parser); /* frees nothing, but lets the grammar's scanner free its state */
        ts_set_allocator(NULL, NULL, NULL, NULL);
        arena_reset(); /* the tree goes with the arena */
    } else if (tree) {
        ts_tree_delete(tree);
    }
    for (int c = 0; c < 6; c++) free(col[c].v);
    free(own.v);
    free(owners.v);
    PyBuffer_Release(&src);
    return result;
}

/* --- reaching accesses ------------------------------------------------------------------------- */

typedef struct {
    int64_t node;
    Py_ssize_t name;
    int mode;
    Py_ssize_t wbit, rbit; /* -1 when the access has no write / read role */
} Access;

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

typedef struct {
    Vec *et, *es, *ed; /* edge columns: type, src, dst */
    int64_t lw, lr, lex;
    int want_lex, want_w, want_r;
} Sink;

static int sink_add(const Sink *o, int64_t type, int64_t src, int64_t dst) {
    if (vec_push(o->et, type) < 0 || vec_push(o->es, src) < 0 || vec_push(o->ed, dst) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Emit edges of ``type`` from ``src`` to the nodes of the set bits of st in [lo, hi), ascending. */
static int emit_range(const uint64_t *st, Py_ssize_t lo, Py_ssize_t hi, const int64_t *bit_node, const Sink *o,
                      int64_t type, int64_t src) {
    for (Py_ssize_t w = lo >> 6; lo < hi; w++) {
        uint64_t word = st[w];
        Py_ssize_t base = w << 6;
        if (base < lo) word &= ~0ULL << (lo - base);
        if (hi - base < 64) word &= (1ULL << (hi - base)) - 1;
        while (word) {
            int b = __builtin_ctzll(word);
            if (sink_add(o, type, src, bit_node[base + b]) < 0) return -1;
            word &= word - 1;
        }
        lo = base + 64;
    }
    return 0;
}

/* The def-use passes of one scope over its points' accesses (``aoff``: CSR offsets per point; ``succ``:
 * CSR successor lists): LAST_LEXICAL_USE (each access -> the previous access of its name in source
 * order), then per access the LAST_WRITE / LAST_READ edges to the writes / reads of its name that reach
 * it, from a forward fixpoint with one bit per write and per read (bits grouped by name). */
static int reaching_core(Access *acc, Py_ssize_t nacc, const Py_ssize_t *aoff, Py_ssize_t npts, Py_ssize_t nnames,
                         const Py_ssize_t *succ_off, const Py_ssize_t *succ, const Sink *out) {
    int rc = -1;
    Py_ssize_t *cw = NULL, *cr = NULL, *wbase = NULL, *rbase = NULL, *rend = NULL, *pred_off = NULL;
    Py_ssize_t *preds = NULL, *fill = NULL, *work = NULL;
    char *queued = NULL;
    int64_t *bit_node = NULL, *prev = NULL;
    uint64_t *in = NULL, *outs = NULL, *st = NULL;
    LexItem *items = NULL;

    if (out->want_lex && nacc) {
        items = malloc((size_t)nacc * sizeof(LexItem));
        prev = malloc(((size_t)nnames + 1) * sizeof(int64_t));
        if (!items || !prev) goto nomem;
        for (Py_ssize_t i = 0; i < nacc; i++) items[i] = (LexItem){acc[i].node, i, acc[i].name};
        qsort(items, (size_t)nacc, sizeof(LexItem), lex_cmp);
        for (Py_ssize_t k = 0; k < nnames; k++) prev[k] = -1;
        for (Py_ssize_t i = 0; i < nacc; i++) {
            int64_t q = prev[items[i].name];
            if (q >= 0 && sink_add(out, out->lex, items[i].node, q) < 0) goto done;
            prev[items[i].name] = items[i].node;
        }
    }
    if (!(out->want_w || out->want_r) || !nacc) {
        rc = 0;
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
        cw[acc[i].name] += (acc[i].mode & M_WRITE) != 0;
        cr[acc[i].name] += (acc[i].mode & M_READ) != 0;
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
        if (x->mode & M_WRITE) {
            x->wbit = wbase[x->name] + cw[x->name]++;
            bit_node[x->wbit] = x->node;
        }
        if (x->mode & M_READ) {
            x->rbit = rbase[x->name] + cr[x->name]++;
            bit_node[x->rbit] = x->node;
        }
    }
    Py_ssize_t words = (nbits + 63) / 64;
    if ((double)npts * (double)words * 16.0 > 4e9) goto nomem;

    /* predecessors */
    pred_off = calloc((size_t)npts + 1, sizeof(Py_ssize_t));
    fill = calloc((size_t)npts + 1, sizeof(Py_ssize_t));
    preds = malloc(((size_t)succ_off[npts] + 1) * sizeof(Py_ssize_t));
    if (!pred_off || !fill || !preds) goto nomem;
    for (Py_ssize_t j = 0; j < succ_off[npts]; j++) pred_off[succ[j] + 1]++;
    for (Py_ssize_t p = 0; p < npts; p++) pred_off[p + 1] += pred_off[p];
    for (Py_ssize_t p = 0; p < npts; p++)
        for (Py_ssize_t j = succ_off[p]; j < succ_off[p + 1]; j++) preds[pred_off[succ[j]] + fill[succ[j]]++] = p;

    /* forward fixpoint: IN[p] = OR of OUT[preds]; OUT[p] = apply_point(IN[p]) */
    in = calloc((size_t)npts * (size_t)words + 1, sizeof(uint64_t));
    outs = calloc((size_t)npts * (size_t)words + 1, sizeof(uint64_t));
    st = calloc((size_t)words + 1, sizeof(uint64_t));
    work = malloc(((size_t)npts + 1) * sizeof(Py_ssize_t));
    queued = malloc((size_t)npts + 1);
    if (!in || !outs || !st || !work || !queued) goto nomem;
    for (Py_ssize_t p = 0; p < npts; p++)
        apply_point(outs + p * words, acc, aoff[p], aoff[p + 1], wbase, rbase, rend);
    Py_ssize_t nwork = 0;
    for (Py_ssize_t p = npts - 1; p >= 0; p--) work[nwork++] = p;
    memset(queued, 1, (size_t)npts);
    while (nwork) {
        Py_ssize_t p = work[--nwork];
        queued[p] = 0;
        uint64_t *ip = in + p * words;
        memset(ip, 0, (size_t)words * sizeof(uint64_t));
        for (Py_ssize_t j = pred_off[p]; j < pred_off[p + 1]; j++) {
            const uint64_t *o = outs + preds[j] * words;
            for (Py_ssize_t w = 0; w < words; w++) ip[w] |= o[w];
        }
        memcpy(st, ip, (size_t)words * sizeof(uint64_t));
        apply_point(st, acc, aoff[p], aoff[p + 1], wbase, rbase, rend);
        uint64_t *op = outs + p * words;
        if (memcmp(st, op, (size_t)words * sizeof(uint64_t)) != 0) {
            memcpy(op, st, (size_t)words * sizeof(uint64_t));
            for (Py_ssize_t j = succ_off[p]; j < succ_off[p + 1]; j++) {
                if (!queued[succ[j]]) {
                    queued[succ[j]] = 1;
                    work[nwork++] = succ[j];
                }
            }
        }
    }

    /* edges: each access -> the writes / reads of its name that reach it */
    for (Py_ssize_t p = 0; p < npts; p++) {
        memcpy(st, in + p * words, (size_t)words * sizeof(uint64_t));
        for (Py_ssize_t i = aoff[p]; i < aoff[p + 1]; i++) {
            const Access *x = &acc[i];
            if (out->want_w && emit_range(st, wbase[x->name], rbase[x->name], bit_node, out, out->lw, x->node) < 0)
                goto done;
            if (out->want_r && emit_range(st, rbase[x->name], rend[x->name], bit_node, out, out->lr, x->node) < 0)
                goto done;
            apply_point(st, acc, i, i + 1, wbase, rbase, rend);
        }
    }
    rc = 0;
    goto done;
nomem:
    PyErr_NoMemory();
done:
    free(cw);
    free(cr);
    free(wbase);
    free(rbase);
    free(rend);
    free(pred_off);
    free(fill);
    free(preds);
    free(work);
    free(queued);
    free(bit_node);
    free(prev);
    free(in);
    free(outs);
    free(st);
    free(items);
    return rc;
}

/* --- variable accesses of a scope -------------------------------------------------------------- */

/* Per-file arrays, their scan events and the language's tables, for the passes (see
 * parsers/accesses.py: scan_points). */
typedef struct {
    PyObject *lang_obj; /* the language capsule (owned) */
    const Lang *L;
    Py_buffer buf[7]; /* source, then the columns kind field start end parent stop */
    int nbuf;
    const char *src;
    Py_ssize_t srclen, n, nev, nkinds;
    const int64_t *kind, *field, *start, *end, *parent, *stop;
    Vec ev[8]; /* the scan events: node flag mode key parent, then the IDENT events' position start end */
    const int64_t *ev_node, *ev_flag, *ev_mode, *ev_key, *ev_parent;
    Vec et, es, ed; /* edges scope_flows / computed_from have emitted, until take_edges */
} Ctx;

static void ctx_destroy(Ctx *c) {
    for (int i = 0; i < c->nbuf; i++) PyBuffer_Release(&c->buf[i]);
    for (int i = 0; i < 8; i++) free(c->ev[i].v);
    free(c->et.v);
    free(c->es.v);
    free(c->ed.v);
    Py_XDECREF(c->lang_obj);
    free(c);
}

static void ctx_free(PyObject *capsule) {
    Ctx *c = PyCapsule_GetPointer(capsule, "galla.native.ctx");
    if (c) ctx_destroy(c);
}

static int scan_events(Ctx *c);

/* file_context(lang, source, kind, field, start, end, parent, stop) -> capsule: one file's flat tree (int64
 * columns in the order parsers.tree.flatten has them) with its scan events, for the passes below. */
static PyObject *native_file_context(PyObject *self, PyObject *args) {
    static const char *names[7] = {"source", "kind", "field", "start", "end", "parent", "stop"};
    PyObject *capsule, *objs[7];
    if (!PyArg_ParseTuple(args, "OOOOOOOO", &capsule, &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5],
                          &objs[6]))
        return NULL;
    const Lang *L = lang_of(capsule);
    if (!L) return NULL;
    Ctx *c = calloc(1, sizeof(Ctx));
    if (!c) return PyErr_NoMemory();
    c->lang_obj = Py_NewRef(capsule);
    c->L = L;
    for (int i = 0; i < 7; i++) {
        if (PyObject_GetBuffer(objs[i], &c->buf[i], PyBUF_C_CONTIGUOUS) < 0) {
            ctx_destroy(c);
            return NULL;
        }
        c->nbuf++;
    }
    c->src = c->buf[0].buf;
    c->srclen = c->buf[0].len;
    c->n = c->buf[1].len / 8;
    c->nkinds = L->nk;
    for (int i = 1; i < 7; i++)
        if (c->buf[i].len != c->n * 8) {
            PyErr_Format(PyExc_ValueError, "file_context: %s array of the wrong length (columns of inconsistent lengths)",
                         names[i]);
            ctx_destroy(c);
            return NULL;
        }
    c->kind = c->buf[1].buf;
    c->field = c->buf[2].buf;
    c->start = c->buf[3].buf;
    c->end = c->buf[4].buf;
    c->parent = c->buf[5].buf;
    c->stop = c->buf[6].buf;
    if (scan_events(c) < 0) {
        ctx_destroy(c);
        return NULL;
    }
    PyObject *cap = PyCapsule_New(c, "galla.native.ctx", ctx_free);
    if (!cap) ctx_destroy(c);
    return cap;
}

static Py_ssize_t ev_lower(const Ctx *c, int64_t node) {
    Py_ssize_t lo = 0, hi = c->nev;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (c->ev_node[mid] < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static PyObject *node_text(const Ctx *c, int64_t i) {
    return PyBytes_FromStringAndSize(c->src + c->start[i], (Py_ssize_t)(c->end[i] - c->start[i]));
}

/* One access before sorting: its order key lives in keys[key, key + klen). */
typedef struct {
    Py_ssize_t key, seq;
    int klen;
    int64_t node;
    PyObject *name; /* owned */
    int mode;
} Raw;

typedef struct {
    Raw *v;
    Py_ssize_t n, cap;
    Vec keys;
    const int64_t *sort_keys; /* for the comparator */
} RawList;

static void raw_clear(RawList *l) {
    for (Py_ssize_t i = 0; i < l->n; i++) Py_XDECREF(l->v[i].name);
    free(l->v);
    free(l->keys.v);
    memset(l, 0, sizeof(*l));
}

static int raw_add(RawList *l, const int64_t *prefix, int plen, const int64_t *key, int klen, int64_t node,
                   PyObject *name, int mode) {
    if (l->n == l->cap) {
        Py_ssize_t cap = l->cap ? l->cap * 2 : 64;
        Raw *v = realloc(l->v, (size_t)cap * sizeof(Raw));
        if (!v) {
            Py_DECREF(name);
            PyErr_NoMemory();
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    Raw *r = &l->v[l->n];
    r->key = l->keys.n;
    r->klen = plen + klen;
    r->seq = l->n;
    r->node = node;
    r->name = name;
    r->mode = mode;
    l->n++;
    for (int i = 0; i < plen; i++)
        if (vec_push(&l->keys, prefix[i]) < 0) return PyErr_NoMemory(), -1;
    for (int i = 0; i < klen; i++)
        if (vec_push(&l->keys, key[i]) < 0) return PyErr_NoMemory(), -1;
    return 0;
}

static const int64_t *cmp_keys;

static int raw_cmp(const void *pa, const void *pb) {
    const Raw *a = pa, *b = pb;
    const int64_t *ka = cmp_keys + a->key, *kb = cmp_keys + b->key;
    int n = a->klen < b->klen ? a->klen : b->klen;
    for (int i = 0; i < n; i++)
        if (ka[i] != kb[i]) return ka[i] < kb[i] ? -1 : 1;
    if (a->klen != b->klen) return a->klen < b->klen ? -1 : 1;
    return a->seq < b->seq ? -1 : (a->seq > b->seq); /* stable, as list.sort */
}

static void raw_sort(RawList *l) {
    cmp_keys = l->keys.v; /* the GIL is held: no other thread sorts at the same time */
    qsort(l->v, (size_t)l->n, sizeof(Raw), raw_cmp);
}

typedef struct {
    int64_t stop, node, lo, hi;
    PyObject *names; /* set of bytes, owned */
} CompScope;

/* Names a comprehension binds, and the node range of its first iterable (see _bound_names). */
static int bound_names(const Ctx *c, int64_t comp, CompScope *sc) {
    int64_t k = c->kind[comp];
    int64_t clause = c->L->comp_clause[k], target = c->L->comp_target[k];
    sc->stop = c->stop[comp];
    sc->node = comp;
    sc->lo = sc->hi = -1;
    sc->names = PySet_New(NULL);
    if (!sc->names) return -1;
    for (int64_t ch = comp + 1; ch < c->stop[comp]; ch = c->stop[ch]) {
        if (c->kind[ch] != clause) continue;
        for (int64_t t = ch + 1; t < c->stop[ch]; t = c->stop[t]) {
            if (c->field[t] != target) {
                if (sc->lo < 0 && c->field[t] && t > ch + 1) {
                    sc->lo = t;
                    sc->hi = c->stop[t];
                }
                continue;
            }
            for (int64_t j = t; j < c->stop[t]; j++) {
                if (c->kind[j] < c->nkinds && (c->L->kind_flags[c->kind[j]] & DK_IDENT)) {
                    PyObject *txt = node_text(c, j);
                    if (!txt || PySet_Add(sc->names, txt) < 0) {
                        Py_XDECREF(txt);
                        return -1;
                    }
                    Py_DECREF(txt);
                }
            }
        }
    }
    return 0;
}

static int scan_roots(const Ctx *c, const int64_t *roots, Py_ssize_t nroots, RawList *out, int *sorted_out);

/* What running definition n does in the enclosing scope: read its header parts, then write its name. */
static int definition_accesses(const Ctx *c, int64_t n, const int64_t *prefix, int plen, RawList *out) {
    int64_t body = child_in_field(c->stop, c->field, n, c->L->definition_body_fid);
    int64_t end = body >= 0 ? body : c->stop[n];
    Vec headers = {0};
    int64_t skip_until = -1;
    for (Py_ssize_t j = ev_lower(c, n + 1), e = ev_lower(c, end); j < e; j++) {
        int64_t i = c->ev_node[j];
        if (i < skip_until) continue;
        if (c->ev_flag[j] & EV_HEADER) {
            if (vec_push(&headers, i) < 0) return free(headers.v), PyErr_NoMemory(), -1;
            skip_until = c->stop[i];
        } else if (c->ev_flag[j] & EV_SKIP) {
            skip_until = c->stop[i];
        }
    }
    if (headers.n) {
        RawList inner = {0};
        int dummy;
        if (scan_roots(c, headers.v, headers.n, &inner, &dummy) < 0) {
            raw_clear(&inner);
            free(headers.v);
            return -1;
        }
        for (Py_ssize_t i = 0; i < inner.n; i++) {
            Raw *r = &inner.v[i];
            Py_INCREF(r->name);
            if (raw_add(out, prefix, plen, inner.keys.v + r->key, r->klen, r->node, r->name, r->mode) < 0) {
                raw_clear(&inner);
                free(headers.v);
                return -1;
            }
        }
        raw_clear(&inner);
    }
    free(headers.v);
    /* the name: a child in the name field of a definition-name kind (functions and classes only) */
    int64_t k = c->kind[n];
    if (k < c->nkinds && (c->L->kind_flags[k] & DK_DEFINITION)) {
        for (int64_t ch = n + 1; ch < c->stop[n]; ch = c->stop[ch]) {
            if (c->field[ch] == c->L->name_fid && c->kind[ch] < c->nkinds &&
                (c->L->kind_flags[c->kind[ch]] & DK_DEFINITION_NAME)) {
                PyObject *txt = node_text(c, ch);
                int64_t key = c->stop[n];
                if (!txt || raw_add(out, prefix, plen, &key, 1, ch, txt, M_WRITE) < 0) return -1;
                break;
            }
        }
    }
    return 0;
}

/* The accesses in the subtrees of roots, as scan_points gives one point's list (sorted when it sorts). */
static int scan_roots(const Ctx *c, const int64_t *roots, Py_ssize_t nroots, RawList *out, int *sorted_out) {
    int sort = nroots > 1;
    Vec regions = {0};   /* triples: stop, key, -parent */
    CompScope *scopes = NULL;
    Py_ssize_t nscopes = 0, capscopes = 0;
    Vec prefix = {0};
    int rc = -1;
    for (Py_ssize_t r = 0; r < nroots; r++) {
        int64_t root = roots[r];
        if (root < 0) continue;
        if (c->kind[root] < c->nkinds && (c->L->kind_flags[c->kind[root]] & DK_SKIP)) {
            if (definition_accesses(c, root, NULL, 0, out) < 0) goto done;
            sort = 1;
            continue;
        }
        regions.n = 0;
        while (nscopes) Py_DECREF(scopes[--nscopes].names);
        int64_t skip_until = -1;
        for (Py_ssize_t j = ev_lower(c, root), e = ev_lower(c, c->stop[root]); j < e; j++) {
            int64_t i = c->ev_node[j];
            if (i < skip_until) continue;
            int64_t f = c->ev_flag[j];
            while (regions.n && regions.v[regions.n - 3] <= i) regions.n -= 3;
            if (f & EV_SKIP) {
                prefix.n = 0;
                for (Py_ssize_t q = 0; q < regions.n; q += 3) {
                    if (vec_push(&prefix, regions.v[q + 1]) < 0 || vec_push(&prefix, regions.v[q + 2]) < 0) goto nomem;
                }
                if (definition_accesses(c, i, prefix.v, (int)prefix.n, out) < 0) goto done;
                sort = 1;
                skip_until = c->stop[i];
                continue;
            }
            if ((f & EV_HEADER) && i != root) {
                skip_until = c->stop[i];
                continue;
            }
            if (f & EV_DEFER) {
                if (vec_push(&regions, c->stop[i]) < 0 || vec_push(&regions, c->ev_key[j]) < 0 ||
                    vec_push(&regions, -c->ev_parent[j]) < 0)
                    goto nomem;
                sort = 1;
            }
            if (f & EV_COMP) {
                while (nscopes && scopes[nscopes - 1].stop <= i) Py_DECREF(scopes[--nscopes].names);
                if (nscopes == capscopes) {
                    capscopes = capscopes ? capscopes * 2 : 8;
                    CompScope *s2 = realloc(scopes, (size_t)capscopes * sizeof(CompScope));
                    if (!s2) goto nomem;
                    scopes = s2;
                }
                if (bound_names(c, i, &scopes[nscopes]) < 0) {
                    Py_XDECREF(scopes[nscopes].names);
                    goto done;
                }
                nscopes++;
            }
            if (f & EV_IDENT) {
                PyObject *name = node_text(c, i);
                if (!name) goto done;
                while (nscopes && scopes[nscopes - 1].stop <= i) Py_DECREF(scopes[--nscopes].names);
                for (Py_ssize_t q = nscopes - 1; q >= 0; q--) {
                    CompScope *sc = &scopes[q];
                    int in = PySet_Contains(sc->names, name);
                    if (in < 0) {
                        Py_DECREF(name);
                        goto done;
                    }
                    if (in && !(sc->lo <= i && i < sc->hi)) {
                        PyObject *scoped = Py_BuildValue("(LN)", (long long)sc->node, name);
                        if (!scoped) goto done;
                        name = scoped;
                        break;
                    }
                }
                prefix.n = 0;
                for (Py_ssize_t q = 0; q < regions.n; q += 3) {
                    if (vec_push(&prefix, regions.v[q + 1]) < 0 || vec_push(&prefix, regions.v[q + 2]) < 0) {
                        Py_DECREF(name);
                        goto nomem;
                    }
                }
                if (raw_add(out, prefix.v, (int)prefix.n, &i, 1, i, name, (int)c->ev_mode[j]) < 0) goto done;
            }
        }
    }
    if (sort && out->n > 1) raw_sort(out);
    *sorted_out = sort;
    rc = 0;
    goto done;
nomem:
    PyErr_NoMemory();
done:
    while (nscopes) Py_DECREF(scopes[--nscopes].names);
    free(scopes);
    free(regions.v);
    free(prefix.v);
    return rc;
}

/* The node indices of a Python list into ``out`` (reset first); -1 where a point reads nothing. */
static int nodes_from_list(const Ctx *c, PyObject *list, Vec *out, const char *who) {
    out->n = 0;
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(list); j++) {
        long long r = PyLong_AsLongLong(PyList_GET_ITEM(list, j));
        if (r == -1 && PyErr_Occurred()) return -1;
        if (r >= c->n) {
            PyErr_Format(PyExc_ValueError, "%s: node out of range", who);
            return -1;
        }
        if (vec_push(out, r) < 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

/* One scope's edges from its points in C arrays: ``anchor`` (node per point), ``roff``/``rflat`` (CSR:
 * the subtree roots each point reads, in order), ``soff``/``sflat`` (CSR: successor points). Emits the
 * CFG_NEXT edges, then the def-use edges (reaching_core); 0, or -1 with an exception. */
static int flow_core(Ctx *c, Py_ssize_t npts, const int64_t *anchor, const Py_ssize_t *roff, const int64_t *rflat,
                     const Py_ssize_t *soff, const Py_ssize_t *sflat, int want_cfg, int64_t cfg, const Sink *sink) {
    if (want_cfg) {
        for (Py_ssize_t p = 0; p < npts; p++)
            for (Py_ssize_t j = soff[p]; j < soff[p + 1]; j++)
                if (sink_add(sink, cfg, anchor[p], anchor[sflat[j]]) < 0) return -1;
    }
    if (!(sink->want_lex || sink->want_w || sink->want_r)) return 0;
    int rc = -1;
    PyObject *names = PyDict_New();
    Py_ssize_t *aoff = calloc((size_t)npts + 1, sizeof(Py_ssize_t));
    Access *acc = NULL;
    Py_ssize_t nacc = 0, capacc = 0;
    if (!names || !aoff) goto nomem;
    for (Py_ssize_t p = 0; p < npts; p++) {
        RawList raw = {0};
        int sorted;
        if (scan_roots(c, rflat ? rflat + roff[p] : NULL, roff[p + 1] - roff[p], &raw, &sorted) < 0) {
            raw_clear(&raw);
            goto done;
        }
        if (nacc + raw.n > capacc) {
            capacc = (nacc + raw.n) * 2 + 64;
            Access *a2 = realloc(acc, (size_t)capacc * sizeof(Access));
            if (!a2) {
                raw_clear(&raw);
                goto nomem;
            }
            acc = a2;
        }
        for (Py_ssize_t i = 0; i < raw.n; i++) {
            PyObject *id = PyDict_GetItemWithError(names, raw.v[i].name);
            Py_ssize_t k;
            if (id) {
                k = PyLong_AsSsize_t(id);
            } else {
                if (PyErr_Occurred()) {
                    raw_clear(&raw);
                    goto done;
                }
                k = PyDict_GET_SIZE(names);
                PyObject *v = PyLong_FromSsize_t(k);
                if (!v || PyDict_SetItem(names, raw.v[i].name, v) < 0) {
                    Py_XDECREF(v);
                    raw_clear(&raw);
                    goto done;
                }
                Py_DECREF(v);
            }
            acc[nacc++] = (Access){raw.v[i].node, k, raw.v[i].mode, -1, -1};
        }
        raw_clear(&raw);
        aoff[p + 1] = nacc;
    }
    rc = reaching_core(acc, nacc, aoff, npts, PyDict_GET_SIZE(names), soff, sflat, sink);
    goto done;
nomem:
    if (!PyErr_Occurred()) PyErr_NoMemory();
done:
    Py_XDECREF(names);
    free(aoff);
    free(acc);
    return rc;
}

/* Identifiers under root (not inside nested scopes) whose mode includes ``want``, in preorder. */
static int accesses_under(const Ctx *c, int64_t root, int64_t want, Vec *out) {
    if (c->kind[root] < c->nkinds && (c->L->kind_flags[c->kind[root]] & DK_SKIP)) return 0; /* a nested function or class */
    int64_t skip_until = -1;
    for (Py_ssize_t j = ev_lower(c, root), e = ev_lower(c, c->stop[root]); j < e; j++) {
        int64_t i = c->ev_node[j];
        if (i < skip_until) continue;
        int64_t f = c->ev_flag[j];
        if (f & EV_SKIP)
            skip_until = c->stop[i];
        else if ((f & EV_IDENT) && (c->ev_mode[j] & want) && vec_push(out, i) < 0)
            return PyErr_NoMemory(), -1;
    }
    return 0;
}

/* computed_from(ctx, nodes): the COMPUTED_FROM edges of the assignments ``nodes`` (int64), added to ctx:
 * each variable a target writes -> each variable the value reads (parsers/dataflow.py: computed_from). */
static PyObject *native_computed_from(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer nodes;
    if (!PyArg_ParseTuple(args, "Oy*", &capsule, &nodes)) return NULL;
    PyObject *result = NULL;
    Vec targets = {0}, reads = {0};
    Ctx *c = PyCapsule_GetPointer(capsule, "galla.native.ctx");
    if (!c) goto done;
    if (nodes.len % 8) {
        PyErr_SetString(PyExc_ValueError, "computed_from: nodes must be an int64 buffer");
        goto done;
    }
    const int64_t *tf = c->L->assign_target, *vf = c->L->assign_value, *ns = nodes.buf;
    Sink sink = {&c->et, &c->es, &c->ed, 0, 0, 0, 0, 0, 0};
    for (Py_ssize_t q = 0; q < nodes.len / 8; q++) {
        int64_t a = ns[q];
        if (a < 0 || a >= c->n || c->kind[a] >= c->nkinds) {
            PyErr_SetString(PyExc_ValueError, "computed_from: node out of range");
            goto done;
        }
        int64_t tfid = tf[c->kind[a]], vfid = vf[c->kind[a]];
        targets.n = reads.n = 0;
        for (int64_t ch = a + 1; ch < c->stop[a]; ch = c->stop[ch]) {
            int64_t f = c->field[ch];
            if (f == tfid) {
                if (accesses_under(c, ch, M_WRITE, &targets) < 0) goto done;
            } else if (f == vfid || (vfid == F_EVERY_OTHER && f != tfid)) {
                if (accesses_under(c, ch, M_READ, &reads) < 0) goto done;
            }
        }
        for (Py_ssize_t i = 0; i < targets.n; i++)
            for (Py_ssize_t j = 0; j < reads.n; j++)
                if (reads.v[j] != targets.v[i] && sink_add(&sink, ET_COMPUTED_FROM, targets.v[i], reads.v[j]) < 0)
                    goto done;
    }
    result = Py_NewRef(Py_None);
done:
    free(targets.v);
    free(reads.v);
    PyBuffer_Release(&nodes);
    return result;
}

/* The accesses of one point whose subtrees are ``roots``, as (node, name, mode) tuples in evaluation order
 * (parsers/dataflow.py: scan_points gives the same, with order keys). */
static PyObject *native_scan_accesses(PyObject *self, PyObject *args) {
    PyObject *capsule, *roots_list;
    if (!PyArg_ParseTuple(args, "OO!", &capsule, &PyList_Type, &roots_list)) return NULL;
    Ctx *c = PyCapsule_GetPointer(capsule, "galla.native.ctx");
    if (!c) return NULL;
    Vec roots = {0};
    RawList raw = {0};
    PyObject *out = NULL;
    if (nodes_from_list(c, roots_list, &roots, "scan_accesses") < 0) goto done;
    int sorted;
    if (scan_roots(c, roots.v, roots.n, &raw, &sorted) < 0) goto done;
    out = PyList_New(raw.n);
    if (!out) goto done;
    for (Py_ssize_t i = 0; i < raw.n; i++) {
        PyObject *t = Py_BuildValue("(LOi)", (long long)raw.v[i].node, raw.v[i].name, raw.v[i].mode);
        if (!t) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, t);
    }
done:
    raw_clear(&raw);
    free(roots.v);
    return out;
}

/* --- scan events: parsers/accesses.py's events() and access_modes(), in C ---------------------- */

/* The scan events of c's file into c->ev (the columns parsers/accesses.py: Events holds); 0, or -1 with
 * an exception when the tree arrays do not fit the language's tables. */
static int scan_events(Ctx *c) {
    const Lang *L = c->L;
    const int64_t *kind = c->kind, *parent = c->parent, *field = c->field, *stop = c->stop, *start = c->start,
                  *end = c->end, *kflags = L->kind_flags, *pclass = L->pair_class, *vfield = L->value_field;
    const char *src = c->src;
    const Py_ssize_t n = c->n, nk1 = L->nk + 1, nfields = L->nfields; /* nk1: kinds + "no parent" */
    uint8_t *has_value = NULL;
    int64_t *flag = NULL, *mode = NULL, *key = NULL;
    Vec *out = c->ev;
    int rc = -1;
    int ok = 1;
    for (Py_ssize_t i = 0; ok && i < n; i++)
        ok = kind[i] >= 0 && kind[i] < nk1 - 1 && field[i] >= 0 && field[i] < nfields && parent[i] < i &&
             (i == 0 ? parent[i] == -1 : parent[i] >= 0) && stop[i] > i && stop[i] <= n && start[i] >= 0 &&
             end[i] >= start[i] && end[i] <= c->srclen;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError,
                        "file_context: events: tree arrays or tables of inconsistent lengths or values");
        return -1;
    }
    flag = calloc((size_t)n + 1, 8), mode = calloc((size_t)n + 1, 8), key = calloc((size_t)n + 1, 8);
    if (!flag || !mode || !key) goto nomem;
    int64_t to_mode[PC_ACCESS_MASK + 1] = {0};
    to_mode[PC_UNDECIDED] = M_READ, to_mode[PC_WRITE] = M_WRITE, to_mode[PC_UPDATE] = M_UPDATE;
    const int64_t no_parent = nk1 - 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t kf = kflags[kind[i]];
        flag[i] = (kf & DK_SKIP ? EV_SKIP : 0) | (kf & DK_COMPREHENSION ? EV_COMP : 0);
        if (i > 0) {
            int64_t pc = pclass[kind[parent[i]] * nfields + field[i]];
            if (pc & PC_DEFERRED) {
                flag[i] |= EV_DEFER;
                key[i] = stop[parent[i]] - 1; /* right after the parent's last node */
            }
            if (pc & PC_HEADER) flag[i] |= EV_HEADER;
        }
        if (!(kf & DK_IDENT)) continue;
        /* an identifier: its context is the first ancestor, up through patterns, that decides */
        int64_t cur = i, m = M_READ;
        for (;;) {
            int64_t p = parent[cur];
            int64_t pk = p < 0 ? no_parent : kind[p];
            int64_t pf = kflags[pk];
            int64_t cls = pclass[pk * nfields + field[cur]] & PC_ACCESS_MASK;
            int first = cur == p + 1;
            if (((pf & DK_FIRST_CHILD_ONLY) && !first) || ((pf & DK_FIRST_CHILD_NOT_VARIABLE) && first))
                cls = PC_NON_VARIABLE;
            if ((pf & DK_VALUE_REQUIRED) && cls == PC_WRITE) { /* `x: int`: an annotation without a value */
                if (!has_value) {
                    if (!(has_value = calloc((size_t)n + 1, 1))) goto nomem;
                    for (Py_ssize_t j = 1; j < n; j++)
                        if (field[j] > 0 && vfield[kind[parent[j]]] == field[j]) has_value[parent[j]] = 1;
                }
                if (!has_value[p]) cls = PC_NON_VARIABLE;
            }
            m = to_mode[cls];
            if (cls == PC_UNDECIDED && (pf & DK_PATTERN)) {
                cur = p;
                continue;
            }
            break;
        }
        if (m == M_WRITE) { /* `x += 1` in grammars with one assignment kind and an operator token */
            int64_t p = parent[i];
            while (p >= 0 && (kflags[kind[p]] & DK_PATTERN)) p = parent[p];
            if (p >= 0 && (kflags[kind[p]] & DK_UPDATE_OPERATOR))
                for (int64_t ch = p + 1; ch < stop[p]; ch = stop[ch])
                    if (field[ch] == L->operator_fid) {
                        if (!(end[ch] - start[ch] == 1 && src[start[ch]] == '=')) m = M_UPDATE;
                        break;
                    }
        }
        mode[i] = m;
        if (m > 0) flag[i] |= EV_IDENT;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!flag[i]) continue;
        if (flag[i] & EV_IDENT) {
            if (vec_push(&out[5], out[0].n) < 0 || vec_push(&out[6], start[i]) < 0 || vec_push(&out[7], end[i]) < 0)
                goto nomem;
        }
        if (vec_push(&out[0], i) < 0 || vec_push(&out[1], flag[i]) < 0 || vec_push(&out[2], mode[i]) < 0 ||
            vec_push(&out[3], key[i]) < 0 || vec_push(&out[4], parent[i]) < 0)
            goto nomem;
    }
    c->nev = out[0].n;
    c->ev_node = out[0].v, c->ev_flag = out[1].v, c->ev_mode = out[2].v, c->ev_key = out[3].v;
    c->ev_parent = out[4].v;
    rc = 0;
    goto done;
nomem:
    PyErr_NoMemory();
done:
    free(has_value), free(flag), free(mode), free(key);
    return rc;
}

/* events(ctx) -> 8 int64 buffers: the scan event columns (node, flag, mode, defer_key, parent) and the
 * IDENT events' (position, start, end). */
static PyObject *native_events(PyObject *self, PyObject *capsule) {
    Ctx *c = PyCapsule_GetPointer(capsule, "galla.native.ctx");
    if (!c) return NULL;
    PyObject *result = PyTuple_New(8);
    for (int i = 0; result && i < 8; i++) {
        PyObject *x = vec_bytes(&c->ev[i]);
        if (!x) {
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(result, i, x);
    }
    return result;
}

/* --- call edges: parsers/calls.py's call_edges, in C (languages without qualified names) ----------- */

typedef struct {
    const Ctx *c;
    const int64_t *parent;
    const uint8_t *mask;                                          /* per kind: CM_* bits */
    const int64_t *callee_fid, *args_fid, *obj_fid, *member_fid, *kw_fid; /* per kind: -2 not that kind */
    PyObject *selves;                                             /* tuple of bytes */
} CallT;

static int64_t ct_child(const Ctx *c, int64_t n, int64_t fid) { return child_in_field(c->stop, c->field, n, fid); }

static int text_is(const Ctx *c, int64_t n, const char *s, Py_ssize_t len) {
    return c->end[n] - c->start[n] == len && memcmp(c->src + c->start[n], s, (size_t)len) == 0;
}

static int is_self_text(const CallT *t, const char *s, Py_ssize_t len) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t->selves); i++) {
        PyObject *b = PyTuple_GET_ITEM(t->selves, i);
        if (PyBytes_GET_SIZE(b) == len && memcmp(PyBytes_AS_STRING(b), s, (size_t)len) == 0) return 1;
    }
    return 0;
}

/* Nearest ancestor of n with a `want` bit, -1 if a `stop` one comes first. */
static int64_t ct_enclosing(const CallT *t, int64_t n, int want, int stop) {
    for (int64_t p = t->parent[n]; p >= 0; p = t->parent[p]) {
        uint8_t m = t->mask[t->c->kind[p]];
        if (m & want) return p;
        if (m & stop) return -1;
    }
    return -1;
}

typedef struct {
    int64_t node, name, owner; /* function, its name node, its class (-1) */
} Fn;

static const Ctx *fn_ctx;
static int fn_cmp(const void *pa, const void *pb) { /* by name text, then in preorder */
    const Fn *a = pa, *b = pb;
    int64_t la = fn_ctx->end[a->name] - fn_ctx->start[a->name], lb = fn_ctx->end[b->name] - fn_ctx->start[b->name];
    int r = memcmp(fn_ctx->src + fn_ctx->start[a->name], fn_ctx->src + fn_ctx->start[b->name],
                   (size_t)(la < lb ? la : lb));
    if (r) return r;
    if (la != lb) return la < lb ? -1 : 1;
    return a->node < b->node ? -1 : (a->node > b->node);
}

/* The first entry of fns (sorted) whose name is src[s, s + len); nfn if none. */
static Py_ssize_t fn_lower(const Ctx *c, const Fn *fns, Py_ssize_t nfn, const char *s, int64_t len) {
    Py_ssize_t lo = 0, hi = nfn;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        int64_t lm = c->end[fns[mid].name] - c->start[fns[mid].name];
        int r = memcmp(c->src + c->start[fns[mid].name], s, (size_t)(lm < len ? lm : len));
        if (r < 0 || (r == 0 && lm < len))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct {
    int64_t fn;
    Py_ssize_t off, n; /* into the formal pool */
} Formals;

/* call_edges(ctx, within, want) -> (type, src, dst) int64 buffers of the RETURNS_TO, CALLS and
 * FORMAL_ARG_NAME edges in the edge type mask want. The language's call tables: per kind CM_* bits; per
 * kind the call's callee and argument fields, the member access's object and member fields and the
 * keyword argument's name field (F_NOT_THIS_KIND: not such a kind, -1: no such field). within: a node
 * mask of the calls and returns to take (empty: all). */
static PyObject *native_call_edges(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer wb;
    long long want;
    if (!PyArg_ParseTuple(args, "Oy*L", &capsule, &wb, &want)) return NULL;
    const int want_ret = WANTS(want, ET_RETURNS_TO), want_call = WANTS(want, ET_CALLS),
              want_formal = WANTS(want, ET_FORMAL_ARG_NAME);
    const int64_t t_ret = ET_RETURNS_TO, t_call = ET_CALLS, t_formal = ET_FORMAL_ARG_NAME;
    PyObject *result = NULL;
    Vec et = {0}, es = {0}, ed = {0}, owner = {0}, fpool = {0};
    PyObject **fname = NULL;
    Py_ssize_t fname_cap = 0;
    Fn *fns = NULL;
    Formals *fcache = NULL;
    Py_ssize_t nfn = 0, nfc = 0;
    Ctx *c = PyCapsule_GetPointer(capsule, "galla.native.ctx");
    if (!c) goto done;
    const Lang *L = c->L;
    Py_ssize_t n = c->n, nk = L->nk;
    const int64_t *parent = c->parent, name_fid = L->name_fid, params_fid = L->call_params_fid;
    if (wb.len != 0 && wb.len != n) {
        PyErr_SetString(PyExc_ValueError, "call_edges: arrays or tables of inconsistent lengths");
        goto done;
    }
    const int64_t *fids = L->call_fids;
    CallT t = {c, parent, L->call_flags, fids, fids + nk, fids + 2 * nk, fids + 3 * nk, fids + 4 * nk, L->selves};
    const uint8_t *within = wb.len ? wb.buf : NULL;
    const int64_t *kind = c->kind;
#define EMIT(type, s, d)                                                                                     \
    do {                                                                                                     \
        if (vec_push(&et, (type)) < 0 || vec_push(&es, (s)) < 0 || vec_push(&ed, (d)) < 0) goto nomem;   \
    } while (0)
    if (want_ret) { /* each return to its innermost scope: scopes in preorder, inner ones overwrite */
        for (Py_ssize_t i = 0; i < n; i++)
            if (vec_push(&owner, -1) < 0) goto nomem;
        for (Py_ssize_t s = 0; s < n; s++)
            if (t.mask[kind[s]] & CM_SCOPE)
                for (int64_t j = s + 1; j < c->stop[s]; j++) owner.v[j] = s;
        for (Py_ssize_t i = 0; i < n; i++)
            if ((t.mask[kind[i]] & CM_RETURN) && (!within || within[i]) && owner.v[i] >= 0) EMIT(t_ret, i, owner.v[i]);
    }
    int any_call = 0;
    for (Py_ssize_t k = 0; k < nk; k++) any_call |= t.callee_fid[k] >= 0;
    if ((!want_call && !want_formal) || !any_call) goto finish;
    /* functions by name (sorted by text, then preorder) and their classes */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(t.mask[kind[i]] & CM_FUNCTION)) continue;
        int64_t nm = ct_child(c, i, name_fid);
        if (nm < 0) continue;
        if (nfn % 256 == 0) {
            Fn *f2 = realloc(fns, (size_t)(nfn + 256) * sizeof(Fn));
            if (!f2) goto nomem;
            fns = f2;
        }
        fns[nfn++] = (Fn){i, nm, ct_enclosing(&t, i, CM_CLASS, CM_FUNCTION)};
    }
    fn_ctx = c; /* the GIL is held: no other thread sorts meanwhile */
    if (nfn) qsort(fns, (size_t)nfn, sizeof(Fn), fn_cmp);
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t cf = t.callee_fid[kind[i]];
        if (cf < 0 || (within && !within[i])) continue;
        int64_t callee = ct_child(c, i, cf);
        if (callee < 0) continue;
        if (t.obj_fid[kind[i]] >= 0 && ct_child(c, i, t.obj_fid[kind[i]]) >= 0)
            callee = i; /* the call holds its receiver itself (Java's `obj.m()`): a member access */
        Py_ssize_t lo = 0, hi = 0; /* targets: fns[lo, hi), or the one method m */
        int64_t m = -1;
        if (t.mask[kind[callee]] & CM_IDENT) {
            int64_t len = c->end[callee] - c->start[callee];
            lo = hi = fn_lower(c, fns, nfn, c->src + c->start[callee], len);
            while (hi < nfn && text_is(c, fns[hi].name, c->src + c->start[callee], len)) hi++;
        } else if (t.obj_fid[kind[callee]] >= 0) {
            int64_t obj = ct_child(c, callee, t.obj_fid[kind[callee]]);
            int64_t mem = ct_child(c, callee, t.member_fid[kind[callee]]);
            if (obj >= 0 && mem >= 0 && is_self_text(&t, c->src + c->start[obj], c->end[obj] - c->start[obj])) {
                int64_t cls = ct_enclosing(&t, i, CM_CLASS, 0);
                int64_t len = c->end[mem] - c->start[mem];
                for (Py_ssize_t j = fn_lower(c, fns, nfn, c->src + c->start[mem], len);
                     j < nfn && text_is(c, fns[j].name, c->src + c->start[mem], len); j++)
                    if (fns[j].owner == cls && cls >= 0) m = fns[j].node; /* the last definition wins */
            }
        }
        if (lo == hi && m < 0) continue;
        int64_t args_node = ct_child(c, i, t.args_fid[kind[i]]);
        for (Py_ssize_t j = lo; j < hi || m >= 0; j++) {
            int64_t target = m >= 0 ? m : fns[j].node;
            if (want_call) EMIT(t_call, i, target);
            if (want_formal && args_node >= 0) {
                Formals *fm = NULL;
                for (Py_ssize_t q = 0; q < nfc && !fm; q++)
                    if (fcache[q].fn == target) fm = &fcache[q];
                if (!fm) { /* the parameters it writes, in source order */
                    if (nfc % 64 == 0) {
                        Formals *f2 = realloc(fcache, (size_t)(nfc + 64) * sizeof(Formals));
                        if (!f2) goto nomem;
                        fcache = f2;
                    }
                    fm = &fcache[nfc++];
                    *fm = (Formals){target, fpool.n, 0};
                    int64_t params = ct_child(c, target, params_fid);
                    if (params >= 0) {
                        RawList raw = {0};
                        int sorted;
                        if (scan_roots(c, &params, 1, &raw, &sorted) < 0) {
                            raw_clear(&raw);
                            goto done;
                        }
                        for (Py_ssize_t a = 1; a < raw.n; a++) { /* stable, by node */
                            Raw x = raw.v[a];
                            Py_ssize_t b = a;
                            while (b > 0 && raw.v[b - 1].node > x.node) {
                                raw.v[b] = raw.v[b - 1];
                                b--;
                            }
                            raw.v[b] = x;
                        }
                        for (Py_ssize_t a = 0; a < raw.n; a++) {
                            if (!(raw.v[a].mode & M_WRITE)) continue;
                            if (fpool.n >= fname_cap) {
                                fname_cap = fname_cap * 2 + 64;
                                PyObject **f2 = realloc(fname, (size_t)fname_cap * sizeof(PyObject *));
                                if (!f2) {
                                    raw_clear(&raw);
                                    goto nomem;
                                }
                                fname = f2;
                            }
                            if (vec_push(&fpool, raw.v[a].node) < 0) {
                                raw_clear(&raw);
                                goto nomem;
                            }
                            fname[fpool.n - 1] = Py_NewRef(raw.v[a].name);
                            fm->n++;
                        }
                        raw_clear(&raw);
                    }
                }
                Py_ssize_t f0 = fm->off, nf = fm->n;
                if (m >= 0 && nf && PyBytes_Check(fname[f0]) &&
                    is_self_text(&t, PyBytes_AS_STRING(fname[f0]), PyBytes_GET_SIZE(fname[f0])))
                    f0++, nf--; /* `self.m(x)`: x binds to m's second parameter */
                Py_ssize_t pos = 0;
                for (int64_t a = args_node + 1; a < c->stop[args_node]; a = c->stop[a]) {
                    if (!(t.mask[kind[a]] & CM_NAMED)) continue;
                    int64_t kw = t.kw_fid[kind[a]];
                    if (kw != F_NOT_THIS_KIND) { /* a keyword argument: to the formal of that name (the last one) */
                        int64_t name = ct_child(c, a, kw);
                        if (name < 0) continue;
                        for (Py_ssize_t q = f0 + nf - 1; q >= f0; q--)
                            if (PyBytes_Check(fname[q]) &&
                                text_is(c, name, PyBytes_AS_STRING(fname[q]), PyBytes_GET_SIZE(fname[q]))) {
                                EMIT(t_formal, a, fpool.v[q]);
                                break;
                            }
                        continue;
                    }
                    if (pos < nf) EMIT(t_formal, a, fpool.v[f0 + pos]);
                    pos++;
                }
            }
            if (m >= 0) break;
        }
    }
#undef EMIT
finish:
    result = Py_BuildValue("(NNN)", vec_bytes(&et), vec_bytes(&es), vec_bytes(&ed));
    goto done;
nomem:
    PyErr_NoMemory();
done:
    for (Py_ssize_t i = 0; i < fpool.n; i++) Py_XDECREF(fname[i]);
    free(fname), free(fns), free(fcache);
    free(et.v), free(es.v), free(ed.v), free(owner.v), free(fpool.v);
    PyBuffer_Release(&wb);
    return result;
}

/* --- control flow: parsers/controlflow.py's _Builder, in C ------------------------------------- */

#define CF_MAXF 8

typedef struct {
    int role, nhead, ntail, star_only, fallthrough, has_head_kinds;
    int64_t head[CF_MAXF], tail[CF_MAXF];
    int64_t body, alt, target, iterable, init, update, label; /* field ids, -1 absent, F_NONE */
    const uint8_t *set;                                       /* per kind: CS_* bits */
    Py_ssize_t npfx;
    char **pfx; /* default prefixes */
    Py_ssize_t *pfxlen;
} Comp;

struct FlowTab {
    Py_ssize_t nk;
    uint32_t *flags;
    int32_t *comp_of; /* per kind: index into comps, -1 */
    Comp *comps;
    Py_ssize_t ncomps;
    uint8_t *sets;
    int64_t params_fid, param_fid, body_fid, jump_fid;
    int nentry, any_label, any_inline;
    int64_t entry[CF_MAXF];
};

static void flowtab_destroy(FlowTab *t) {
    for (Py_ssize_t i = 0; t->comps && i < t->ncomps; i++) {
        for (Py_ssize_t j = 0; t->comps[i].pfx && j < t->comps[i].npfx; j++) free(t->comps[i].pfx[j]);
        free(t->comps[i].pfx);
        free(t->comps[i].pfxlen);
    }
    free(t->comps);
    free(t->flags);
    free(t->comp_of);
    free(t->sets);
    free(t);
}

/* A tuple of at most CF_MAXF ints into out; its length, or -1 with an exception. */
static int int_tuple(PyObject *tup, int64_t *out, const char *what) {
    if (!PyTuple_Check(tup) || PyTuple_GET_SIZE(tup) > CF_MAXF) {
        PyErr_Format(PyExc_ValueError, "language: %s must be a tuple of at most %d field ids", what, CF_MAXF);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tup); i++) {
        out[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(tup, i));
        if (out[i] == -1 && PyErr_Occurred()) return -1;
    }
    return (int)PyTuple_GET_SIZE(tup);
}

/* A CompiledLanguage's control-flow tables: flow_flags (uint32 per kind, KB_*), compound_of (int32 per
 * kind), compound_sets (uint8 per compound and kind, CS_*), compounds (a tuple of objects with role, head,
 * star_only, body, alternative, target, iterable, init, update, label, tail, fallthrough, has_head_kinds,
 * default_prefixes), parameters_field, parameter_field, function_body_field, jump_label_field and
 * entry_fields. NULL with an exception. */
static FlowTab *flowtab_from(PyObject *obj, Py_ssize_t nk) {
    static const char *fields[7] = {"body", "alternative", "target", "iterable", "init", "update", "label"};
    FlowTab *t = calloc(1, sizeof(FlowTab));
    PyObject *comps = NULL, *part = NULL;
    if (!t) return PyErr_NoMemory(), NULL;
    t->nk = nk;
    if (!(comps = PyObject_GetAttrString(obj, "compounds"))) goto fail;
    if (!PyTuple_Check(comps)) {
        PyErr_SetString(PyExc_TypeError, "language: compounds must be a tuple");
        goto fail;
    }
    t->ncomps = PyTuple_GET_SIZE(comps);
    if (!(t->flags = attr_array(obj, "flow_flags", nk, 4)) || !(t->comp_of = attr_array(obj, "compound_of", nk, 4)) ||
        !(t->sets = attr_array(obj, "compound_sets", nk * t->ncomps, 1)))
        goto fail;
    if (!(t->comps = calloc((size_t)t->ncomps + 1, sizeof(Comp)))) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t k = 0; k < t->nk; k++) {
        if (t->comp_of[k] >= t->ncomps) {
            PyErr_SetString(PyExc_ValueError, "language: compound index out of range");
            goto fail;
        }
        t->any_label |= (t->flags[k] & KB_LABEL) != 0;
        t->any_inline |= (t->flags[k] & KB_INLINE) != 0;
    }
    for (Py_ssize_t i = 0; i < t->ncomps; i++) {
        Comp *m = &t->comps[i];
        PyObject *o = PyTuple_GET_ITEM(comps, i);
        int64_t role, v[7];
        if (attr_int(o, "role", &role) < 0 || attr_bool(o, "star_only", &m->star_only) < 0 ||
            attr_bool(o, "fallthrough", &m->fallthrough) < 0 || attr_bool(o, "has_head_kinds", &m->has_head_kinds) < 0)
            goto fail;
        if (role < R_IF || role > R_CASE) {
            PyErr_SetString(PyExc_ValueError, "language: compound role out of range");
            goto fail;
        }
        m->role = (int)role;
        for (int f = 0; f < 7; f++)
            if (attr_int(o, fields[f], &v[f]) < 0) goto fail;
        m->body = v[0], m->alt = v[1], m->target = v[2], m->iterable = v[3], m->init = v[4], m->update = v[5];
        m->label = v[6];
        if (!(part = PyObject_GetAttrString(o, "head")) || (m->nhead = int_tuple(part, m->head, "head")) < 0) goto fail;
        Py_CLEAR(part);
        if (!(part = PyObject_GetAttrString(o, "tail")) || (m->ntail = int_tuple(part, m->tail, "tail")) < 0) goto fail;
        Py_CLEAR(part);
        m->set = t->sets + i * t->nk;
        if (!(part = PyObject_GetAttrString(o, "default_prefixes"))) goto fail;
        if (!PyTuple_Check(part)) {
            PyErr_SetString(PyExc_TypeError, "language: default_prefixes must be a tuple of bytes");
            goto fail;
        }
        m->npfx = PyTuple_GET_SIZE(part);
        m->pfx = calloc((size_t)m->npfx + 1, sizeof(char *));
        m->pfxlen = calloc((size_t)m->npfx + 1, sizeof(Py_ssize_t));
        if (!m->pfx || !m->pfxlen) {
            m->npfx = 0;
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t j = 0; j < m->npfx; j++) {
            char *s;
            if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(part, j), &s, &m->pfxlen[j]) < 0) goto fail;
            if (!(m->pfx[j] = malloc((size_t)m->pfxlen[j] + 1))) {
                PyErr_NoMemory();
                goto fail;
            }
            memcpy(m->pfx[j], s, (size_t)m->pfxlen[j]);
        }
        Py_CLEAR(part);
    }
    if (attr_int(obj, "parameters_field", &t->params_fid) < 0 || attr_int(obj, "parameter_field", &t->param_fid) < 0 ||
        attr_int(obj, "function_body_field", &t->body_fid) < 0 || attr_int(obj, "jump_label_field", &t->jump_fid) < 0)
        goto fail;
    if (!(part = PyObject_GetAttrString(obj, "entry_fields")) ||
        (t->nentry = int_tuple(part, t->entry, "entry_fields")) < 0)
        goto fail;
    Py_DECREF(part);
    Py_DECREF(comps);
    return t;
fail:
    Py_XDECREF(part);
    Py_XDECREF(comps);
    flowtab_destroy(t);
    return NULL;
}

/* Targets before resolution, as in controlflow.py's Key: node * 8 + tag. */
enum { T_S, T_I, T_U, T_B, T_T, T_F, NTAGS_POINT = 5 };
#define KEY(n, tag) ((int64_t)(n) * 8 + (tag))
#define KEY_NODE(k) ((k) >> 3)
#define KEY_TAG(k) ((int)((k) & 7))
#define EXITK ((int64_t)-1)

/* The builder: per-file caches (statements of a block) and per-scope state kept valid by a stamp. */
typedef struct {
    const Ctx *c;
    const FlowTab *t;
    const int64_t *parent, *kind, *stop, *field, *start;
    Py_ssize_t n;
    int64_t scope;
    int32_t stamp;
    int err;
    int32_t *memo_st, *pt_st, *pt, *st_len, *pos;
    int64_t *memo;
    Py_ssize_t *st_off;
    Vec st_pool;                          /* statements of blocks, per file */
    Vec chain;                            /* after(): the nodes whose result is being found */
    Vec anchor, roff, rflat, soff, sraw;  /* points: anchor, reads (CSR), raw successor keys (CSR) */
    Vec pend_fin, pend_key, tof_fin, tof_try; /* finally clauses: pending targets, owning try */
    Vec hpool, stk_node, stk_hoff, stk_hlen;  /* handler tuples; the work stack */
    int goto_ready;
    Vec goto_lab;
    Vec succ_off, succ_flat; /* resolved successors */
} CfgB;

#define KF(b, n, bit) ((b)->t->flags[(b)->kind[n]] & (bit))
#define PUSH(v, x)                                                                                            \
    do {                                                                                                      \
        if (vec_push(&(v), (x)) < 0) b->err = 1;                                                            \
    } while (0)

static inline const Comp *comp_at(const CfgB *b, int64_t n) {
    int32_t i = b->t->comp_of[b->kind[n]];
    return i < 0 ? NULL : &b->t->comps[i];
}

/* child(n, fname): first child in field f (F_NONE: the last block child), then via inline children. */
static int64_t cf_child(const CfgB *b, int64_t n, int64_t f) {
    if (f == F_NONE) {
        int64_t found = -1;
        for (int64_t c = n + 1; c < b->stop[n]; c = b->stop[c])
            if (KF(b, c, KB_BLOCK)) found = c;
        return found;
    }
    if (f < 0) return -1;
    int64_t c = child_in_field(b->stop, b->field, n, f);
    if (c >= 0 || !b->t->any_inline) return c;
    for (int64_t x = n + 1; x < b->stop[n]; x = b->stop[x])
        if (b->field[x] == 0 && KF(b, x, KB_INLINE))
            for (int64_t d = x + 1; d < b->stop[x]; d = b->stop[d])
                if (b->field[d] == f) return d;
    return -1;
}

/* children_with_field(n, f), appended to out. */
static void cf_children_with_field(CfgB *b, int64_t n, int64_t f, Vec *out) {
    if (f < 0) return;
    Py_ssize_t before = out->n;
    for (int64_t c = n + 1; c < b->stop[n]; c = b->stop[c])
        if (b->field[c] == f) PUSH(*out, c);
    if (out->n > before || !b->t->any_inline) return;
    for (int64_t x = n + 1; x < b->stop[n]; x = b->stop[x])
        if (b->field[x] == 0 && KF(b, x, KB_INLINE))
            for (int64_t d = x + 1; d < b->stop[x]; d = b->stop[d])
                if (b->field[d] == f) PUSH(*out, d);
}

/* First child of n with a CS_* bit of compound m; -1 if none. */
static int64_t child_in_set(const CfgB *b, int64_t n, const Comp *m, int bits) {
    for (int64_t c = n + 1; c < b->stop[n]; c = b->stop[c])
        if (m->set[b->kind[c]] & bits) return c;
    return -1;
}

/* statements(n): the statements directly inside block (or body-less case) n, as b->st_pool[off, off+len). */
static Py_ssize_t cf_statements(CfgB *b, int64_t n, Py_ssize_t *off) {
    if (b->st_len[n] < 0) {
        const Comp *m = comp_at(b, n);
        int skip_heads = m && m->role == R_CASE;
        Py_ssize_t o = b->st_pool.n;
        int32_t len = 0;
        for (int64_t c = n + 1; c < b->stop[n]; c = b->stop[c]) {
            if (!KF(b, c, KB_STATEMENT)) continue;
            int skip = 0;
            for (int h = 0; skip_heads && h < m->nhead; h++) skip |= b->field[c] == m->head[h];
            if (skip) continue;
            b->pos[c] = len++;
            PUSH(b->st_pool, c);
        }
        if (b->err) return 0;
        b->st_off[n] = o;
        b->st_len[n] = len;
    }
    *off = b->st_off[n];
    return b->st_len[n];
}

#define STMT(b, off, i) ((b)->st_pool.v[(off) + (i)])

static int64_t cf_after(CfgB *b, int64_t n);

static int64_t labeled_body(const CfgB *b, int64_t n, const Comp *m) {
    if (m->body != F_NONE) return cf_child(b, n, m->body);
    int64_t found = -1;
    for (int64_t c = n + 1; c < b->stop[n]; c = b->stop[c])
        if (KF(b, c, KB_STATEMENT)) found = c;
    return found;
}

static int64_t case_body(const CfgB *b, int64_t n, const Comp *m) {
    if (m->body != F_NONE) {
        int64_t x = cf_child(b, n, m->body);
        if (x >= 0) return x;
    }
    return n;
}

/* for_inits(n): the initialiser parts of a C-style for, empty ones left out. */
static void for_inits(CfgB *b, int64_t n, const Comp *m, Vec *out) {
    Py_ssize_t before = out->n;
    cf_children_with_field(b, n, m->init, out);
    Py_ssize_t w = before;
    for (Py_ssize_t i = before; i < out->n; i++)
        if (!(m->set[b->kind[out->v[i]]] & CS_EMPTY)) out->v[w++] = out->v[i];
    out->n = w;
}

static int64_t cf_first(CfgB *b, int64_t n) {
    for (;;) {
        if (b->err) return EXITK;
        if (KF(b, n, KB_BLOCK)) {
            Py_ssize_t off, len = cf_statements(b, n, &off);
            if (!len) return cf_after(b, n);
            n = STMT(b, off, 0);
            continue;
        }
        const Comp *m = comp_at(b, n);
        if (!m) return KEY(n, T_S);
        if ((m->role == R_FOR_EACH || m->role == R_FOR) && m->iterable != F_NONE && cf_child(b, n, m->iterable) >= 0)
            return KEY(n, T_I);
        if (m->role == R_FOR) {
            Vec v = {0};
            for_inits(b, n, m, &v);
            Py_ssize_t k = v.n;
            free(v.v);
            if (k) return KEY(n, T_I);
        }
        if (m->role == R_DO || m->role == R_LABELED) {
            int64_t body = m->role == R_LABELED ? labeled_body(b, n, m) : cf_child(b, n, m->body);
            if (body < 0) return cf_after(b, n);
            n = body;
            continue;
        }
        return KEY(n, T_S);
    }
}

/* Cases of switch / handlers of try n: among its children, else among its body's. */
static void cf_clauses(CfgB *b, int64_t n, const Comp *m, Vec *out) {
    for (int64_t c = n + 1; c < b->stop[n]; c = b->stop[c])
        if (m->set[b->kind[c]] & CS_CLAUSE) PUSH(*out, c);
    if (out->n || m->body == F_NONE) return;
    int64_t body = cf_child(b, n, m->body);
    if (body < 0) return;
    for (int64_t c = body + 1; c < b->stop[body]; c = b->stop[c])
        if (m->set[b->kind[c]] & CS_CLAUSE) PUSH(*out, c);
}

static void tof_set(CfgB *b, int64_t fin, int64_t t) {
    for (Py_ssize_t i = 0; i < b->tof_fin.n; i++)
        if (b->tof_fin.v[i] == fin) {
            b->tof_try.v[i] = t;
            return;
        }
    PUSH(b->tof_fin, fin);
    PUSH(b->tof_try, t);
}

/* The results of _after_step and friends: a key (returns 1) or a node whose after() it is (0). */
static int after_try_part(CfgB *b, int64_t t, const Comp *m, int64_t part, int64_t *out) {
    uint8_t s = m->set[b->kind[part]];
    if (s & CS_FINALLY) {
        tof_set(b, part, t);
        *out = KEY(part, T_F);
        return 1;
    }
    if (!(s & (CS_CLAUSE | CS_ELSE))) { /* the try body itself */
        int64_t els = child_in_set(b, t, m, CS_ELSE);
        if (els >= 0) {
            *out = cf_first(b, els);
            return 1;
        }
    }
    int64_t fin = child_in_set(b, t, m, CS_FINALLY);
    if (fin >= 0) {
        *out = cf_first(b, fin);
        return 1;
    }
    *out = t;
    return 0;
}

static int after_case(CfgB *b, int64_t c, const Comp *m, int64_t *out) {
    int64_t sw = b->parent[c];
    while (sw >= 0 && !KF(b, sw, KB_SWITCH)) sw = b->parent[sw];
    if (sw < 0) {
        *out = b->parent[c];
        return 0;
    }
    const Comp *sm = comp_at(b, sw);
    if (sm->fallthrough || m->fallthrough) {
        Vec cases = {0};
        cf_clauses(b, sw, sm, &cases);
        Py_ssize_t i = -1;
        for (Py_ssize_t j = 0; j < cases.n && i < 0; j++)
            if (cases.v[j] == c) i = j;
        for (Py_ssize_t j = i >= 0 ? i + 1 : cases.n; j < cases.n; j++) { /* the next case with statements */
            int64_t nxt = cases.v[j];
            const Comp *nm = comp_at(b, nxt);
            Py_ssize_t off, len = cf_statements(b, nm ? case_body(b, nxt, nm) : nxt, &off);
            if (len) {
                free(cases.v);
                *out = cf_first(b, STMT(b, off, 0));
                return 1;
            }
        }
        free(cases.v);
    }
    *out = sw;
    return 0;
}

static int is_loop_role(int r) { return r == R_WHILE || r == R_FOR_EACH || r == R_FOR || r == R_DO; }

static int after_step(CfgB *b, int64_t n, int64_t *out) {
    int64_t p = b->parent[n];
    if (p < 0 || n == b->scope || (p == b->scope && !KF(b, p, KB_BLOCK))) {
        *out = EXITK;
        return 1;
    }
    const Comp *m = comp_at(b, p);
    if (KF(b, p, KB_BLOCK) || (m && m->role == R_CASE && case_body(b, p, m) == p)) {
        Py_ssize_t off, len = cf_statements(b, p, &off);
        Py_ssize_t i = b->pos[n] >= 0 ? b->pos[n] : len - 1; /* a non-statement child: the end */
        if (i + 1 < len) {
            *out = cf_first(b, STMT(b, off, i + 1));
            return 1;
        }
        if (m) return after_case(b, p, m, out);
        *out = p;
        return 0;
    }
    if (!m) {
        *out = p;
        return 0;
    }
    int is_alt = m->alt >= 0 && b->field[n] == m->alt;
    switch (m->role) {
    case R_WHILE:
    case R_FOR_EACH:
    case R_DO:
        *out = is_alt ? p : KEY(p, T_S);
        return !is_alt;
    case R_FOR:
        if (is_alt) {
            *out = p;
            return 0;
        }
        *out = m->update != F_NONE && cf_child(b, p, m->update) >= 0 ? KEY(p, T_U) : KEY(p, T_S);
        return 1;
    case R_TRY:
        return after_try_part(b, p, m, n, out);
    case R_CASE:
        return after_case(b, p, m, out);
    }
    if (m->role == R_SEQUENCE && m->ntail) {
        *out = KEY(p, T_T);
        return 1;
    }
    if (m->role == R_ELIF || m->role == R_ELSE || m->role == R_SEQUENCE) {
        int64_t gp = b->parent[p];
        const Comp *gm = gp >= 0 ? comp_at(b, gp) : NULL;
        if (gm && gm->role == R_TRY) return after_try_part(b, gp, gm, p, out);
        if (gm && is_loop_role(gm->role)) {
            *out = gp; /* loop else clause: leaves the loop */
            return 0;
        }
        *out = gp < 0 || !gm || gm->role != R_IF ? p : gp;
        return 0;
    }
    *out = p;
    return 0;
}

static int64_t cf_after(CfgB *b, int64_t n) {
    Py_ssize_t base = b->chain.n;
    int64_t res;
    for (;;) {
        if (b->err) {
            res = EXITK;
            break;
        }
        if (b->memo_st[n] == b->stamp) {
            res = b->memo[n];
            break;
        }
        PUSH(b->chain, n);
        int64_t v;
        if (after_step(b, n, &v)) {
            res = v;
            break;
        }
        n = v;
    }
    for (Py_ssize_t i = base; i < b->chain.n; i++) {
        b->memo[b->chain.v[i]] = res;
        b->memo_st[b->chain.v[i]] = b->stamp;
    }
    b->chain.n = base;
    return res;
}

/* head_nodes(n): the children a compound's own point evaluates, in order. */
static void head_nodes(CfgB *b, int64_t n, const Comp *m, Vec *out) {
    if (m->star_only) {
        int64_t body = cf_child(b, n, m->body);
        for (int64_t c = n + 1; c < b->stop[n]; c = b->stop[c])
            if (b->field[c] != m->body && b->field[c] != m->alt && c != body && !KF(b, c, KB_BLOCK) && !comp_at(b, c))
                PUSH(*out, c);
        return;
    }
    Py_ssize_t before = out->n;
    for (int h = 0; h < m->nhead; h++) cf_children_with_field(b, n, m->head[h], out);
    if (m->has_head_kinds)
        for (int64_t c = n + 1; c < b->stop[n]; c = b->stop[c])
            if (m->set[b->kind[c]] & CS_HEAD) PUSH(*out, c);
    if (out->n > before) sort_nodes(out->v + before, out->n - before);
}

static int64_t for_condition(const CfgB *b, int64_t n, const Comp *m) {
    for (int h = 0; h < m->nhead; h++) {
        int64_t c = -1;
        if (m->head[h] != F_STAR) {
            c = cf_child(b, n, m->head[h]);
        } else {
            for (int64_t x = n + 1; x < b->stop[n] && c < 0; x = b->stop[x])
                if (b->field[x] == 0 && KF(b, x, KB_NAMED) && !KF(b, x, KB_BLOCK) && !comp_at(b, x) &&
                    !KF(b, x, KB_INLINE))
                    c = x;
        }
        if (c >= 0) return c;
    }
    return -1;
}

/* The label node of n (its field f, else its first label-kind child); -1 if none. */
static int64_t label_node(const CfgB *b, int64_t n, int64_t f) {
    int64_t c = f != F_NONE ? cf_child(b, n, f) : -1;
    if (c < 0 && b->t->any_label)
        for (int64_t x = n + 1; x < b->stop[n] && c < 0; x = b->stop[x])
            if (KF(b, x, KB_LABEL)) c = x;
    return c;
}

static int same_text(const CfgB *b, int64_t x, int64_t y) {
    if (x < 0 || y < 0) return 0;
    int64_t lx = b->c->end[x] - b->start[x], ly = b->c->end[y] - b->start[y];
    return lx == ly && memcmp(b->c->src + b->start[x], b->c->src + b->start[y], (size_t)lx) == 0;
}

static int64_t continue_key(const CfgB *b, int64_t loop) {
    const Comp *m = comp_at(b, loop);
    if (m->role == R_FOR && m->update != F_NONE && cf_child(b, loop, m->update) >= 0) return KEY(loop, T_U);
    return KEY(loop, T_S);
}

enum { J_RETURN, J_BREAK, J_CONTINUE, J_RAISE };

/* Target of a return/break/continue/raise at j, detouring through finally clauses. */
static int64_t jump_target(CfgB *b, int64_t j, int what) {
    int64_t lab = what == J_BREAK || what == J_CONTINUE ? label_node(b, j, b->t->jump_fid) : -1;
    int64_t cur = j;
    for (;;) {
        if (b->err) return EXITK;
        int64_t a = b->parent[cur];
        if (a < 0 || cur == b->scope || a == b->scope) return EXITK;
        if (lab >= 0 && KF(b, a, KB_SELF_LABELLED) && same_text(b, label_node(b, a, F_NONE), lab)) {
            if (what == J_BREAK) return cf_after(b, a); /* Rust's `'a: loop { break 'a; }` */
            if (KF(b, a, KB_LOOP)) return continue_key(b, a);
        }
        const Comp *m = comp_at(b, a);
        if (m) {
            if (lab >= 0 && m->role == R_LABELED && same_text(b, label_node(b, a, m->label), lab)) {
                int64_t body = labeled_body(b, a, m);
                if (what == J_BREAK) return cf_after(b, a);
                if (body >= 0 && KF(b, body, KB_LOOP)) return continue_key(b, body);
            }
            int from_else = m->alt >= 0 && b->field[cur] == m->alt;
            int leaves = KF(b, a, KB_BREAK_TARGET) && !(KF(b, a, KB_LOOP) && from_else);
            if (lab < 0 && what == J_BREAK && leaves) return cf_after(b, a);
            if (lab < 0 && what == J_CONTINUE && KF(b, a, KB_LOOP) && !from_else) return continue_key(b, a);
            if (m->role == R_TRY && !(m->set[b->kind[cur]] & CS_FINALLY)) {
                int64_t fin = child_in_set(b, a, m, CS_FINALLY);
                if (fin >= 0) {
                    int64_t real = what != J_RAISE ? jump_target(b, a, what) : EXITK;
                    PUSH(b->pend_fin, fin);
                    PUSH(b->pend_key, real);
                    tof_set(b, fin, a);
                    return cf_first(b, fin);
                }
            }
        }
        cur = a;
    }
}

/* C's `goto l`: where the statement labelled l in this scope starts (else the next one). */
static int64_t goto_target(CfgB *b, int64_t n) {
    if (!b->goto_ready) {
        b->goto_ready = 1;
        b->goto_lab.n = 0;
        for (int64_t s = b->scope + 1; s < b->stop[b->scope]; s++) {
            if (!KF(b, s, KB_LABELED)) continue;
            int64_t p = b->parent[s];
            while (p > b->scope && !KF(b, p, KB_SCOPE)) p = b->parent[p];
            int64_t text = label_node(b, s, comp_at(b, s)->label);
            if (p != b->scope || text < 0) continue;
            int seen = 0;
            for (Py_ssize_t i = 0; i < b->goto_lab.n && !seen; i += 2) seen = same_text(b, b->goto_lab.v[i + 1], text);
            if (!seen) {
                PUSH(b->goto_lab, s);
                PUSH(b->goto_lab, text);
            }
        }
    }
    int64_t lab = label_node(b, n, b->t->jump_fid);
    for (Py_ssize_t i = 0; lab >= 0 && i < b->goto_lab.n; i += 2)
        if (same_text(b, b->goto_lab.v[i + 1], lab)) return cf_first(b, b->goto_lab.v[i]);
    return cf_after(b, n);
}

/* Go's `fallthrough`: the first statement of the next case (the switch's end if it is empty). */
static int64_t fallthrough_target(CfgB *b, int64_t n) {
    for (int64_t c = b->parent[n]; c >= 0 && c != b->scope; c = b->parent[c]) {
        const Comp *m = comp_at(b, c);
        if (!m || m->role != R_CASE) continue;
        int64_t sw = b->parent[c];
        while (sw >= 0 && !KF(b, sw, KB_SWITCH)) sw = b->parent[sw];
        Vec cases = {0};
        if (sw >= 0) cf_clauses(b, sw, comp_at(b, sw), &cases);
        Py_ssize_t i = cases.n;
        for (Py_ssize_t j = 0; j < cases.n && i == cases.n; j++)
            if (cases.v[j] == c) i = j;
        if (i + 1 < cases.n) {
            int64_t nxt = cases.v[i + 1];
            const Comp *nm = comp_at(b, nxt);
            Py_ssize_t off, len = cf_statements(b, nm ? case_body(b, nxt, nm) : nxt, &off);
            if (len) {
                free(cases.v);
                return cf_first(b, STMT(b, off, 0));
            }
        }
        free(cases.v);
        return cf_after(b, sw >= 0 ? sw : c);
    }
    return cf_after(b, n);
}

/* A point: key, anchor node, the roots it reads, its raw successor keys. */
static void cf_point(CfgB *b, int64_t key, int64_t anchor, const int64_t *reads, Py_ssize_t nreads,
                     const int64_t *succ, Py_ssize_t nsucc) {
    Py_ssize_t slot = KEY_TAG(key) * b->n + KEY_NODE(key);
    b->pt[slot] = (int32_t)b->anchor.n;
    b->pt_st[slot] = b->stamp;
    PUSH(b->anchor, anchor);
    for (Py_ssize_t i = 0; i < nreads; i++) PUSH(b->rflat, reads[i]);
    PUSH(b->roff, b->rflat.n);
    for (Py_ssize_t i = 0; i < nsucc; i++) PUSH(b->sraw, succ[i]);
    PUSH(b->soff, b->sraw.n);
}

static void push_handlers(CfgB *b, Vec *succ, Py_ssize_t hoff, Py_ssize_t hlen) {
    for (Py_ssize_t i = 0; i < hlen; i++) PUSH(*succ, b->hpool.v[hoff + i]);
}

static void push_work(CfgB *b, int64_t n, Py_ssize_t hoff, Py_ssize_t hlen) {
    PUSH(b->stk_node, n);
    PUSH(b->stk_hoff, hoff);
    PUSH(b->stk_hlen, hlen);
}

static void cf_simple(CfgB *b, int64_t n, Py_ssize_t hoff, Py_ssize_t hlen) {
    Vec succ = {0};
    if (KF(b, n, KB_RETURN))
        PUSH(succ, jump_target(b, n, J_RETURN));
    else if (KF(b, n, KB_BREAK))
        PUSH(succ, jump_target(b, n, J_BREAK));
    else if (KF(b, n, KB_CONTINUE))
        PUSH(succ, jump_target(b, n, J_CONTINUE));
    else if (KF(b, n, KB_RAISE)) {
        if (hlen)
            push_handlers(b, &succ, hoff, hlen);
        else
            PUSH(succ, jump_target(b, n, J_RAISE));
    } else if (KF(b, n, KB_FALLTHROUGH))
        PUSH(succ, fallthrough_target(b, n));
    else if (KF(b, n, KB_GOTO))
        PUSH(succ, goto_target(b, n));
    else
        PUSH(succ, cf_after(b, n));
    push_handlers(b, &succ, hoff, hlen);
    cf_point(b, KEY(n, T_S), n, &n, 1, succ.v, succ.n);
    free(succ.v);
}

static void cf_compound(CfgB *b, int64_t n, const Comp *m, Py_ssize_t hoff, Py_ssize_t hlen) {
    int role = m->role;
    if (role == R_FOR && m->iterable != F_NONE && cf_child(b, n, m->iterable) >= 0) role = R_FOR_EACH;
    Vec succ = {0}, reads = {0}, parts = {0}, more = {0};
    if (role == R_LABELED) {
        int64_t body = labeled_body(b, n, m);
        if (body >= 0) push_work(b, body, hoff, hlen);
    } else if (role == R_IF || role == R_ELIF) {
        int64_t then = cf_child(b, n, m->body);
        if (then >= 0) PUSH(succ, cf_first(b, then));
        if (role == R_ELIF) { /* the next alternative of the enclosing if */
            int64_t p = b->parent[n];
            const Comp *pm = comp_at(b, p);
            if (pm) cf_children_with_field(b, p, pm->alt, &parts);
            Py_ssize_t i = -1;
            for (Py_ssize_t j = 0; j < parts.n && i < 0; j++)
                if (parts.v[j] == n) i = j;
            PUSH(succ, i >= 0 && i + 1 < parts.n ? cf_first(b, parts.v[i + 1]) : cf_after(b, p));
        } else {
            cf_children_with_field(b, n, m->alt, &parts);
            PUSH(succ, parts.n ? cf_first(b, parts.v[0]) : cf_after(b, n));
            for (Py_ssize_t j = parts.n - 1; j >= 0; j--) push_work(b, parts.v[j], hoff, hlen);
        }
        push_handlers(b, &succ, hoff, hlen);
        head_nodes(b, n, m, &reads);
        cf_point(b, KEY(n, T_S), n, reads.v, reads.n, succ.v, succ.n);
        if (then >= 0) push_work(b, then, hoff, hlen);
    } else if (role == R_WHILE) {
        int64_t body = cf_child(b, n, m->body);
        int64_t alt = m->alt != F_NONE ? cf_child(b, n, m->alt) : -1;
        int64_t exit_key = alt >= 0 ? cf_first(b, alt) : cf_after(b, n);
        PUSH(succ, body >= 0 ? cf_first(b, body) : KEY(n, T_S));
        PUSH(succ, exit_key);
        push_handlers(b, &succ, hoff, hlen);
        head_nodes(b, n, m, &reads);
        cf_point(b, KEY(n, T_S), n, reads.v, reads.n, succ.v, succ.n);
        if (alt >= 0) push_work(b, alt, hoff, hlen);
        if (body >= 0) push_work(b, body, hoff, hlen);
    } else if (role == R_FOR_EACH) {
        int64_t body = cf_child(b, n, m->body);
        int64_t alt = m->alt != F_NONE ? cf_child(b, n, m->alt) : -1;
        int64_t it = cf_child(b, n, m->iterable), target = cf_child(b, n, m->target);
        if (it >= 0) {
            PUSH(succ, KEY(n, T_S));
            push_handlers(b, &succ, hoff, hlen);
            cf_point(b, KEY(n, T_I), it, &it, 1, succ.v, succ.n);
            succ.n = 0;
        }
        int64_t exit_key = alt >= 0 ? cf_first(b, alt) : cf_after(b, n);
        int64_t into_body = body >= 0 ? cf_first(b, body) : KEY(n, T_S);
        if (target >= 0) { /* the target is bound on the way into the body, not on the way out */
            PUSH(succ, KEY(n, T_B));
            PUSH(succ, exit_key);
            push_handlers(b, &succ, hoff, hlen);
            cf_point(b, KEY(n, T_S), n, NULL, 0, succ.v, succ.n);
            succ.n = 0;
            PUSH(succ, into_body);
            push_handlers(b, &succ, hoff, hlen);
            cf_point(b, KEY(n, T_B), target, &target, 1, succ.v, succ.n);
        } else {
            PUSH(succ, into_body);
            PUSH(succ, exit_key);
            push_handlers(b, &succ, hoff, hlen);
            cf_point(b, KEY(n, T_S), n, NULL, 0, succ.v, succ.n);
        }
        if (alt >= 0) push_work(b, alt, hoff, hlen);
        if (body >= 0) push_work(b, body, hoff, hlen);
    } else if (role == R_FOR) {
        int64_t body = cf_child(b, n, m->body);
        int64_t cond = for_condition(b, n, m);
        if (cond >= 0 && (m->set[b->kind[cond]] & CS_EMPTY)) cond = -1; /* `for (;;)` */
        for_inits(b, n, m, &parts);
        cf_children_with_field(b, n, m->update, &more);
        if (parts.n) {
            if (KF(b, parts.v[0], KB_BLOCK) || comp_at(b, parts.v[0])) {
                parts.n = 0;
            } else {
                PUSH(succ, KEY(n, T_S));
                push_handlers(b, &succ, hoff, hlen);
                cf_point(b, KEY(n, T_I), parts.v[0], parts.v, parts.n, succ.v, succ.n);
                succ.n = 0;
            }
        }
        PUSH(succ, body >= 0 ? cf_first(b, body) : KEY(n, T_S));
        if (cond >= 0) PUSH(succ, cf_after(b, n));
        push_handlers(b, &succ, hoff, hlen);
        cf_point(b, KEY(n, T_S), n, &cond, cond >= 0, succ.v, succ.n);
        if (more.n) {
            succ.n = 0;
            PUSH(succ, KEY(n, T_S));
            push_handlers(b, &succ, hoff, hlen);
            cf_point(b, KEY(n, T_U), more.v[0], more.v, more.n, succ.v, succ.n);
        }
        if (body >= 0) push_work(b, body, hoff, hlen);
    } else if (role == R_DO) {
        int64_t body = cf_child(b, n, m->body);
        if (m->nhead) cf_children_with_field(b, n, m->head[0], &reads);
        if (body >= 0) PUSH(succ, cf_first(b, body));
        PUSH(succ, cf_after(b, n));
        push_handlers(b, &succ, hoff, hlen);
        cf_point(b, KEY(n, T_S), n, reads.v, reads.n, succ.v, succ.n);
        if (body >= 0) push_work(b, body, hoff, hlen);
    } else if (role == R_TRY) {
        int64_t body = cf_child(b, n, m->body);
        Vec hs = {0};
        for (int64_t c = n + 1; c < b->stop[n]; c = b->stop[c]) { /* parts: rest (else, finally), hs */
            uint8_t s = m->set[b->kind[c]];
            if (s & CS_CLAUSE) PUSH(hs, c);
            if (s & (CS_ELSE | CS_FINALLY)) PUSH(parts, c);
        }
        int64_t fin = -1;
        for (Py_ssize_t j = 0; j < parts.n && fin < 0; j++)
            if (m->set[b->kind[parts.v[j]]] & CS_FINALLY) fin = parts.v[j];
        /* an exception escaping the body goes to a handler, or to the finally clause; one escaping a
         * handler or the else clause goes to the finally clause; the finally clause then re-raises to
         * the enclosing handlers (or leaves the scope) */
        Py_ssize_t eoff = hoff, elen = hlen;
        if (fin >= 0) {
            int64_t f0 = cf_first(b, fin);
            eoff = b->hpool.n, elen = 1;
            PUSH(b->hpool, f0);
        }
        for (Py_ssize_t j = 0; j < hs.n; j++) PUSH(more, cf_first(b, hs.v[j]));
        if (fin >= 0) PUSH(more, b->hpool.v[eoff]);
        Py_ssize_t ioff = b->hpool.n, ilen = more.n;
        for (Py_ssize_t j = 0; j < more.n; j++) PUSH(b->hpool, more.v[j]);
        if (!ilen) ioff = hoff, ilen = hlen; /* inner or handlers */
        if (fin >= 0) {
            if (hlen) {
                for (Py_ssize_t j = 0; j < hlen; j++) {
                    PUSH(b->pend_fin, fin);
                    PUSH(b->pend_key, b->hpool.v[hoff + j]);
                }
            } else {
                PUSH(b->pend_fin, fin);
                PUSH(b->pend_key, EXITK);
            }
            tof_set(b, fin, n);
        }
        head_nodes(b, n, m, &reads); /* try-with-resources: the resources, before the body */
        PUSH(succ, body >= 0 ? cf_first(b, body) : cf_after(b, n));
        push_handlers(b, &succ, ioff, ilen);
        cf_point(b, KEY(n, T_S), n, reads.v, reads.n, succ.v, succ.n); /* may raise before the body */
        for (Py_ssize_t j = hs.n - 1; j >= 0; j--) push_work(b, hs.v[j], eoff, elen);
        for (Py_ssize_t j = parts.n - 1; j >= 0; j--) {
            int is_fin = (m->set[b->kind[parts.v[j]]] & CS_FINALLY) != 0;
            push_work(b, parts.v[j], is_fin ? hoff : eoff, is_fin ? hlen : elen);
        }
        if (body >= 0) push_work(b, body, ioff, ilen);
        free(hs.v);
    } else if (role == R_SWITCH) {
        cf_clauses(b, n, m, &parts);
        int has_default = 0;
        for (Py_ssize_t j = 0; j < parts.n && !has_default; j++) {
            int64_t c = parts.v[j];
            has_default = (m->set[b->kind[c]] & CS_DEFAULT) != 0;
            for (Py_ssize_t k = 0; k < m->npfx && !has_default; k++)
                has_default = b->start[c] + m->pfxlen[k] <= (int64_t)b->c->srclen &&
                              memcmp(b->c->src + b->start[c], m->pfx[k], (size_t)m->pfxlen[k]) == 0;
        }
        for (Py_ssize_t j = 0; j < parts.n; j++) PUSH(succ, cf_first(b, parts.v[j]));
        if (!has_default) PUSH(succ, cf_after(b, n));
        push_handlers(b, &succ, hoff, hlen);
        head_nodes(b, n, m, &reads);
        cf_point(b, KEY(n, T_S), n, reads.v, reads.n, succ.v, succ.n);
        for (Py_ssize_t j = parts.n - 1; j >= 0; j--) push_work(b, parts.v[j], hoff, hlen);
    } else if (role == R_CASE) {
        int64_t body = case_body(b, n, m);
        if (body == n) {
            Py_ssize_t off, len = cf_statements(b, n, &off);
            if (len) {
                PUSH(succ, cf_first(b, STMT(b, off, 0)));
            } else { /* an empty case: falls into the next one, or leaves the switch */
                int64_t nxt;
                int is_key = after_case(b, n, m, &nxt);
                PUSH(succ, is_key ? nxt : cf_after(b, nxt));
            }
            for (Py_ssize_t j = len - 1; j >= 0; j--) push_work(b, STMT(b, off, j), hoff, hlen);
        } else {
            PUSH(succ, cf_first(b, body));
            push_work(b, body, hoff, hlen);
        }
        push_handlers(b, &succ, hoff, hlen);
        head_nodes(b, n, m, &reads);
        cf_point(b, KEY(n, T_S), n, reads.v, reads.n, succ.v, succ.n);
    } else { /* sequence / else: a head, then a body */
        int64_t body = cf_child(b, n, m->body);
        if (KF(b, n, KB_FUNCTION)) body = -1; /* a nested definition: its body is a scope of its own */
        PUSH(succ, body >= 0 ? cf_first(b, body) : m->ntail ? KEY(n, T_T) : cf_after(b, n));
        push_handlers(b, &succ, hoff, hlen);
        if (m->nhead || m->has_head_kinds) head_nodes(b, n, m, &reads);
        cf_point(b, KEY(n, T_S), n, reads.v, reads.n, succ.v, succ.n);
        if (m->ntail) {
            for (int f = 0; f < m->ntail; f++) cf_children_with_field(b, n, m->tail[f], &parts);
            succ.n = 0;
            PUSH(succ, cf_after(b, n));
            push_handlers(b, &succ, hoff, hlen);
            cf_point(b, KEY(n, T_T), parts.n ? parts.v[0] : n, parts.v, parts.n, succ.v, succ.n);
        }
        if (body >= 0) push_work(b, body, hoff, hlen);
    }
    free(succ.v);
    free(reads.v);
    free(parts.v);
    free(more.v);
}

static int vec_has(const Vec *v, int64_t x) {
    for (Py_ssize_t i = 0; i < v->n; i++)
        if (v->v[i] == x) return 1;
    return 0;
}

static int64_t point_of(const CfgB *b, int64_t key) {
    if (key < 0 || KEY_TAG(key) >= NTAGS_POINT) return -1;
    Py_ssize_t slot = KEY_TAG(key) * b->n + KEY_NODE(key);
    return b->pt_st[slot] == b->stamp ? b->pt[slot] : -1;
}

/* _finish: raw successor keys -> point indices (a finally clause's end expands to where it goes). */
static void cf_finish(CfgB *b) {
    Py_ssize_t npts = b->anchor.n;
    b->succ_off.n = b->succ_flat.n = 0;
    PUSH(b->succ_off, 0);
    Vec todo = {0}, seen = {0}, targets = {0};
    for (Py_ssize_t p = 0; p < npts && !b->err; p++) {
        targets.n = 0;
        for (Py_ssize_t j = b->soff.v[p]; j < b->soff.v[p + 1]; j++) {
            int64_t key = b->sraw.v[j];
            int64_t t = point_of(b, key);
            if (t >= 0) {
                if (!vec_has(&targets, t)) PUSH(targets, t);
                continue;
            }
            todo.n = seen.n = 0;
            PUSH(todo, key);
            while (todo.n && !b->err) {
                int64_t k = todo.v[--todo.n];
                if (vec_has(&seen, k)) continue;
                PUSH(seen, k);
                if (k >= 0 && KEY_TAG(k) == T_F) {
                    int64_t fin = KEY_NODE(k), owner = fin;
                    for (Py_ssize_t i = 0; i < b->tof_fin.n; i++)
                        if (b->tof_fin.v[i] == fin) owner = b->tof_try.v[i];
                    PUSH(todo, cf_after(b, owner));
                    for (Py_ssize_t i = 0; i < b->pend_fin.n; i++)
                        if (b->pend_fin.v[i] == fin) PUSH(todo, b->pend_key.v[i]);
                } else if ((t = point_of(b, k)) >= 0 && !vec_has(&targets, t)) {
                    PUSH(targets, t);
                }
            }
        }
        for (Py_ssize_t i = 0; i < targets.n; i++) PUSH(b->succ_flat, targets.v[i]);
        PUSH(b->succ_off, b->succ_flat.n);
    }
    free(todo.v);
    free(seen.v);
    free(targets.v);
}

/* build(): the points of scope `scope` (hint: its parameter list where the language's declarators hide
 * it, as parsers.names.unit_parameters finds it; -1 otherwise). */
static void cf_build(CfgB *b, int64_t scope, int64_t hint) {
    b->stamp++;
    b->scope = scope;
    b->anchor.n = b->rflat.n = b->sraw.n = 0;
    b->roff.n = b->soff.n = 0;
    PUSH(b->roff, 0);
    PUSH(b->soff, 0);
    b->pend_fin.n = b->pend_key.n = b->tof_fin.n = b->tof_try.n = 0;
    b->hpool.n = b->stk_node.n = b->stk_hoff.n = b->stk_hlen.n = 0;
    b->goto_ready = 0;
    const FlowTab *t = b->t;
    int isf = KF(b, scope, KB_SCOPE) != 0;
    int64_t params = isf ? cf_child(b, scope, t->params_fid) : -1;
    if (params < 0 && isf && hint >= 0) params = hint; /* C's `int *f(int a)`: in a declarator */
    if (params < 0 && t->param_fid != F_NONE && isf) params = cf_child(b, scope, t->param_fid); /* `x => x` */
    Vec entry = {0}, one = {0};
    if (params >= 0) PUSH(entry, params);
    if (t->nentry && isf) { /* Go's receiver and named results */
        for (int f = 0; f < t->nentry; f++) cf_children_with_field(b, scope, t->entry[f], &entry);
        sort_nodes(entry.v, entry.n);
    }
    int64_t body = isf ? cf_child(b, scope, t->body_fid) : scope;
    if (body < 0 && KF(b, scope, KB_BLOCK)) body = scope; /* a scope that is its own statement list */
    if (isf && body < 0) {                                /* e.g. an abstract method with no body */
        cf_point(b, KEY(scope, T_S), scope, entry.v, entry.n, NULL, 0);
        goto finish;
    }
    int is_block = KF(b, body, KB_BLOCK) != 0;
    PUSH(one, is_block ? cf_first(b, body) : KEY(body, T_S));
    cf_point(b, KEY(scope, T_S), scope, entry.v, entry.n, one.v, one.n);
    if (!is_block) { /* expression body (lambda) */
        cf_point(b, KEY(body, T_S), body, &body, 1, NULL, 0);
        goto finish;
    }
    push_work(b, body, 0, 0);
    while (b->stk_node.n && !b->err) {
        b->stk_node.n--, b->stk_hoff.n--, b->stk_hlen.n--;
        int64_t n = b->stk_node.v[b->stk_node.n];
        Py_ssize_t hoff = b->stk_hoff.v[b->stk_node.n], hlen = b->stk_hlen.v[b->stk_node.n];
        if (KF(b, n, KB_BLOCK)) {
            Py_ssize_t off, len = cf_statements(b, n, &off);
            for (Py_ssize_t i = 0; i + 1 < len; i++) { /* after(a) is where the next statement starts */
                int64_t a = STMT(b, off, i);
                if (b->memo_st[a] != b->stamp) {
                    int64_t k = cf_first(b, STMT(b, off, i + 1));
                    b->memo[a] = k;
                    b->memo_st[a] = b->stamp;
                }
            }
            for (Py_ssize_t i = len - 1; i >= 0; i--) push_work(b, STMT(b, off, i), hoff, hlen);
            continue;
        }
        const Comp *m = comp_at(b, n);
        if (!m)
            cf_simple(b, n, hoff, hlen);
        else
            cf_compound(b, n, m, hoff, hlen);
    }
finish:
    free(entry.v);
    free(one.v);
    cf_finish(b);
}

static void cfgb_free(CfgB *b) {
    free(b->memo_st), free(b->pt_st), free(b->pt), free(b->st_len), free(b->pos), free(b->memo), free(b->st_off);
    Vec *vs[] = {&b->st_pool, &b->chain,    &b->anchor, &b->roff,     &b->rflat,    &b->soff,
                 &b->sraw,    &b->pend_fin, &b->pend_key, &b->tof_fin, &b->tof_try, &b->hpool,
                 &b->stk_node, &b->stk_hoff, &b->stk_hlen, &b->goto_lab, &b->succ_off, &b->succ_flat};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) free(vs[i]->v);
}

/* A builder over ctx's file with its language's control-flow tables. 0, or -1 with an error. */
static int cfgb_init(CfgB *b, Ctx *c) {
    const FlowTab *t = c->L->flow;
    memset(b, 0, sizeof *b);
    for (Py_ssize_t i = 0; i < c->n; i++)
        if (c->kind[i] < 0 || c->kind[i] >= t->nk) {
            PyErr_SetString(PyExc_ValueError, "control flow: node kind outside the language's tables");
            return -1;
        }
    b->c = c, b->t = t, b->parent = c->parent, b->kind = c->kind, b->stop = c->stop, b->field = c->field;
    b->start = c->start, b->n = c->n;
    size_t n = (size_t)c->n + 1;
    b->memo_st = calloc(n, 4), b->pt_st = calloc(n * NTAGS_POINT, 4), b->pt = malloc(n * NTAGS_POINT * 4);
    b->st_len = malloc(n * 4), b->pos = malloc(n * 4), b->memo = malloc(n * 8);
    b->st_off = malloc(n * sizeof(Py_ssize_t));
    if (!b->memo_st || !b->pt_st || !b->pt || !b->st_len || !b->pos || !b->memo || !b->st_off) {
        cfgb_free(b);
        PyErr_NoMemory();
        return -1;
    }
    memset(b->st_len, 0xff, n * 4); /* -1: not computed */
    memset(b->pos, 0xff, n * 4);
    return 0;
}

static PyObject *vec_slice_list(const int64_t *v, Py_ssize_t lo, Py_ssize_t hi) {
    Vec tmp = {(int64_t *)v + lo, hi - lo, hi - lo};
    return vec_list(&tmp);
}

/* build_cfg(ctx, scope, hint) -> (anchor, reads, succ): one scope's ScopeCFG as lists. */
static PyObject *native_build_cfg(PyObject *self, PyObject *args) {
    PyObject *capsule;
    long long scope, hint;
    if (!PyArg_ParseTuple(args, "OLL", &capsule, &scope, &hint)) return NULL;
    PyObject *result = NULL;
    Ctx *c = PyCapsule_GetPointer(capsule, "galla.native.ctx");
    CfgB b;
    if (!c) return NULL;
    if (scope < 0 || scope >= c->n) {
        PyErr_SetString(PyExc_ValueError, "build_cfg: scope out of range");
        return NULL;
    }
    if (cfgb_init(&b, c) < 0) return NULL;
    cf_build(&b, scope, hint);
    if (b.err) {
        PyErr_NoMemory();
    } else {
        Py_ssize_t npts = b.anchor.n;
        PyObject *reads = PyList_New(npts), *succ = PyList_New(npts), *anchor = vec_list(&b.anchor);
        int ok = reads && succ && anchor;
        for (Py_ssize_t p = 0; ok && p < npts; p++) {
            PyObject *r = vec_slice_list(b.rflat.v, b.roff.v[p], b.roff.v[p + 1]);
            PyObject *s = vec_slice_list(b.succ_flat.v, b.succ_off.v[p], b.succ_off.v[p + 1]);
            if (r) PyList_SET_ITEM(reads, p, r);
            if (s) PyList_SET_ITEM(succ, p, s);
            ok = r && s;
        }
        if (ok) result = PyTuple_Pack(3, anchor, reads, succ);
        Py_XDECREF(reads);
        Py_XDECREF(succ);
        Py_XDECREF(anchor);
    }
    cfgb_free(&b);
    return result;
}

/* scope_flows(ctx, scopes, hints, want): build_cfg then the flow passes for every scope (int64 buffers;
 * hints may be empty) for the edge types in the mask want (CFG_NEXT, LAST_WRITE, LAST_READ,
 * LAST_LEXICAL_USE), the edges kept in ctx in the order the Python engine appends them. */
static PyObject *native_scope_flows(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer scopes, hints;
    long long want;
    if (!PyArg_ParseTuple(args, "Oy*y*L", &capsule, &scopes, &hints, &want)) return NULL;
    const int want_cfg = WANTS(want, ET_CFG_NEXT), want_lex = WANTS(want, ET_LAST_LEXICAL_USE),
              want_w = WANTS(want, ET_LAST_WRITE), want_r = WANTS(want, ET_LAST_READ);
    const int64_t cfg = ET_CFG_NEXT, lw = ET_LAST_WRITE, lr = ET_LAST_READ, lex = ET_LAST_LEXICAL_USE;
    PyObject *result = NULL;
    Ctx *c = PyCapsule_GetPointer(capsule, "galla.native.ctx");
    Py_ssize_t ns = scopes.len / 8;
    const int64_t *sv = scopes.buf, *hv = hints.buf;
    CfgB b;
    if (!c) goto done;
    if (hints.len && hints.len != scopes.len) {
        PyErr_SetString(PyExc_ValueError, "scope_flows: hints must be empty or one per scope");
        goto done;
    }
    for (Py_ssize_t i = 0; i < ns; i++)
        if (sv[i] < 0 || sv[i] >= c->n) {
            PyErr_SetString(PyExc_ValueError, "scope_flows: scope out of range");
            goto done;
        }
    if (cfgb_init(&b, c) < 0) goto done;
    Sink sink = {&c->et, &c->es, &c->ed, lw, lr, lex, want_lex, want_w, want_r};
    Py_ssize_t i = 0;
    for (; i < ns; i++) {
        cf_build(&b, sv[i], hints.len ? hv[i] : -1);
        if (b.err) {
            PyErr_NoMemory();
            break;
        }
        if (flow_core(c, b.anchor.n, b.anchor.v, (const Py_ssize_t *)b.roff.v, b.rflat.v,
                      (const Py_ssize_t *)b.succ_off.v, (const Py_ssize_t *)b.succ_flat.v, want_cfg, cfg, &sink) < 0)
            break;
    }
    if (i == ns) result = Py_NewRef(Py_None);
    cfgb_free(&b);
done:
    PyBuffer_Release(&scopes);
    PyBuffer_Release(&hints);
    return result;
}

/* --- units ------------------------------------------------------------------------------------ */

static int line_of(const int64_t *ls, Py_ssize_t nls, int64_t pos) {
    /* the last line start <= pos (numpy: searchsorted(starts, pos, "right") - 1) */
    Py_ssize_t lo = 0, hi = nls;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (ls[mid] <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int)(lo - 1);
}

/* Cut a file's edges and nodes into units (parsers/extract.py: extract_file does the same with numpy).
 * Unit u is the preorder range [lo, cut) with lo = roots[u], cut = min(stop[lo], lo + max_nodes); its
 * edges are those with both ends in the range, ordered by source node and then as given, the first
 * max_edges of them kept. Returns (node_off, edge_off, per_unit, columns) with the node columns
 * kind (int16), named (int8), start/end byte relative to the unit (int32), start/end line and column
 * (int32), then edge src/dst relative to the unit (int32) and type (int8). */
static PyObject *native_slice_units(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer b[9];
    long long max_nodes, max_edges;
    memset(b, 0, sizeof(b));
    if (!PyArg_ParseTuple(args, "Oy*y*y*y*y*y*y*y*y*LL", &capsule, &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6],
                          &b[7], &b[8], &max_nodes, &max_edges))
        return NULL;
    /* 0 src 1 dst 2 typ (int64, E); 3 roots (int64, U); 4 stop 5 kind 6 start 7 end (int64, N);
     * 8 source; the language's global kind (int16 per kind) and named (int8 per kind) tables */
    PyObject *result = NULL;
    const Lang *L = lang_of(capsule);
    Py_ssize_t E = b[0].len / 8, U = b[3].len / 8, N = b[4].len / 8, K = L ? L->nk : 0;
    const int64_t *src = b[0].buf, *dst = b[1].buf, *typ = b[2].buf, *roots = b[3].buf, *stop = b[4].buf;
    const int64_t *kind = b[5].buf, *start = b[6].buf, *end = b[7].buf;
    const char *text = b[8].buf;
    const int16_t *gk = L ? L->global_kind : NULL;
    const int8_t *named = L ? L->named : NULL;
    Py_ssize_t *cnt = NULL, *perm = NULL;
    int64_t *ls = NULL, *node_off = NULL, *edge_off = NULL, *per_unit = NULL, *lo_of = NULL, *cut_of = NULL;
    char *cols[11] = {0};
    if (!L) goto done;
    if (b[1].len != b[0].len || b[2].len != b[0].len || b[5].len != b[4].len || b[6].len != b[4].len ||
        b[7].len != b[4].len || max_nodes < 1 || max_edges < 0) {
        PyErr_SetString(PyExc_ValueError, "slice_units: arrays of inconsistent lengths");
        goto done;
    }
    cnt = calloc((size_t)N + 2, sizeof(Py_ssize_t));
    perm = malloc(((size_t)E + 1) * sizeof(Py_ssize_t));
    node_off = malloc(((size_t)U + 1) * sizeof(int64_t));
    edge_off = malloc(((size_t)U + 1) * sizeof(int64_t));
    per_unit = calloc((size_t)U + 1, sizeof(int64_t));
    lo_of = malloc(((size_t)U + 1) * sizeof(int64_t));
    cut_of = malloc(((size_t)U + 1) * sizeof(int64_t));
    if (!cnt || !perm || !node_off || !edge_off || !per_unit || !lo_of || !cut_of) goto nomem;
    for (Py_ssize_t e = 0; e < E; e++) {
        if (src[e] < 0 || src[e] >= N || dst[e] < 0 || dst[e] >= N) {
            PyErr_SetString(PyExc_ValueError, "slice_units: edge end out of range");
            goto done;
        }
        cnt[src[e] + 1]++;
    }
    for (Py_ssize_t i = 0; i < N; i++) cnt[i + 1] += cnt[i];
    for (Py_ssize_t e = 0; e < E; e++) perm[cnt[src[e]]++] = e; /* stable counting sort by src */
    for (Py_ssize_t i = N; i > 0; i--) cnt[i] = cnt[i - 1];     /* back to the start offsets */
    cnt[0] = 0;
    /* line starts */
    Py_ssize_t nls = 1;
    for (Py_ssize_t i = 0; i < b[8].len; i++) nls += text[i] == '\n';
    ls = malloc((size_t)nls * sizeof(int64_t));
    if (!ls) goto nomem;
    ls[0] = 0;
    for (Py_ssize_t i = 0, j = 1; i < b[8].len; i++)
        if (text[i] == '\n') ls[j++] = i + 1;
    /* sizes */
    node_off[0] = edge_off[0] = 0;
    for (Py_ssize_t u = 0; u < U; u++) {
        int64_t lo = roots[u];
        if (lo < 0 || lo >= N) {
            PyErr_SetString(PyExc_ValueError, "slice_units: unit root out of range");
            goto done;
        }
        int64_t cut = stop[lo] < lo + max_nodes ? stop[lo] : lo + max_nodes;
        lo_of[u] = lo;
        cut_of[u] = cut;
        node_off[u + 1] = node_off[u] + (cut - lo);
        int64_t inside = 0;
        for (int64_t s2 = lo; s2 < cut; s2++)
            for (Py_ssize_t k = cnt[s2]; k < cnt[s2 + 1]; k++) inside += dst[perm[k]] >= lo && dst[perm[k]] < cut;
        per_unit[u] = inside;
        edge_off[u + 1] = edge_off[u] + (inside < max_edges ? inside : max_edges);
    }
    Py_ssize_t nn = node_off[U], ne = edge_off[U];
    static const int width[11] = {2, 1, 4, 4, 4, 4, 4, 4, 4, 4, 1};
    for (int c = 0; c < 11; c++) {
        cols[c] = malloc((size_t)(c < 8 ? nn : ne) * width[c] + 1);
        if (!cols[c]) goto nomem;
    }
    int16_t *c_kind = (int16_t *)cols[0];
    int8_t *c_named = (int8_t *)cols[1], *c_type = (int8_t *)cols[10];
    int32_t *c_sb = (int32_t *)cols[2], *c_eb = (int32_t *)cols[3], *c_sl = (int32_t *)cols[4];
    int32_t *c_sc = (int32_t *)cols[5], *c_el = (int32_t *)cols[6], *c_ec = (int32_t *)cols[7];
    int32_t *c_src = (int32_t *)cols[8], *c_dst = (int32_t *)cols[9];
    for (Py_ssize_t u = 0; u < U; u++) {
        int64_t lo = lo_of[u], cut = cut_of[u], base = start[lo];
        Py_ssize_t q = node_off[u];
        for (int64_t i = lo; i < cut; i++, q++) {
            int64_t k = kind[i];
            if (k < 0 || k >= K) {
                PyErr_SetString(PyExc_ValueError, "slice_units: node kind out of range");
                goto done;
            }
            c_kind[q] = gk[k];
            c_named[q] = named[k];
            c_sb[q] = (int32_t)(start[i] - base);
            c_eb[q] = (int32_t)(end[i] - base);
            int ln = line_of(ls, nls, start[i]);
            c_sl[q] = ln;
            c_sc[q] = (int32_t)(start[i] - ls[ln]);
            ln = line_of(ls, nls, end[i]);
            c_el[q] = ln;
            c_ec[q] = (int32_t)(end[i] - ls[ln]);
        }
        Py_ssize_t w = edge_off[u];
        int64_t taken = 0;
        for (int64_t s2 = lo; s2 < cut && taken < max_edges; s2++) {
            for (Py_ssize_t k = cnt[s2]; k < cnt[s2 + 1] && taken < max_edges; k++) {
                Py_ssize_t e = perm[k];
                if (dst[e] >= lo && dst[e] < cut) {
                    c_src[w] = (int32_t)(s2 - lo);
                    c_dst[w] = (int32_t)(dst[e] - lo);
                    c_type[w] = (int8_t)typ[e];
                    w++;
                    taken++;
                }
            }
        }
    }
    PyObject *tuple = PyTuple_New(11);
    if (!tuple) goto done;
    for (int c = 0; c < 11; c++) {
        PyObject *o = PyByteArray_FromStringAndSize(cols[c], (c < 8 ? nn : ne) * width[c]); /* writable */
        if (!o) {
            Py_DECREF(tuple);
            goto done;
        }
        PyTuple_SET_ITEM(tuple, c, o);
    }
    result = Py_BuildValue("(NNNN)", PyByteArray_FromStringAndSize((char *)node_off, (U + 1) * 8),
                           PyByteArray_FromStringAndSize((char *)edge_off, (U + 1) * 8),
                           PyByteArray_FromStringAndSize((char *)per_unit, U * 8), tuple);
    goto done;
nomem:
    PyErr_NoMemory();
done:
    for (int c = 0; c < 11; c++) free(cols[c]);
    free(cnt);
    free(perm);
    free(ls);
    free(node_off);
    free(edge_off);
    free(per_unit);
    free(lo_of);
    free(cut_of);
    for (int i = 0; i < 9; i++)
        if (b[i].obj) PyBuffer_Release(&b[i]);
    return result;
}

static PyObject *native_take_edges(PyObject *self, PyObject *capsule) {
    Ctx *c = PyCapsule_GetPointer(capsule, "galla.native.ctx");
    if (!c) return NULL;
    PyObject *r = Py_BuildValue("(NNN)", vec_bytes(&c->et), vec_bytes(&c->es), vec_bytes(&c->ed));
    c->et.n = c->es.n = c->ed.n = 0;
    return r;
}

/* --- language(): a CompiledLanguage into a capsule ------------------------------------------- */

static void lang_destroy(Lang *L) {
    Py_XDECREF(L->grammar);
    Py_XDECREF(L->selves);
    free(L->keep), free(L->comments), free(L->kind_flags), free(L->pair_class), free(L->value_field);
    free(L->comp_clause), free(L->assign_target), free(L->call_flags), free(L->call_fids);
    free(L->global_kind), free(L->named);
    if (L->flow) flowtab_destroy(L->flow);
    free(L);
}

static void lang_free(PyObject *capsule) {
    Lang *L = PyCapsule_GetPointer(capsule, "galla.native.lang");
    if (L) lang_destroy(L);
}

/* language(compiled) -> capsule: the tables of a parsers.compiled.CompiledLanguage, read by attribute name
 * (see there for each one's meaning) and checked against its grammar. */
static PyObject *native_language(PyObject *self, PyObject *obj) {
    Lang *L = calloc(1, sizeof(Lang));
    if (!L) return PyErr_NoMemory();
    int64_t nk, nf;
    if (!(L->grammar = PyObject_GetAttrString(obj, "grammar"))) goto fail;
    if (!(L->ts = PyCapsule_GetPointer(L->grammar, "tree_sitter.Language"))) goto fail;
    if (attr_int(obj, "n_kinds", &nk) < 0 || attr_int(obj, "n_fields", &nf) < 0) goto fail;
    if (nk != (int64_t)ts_language_symbol_count(L->ts) + 1 || nf < 1) {
        PyErr_Format(PyExc_ValueError, "language: %lld kinds, %lld fields, for a grammar of %u kinds and ERROR",
                     (long long)nk, (long long)nf, ts_language_symbol_count(L->ts));
        goto fail;
    }
    L->nk = nk, L->nfields = nf;
    if (!(L->keep = attr_array(obj, "keep", nk, 1)) || !(L->comments = attr_array(obj, "comments", nk, 1)) ||
        !(L->kind_flags = attr_array(obj, "kind_flags", nk + 1, 8)) ||
        !(L->pair_class = attr_array(obj, "pair_class", (nk + 1) * nf, 8)) ||
        !(L->value_field = attr_array(obj, "value_field", nk + 1, 8)) ||
        !(L->comp_clause = attr_array(obj, "comprehension", 2 * nk, 8)) ||
        !(L->assign_target = attr_array(obj, "assignment", 2 * nk, 8)) ||
        !(L->call_flags = attr_array(obj, "call_flags", nk, 1)) ||
        !(L->call_fids = attr_array(obj, "call_fields", 5 * nk, 8)) ||
        !(L->global_kind = attr_array(obj, "global_kind", nk, 2)) || !(L->named = attr_array(obj, "named", nk, 1)))
        goto fail;
    L->comp_target = L->comp_clause + nk;
    L->assign_value = L->assign_target + nk;
    if (attr_int(obj, "operator_field", &L->operator_fid) < 0 || attr_int(obj, "name_field", &L->name_fid) < 0 ||
        attr_int(obj, "definition_body_field", &L->definition_body_fid) < 0 ||
        attr_int(obj, "call_parameters_field", &L->call_params_fid) < 0)
        goto fail;
    if (!(L->selves = PyObject_GetAttrString(obj, "self_names"))) goto fail;
    int ok = PyTuple_Check(L->selves);
    for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(L->selves); i++) ok = PyBytes_Check(PyTuple_GET_ITEM(L->selves, i));
    if (!ok) {
        PyErr_SetString(PyExc_TypeError, "language: self_names must be a tuple of bytes");
        goto fail;
    }
    if (!(L->flow = flowtab_from(obj, nk))) goto fail;
    PyObject *cap = PyCapsule_New(L, "galla.native.lang", lang_free);
    if (cap) return cap;
fail:
    lang_destroy(L);
    return NULL;
}

static PyMethodDef methods[] = {
    {"language", native_language, METH_O,
     "language(compiled) -> the C core's copy of a parsers.compiled.CompiledLanguage's tables"},
    {"flatten", native_flatten, METH_VARARGS, "flatten(lang, source) -> (int64 buffers, error ranges)"},
    {"file_context", native_file_context, METH_VARARGS,
     "file_context(lang, source, kind, field, start, end, parent, stop) -> one file's arrays and scan events"},
    {"events", native_events, METH_O, "events(ctx) -> the file's scan events as 8 int64 buffers"},
    {"computed_from", native_computed_from, METH_VARARGS,
     "computed_from(ctx, nodes): add the COMPUTED_FROM edges of assignments to ctx"},
    {"scan_accesses", native_scan_accesses, METH_VARARGS,
     "scan_accesses(ctx, roots) -> [(node, name, mode)] of one point whose subtrees are roots"},
    {"slice_units", native_slice_units, METH_VARARGS,
     "slice_units(lang, src, dst, typ, roots, stop, kind, start, end, source, max_nodes, max_edges) "
     "-> (node_off, edge_off, per_unit, columns)"},
    {"call_edges", native_call_edges, METH_VARARGS,
     "call_edges(ctx, within, want) -> (type, src, dst) of a file's call edges of the edge type mask want"},
    {"build_cfg", native_build_cfg, METH_VARARGS, "build_cfg(ctx, scope, hint) -> (anchor, reads, succ) of one scope"},
    {"scope_flows", native_scope_flows, METH_VARARGS,
     "scope_flows(ctx, scopes, hints, want): control flow and def-use edges of every scope"},
    {"take_edges", native_take_edges, METH_O,
     "take_edges(ctx) -> (type, src, dst) int64 buffers of the edges emitted into ctx since the last call"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

#ifndef GALLA_TREE_SITTER_VERSION
#define GALLA_TREE_SITTER_VERSION "unknown"
#endif

/* ABI: every value shared with parsers/abi.py, by its name here. */
static PyObject *abi_dict(void) {
    PyObject *d = PyDict_New();
    for (size_t i = 0; d && i < sizeof abi_values / sizeof abi_values[0]; i++) {
        PyObject *v = PyLong_FromLongLong(abi_values[i].value);
        if (!v || PyDict_SetItemString(d, abi_values[i].name, v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    PyObject *abi = abi_dict();
    int bad = !abi || PyModule_AddStringConstant(m, "TREE_SITTER_VERSION", GALLA_TREE_SITTER_VERSION) < 0 ||
              PyModule_AddIntConstant(m, "ABI_VERSION", GALLA_ABI_VERSION) < 0 ||
              PyModule_AddObjectRef(m, "ABI", abi) < 0;
    Py_XDECREF(abi);
    if (bad) Py_CLEAR(m);
    return m;
}
