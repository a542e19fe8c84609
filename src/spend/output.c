/* One output note of a spend (output.h). */
#include "spend/output.h"

#include <sodium.h>
#include <string.h>

#include "core/commit.h"
#include "core/note.h"

tz_status tz_spend_output_make(tz_spend_output *o, tz_enc_note *enc, const tz_payment_address *to,
                               uint64_t v, const uint8_t *memo, size_t memo_len,
                               const tz_felt *outgoing_seed, tz_out_role role)
{
    uint8_t padded[TZ_NOTE_MEMO_BYTES], coins_d[32], coins_v[32];
    memset(o, 0, sizeof *o);
    randombytes_buf(o->rseed.b, sizeof o->rseed.b);
    tz_felt_truncate(&o->rseed);
    randombytes_buf(coins_d, sizeof coins_d);
    randombytes_buf(coins_v, sizeof coins_v);
    if (memo)
        tz_note_memo_pad(padded, memo, memo_len);
    tz_status st = tz_note_encrypt_role(enc, &o->cm, to, v, &o->rseed, memo ? padded : NULL,
                                        coins_d, coins_v, outgoing_seed, role);
    sodium_memzero(coins_d, sizeof coins_d);
    sodium_memzero(coins_v, sizeof coins_v);
    if (st)
        return st;
    o->d_j = to->d_j;
    o->v = v;
    o->auth_root = to->auth_root;
    o->auth_pub_seed = to->auth_pub_seed;
    o->nk_tag = to->nk_tag;
    tz_memo_ct_hash(&o->mh, enc);
    return TZ_OK;
}
