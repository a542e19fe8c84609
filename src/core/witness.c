/* Incremental witnesses (witness.h): left siblings fixed at the start, right
 * siblings filled in level order by the leaves that follow. */
#include "core/witness.h"

#include <string.h>

/* The level of the k-th (from 0) right sibling of `pos`: the k-th level
 * whose bit in pos is 0; TZ_TREE_DEPTH when there is none. */
static unsigned right_level(uint64_t pos, uint32_t k)
{
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
        if (!((pos >> l) & 1) && k-- == 0)
            return l;
    return TZ_TREE_DEPTH;
}

tz_status tz_witness_start(tz_witness *w, const tz_frontier *before, const tz_felt *cm)
{
    if (before->size >= TZ_TREE_CAPACITY)
        return TZ_EINVAL;
    memset(w, 0, sizeof *w);
    w->pos = before->size;
    w->size = w->pos + 1;
    w->leaf = *cm;
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
        if ((w->pos >> l) & 1)
            w->left[l] = before->branch[l];
    return TZ_OK;
}

tz_status tz_witness_append(tz_witness *w, const tz_felt *cm)
{
    unsigned h = right_level(w->pos, w->n_filled);
    if (w->size >= TZ_TREE_CAPACITY || h == TZ_TREE_DEPTH)
        return TZ_EINVAL;
    tz_felt cur = *cm;
    unsigned l = 0;
    for (uint64_t k = w->cursor_n; k & 1; k >>= 1, l++)
        tz_merkle_node(&cur, &w->cursor[l], &cur);
    w->size++;
    if (++w->cursor_n == (UINT64_C(1) << h)) {
        w->filled[w->n_filled++] = cur; /* the sibling at level h is complete */
        w->cursor_n = 0;
    } else {
        w->cursor[l] = cur;
    }
    return TZ_OK;
}

void tz_witness_path(const tz_witness *w, tz_felt path[TZ_TREE_DEPTH])
{
    uint32_t k = 0;
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++) {
        if ((w->pos >> l) & 1) {
            path[l] = w->left[l];
        } else if (k < w->n_filled) {
            path[l] = w->filled[k++];
        } else if (k++ == w->n_filled && w->cursor_n > 0) {
            tz_merkle_partial_root(&path[l], w->cursor, w->cursor_n, l);
        } else {
            path[l] = *tz_merkle_zero(l);
        }
    }
}

void tz_merkle_root_from_path(tz_felt *root, const tz_felt *leaf, uint64_t pos,
                              const tz_felt path[TZ_TREE_DEPTH])
{
    tz_felt cur = *leaf;
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++, pos >>= 1) {
        if (pos & 1)
            tz_merkle_node(&cur, &path[l], &cur);
        else
            tz_merkle_node(&cur, &cur, &path[l]);
    }
    *root = cur;
}

void tz_witness_root(const tz_witness *w, tz_felt *root)
{
    tz_felt path[TZ_TREE_DEPTH];
    tz_witness_path(w, path);
    tz_merkle_root_from_path(root, &w->leaf, w->pos, path);
}
