/* A send built from a wallet (spend/transfer.h), checked by the
 * transparent statement checker, which re-does in the clear everything the
 * transfer circuit proves: the wallet side (selection, outputs, paths from
 * the witnesses sync keeps, reserved keys and their signatures) makes a
 * statement the chain would accept. Also the refusals before anything is
 * burned, and that each spend burns fresh one-time keys. The same for
 * unshields, with and without change. */
#include <sodium.h>

#include "core/commit.h"
#include "core/keys.h"
#include "core/note.h"
#include "core/provarg.h"
#include "core/sighash.h"
#include "spend/transfer.h"
#include "spend/transparent.h"
#include "store/address.h"
#include "tz_test_util.h"

static char dir[256];

static void address_of(tz_payment_address *pa, const tz_keys *k, uint32_t j,
                       const tz_felt *auth_root)
{
    tz_note_receiver *r = malloc(sizeof *r);
    CHECK(r && tz_note_receiver_init(r, k, j, auth_root) == TZ_OK);
    tz_note_receiver_address(r, pa);
    tz_note_receiver_wipe(r);
    free(r);
}

/* Appends a leaf to the tree the wallet follows, as the sync merger does;
 * when `v` is non-zero the leaf is a note of address 0 recorded in w. */
static void leaf(tz_wallet *w, tz_frontier *f, const tz_note_receiver *r, uint64_t v,
                 uint32_t salt)
{
    tz_felt cm;
    tz_wallet_note n = {0};
    if (v) {
        tz_felt_from_u32(&n.rseed, salt);
        tz_note_cm_from_rseed(&cm, &r->d_j, v, &n.rseed, &r->owner_tag);
        n.nk_spend = r->nk_spend;
        n.nk_tag = r->nk_tag;
        n.auth_root = r->auth_root;
        n.d_j = r->d_j;
        n.v = v;
        n.cm = cm;
        n.index = f->size;
        n.addr_index = r->index;
    } else {
        tz_felt_from_u32(&cm, 777000 + salt);
    }
    CHECK(tz_wallet_witness_append(w, f->size, &cm) == 0);
    if (v) {
        CHECK(tz_wallet_add_note(w, &n) == TZ_OK);
        CHECK(tz_wallet_witness_start(w, f, &cm) == TZ_OK);
    }
    CHECK(tz_frontier_append(f, &cm, NULL) == TZ_OK);
    tz_wallet_set_scan(w, f->size, f->branch);
}

static void test_send(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/w.json", dir);
    tz_felt sk, other_sk, root1;
    tz_felt_from_u32(&sk, 4242);
    tz_felt_from_u32(&other_sk, 99);
    tz_felt_from_u32(&root1, 5);
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK(tz_wallet_new(path, &sk, &w, &err) == TZ_OK);
    if (!w)
        return;
    tz_keys *keys = malloc(sizeof *keys), *other = malloc(sizeof *other);
    tz_keys_derive(keys, &sk);
    tz_keys_derive(other, &other_sk);
    size_t pos = 0;
    CHECK(tz_wallet_next_address(w, keys, false, NULL, &pos, &err) == TZ_OK); /* ~10 s */
    tz_note_receiver *r = malloc(sizeof *r);
    CHECK(tz_note_receiver_init(r, keys, 0, &w->addresses[pos].auth_root) == TZ_OK);

    /* 40 leaves, 9 of ours: 500, 300, 200 and six of 10. */
    tz_frontier f;
    tz_frontier_init(&f);
    static const uint64_t vals[40] = {[3] = 500, [4] = 300, [17] = 200, [20] = 10, [21] = 10,
                                      [22] = 10, [30] = 10, [31] = 10, [39] = 10};
    for (uint32_t i = 0; i < 40; i++)
        leaf(w, &f, r, vals[i], i + 1);
    CHECK(w->n_notes == 9 && w->sync.n_witnesses == 9);
    /* Nothing verified yet: no spend path. */
    tz_transfer_plan plan;
    CHECK(tz_transfer_select(w, 701, &plan, &err) == TZ_ESTATE && strstr(err.msg, "spend path"));
    /* Verified at 40 leaves; two more leaves scanned since (a sync under way,
     * its root not one the chain recorded): spends use the verified paths. */
    tz_felt root40;
    CHECK(tz_wallet_mark_verified(w) == TZ_OK && tz_frontier_root(&f, &root40) == TZ_OK);
    leaf(w, &f, r, 0, 41);
    leaf(w, &f, r, 0, 42);

    tz_payment_address to, producer, change;
    address_of(&to, other, 0, &root1);
    address_of(&producer, other, 1, &root1);
    address_of(&change, keys, 0, &w->addresses[pos].auth_root);

    /* Refusals, reading only. */
    char *before = NULL;
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    before = tz_test_get_file(path);
    CHECK(tz_transfer_select(w, 1061, &plan, &err) == TZ_ESTATE &&
          strstr(err.msg, "insufficient funds: 1061 needed, 1060 available"));
    CHECK(tz_transfer_select(w, 1055, &plan, &err) == TZ_ESTATE &&
          strstr(err.msg, "more than 7 notes"));
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    char *after = tz_test_get_file(path);
    CHECK(before && after && !strcmp(before, after));
    free(before);
    free(after);

    /* 600 + fee 100 + DAL fee 1: the two largest notes. */
    CHECK(tz_transfer_select(w, 701, &plan, &err) == TZ_OK);
    CHECK(plan.n == 2 && plan.sum_in == 800);
    static const char memo[] = "thanks";
    tz_transfer_req req = {.to = &to, .amount = 600, .fee = 100, .dal_fee = 1,
                           .producer = &producer, .memo = (const uint8_t *)memo,
                           .memo_len = sizeof memo - 1, .change = &change};
    tz_felt_from_u32(&req.auth_domain, 31337);
    tz_transfer_built *b = malloc(sizeof *b);
    CHECK(tz_transfer_build(w, keys, &req, &plan, b, &err) == TZ_OK);
    CHECK_MSG(b->change_value == 99, "change %llu", (unsigned long long)b->change_value);
    /* Two inputs of address 0: keys 0 and 1 burned, recorded. */
    CHECK(b->wit.in[0].key_idx == 0 && b->wit.in[1].key_idx == 1);
    CHECK(tz_wallet_wots_next(w, 0) == 2);

    /* The statement holds in the clear, as the circuit would prove it. */
    tz_transfer_public pub;
    tz_status st = tz_transparent_check_transfer(&b->wit, &pub, &err);
    CHECK_MSG(st == TZ_OK, "%s", err.msg);
    tz_felt froot;
    CHECK(tz_frontier_root(&f, &froot) == TZ_OK && !tz_felt_eq(&b->wit.root, &froot) &&
          tz_felt_eq(&b->wit.root, &root40));
    /* ... and through the prover's argument list and a transparent proof. */
    tz_felt *args = malloc(TZ_PROVARG_MAX * sizeof *args);
    size_t n_args = 0;
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n_args, &b->wit, &err) == TZ_OK);
    tz_kmsg_proof proof = {0};
    CHECK(tz_transparent_prove(TZ_CIRCUIT_TRANSFER, args, n_args, &proof, &err) == TZ_OK);
    CHECK_MSG(tz_transparent_verify(TZ_CIRCUIT_TRANSFER, &proof, &err) == TZ_OK, "%s", err.msg);
    tz_kmsg_proof_free(&proof);
    /* the recipient can open its note, with the memo */
    tz_note_receiver *rr = malloc(sizeof *rr);
    CHECK(tz_note_receiver_init(rr, other, 0, &root1) == TZ_OK);
    tz_note_plain plain;
    CHECK(tz_note_open(rr, &b->msg.cm[0], &b->msg.enc[0], &plain) == TZ_OK);
    CHECK(plain.v == 600 && !memcmp(plain.memo, memo, sizeof memo - 1));
    tz_note_receiver_wipe(rr);
    free(rr);

    /* A second send burns a fresh key (2): the largest note covers it. */
    CHECK(tz_transfer_select(w, 211, &plan, &err) == TZ_OK && plan.n == 1 &&
          w->notes[plan.note[0]].v == 500);
    req.amount = 110;
    CHECK(tz_transfer_build(w, keys, &req, &plan, b, &err) == TZ_OK);
    CHECK(b->wit.in[0].key_idx == 2 && tz_wallet_wots_next(w, 0) == 3);
    CHECK_MSG(tz_transparent_check_transfer(&b->wit, &pub, &err) == TZ_OK, "%s", err.msg);
    /* A note in a pending spend is not selected. */
    CHECK(tz_wallet_add_spend(w, &b->wit.in[0].nf, 1, "transfer 110", NULL) == TZ_OK);
    CHECK(tz_transfer_select(w, 561, &plan, &err) == TZ_ESTATE &&
          strstr(err.msg, "561 needed, 560 available"));

    /* Unshields (the pending spend holds the 500 note): 200 + fee 100 +
     * DAL fee 1 from the 300 note, without change... */
    tz_unshield_built *u = malloc(sizeof *u);
    static const char tz1[] = "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx";
    tz_unshield_req ureq = {.auth_domain = req.auth_domain,
                            .recipient = "\ttz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx ",
                            .amount = 199, .fee = 100, .dal_fee = 1, .producer = &producer};
    CHECK(tz_transfer_select(w, 300, &plan, &err) == TZ_OK && plan.n == 1 && plan.sum_in == 300);
    CHECK(tz_unshield_build(w, keys, &ureq, &plan, u, &err) == TZ_OK);
    CHECK(u->change_value == 0 && !u->wit.has_change && !u->msg.has_enc_change &&
          tz_felt_is_zero(&u->msg.cm_change));
    CHECK(u->msg.recipient_len == strlen(tz1) && !strcmp(u->msg.recipient, tz1));
    CHECK(u->wit.in[0].key_idx == 3 && tz_wallet_wots_next(w, 0) == 4);
    tz_unshield_public upub;
    CHECK_MSG(tz_transparent_check_unshield(&u->wit, &upub, &err) == TZ_OK, "%s", err.msg);
    tz_felt rid;
    tz_unshield_recipient_id(&rid, tz1, strlen(tz1));
    CHECK(tz_felt_eq(&u->wit.recipient_id, &rid) && tz_felt_eq(&upub.recipient_id, &rid));
    CHECK(tz_provarg_unshield(args, TZ_PROVARG_MAX, &n_args, &u->wit, &err) == TZ_OK);
    CHECK(tz_transparent_prove(TZ_CIRCUIT_UNSHIELD, args, n_args, &proof, &err) == TZ_OK);
    CHECK_MSG(tz_transparent_verify(TZ_CIRCUIT_UNSHIELD, &proof, &err) == TZ_OK, "%s", err.msg);
    tz_kmsg_proof_free(&proof);
    /* ... and with change (50) to an own address, which can open it. */
    ureq.amount = 149;
    ureq.change = &change;
    CHECK(tz_unshield_build(w, keys, &ureq, &plan, u, &err) == TZ_OK);
    CHECK(u->change_value == 50 && u->wit.has_change && u->msg.has_enc_change);
    CHECK_MSG(tz_transparent_check_unshield(&u->wit, &upub, &err) == TZ_OK, "%s", err.msg);
    CHECK(tz_note_open(r, &u->msg.cm_change, &u->msg.enc_change, &plain) == TZ_OK &&
          plain.v == 50);
    CHECK(tz_wallet_wots_next(w, 0) == 5);
    /* Refused before a key is reserved: a bad recipient, change without an address. */
    ureq.recipient = "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSy";
    CHECK(tz_unshield_build(w, keys, &ureq, &plan, u, &err) == TZ_EINVAL &&
          strstr(err.msg, "invalid L1 withdrawal recipient"));
    ureq.recipient = tz1;
    ureq.change = NULL;
    CHECK(tz_unshield_build(w, keys, &ureq, &plan, u, &err) == TZ_EINVAL);
    CHECK(tz_wallet_wots_next(w, 0) == 5);
    free(u);

    free(args);
    free(b);
    tz_note_receiver_wipe(r);
    free(r);
    tz_keys_wipe(keys);
    tz_keys_wipe(other);
    free(keys);
    free(other);
    tz_wallet_free(w);
}

int main(void)
{
    if (sodium_init() < 0 || tz_test_mkdtemp(dir, sizeof dir, "transfer") != 0)
        return 2;
    test_send();
    tz_test_rmtree(dir);
    return tz_test_done("transfer");
}
