/* The chain cache: a generated chain's notes, frontier and root in one
 * file per set of generation parameters, mapped read-only at start so
 * that a large chain is generated once. The file is a 64-byte header
 * ("TZSIMCH1", u64le note count, the 32-byte key, zeros), the notes
 * (SIM_NOTE_BYTES each, in leaf order), then the frontier (u64le size,
 * TZ_TREE_DEPTH branch felts) and the root. */
#include "chain_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/kem.h"

#define CACHE_MAGIC "TZSIMCH1"
#define CACHE_HEADER 64
#define CACHE_TAIL (8 + TZ_TREE_DEPTH * 32 + 32)

void sim_cache_key(uint8_t key[32], const sim_gen_params *p)
{
    uint8_t h[32];
    uint8_t nb[8];
    tz_put_u64le(nb, p->leaves);
    tz_hash_part parts[3] = {{SIM_GEN_VERSION, strlen(SIM_GEN_VERSION)},
                             {p->seed, strlen(p->seed) + 1},
                             {nb, 8}};
    tz_blake2s(h, NULL, parts, 3);
    for (size_t k = 0; k < p->npays; k++) {
        uint8_t cb[16];
        tz_put_u64le(cb, p->pays[k].count);
        tz_put_u64le(cb + 8, p->pays[k].value);
        const tz_payment_address *a = &p->pays[k].to;
        tz_hash_part q[9] = {{h, 32},          {a->d_j.b, 32},      {a->auth_root.b, 32},
                             {a->auth_pub_seed.b, 32}, {a->nk_tag.b, 32}, {a->ek_v, TZ_KEM_EK_BYTES},
                             {a->ek_d, TZ_KEM_EK_BYTES}, {cb, 16},  {"pay", 3}};
        tz_blake2s(h, NULL, q, 9);
    }
    memcpy(key, h, 32);
}

void sim_cache_path(char *out, size_t cap, const char *dir, const uint8_t key[32])
{
    char hex[65];
    tz_hex_encode(hex, key, 16);
    snprintf(out, cap, "%s/tzel-sim-%s.chain", dir, hex);
}

tz_status sim_cache_load(sim_chain *c, const char *path, const uint8_t key[32], uint64_t n,
                         tz_frontier *fr, tz_felt *root)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TZ_ENOTFOUND;
    struct stat st;
    size_t want = CACHE_HEADER + (size_t)n * SIM_NOTE_BYTES + CACHE_TAIL;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != want) {
        close(fd);
        return TZ_ENOTFOUND;
    }
    uint8_t *m = mmap(NULL, want, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return TZ_ENOTFOUND;
    if (memcmp(m, CACHE_MAGIC, 8) != 0 || tz_get_u64le(m + 8) != n ||
        memcmp(m + 16, key, 32) != 0) {
        munmap(m, want);
        return TZ_ENOTFOUND;
    }
    const uint8_t *t = m + CACHE_HEADER + (size_t)n * SIM_NOTE_BYTES;
    fr->size = tz_get_u64le(t);
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
        memcpy(fr->branch[l].b, t + 8 + 32 * l, 32);
    memcpy(root->b, t + 8 + 32 * TZ_TREE_DEPTH, 32);
    if (fr->size != n) {
        munmap(m, want);
        return TZ_ENOTFOUND;
    }
    c->base_map = m;
    c->base_map_len = want;
    c->base_is_map = true;
    c->base = m + CACHE_HEADER;
    c->base_n = n;
    return TZ_OK;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

tz_status sim_cache_store(const char *dir, const char *path, const uint8_t key[32],
                          const uint8_t *notes, uint64_t n, const tz_frontier *fr,
                          const tz_felt *root, tz_error *err)
{
    mkdir(dir, 0755);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tz_error_set(err, TZ_EIO, "cannot create %s: %s", tmp, strerror(errno));
    uint8_t hdr[CACHE_HEADER] = {0};
    memcpy(hdr, CACHE_MAGIC, 8);
    tz_put_u64le(hdr + 8, n);
    memcpy(hdr + 16, key, 32);
    uint8_t tail[CACHE_TAIL];
    tz_put_u64le(tail, fr->size);
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
        memcpy(tail + 8 + 32 * l, fr->branch[l].b, 32);
    memcpy(tail + 8 + 32 * TZ_TREE_DEPTH, root->b, 32);
    bool ok = write_all(fd, hdr, sizeof hdr) && write_all(fd, notes, (size_t)n * SIM_NOTE_BYTES) &&
              write_all(fd, tail, sizeof tail) && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            e = errno;
        unlink(tmp);
        return tz_error_set(err, TZ_EIO, "cannot write chain cache %s: %s", path, strerror(e));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return TZ_OK;
}

