/* One-time signing keys of the wallet's addresses: reserving the next key
 * of an address advances the BDS state stored in its record (store/bds.h)
 * and the wots_key_indices map, as the reference's reserve_next_auth. */
#include <stdio.h>
#include <string.h>

#include "store/bds.h"
#include "store/wallet.h"
#include "store/wallet_int.h"

tz_status tz_wallet_reserve_key(tz_wallet *w, size_t pos, const tz_keys *keys,
                                uint32_t *key_idx, tz_felt auth_path[TZ_XMSS_HEIGHT],
                                tz_error *err)
{
    if (pos >= w->n_addresses)
        return tz_error_set(err, TZ_EINVAL, "wallet %s: no address record at position %zu",
                            w->path, pos);
    const tz_wallet_address *a = &w->addresses[pos];
    uint32_t j = a->index;
    char what[64 + 4096];
    snprintf(what, sizeof what, "wallet %s: address %u bds", w->path, (unsigned)j);
    json_t *obj = w->addr_objs[pos] ? json_object_get(w->addr_objs[pos], "bds") : NULL;
    if (!obj || (json_is_object(obj) && json_object_size(obj) == 0))
        return tz_error_set(err, TZ_EPARSE,
                            "%s: missing: the record has no signing state; open the wallet "
                            "with the reference tzel-wallet once (it rebuilds it), then retry",
                            what);
    tz_bds s;
    tz_status st = tz_bds_parse(&s, obj, what, err);
    if (st)
        return st;
    if (s.next_index >= TZ_XMSS_LEAVES)
        return tz_error_set(err, TZ_ESTATE,
                            "XMSS keys exhausted for address %u \xe2\x80\x94 generate a new "
                            "address",
                            (unsigned)j);
    uint32_t recorded = tz_wallet_wots_next(w, j);
    if (recorded > s.next_index)
        return tz_error_set(err, TZ_ESTATE,
                            "wallet %s: address %u: wots_key_indices says %u one-time keys are "
                            "used but its signing state is at key %u; signing would reuse a "
                            "key, refused",
                            w->path, (unsigned)j, (unsigned)recorded, (unsigned)s.next_index);
    tz_addr_keys ak;
    tz_addr_keys_derive(&ak, keys, j);
    if (!tz_felt_eq(&ak.auth_pub_seed, &a->auth_pub_seed)) {
        tz_addr_keys_wipe(&ak);
        return tz_error_set(err, TZ_EMISMATCH,
                            "wallet %s: address %u: the keys do not derive its auth_pub_seed",
                            w->path, (unsigned)j);
    }
    uint32_t idx;
    tz_felt path[TZ_XMSS_HEIGHT];
    st = tz_bds_next(&s, &ak.ask_j, &ak.auth_pub_seed, &idx, path, err);
    tz_addr_keys_wipe(&ak);
    if (st)
        return tz_error_prefix(err, "wallet %s: address %u", w->path, (unsigned)j);
    json_t *next = tz_bds_to_json(&s);
    if (!next)
        return tz_error_set(err, TZ_ENOMEM, "wallet %s: reserve key of address %u: out of "
                            "memory", w->path, (unsigned)j);
    /* The map first: if the bds cannot be replaced, the map is ahead and the
     * next reservation refuses rather than reuse the key. */
    if ((st = tz_wallet_set_wots_index(w, j, s.next_index)) != TZ_OK) {
        json_decref(next);
        return tz_error_set(err, st, "wallet %s: reserve key of address %u: cannot record "
                            "wots_key_indices", w->path, (unsigned)j);
    }
    if (tz_wallet_set_address_bds(w, pos, next) != TZ_OK) /* steals next */
        return tz_error_set(err, TZ_ENOMEM, "wallet %s: reserve key of address %u: out of "
                            "memory", w->path, (unsigned)j);
    *key_idx = idx;
    memcpy(auth_path, path, sizeof path);
    return TZ_OK;
}
