/* accord.index._kernel: the hot loops of an index batch, in C (optional).

   verifiable-index.md sections 5.1-5.2. This module does, with the results
   and side effects of the pure-Python code it stands in for,

   - append_postings: the per-key loop of IndexState.apply_batch (builder.py):
     each touched key's postings appended to its posting log from the right
     edge in its head blob, the PostingRow, NodeRow, KeyRow and map item
     tuples appended in the same order, the head blobs rewritten;
   - update: the work of SparseMap.update_checked (smt.py) on the map's
     containers: new keys placed (SparseMap._insert), the leaf hashes written
     (_hash_leaves) and every ancestor of the changed leaves recomputed,
     deepest level first (_rehash), with the same undo records.

   Two differences nothing reads: the dense undo log lists a batch's
   positions in another order (the Python code follows set order), and the
   row tuples are created untracked by the cyclic garbage collector (they
   hold only bytes and ints; the collector would untrack them itself).

   Hashing is OpenSSL's low-level SHA256_* API: about 100 ns a call here
   against about 400 ns for hashlib from Python; the rest is the containers'
   cost, mostly cache misses. The callers validate their inputs first; the
   kernel re-checks the types and lengths it relies on to stay in bounds and
   raises if one is wrong, before it changes anything. It holds the GIL
   throughout (the containers are Python objects). Built by hatch_build.py at
   install; accord/index/native.py loads it, and the pure-Python code runs
   when it is absent or when ACCORD_PURE_PYTHON=1. */

#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#define HASH 32
/* A posting log of size < 2**64 has at most 64 hashes on its right edge. */
#define MAX_EDGE 64
/* update leaves the hashing of a batch with a leaf position at or above this
   (depth > 61) to the Python code, which has unbounded integers. */
#define MAX_POSITION (UINT64_C(1) << 62)

static PyObject *str_seq, *str_log_ts, *str_leaf_hash, *str_frombytes, *str_typecode;
static const unsigned char EMPTY[HASH];

/* -- hashing ------------------------------------------------------------------ */

static int
sha256(const unsigned char *msg, size_t len, unsigned char *out)
{
    SHA256_CTX ctx;
    if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, msg, len) != 1
        || SHA256_Final(out, &ctx) != 1) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL SHA-256 failed");
        return -1;
    }
    return 0;
}

/* out = SHA-256(0x01 || left || right); out may alias left or right. */
static int
inner(const unsigned char *left, const unsigned char *right, unsigned char *out)
{
    unsigned char msg[1 + 2 * HASH];
    msg[0] = 0x01;
    memcpy(msg + 1, left, HASH);
    memcpy(msg + 1 + HASH, right, HASH);
    return sha256(msg, sizeof msg, out);
}

static void
put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t
get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* -- small helpers ------------------------------------------------------------- */

/* A new tuple of n items, stealing every reference in items; NULL (with every
   reference dropped) if any item is NULL or the tuple cannot be made. */
static PyObject *
steal_tuple(Py_ssize_t n, PyObject **items)
{
    PyObject *t = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (items[i] == NULL) {
            goto fail;
        }
    }
    t = PyTuple_New(n);
    if (t == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(t, i, items[i]);
    }
    /* Bytes and ints only: never in a cycle, so the collector need not track
       it (it would untrack it itself at its next pass). */
    PyObject_GC_UnTrack(t);
    return t;
fail:
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_XDECREF(items[i]);
    }
    return NULL;
}

/* Append a new reference to list and drop it; -1 if obj is NULL or on error. */
static int
append_new(PyObject *list, PyObject *obj)
{
    if (obj == NULL) {
        return -1;
    }
    int r = PyList_Append(list, obj);
    Py_DECREF(obj);
    return r;
}

static PyObject *
new_ref(PyObject *obj)
{
    Py_INCREF(obj);
    return obj;
}

static PyObject *
hash_bytes(const unsigned char *h)
{
    return PyBytes_FromStringAndSize((const char *)h, HASH);
}

/* -- append_postings ----------------------------------------------------------- */

/* One entry's fields: new references to seq, log_ts and leaf_hash, and the
   49-byte message 0x00 || u64be(seq) || u64be(log_ts) || leaf_hash. */
static int
entry_fields(PyObject *entry, PyObject **seq, PyObject **log_ts, PyObject **leaf,
             unsigned char *msg)
{
    *seq = PyObject_GetAttr(entry, str_seq);
    *log_ts = *seq ? PyObject_GetAttr(entry, str_log_ts) : NULL;
    *leaf = *log_ts ? PyObject_GetAttr(entry, str_leaf_hash) : NULL;
    if (*leaf == NULL) {
        goto fail;
    }
    if (!PyLong_Check(*seq) || !PyLong_Check(*log_ts)) {
        PyErr_SetString(PyExc_TypeError, "seq and log_ts must be integers");
        goto fail;
    }
    uint64_t s = PyLong_AsUnsignedLongLong(*seq);
    if (s == (uint64_t)-1 && PyErr_Occurred()) {
        goto fail;
    }
    uint64_t t = PyLong_AsUnsignedLongLong(*log_ts);
    if (t == (uint64_t)-1 && PyErr_Occurred()) {
        goto fail;
    }
    if (!PyBytes_Check(*leaf) || PyBytes_GET_SIZE(*leaf) != HASH) {
        PyErr_SetString(PyExc_TypeError, "leaf_hash must be 32 bytes");
        goto fail;
    }
    msg[0] = 0x00;
    put_be64(msg + 1, s);
    put_be64(msg + 9, t);
    memcpy(msg + 17, PyBytes_AS_STRING(*leaf), HASH);
    return 0;
fail:
    Py_XDECREF(*seq);
    Py_XDECREF(*log_ts);
    Py_XDECREF(*leaf);
    *seq = *log_ts = *leaf = NULL;
    return -1;
}

/* Append one key's group to its posting log; on success *blob_out is the new
   head blob (a new reference). Appends to the row lists only. */
static int
append_key(PyObject *key, PyObject *group, PyObject *old_blob, PyObject *posting_rows,
           PyObject *node_rows, PyObject *key_rows, PyObject *items, Py_ssize_t stored_level,
           PyObject *prefix, PyObject **blob_out)
{
    unsigned char edge[MAX_EDGE + 1][HASH];
    unsigned char h[HASH], root[HASH];
    unsigned char msg[1 + 16 + HASH];
    uint64_t size = 0;
    int n = 0;

    *blob_out = NULL;
    if (old_blob != NULL) {
        if (!PyBytes_Check(old_blob) || PyBytes_GET_SIZE(old_blob) < 8) {
            PyErr_SetString(PyExc_ValueError, "a posting log head is malformed");
            return -1;
        }
        const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(old_blob);
        size = get_be64(b);
        n = __builtin_popcountll(size);
        if (PyBytes_GET_SIZE(old_blob) != 8 + (Py_ssize_t)n * HASH) {
            PyErr_SetString(PyExc_ValueError, "a posting log head's edge has the wrong length");
            return -1;
        }
        memcpy(edge, b + 8, (size_t)n * HASH);
    }
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(group); j++) {
        PyObject *entry = new_ref(PyList_GET_ITEM(group, j));
        PyObject *seq, *log_ts, *leaf;
        int bad = entry_fields(entry, &seq, &log_ts, &leaf, msg);
        Py_DECREF(entry);
        if (bad) {
            return -1;
        }
        if (size == UINT64_MAX) {
            Py_DECREF(seq);
            Py_DECREF(log_ts);
            Py_DECREF(leaf);
            PyErr_SetString(PyExc_OverflowError, "a posting log size does not fit in 64 bits");
            return -1;
        }
        if (sha256(msg, sizeof msg, h) < 0) {
            Py_DECREF(seq);
            Py_DECREF(log_ts);
            Py_DECREF(leaf);
            return -1;
        }
        PyObject *row[5] = {new_ref(key), PyLong_FromUnsignedLongLong(size), seq, log_ts, leaf};
        if (append_new(posting_rows, steal_tuple(5, row)) < 0) {
            return -1;
        }
        if (size & 1) {
            long level = 0;
            uint64_t index = size;
            while (index & 1) {
                n--;
                if (inner(edge[n], h, h) < 0) {
                    return -1;
                }
                level++;
                index >>= 1;
                if (level >= stored_level) {
                    PyObject *node[4] = {new_ref(key), PyLong_FromLong(level),
                                         PyLong_FromUnsignedLongLong(index), hash_bytes(h)};
                    if (append_new(node_rows, steal_tuple(4, node)) < 0) {
                        return -1;
                    }
                }
            }
        }
        memcpy(edge[n], h, HASH);
        n++;
        size++;
    }
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "a key's group of entries is empty");
        return -1;
    }
    memcpy(root, edge[n - 1], HASH);
    for (int i = n - 2; i >= 0; i--) {
        if (inner(edge[i], root, root) < 0) {
            return -1;
        }
    }
    PyObject *blob = PyBytes_FromStringAndSize(NULL, 8 + (Py_ssize_t)n * HASH);
    if (blob == NULL) {
        return -1;
    }
    unsigned char *bp = (unsigned char *)PyBytes_AS_STRING(blob);
    put_be64(bp, size);
    memcpy(bp + 8, edge, (size_t)n * HASH);

    PyObject *krow[4] = {new_ref(key), PyLong_FromUnsignedLongLong(size), hash_bytes(root),
                         PyBytes_FromStringAndSize((const char *)edge, (Py_ssize_t)n * HASH)};
    if (append_new(key_rows, steal_tuple(4, krow)) < 0) {
        Py_DECREF(blob);
        return -1;
    }
    /* the map value: SHA-256(prefix || u64be(size) || root) */
    unsigned char vmsg[64 + 8 + HASH], value[HASH];
    Py_ssize_t plen = PyBytes_GET_SIZE(prefix);
    memcpy(vmsg, PyBytes_AS_STRING(prefix), (size_t)plen);
    memcpy(vmsg + plen, bp, 8);
    memcpy(vmsg + plen + 8, root, HASH);
    if (sha256(vmsg, (size_t)plen + 8 + HASH, value) < 0) {
        Py_DECREF(blob);
        return -1;
    }
    PyObject *item[2] = {new_ref(key), hash_bytes(value)};
    if (append_new(items, steal_tuple(2, item)) < 0) {
        Py_DECREF(blob);
        return -1;
    }
    *blob_out = blob;
    return 0;
}

PyDoc_STRVAR(append_postings_doc,
"append_postings(groups, heads, undo, posting_rows, node_rows, key_rows, items,\n"
"                stored_level, mapval_prefix) -> None\n"
"\n"
"IndexState.apply_batch's per-key loop. For each key of groups (key id -> its\n"
"IndexEntry values, in order) appends the postings to the posting log whose\n"
"head blob (u64be(size) || edge hashes) is heads[key], appends the PostingRow,\n"
"NodeRow (levels >= stored_level), KeyRow and (key, map value hash) tuples to\n"
"the four lists, records the key's previous head in undo (unless None) and\n"
"writes its new head, key by key as the Python code does.");

static PyObject *
append_postings(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *groups, *heads, *undo, *posting_rows, *node_rows, *key_rows, *items, *prefix;
    Py_ssize_t stored_level;
    if (!PyArg_ParseTuple(args, "O!O!OO!O!O!O!nO!:append_postings", &PyDict_Type, &groups,
                          &PyDict_Type, &heads, &undo, &PyList_Type, &posting_rows,
                          &PyList_Type, &node_rows, &PyList_Type, &key_rows, &PyList_Type,
                          &items, &stored_level, &PyBytes_Type, &prefix)) {
        return NULL;
    }
    if (undo != Py_None && !PyDict_Check(undo)) {
        PyErr_SetString(PyExc_TypeError, "undo must be a dict or None");
        return NULL;
    }
    if (stored_level < 1) {
        PyErr_SetString(PyExc_ValueError, "stored_level must be positive");
        return NULL;
    }
    if (PyBytes_GET_SIZE(prefix) > 64) {
        PyErr_SetString(PyExc_ValueError, "mapval_prefix is too long");
        return NULL;
    }
    Py_ssize_t it = 0;
    PyObject *key, *group;
    while (PyDict_Next(groups, &it, &key, &group)) {
        Py_INCREF(key);
        Py_INCREF(group);
        PyObject *blob = NULL;
        int bad = -1;
        if (!PyBytes_Check(key) || !PyList_Check(group)) {
            PyErr_SetString(PyExc_TypeError, "groups must map bytes to lists");
        }
        else {
            PyObject *old = PyDict_GetItemWithError(heads, key);
            if (old != NULL || !PyErr_Occurred()) {
                Py_XINCREF(old);
                bad = append_key(key, group, old, posting_rows, node_rows, key_rows, items,
                                 stored_level, prefix, &blob);
                if (!bad && undo != Py_None) {
                    bad = PyDict_SetItem(undo, key, old != NULL ? old : Py_None);
                }
                if (!bad) {
                    bad = PyDict_SetItem(heads, key, blob);
                }
                Py_XDECREF(old);
                Py_XDECREF(blob);
            }
        }
        Py_DECREF(key);
        Py_DECREF(group);
        if (bad) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* -- the map: update ------------------------------------------------------------ */

/* The deepest position the kernel handles: depth 61, so every position it
   touches is below 2**62 and fits in a uint64_t with room for a child. */
#define MAX_DEPTH 61
/* How many nodes ahead to prefetch the dense slots of: the dense levels are
   large and visited in no useful order, so each node's slots are cold. */
#define PREFETCH 8

/* A growable byte buffer. */
typedef struct {
    unsigned char *data;
    size_t len, cap;
} Buf;

static int
buf_add(Buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) {
            cap *= 2;
        }
        unsigned char *data = PyMem_Realloc(b->data, cap);
        if (data == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

/* The hashes written at dict positions since the leaves were hashed, so that
   a parent finds a child written in the same update without a dict lookup:
   open addressing on the position (never 0), at most half full. */
typedef struct {
    uint64_t *pos;
    unsigned char (*hash)[HASH];
    size_t len, cap; /* cap: 0 or a power of two */
    int shift;       /* 64 - log2(cap) */
} Memo;

static size_t
memo_slot(const Memo *t, uint64_t p)
{
    size_t i = (size_t)((p * UINT64_C(0x9E3779B97F4A7C15)) >> t->shift);
    while (t->pos[i] != 0 && t->pos[i] != p) {
        i = (i + 1) & (t->cap - 1);
    }
    return i;
}

static const unsigned char *
memo_get(const Memo *t, uint64_t p)
{
    if (t->len == 0) {
        return NULL;
    }
    size_t i = memo_slot(t, p);
    return t->pos[i] ? t->hash[i] : NULL;
}

static void
memo_free(Memo *t)
{
    PyMem_Free(t->pos);
    PyMem_Free(t->hash);
    t->pos = NULL;
    t->hash = NULL;
    t->len = t->cap = 0;
}

static int
memo_put(Memo *t, uint64_t p, const unsigned char *h)
{
    if (2 * (t->len + 1) > t->cap) {
        Memo bigger = {NULL, NULL, 0, t->cap ? 2 * t->cap : 1024, 0};
        bigger.shift = 64 - __builtin_ctzll(bigger.cap);
        bigger.pos = PyMem_Calloc(bigger.cap, sizeof(uint64_t));
        bigger.hash = PyMem_Malloc(bigger.cap * HASH);
        if (bigger.pos == NULL || bigger.hash == NULL) {
            memo_free(&bigger);
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < t->cap; i++) {
            if (t->pos[i] != 0) {
                size_t j = memo_slot(&bigger, t->pos[i]);
                bigger.pos[j] = t->pos[i];
                memcpy(bigger.hash[j], t->hash[i], HASH);
                bigger.len++;
            }
        }
        memo_free(t);
        *t = bigger;
    }
    size_t i = memo_slot(t, p);
    if (t->pos[i] == 0) {
        t->pos[i] = p;
        t->len++;
    }
    memcpy(t->hash[i], h, HASH);
    return 0;
}

/* The SparseMap's containers, borrowed for one update. */
typedef struct {
    unsigned char *dense; /* levels 0..depth, 32-byte slots by position */
    uint64_t limit;       /* positions below it are dense: 2 ** (depth + 1) */
    int depth;            /* D, the deepest dense level */
    PyObject *nodes;      /* deeper positions -> hash */
    PyObject *leaves;     /* leaf position -> key id */
    PyObject *keys;       /* key id -> leaf position */
    Memo memo;
} Map;

/* Depth of a heap position (>= 1): the root is at depth 0. */
static int
depth_of(uint64_t pos)
{
    return 63 - __builtin_clzll(pos);
}

/* Prefetch node p's slot and, above the deepest dense level, its children's.
   Always inlined: GCC finds a function that only prefetches free of side
   effects and drops calls to it. */
static inline __attribute__((always_inline)) void
prefetch(const Map *m, uint64_t p)
{
    if (p < m->limit) {
        __builtin_prefetch(m->dense + (p << 5));
        if (p < m->limit >> 1) { /* above the deepest dense level: dense children */
            __builtin_prefetch(m->dense + (p << 6));
            __builtin_prefetch(m->dense + (p << 6) + 2 * HASH - 1);
        }
    }
}

/* SparseMap._has(p): 1 if the position holds a node, 0 if not, -1 on error. */
static int
has_node(Map *m, uint64_t p)
{
    if (p < m->limit) {
        return memcmp(m->dense + (p << 5), EMPTY, HASH) != 0;
    }
    PyObject *k = PyLong_FromUnsignedLongLong(p);
    if (k == NULL) {
        return -1;
    }
    int r = PyDict_Contains(m->nodes, k);
    Py_DECREF(k);
    return r;
}

/* SparseMap._get(p) as a new reference (k is p as an int): bytes, or None if empty. */
static PyObject *
get_node(Map *m, uint64_t p, PyObject *k)
{
    if (p < m->limit) {
        const unsigned char *slot = m->dense + (p << 5);
        if (memcmp(slot, EMPTY, HASH) == 0) {
            Py_RETURN_NONE;
        }
        return hash_bytes(slot);
    }
    PyObject *h = PyDict_GetItemWithError(m->nodes, k);
    if (h == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    return new_ref(h);
}

/* The hash at dict position pos (a child being read to rehash its parent):
   *out points at its 32 bytes, or at EMPTY if absent. */
static int
child_hash(Map *m, uint64_t pos, const unsigned char **out)
{
    const unsigned char *known = memo_get(&m->memo, pos);
    if (known != NULL) {
        *out = known;
        return 0;
    }
    PyObject *k = PyLong_FromUnsignedLongLong(pos);
    if (k == NULL) {
        return -1;
    }
    PyObject *h = PyDict_GetItemWithError(m->nodes, k);
    Py_DECREF(k);
    if (h == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        *out = EMPTY;
        return 0;
    }
    if (!PyBytes_Check(h) || PyBytes_GET_SIZE(h) != HASH) {
        PyErr_SetString(PyExc_ValueError, "a map node is not 32 bytes");
        return -1;
    }
    /* Borrowed: nodes keeps it alive until the next write to nodes. */
    *out = (const unsigned char *)PyBytes_AS_STRING(h);
    return 0;
}

/* SparseMap._put(p, h, undo), k being p as an int: record p's old value in
   undo (a dict, unless None) if it has none yet, then write h. With memo,
   also remember a dict write for child_hash. */
static int
put_node(Map *m, uint64_t p, PyObject *k, const unsigned char *h, PyObject *undo, int memo)
{
    int r = -1;
    if (undo != Py_None) {
        int has = PyDict_Contains(undo, k);
        if (has < 0) {
            goto done;
        }
        if (!has) {
            PyObject *old = get_node(m, p, k);
            if (old == NULL) {
                goto done;
            }
            int bad = PyDict_SetItem(undo, k, old);
            Py_DECREF(old);
            if (bad < 0) {
                goto done;
            }
        }
    }
    if (p < m->limit) {
        memcpy(m->dense + (p << 5), h, HASH);
        r = 0;
    }
    else {
        PyObject *hb = hash_bytes(h);
        if (hb != NULL) {
            r = PyDict_SetItem(m->nodes, k, hb);
            Py_DECREF(hb);
        }
        if (r == 0 && memo) {
            r = memo_put(&m->memo, p, h);
        }
    }
done:
    return r;
}

/* Unless undo already holds k: undo[k] = source.get(k) (None if absent). The
   first value recorded for a position is the oldest, and it wins. */
static int
remember(PyObject *undo, PyObject *source, PyObject *k)
{
    int has = PyDict_Contains(undo, k);
    if (has != 0) {
        return has < 0 ? -1 : 0;
    }
    PyObject *old = PyDict_GetItemWithError(source, k);
    if (old == NULL && PyErr_Occurred()) {
        return -1;
    }
    return PyDict_SetItem(undo, k, old != NULL ? old : Py_None);
}

/* SparseMap._set_leaf(p, key, undo), k being p as an int: record p's old
   leaf in undo (unless None) if it has none yet, then set leaves[p] = key and
   keys[key] = p, or delete leaves[p] if key is NULL. */
static int
set_leaf(Map *m, PyObject *k, PyObject *key, PyObject *undo)
{
    int r = -1;
    if (undo != Py_None && remember(undo, m->leaves, k) < 0) {
        goto done;
    }
    if (key == NULL) {
        r = PyDict_DelItem(m->leaves, k);
    }
    else if (PyDict_SetItem(m->leaves, k, key) == 0) {
        r = PyDict_SetItem(m->keys, key, k);
    }
done:
    return r;
}

static const unsigned char PENDING[HASH] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* SparseMap._place: a new key's leaf, its hash set later. One int object
   stands for p in nodes, leaves and keys, as in the Python code. */
static int
place(Map *m, uint64_t p, PyObject *key, PyObject *nundo, PyObject *lundo)
{
    PyObject *k = PyLong_FromUnsignedLongLong(p);
    if (k == NULL) {
        return -1;
    }
    int r = put_node(m, p, k, PENDING, nundo, 0) < 0 ? -1 : set_leaf(m, k, key, lundo);
    Py_DECREF(k);
    return r;
}

/* put_node with p made an int here. */
static int
put_at(Map *m, uint64_t p, const unsigned char *h, PyObject *undo)
{
    PyObject *k = PyLong_FromUnsignedLongLong(p);
    if (k == NULL) {
        return -1;
    }
    int r = put_node(m, p, k, h, undo, 0);
    Py_DECREF(k);
    return r;
}

/* Position of the node at depth d (<= MAX_DEPTH) on the path of the key
   whose first 64 bits are top. */
static uint64_t
path_at(uint64_t top, int d)
{
    return d == 0 ? 1 : (UINT64_C(1) << d) | (top >> (64 - d));
}

/* The number of leading bits two 32-byte key ids share (they differ). */
static int
shared_bits(const unsigned char *a, const unsigned char *b)
{
    for (int i = 0; i < HASH; i++) {
        if (a[i] != b[i]) {
            return 8 * i + __builtin_clz((unsigned)(a[i] ^ b[i])) - 24;
        }
    }
    return 8 * HASH;
}

/* The depth of the deepest node on the path of the key whose first 64 bits
   are top (the root is present), MAX_DEPTH if that is MAX_DEPTH or more, -1
   on error. Presence along a path is prefix-closed, so this is the node
   SparseMap._insert's binary search finds. The dense levels are cheap to
   probe and the dict levels are not, and most paths end a few levels below
   the dense ones: binary search the dense levels, step through the others. */
static int
deepest_on_path(Map *m, uint64_t top)
{
    int r = has_node(m, path_at(top, m->depth));
    if (r < 0) {
        return -1;
    }
    if (r) {
        for (int d = m->depth; d < MAX_DEPTH; d++) {
            r = has_node(m, path_at(top, d + 1));
            if (r <= 0) {
                return r < 0 ? -1 : d;
            }
        }
        return MAX_DEPTH;
    }
    int lo = 0, hi = m->depth - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        r = has_node(m, path_at(top, mid));
        if (r < 0) {
            return -1;
        }
        if (r) {
            lo = mid;
        }
        else {
            hi = mid - 1;
        }
    }
    return lo;
}

/* SparseMap._insert for one new key: 0 when placed, 1 when its placement
   would reach below MAX_DEPTH (nothing changed; the caller's Python does it),
   -1 on error. A leaf it moves down has its key added to moved. */
static int
insert_key(Map *m, PyObject *key, PyObject *nundo, PyObject *lundo, PyObject *moved)
{
    const unsigned char *kb = (const unsigned char *)PyBytes_AS_STRING(key);
    uint64_t top = get_be64(kb);
    int r = has_node(m, 1);
    if (r <= 0) {
        return r < 0 ? -1 : place(m, 1, key, nundo, lundo);
    }
    int lo = deepest_on_path(m, top);
    if (lo < 0) {
        return -1;
    }
    if (lo >= MAX_DEPTH) {
        return 1;
    }
    uint64_t pos = path_at(top, lo);
    PyObject *k = PyLong_FromUnsignedLongLong(pos);
    if (k == NULL) {
        return -1;
    }
    PyObject *other = PyDict_GetItemWithError(m->leaves, k);
    if (other == NULL) {
        Py_DECREF(k);
        if (PyErr_Occurred()) {
            return -1;
        }
        /* an inner node whose child on our side is empty */
        return place(m, (pos << 1) | ((top >> (63 - lo)) & 1), key, nundo, lundo);
    }
    /* A leaf of another key: both go below the prefix they share. */
    Py_INCREF(other);
    PyObject *moved_hash = NULL, *km = NULL;
    r = -1;
    if (!PyBytes_Check(other) || PyBytes_GET_SIZE(other) != HASH) {
        PyErr_SetString(PyExc_ValueError, "a map leaf's key id is not 32 bytes");
        goto done;
    }
    const unsigned char *ob = (const unsigned char *)PyBytes_AS_STRING(other);
    int shared = shared_bits(kb, ob);
    if (shared >= MAX_DEPTH) {
        r = 1;
        goto done;
    }
    uint64_t moved_pos = (UINT64_C(1) << (shared + 1)) | (get_be64(ob) >> (63 - shared));
    moved_hash = get_node(m, pos, k);
    if (moved_hash == NULL) {
        goto done;
    }
    if (moved_hash == Py_None) {
        PyErr_SetString(PyExc_ValueError, "map leaf without a hash");
        goto done;
    }
    km = PyLong_FromUnsignedLongLong(moved_pos);
    if (km == NULL || set_leaf(m, k, NULL, lundo) < 0
        || put_node(m, moved_pos, km, (const unsigned char *)PyBytes_AS_STRING(moved_hash), nundo,
                    0) < 0
        || set_leaf(m, km, other, lundo) < 0 || PySet_Add(moved, other) < 0) {
        goto done;
    }
    for (int d = lo; d <= shared; d++) { /* inner from here down; rehashed as ancestors */
        if (put_at(m, path_at(top, d), PENDING, nundo) < 0) {
            goto done;
        }
    }
    r = place(m, moved_pos ^ 1, key, nundo, lundo);
done:
    Py_DECREF(k);
    Py_DECREF(other);
    Py_XDECREF(moved_hash);
    Py_XDECREF(km);
    return r;
}

/* Recompute inner node p at depth d (SparseMap._rehash's three cases),
   recording what it overwrites when log is not NULL: a dense slot in
   positions and log, a dict node in rundo unless rundo holds it already. */
static int
rehash_node(Map *m, uint64_t p, int d, Buf *positions, Buf *log, PyObject *rundo)
{
    unsigned char h[HASH];
    if (d <= m->depth) { /* a dense node */
        unsigned char *slot = m->dense + (p << 5);
        if (log != NULL && (buf_add(positions, &p, sizeof p) < 0 || buf_add(log, slot, HASH) < 0)) {
            return -1;
        }
        if (d < m->depth) { /* children dense too, one contiguous 64-byte slice */
            return inner(m->dense + (p << 6), m->dense + (p << 6) + HASH, slot);
        }
        const unsigned char *left, *right;
        if (child_hash(m, p << 1, &left) < 0 || child_hash(m, (p << 1) | 1, &right) < 0) {
            return -1;
        }
        return inner(left, right, slot);
    }
    const unsigned char *left, *right;
    if (child_hash(m, p << 1, &left) < 0 || child_hash(m, (p << 1) | 1, &right) < 0
        || inner(left, right, h) < 0) {
        return -1;
    }
    PyObject *k = PyLong_FromUnsignedLongLong(p);
    if (k == NULL) {
        return -1;
    }
    int r = -1;
    /* an older value recorded there wins, as update_checked merges */
    if (rundo != NULL && remember(rundo, m->nodes, k) < 0) {
        goto done;
    }
    PyObject *hb = hash_bytes(h);
    if (hb != NULL) {
        r = PyDict_SetItem(m->nodes, k, hb);
        Py_DECREF(hb);
    }
    if (r == 0) {
        r = memo_put(&m->memo, p, h);
    }
done:
    Py_DECREF(k);
    return r;
}

static int
desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

/* Merge two descending runs into out, dropping duplicates; returns the length. */
static size_t
merge_desc(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, uint64_t *out)
{
    size_t i = 0, j = 0, n = 0;
    while (i < na || j < nb) {
        uint64_t v;
        if (j >= nb || (i < na && a[i] >= b[j])) {
            v = a[i++];
        }
        else {
            v = b[j++];
        }
        if (n == 0 || out[n - 1] != v) {
            out[n++] = v;
        }
    }
    return n;
}

/* SparseMap._rehash: every ancestor of the leaves at leaves[0..n), deepest
   level first. Positions at different depths lie in disjoint ranges
   [2**d, 2**(d+1)), so one descending order visits the levels deepest first
   and a node's children before it. */
static int
rehash_paths(Map *m, const uint64_t *leaves, size_t n, Buf *positions, Buf *log,
             PyObject *rundo)
{
    int r = -1;
    size_t cap = n ? n : 1;
    uint64_t *pending = PyMem_Malloc(cap * sizeof(uint64_t));
    uint64_t *spare = PyMem_Malloc(cap * sizeof(uint64_t));
    uint64_t *ups = PyMem_Malloc(cap * sizeof(uint64_t));
    if (pending == NULL || spare == NULL || ups == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        if (leaves[i] > 1) {
            pending[np++] = leaves[i] >> 1;
        }
    }
    qsort(pending, np, sizeof(uint64_t), desc);
    np = merge_desc(pending, np, NULL, 0, spare);
    uint64_t *swap = pending;
    pending = spare;
    spare = swap;
    while (np > 0) {
        int d = depth_of(pending[0]);
        uint64_t low = UINT64_C(1) << d;
        size_t level = 0, nu = 0;
        while (level < np && pending[level] >= low) {
            if (level + PREFETCH < np) {
                prefetch(m, pending[level + PREFETCH]);
            }
            if (rehash_node(m, pending[level], d, positions, log, rundo) < 0) {
                goto done;
            }
            uint64_t up = pending[level] >> 1;
            if (d > 0 && (nu == 0 || ups[nu - 1] != up)) {
                ups[nu++] = up;
            }
            level++;
        }
        np = merge_desc(ups, nu, pending + level, np - level, spare);
        swap = pending;
        pending = spare;
        spare = swap;
    }
    r = 0;
done:
    PyMem_Free(pending);
    PyMem_Free(spare);
    PyMem_Free(ups);
    return r;
}

/* 1 if positions is an array of typecode 'Q', else 0. */
static int
is_u64_array(PyObject *positions)
{
    PyObject *code = PyObject_GetAttr(positions, str_typecode);
    if (code == NULL) {
        PyErr_Clear();
        return 0;
    }
    int ok = PyUnicode_Check(code) && PyUnicode_CompareWithASCIIString(code, "Q") == 0;
    Py_DECREF(code);
    return ok;
}

/* The leaf position p (a value of keys) in *out: 0, with *deep set if it is
   MAX_POSITION or more (or an int too large for 64 bits); -1 on error. */
static int
position_of(PyObject *p, uint64_t *out, int *deep)
{
    if (!PyLong_Check(p)) {
        PyErr_SetString(PyExc_TypeError, "a map position must be an integer");
        return -1;
    }
    uint64_t v = PyLong_AsUnsignedLongLong(p);
    if (v == (uint64_t)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return -1;
        }
        PyErr_Clear();
        v = MAX_POSITION;
    }
    if (v == 0) {
        PyErr_SetString(PyExc_ValueError, "a map position must be positive");
        return -1;
    }
    if (v >= MAX_POSITION) {
        *deep = 1;
    }
    *out = v;
    return 0;
}

/* keys[key] as a position in *out (see position_of) and as the int itself in
   *obj (a new reference, replacing the one there): 0, 1 if key is not in
   keys, -1 on error. */
static int
leaf_position(Map *m, PyObject *key, uint64_t *out, PyObject **obj, int *deep)
{
    PyObject *p = PyDict_GetItemWithError(m->keys, key);
    if (p == NULL) {
        return PyErr_Occurred() ? -1 : 1;
    }
    if (position_of(p, out, deep) < 0) {
        return -1;
    }
    Py_INCREF(p);
    Py_XSETREF(*obj, p);
    return 0;
}

PyDoc_STRVAR(update_doc,
"update(pairs, keys, leaves, dense, nodes, depth, nundo, lundo, positions, log,\n"
"       insert) -> tuple[list[bytes], dict | None] | None\n"
"\n"
"SparseMap.update_checked's work on its containers, for pairs already checked.\n"
"\n"
"1. The new keys (those not in keys, in pairs order) are placed as\n"
"   SparseMap._insert places them, recording in nundo and lundo (dicts, or both\n"
"   None); a key whose placement would reach below depth 61 is passed to\n"
"   insert(key) instead (SparseMap._insert in Python).\n"
"2. Unless a leaf position is then 2**62 or more, each pair's leaf hash\n"
"   SHA-256(0x00 || key || value) is written at keys[key] (recording in nundo)\n"
"   and every ancestor recomputed, as SparseMap._hash_leaves and _rehash do:\n"
"   with log (a bytearray; nundo is then a dict), each dense slot overwritten\n"
"   is appended to positions (an array('Q')) and its old 32 bytes to log, and\n"
"   each dict node overwritten is recorded in nundo (position -> old hash or\n"
"   None) unless nundo holds it already: _rehash's undo dict, merged with\n"
"   nundo as update_checked merges it.\n"
"\n"
"Returns (new keys, nundo), or (new keys, {}) without log; (new keys, None)\n"
"if step 2 is left to the caller; None, having changed nothing, if depth is\n"
"too large for the kernel.");

static PyObject *
update(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *pairs, *keys, *leaves, *dense, *nodes, *nundo, *lundo, *positions, *log, *insert;
    Py_ssize_t depth;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!nOOOOO:update", &PyList_Type, &pairs, &PyDict_Type,
                          &keys, &PyDict_Type, &leaves, &PyByteArray_Type, &dense, &PyDict_Type,
                          &nodes, &depth, &nundo, &lundo, &positions, &log, &insert)) {
        return NULL;
    }
    if (!((nundo == Py_None && lundo == Py_None) || (PyDict_Check(nundo) && PyDict_Check(lundo)))) {
        PyErr_SetString(PyExc_TypeError, "nundo and lundo must be dicts or both None");
        return NULL;
    }
    if (log != Py_None && !(PyByteArray_Check(log) && PyDict_Check(nundo))) {
        PyErr_SetString(PyExc_TypeError, "log must be a bytearray (with nundo a dict) or None");
        return NULL;
    }
    if (!is_u64_array(positions)) {
        PyErr_SetString(PyExc_TypeError, "positions must be an array('Q')");
        return NULL;
    }
    if (!PyCallable_Check(insert)) {
        PyErr_SetString(PyExc_TypeError, "insert must be callable");
        return NULL;
    }
    if (depth < 0) {
        PyErr_SetString(PyExc_ValueError, "depth must be non-negative");
        return NULL;
    }
    if (depth >= MAX_DEPTH - 4) {
        Py_RETURN_NONE;
    }

    Map m = {NULL, UINT64_C(2) << depth, (int)depth, nodes, leaves, keys, {NULL, NULL, 0, 0, 0}};
    Py_buffer view;
    if (PyObject_GetBuffer(dense, &view, PyBUF_WRITABLE) < 0) {
        return NULL;
    }
    PyObject *result = NULL, *rundo = NULL, *new_keys = NULL, *moved = NULL;
    Buf pos_log = {NULL, 0, 0}, old_log = {NULL, 0, 0};
    Py_ssize_t n = PyList_GET_SIZE(pairs);
    /* each pair's leaf position, and the int object keys holds for it */
    uint64_t *at = PyMem_Calloc((size_t)(n ? n : 1), sizeof(uint64_t));
    PyObject **ats = PyMem_Calloc((size_t)(n ? n : 1), sizeof(PyObject *));
    if (at == NULL || ats == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if ((uint64_t)view.len / HASH < m.limit) {
        PyErr_SetString(PyExc_ValueError, "the dense levels are shorter than depth says");
        goto done;
    }
    m.dense = view.buf;
    new_keys = PyList_New(0);
    moved = PySet_New(NULL);
    if (new_keys == NULL || moved == NULL) {
        goto done;
    }

    /* Check every pair and find the keys' leaves before changing anything. */
    int deep = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(pairs, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "pairs must be (key, value) tuples");
            goto done;
        }
        PyObject *key = PyTuple_GET_ITEM(pair, 0), *value = PyTuple_GET_ITEM(pair, 1);
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != HASH || !PyBytes_Check(value)
            || PyBytes_GET_SIZE(value) != HASH) {
            PyErr_SetString(PyExc_TypeError, "a map key id and value hash must be 32 bytes");
            goto done;
        }
        /* borrowed for now: the lookups first, each int prefetched, then the ints read */
        ats[i] = PyDict_GetItemWithError(keys, key);
        if (ats[i] == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (ats[i] != NULL) {
            __builtin_prefetch(ats[i]);
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = ats[i];
        ats[i] = NULL;
        if (p == NULL) {
            if (PyList_Append(new_keys, PyTuple_GET_ITEM(PyList_GET_ITEM(pairs, i), 0)) < 0) {
                goto done;
            }
        }
        else if (position_of(p, &at[i], &deep) < 0) {
            goto done;
        }
        else {
            ats[i] = new_ref(p);
        }
    }

    /* 1. The new keys. */
    int called = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(new_keys); i++) {
        PyObject *key = PyList_GET_ITEM(new_keys, i);
        int r = insert_key(&m, key, nundo, lundo, moved);
        if (r < 0) {
            goto done;
        }
        if (r > 0) {
            PyObject *none = PyObject_CallOneArg(insert, key);
            if (none == NULL) {
                goto done;
            }
            Py_DECREF(none);
            called = 1;
        }
    }
    if (PyList_GET_SIZE(new_keys) > 0) { /* leaves placed or moved since they were found */
        Py_ssize_t nmoved = PySet_GET_SIZE(moved);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *key = PyTuple_GET_ITEM(PyList_GET_ITEM(pairs, i), 0);
            int again = called || at[i] == 0;
            if (!again && nmoved > 0) {
                again = PySet_Contains(moved, key);
                if (again < 0) {
                    goto done;
                }
            }
            if (again && leaf_position(&m, key, &at[i], &ats[i], &deep) != 0) {
                if (!PyErr_Occurred()) {
                    PyErr_SetObject(PyExc_KeyError, key);
                }
                goto done;
            }
        }
    }
    if (deep) {
        result = PyTuple_Pack(2, new_keys, Py_None);
        goto done;
    }

    /* 2. The leaves, then their ancestors. */
    int logging = log != Py_None;
    rundo = logging ? new_ref(nundo) : PyDict_New();
    if (rundo == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + PREFETCH < n) {
            prefetch(&m, at[i + PREFETCH]);
        }
        PyObject *pair = PyList_GET_ITEM(pairs, i);
        unsigned char msg[1 + 2 * HASH], h[HASH];
        msg[0] = 0x00;
        memcpy(msg + 1, PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 0)), HASH);
        memcpy(msg + 1 + HASH, PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 1)), HASH);
        if (sha256(msg, sizeof msg, h) < 0 || put_node(&m, at[i], ats[i], h, nundo, 1) < 0) {
            goto done;
        }
    }
    if (rehash_paths(&m, at, (size_t)n, &pos_log, logging ? &old_log : NULL,
                     logging ? rundo : NULL) < 0) {
        goto done;
    }
    if (logging && pos_log.len) {
        PyObject *raw = PyBytes_FromStringAndSize((const char *)pos_log.data,
                                                  (Py_ssize_t)pos_log.len);
        if (raw == NULL) {
            goto done;
        }
        PyObject *r = PyObject_CallMethodOneArg(positions, str_frombytes, raw);
        Py_DECREF(raw);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
        Py_ssize_t had = PyByteArray_GET_SIZE(log);
        if (PyByteArray_Resize(log, had + (Py_ssize_t)old_log.len) < 0) {
            goto done;
        }
        memcpy(PyByteArray_AS_STRING(log) + had, old_log.data, old_log.len);
    }
    result = PyTuple_Pack(2, new_keys, rundo);
done:
    PyBuffer_Release(&view);
    if (ats != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_XDECREF(ats[i]);
        }
    }
    PyMem_Free(at);
    PyMem_Free(ats);
    PyMem_Free(pos_log.data);
    PyMem_Free(old_log.data);
    memo_free(&m.memo);
    Py_XDECREF(rundo);
    Py_XDECREF(new_keys);
    Py_XDECREF(moved);
    return result;
}

/* -- the module ---------------------------------------------------------------- */

static PyMethodDef kernel_methods[] = {
    {"append_postings", append_postings, METH_VARARGS, append_postings_doc},
    {"update", update, METH_VARARGS, update_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef kernel_module = {
    PyModuleDef_HEAD_INIT,
    "accord.index._kernel",
    "The index's hot loops in C (optional); see accord.index.native.",
    -1,
    kernel_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__kernel(void)
{
    if (str_seq == NULL) {
        str_seq = PyUnicode_InternFromString("seq");
        str_log_ts = PyUnicode_InternFromString("log_ts");
        str_leaf_hash = PyUnicode_InternFromString("leaf_hash");
        str_frombytes = PyUnicode_InternFromString("frombytes");
        str_typecode = PyUnicode_InternFromString("typecode");
        if (str_seq == NULL || str_log_ts == NULL || str_leaf_hash == NULL
            || str_frombytes == NULL || str_typecode == NULL) {
            Py_CLEAR(str_seq);
            Py_CLEAR(str_log_ts);
            Py_CLEAR(str_leaf_hash);
            Py_CLEAR(str_frombytes);
            Py_CLEAR(str_typecode);
            return NULL;
        }
    }
    return PyModule_Create(&kernel_module);
}
