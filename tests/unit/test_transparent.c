/* The transparent prover (spend/transparent.h): statements built from
 * scratch (tz_test_witness.h) pass, and one flipped bit in each part
 * fails with the message of its own check; proofs round-trip through
 * prove and verify. */
#include "tz_test_witness.h"

/* ---- transfer ---------------------------------------------------------- */

static tz_transfer_witness tm;
static tz_unshield_witness um;
static tz_shield_witness sm;

#define T_EXPECT(st, want) EXPECT(tz_transparent_check_transfer(&tm, &tp, &e_), st, want)

static void test_transfer(void)
{
    tz_transfer_public tp;
    build_transfer(&tw);

    tm = tw;
    memset(&tp, 0, sizeof tp);
    T_EXPECT(TZ_OK, NULL);
    CHECK(tp.n_nf == 2 && tz_felt_eq(&tp.nf[1], &tw.in[1].nf) && tp.fee == 5);
    CHECK(tz_felt_eq(&tp.root, &tw.root) && tz_felt_eq(&tp.cm[2], &tw.out[2].cm));
    CHECK(tz_felt_eq(&tp.mh[0], &tw.out[0].mh));

    /* signature chain element, auth sibling, commitment sibling */
    tm = tw, flip(&tm.in[0].sig[17]);
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature of the sighash (key_idx 5)");
    tm = tw, flip(&tm.in[1].sig[132]);
    T_EXPECT(TZ_EMISMATCH, "input 1: WOTS signature");
    tm = tw, flip(&tm.in[1].auth_path[3]);
    T_EXPECT(TZ_EMISMATCH, "input 1: WOTS signature");
    tm = tw, flip(&tm.in[0].auth_path[15]);
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
    tm = tw, flip(&tm.in[1].cm_path[20]);
    T_EXPECT(TZ_EMISMATCH, "input 1: commitment membership fails");
    tm = tw, flip(&tm.in[0].cm_path[47]);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership fails");
    /* a pos with one more bit: a different path (and nullifier) */
    tm = tw, tm.in[1].pos ^= 1;
    T_EXPECT(TZ_EMISMATCH, "input 1: commitment membership fails at pos 140737488355330");
    tm = tw, flip(&tm.root);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");
    /* a field of the spent note: its cm changes */
    tm = tw, flip(&tm.in[0].rseed);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");
    tm = tw, flip(&tm.in[1].nk_spend);
    T_EXPECT(TZ_EMISMATCH, "input 1: commitment membership");
    tm = tw, flip(&tm.in[0].auth_root);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");

    /* values: the balance names the sums */
    tm = tw, tm.in[0].v ^= 1;
    T_EXPECT(TZ_EMISMATCH, "value balance: inputs 1001 != outputs 995 + fee 5");
    tm = tw, tm.fee ^= 2;
    T_EXPECT(TZ_EMISMATCH, "value balance: inputs 1000 != outputs 995 + fee 7");
    tm = tw, tm.out[1].v ^= 1, seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH, "value balance: inputs 1000 != outputs 996 + fee 5");
    /* an output value without its cm: the cm check */
    tm = tw, tm.out[0].v ^= 4;
    T_EXPECT(TZ_EMISMATCH, "output 0 (recipient): cm does not open");
    tm = tw, flip(&tm.out[2].nk_tag);
    T_EXPECT(TZ_EMISMATCH, "output 2 (producer): cm does not open");
    /* an input value moved along with the fee: membership catches it */
    tm = tw, tm.in[0].v += 1, tm.fee += 1, seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");
    /* producer note of value 0 (balance kept) */
    tm = tw, tm.out[2].v = 0, tm.out[1].v += 1, seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH, "producer note value v_3 is 0");
    /* no fee at all is the kernel's business, not the circuit's */
    tm = tw, tm.fee = 0, tm.out[1].v += 5, seal_transfer(&tm);
    T_EXPECT(TZ_OK, NULL);

    /* nullifier: wrong but signed, and wrong and not re-signed */
    tm = tw, flip(&tm.in[1].nf), seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH, "input 1: nullifier is not H_nf(nk_spend, H_nf(cm, pos))");
    tm = tw, flip(&tm.in[0].nf);
    T_EXPECT(TZ_EMISMATCH, "input 0: nullifier");

    /* public values bound only by the signature */
    tm = tw, flip(&tm.out[1].mh);
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
    tm = tw, flip(&tm.auth_domain);
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
    /* a signature by the right key over another statement */
    tm = tw, flip(&tm.out[0].mh), seal_transfer(&tm), tm.out[0].mh = tw.out[0].mh;
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
    /* the other one-time key of the same address */
    tm = tw, tm.in[0].key_idx = 4;
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");

    /* ranges */
    tm = tw, tm.in[1].key_idx = 65536;
    T_EXPECT(TZ_EMISMATCH, "input 1: key_idx 65536 is not below 2^16");
    tm = tw, tm.in[0].pos = UINT64_C(1) << 48;
    T_EXPECT(TZ_EMISMATCH, "input 0: pos 281474976710656 is not below 2^48");
    tm = tw, tm.n = 0;
    T_EXPECT(TZ_EMISMATCH, "N = 0 inputs is outside 1..7");
    tm = tw, tm.n = 8;
    T_EXPECT(TZ_EMISMATCH, "N = 8 inputs");
    /* dropping input 1: its nullifier leaves the statement, the balance breaks */
    tm = tw, tm.n = 1;
    T_EXPECT(TZ_EMISMATCH, "value balance: inputs 600 != outputs 995 + fee 5");
}

/* ---- unshield ---------------------------------------------------------- */

#define U_EXPECT(st, want) EXPECT(tz_transparent_check_unshield(&um, &up, &e_), st, want)

static void test_unshield(void)
{
    tz_unshield_public up;
    for (int change = 1; change >= 0; change--) {
        build_unshield(&uw, change);
        um = uw;
        memset(&up, 0xAA, sizeof up);
        U_EXPECT(TZ_OK, NULL);
        CHECK(up.n_nf == 1 && tz_felt_eq(&up.nf[0], &uw.in[0].nf) && up.v_pub == uw.v_pub);
        CHECK(up.fee == 7 && tz_felt_eq(&up.mh_fee, &uw.producer.mh));
        CHECK(change ? !tz_felt_is_zero(&up.cm_change) : tz_felt_is_zero(&up.cm_change));
        CHECK(change ? tz_felt_eq(&up.mh_change, &uw.change.mh) : tz_felt_is_zero(&up.mh_change));

        um = uw, um.v_pub ^= 1;
        U_EXPECT(TZ_EMISMATCH, change ? "value balance: inputs 1000 != outputs 994 + fee 7"
                                      : "value balance: inputs 1000 != outputs 994 + fee 7");
        um = uw, um.fee += 1;
        U_EXPECT(TZ_EMISMATCH, "value balance: inputs 1000 != outputs 993 + fee 8");
        um = uw, flip(&um.in[0].sig[0]);
        U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature of the sighash (key_idx 65535)");
        um = uw, flip(&um.in[0].auth_path[0]);
        U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
        um = uw, flip(&um.in[0].cm_path[5]);
        U_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");
        um = uw, flip(&um.in[0].nf), seal_unshield(&um);
        U_EXPECT(TZ_EMISMATCH, "input 0: nullifier");
        um = uw, um.producer.v = 0, um.v_pub += 3, seal_unshield(&um);
        U_EXPECT(TZ_EMISMATCH, "producer note value v_fee is 0");
        /* recipient and producer note are bound by the signature only */
        um = uw, flip(&um.recipient_id);
        U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
        um = uw, flip(&um.producer.rseed);
        U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
        um = uw, um.in[0].key_idx = 70000;
        U_EXPECT(TZ_EMISMATCH, "input 0: key_idx 70000");
    }
    /* a change block without change */
    build_unshield(&uw, false);
    um = uw, um.change.mh.b[0] = 1;
    U_EXPECT(TZ_EMISMATCH, "change: without change every change field must be zero");
    /* change moved into the public amount, consistently signed: fine */
    build_unshield(&uw, true);
    um = uw, um.v_pub += 190, um.has_change = false;
    memset(&um.change, 0, sizeof um.change);
    seal_unshield(&um);
    U_EXPECT(TZ_OK, NULL);
    /* a change value without re-signing: the signature */
    um = uw, um.change.v -= 1, um.v_pub += 1;
    U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
}

/* ---- shield ------------------------------------------------------------ */

#define S_EXPECT(st, want) EXPECT(tz_transparent_check_shield(&sm, &sp, &e_), st, want)

static void test_shield(void)
{
    tz_shield_public sp;
    build_shield(&sw);
    sm = sw;
    S_EXPECT(TZ_OK, NULL);
    CHECK(sp.v == 500 && sp.fee == 4 && sp.producer_fee == 2);
    CHECK(tz_felt_eq(&sp.pubkey_hash, &sw.pubkey_hash));
    CHECK(tz_felt_eq(&sp.cm_producer, &sw.producer.cm));

    sm = sw, flip(&sm.sig[64]);
    S_EXPECT(TZ_EMISMATCH, "WOTS signature of the sighash (key_idx 300)");
    sm = sw, flip(&sm.auth_path[8]);
    S_EXPECT(TZ_EMISMATCH, "WOTS signature");
    sm = sw, sm.fee ^= 1;
    S_EXPECT(TZ_EMISMATCH, "WOTS signature");
    sm = sw, flip(&sm.recipient.mh);
    S_EXPECT(TZ_EMISMATCH, "WOTS signature");
    sm = sw, flip(&sm.blind);
    S_EXPECT(TZ_EMISMATCH,
             "pubkey_hash is not fold(4, auth_domain, auth_root, auth_pub_seed, blind)");
    sm = sw, flip(&sm.pubkey_hash);
    S_EXPECT(TZ_EMISMATCH, "pubkey_hash");
    sm = sw, sm.recipient.v ^= 1;
    S_EXPECT(TZ_EMISMATCH, "recipient: cm_recipient does not open");
    sm = sw, flip(&sm.recipient.auth_root);
    S_EXPECT(TZ_EMISMATCH, "recipient: cm_recipient does not open");
    sm = sw, sm.producer.v ^= 1;
    S_EXPECT(TZ_EMISMATCH, "producer: cm_producer does not open");
    sm = sw, sm.producer.v = 0, seal_shield(&sm);
    S_EXPECT(TZ_EMISMATCH, "producer_fee is 0");
    sm = sw, sm.key_idx = 65536;
    S_EXPECT(TZ_EMISMATCH, "key_idx 65536 is not below 2^16");
    /* a zero-value recipient note is a donation, and allowed */
    sm = sw, sm.recipient.v = 0, seal_shield(&sm);
    S_EXPECT(TZ_OK, NULL);
}

/* ---- proofs ------------------------------------------------------------ */

static void prove_and_verify(tz_circuit c, size_t n, const char *tamper_msg, size_t tamper_felt)
{
    tz_kmsg_proof p = {0};
    tz_felt outputs[TZ_PUBOUT_MAX], ph;
    size_t L = 0;
    EXPECT(tz_transparent_check_args(c, args, n, outputs, &L, &e_), TZ_OK, NULL);
    EXPECT(tz_transparent_prove(c, args, n, &p, &e_), TZ_OK, NULL);
    if (!p.bytes)
        return;
    tz_transparent_program_hash(&ph, c);
    CHECK(p.len == n * 32 && !memcmp(p.bytes, args, p.len));
    CHECK(p.n_preimage == L + 4 && tz_felt_eq(&p.preimage[2], &ph));
    CHECK(!memcmp(p.preimage + 4, outputs, L * sizeof *outputs));
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_OK, NULL);

    /* another circuit's reading of the same proof */
    tz_circuit other = c == TZ_CIRCUIT_SHIELD ? TZ_CIRCUIT_TRANSFER : TZ_CIRCUIT_SHIELD;
    EXPECT(tz_transparent_verify(other, &p, &e_), TZ_EINVAL, "prover arguments");
    /* a changed public output, a changed program hash */
    p.preimage[4 + L - 1].b[0] ^= 1;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EMISMATCH,
           "transparent proof: output preimage: public output");
    p.preimage[4 + L - 1].b[0] ^= 1;
    p.preimage[2].b[0] ^= 1;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EMISMATCH, "unexpected program hash");
    p.preimage[2].b[0] ^= 1;
    /* a flipped witness bit inside proof_bytes */
    p.bytes[tamper_felt * 32 + 3] ^= 0x10;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EMISMATCH, tamper_msg);
    p.bytes[tamper_felt * 32 + 3] ^= 0x10;
    /* a truncated proof */
    p.len -= 1;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EINVAL, "whole felts");
    p.len -= 31;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EINVAL, NULL);
    p.len += 32;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_OK, NULL);
    sodium_memzero(p.bytes, p.len);
    tz_kmsg_proof_free(&p);
}

static void test_proofs(void)
{
    size_t n = 0;
    tz_error err = {0};
    tz_kmsg_proof p = {0};

    build_transfer(&tw);
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n, &tw, &err) == TZ_OK);
    CHECK(n == TZ_PROVARG_TRANSFER_LEN(2));
    /* felt 5 + 2 * 9 + 2 * 48 + 2 * 16 + 7: input 0's chain 7 */
    prove_and_verify(TZ_CIRCUIT_TRANSFER, n, "input 0: WOTS signature", 5 + 18 + 96 + 32 + 7);
    /* a failing statement gives no proof */
    args[5 + 2 * 9 + 1].b[3] ^= 0x10; /* input 0's cm sibling 1 */
    EXPECT(tz_transparent_prove(TZ_CIRCUIT_TRANSFER, args, n, &p, &e_), TZ_EMISMATCH,
           "input 0: commitment membership");
    CHECK(p.bytes == NULL && p.preimage == NULL);

    build_unshield(&uw, true);
    CHECK(tz_provarg_unshield(args, TZ_PROVARG_MAX, &n, &uw, &err) == TZ_OK);
    /* felt 7 + 9: input 0's cm sibling 0 */
    prove_and_verify(TZ_CIRCUIT_UNSHIELD, n, "input 0: commitment membership", 7 + 9);

    build_shield(&sw);
    CHECK(tz_provarg_shield(args, TZ_PROVARG_MAX, &n, &sw, &err) == TZ_OK);
    /* felt 15: blind */
    prove_and_verify(TZ_CIRCUIT_SHIELD, n, "pubkey_hash", 15);

    tz_felt a, b;
    tz_transparent_program_hash(&a, TZ_CIRCUIT_TRANSFER);
    tz_hash(&b, "tzel-transparent-transfer", 25);
    CHECK(tz_felt_eq(&a, &b));
    tz_transparent_program_hash(&b, TZ_CIRCUIT_UNSHIELD);
    CHECK(!tz_felt_eq(&a, &b) && (b.b[31] & 0xF8) == 0);
}

/* Seven inputs (the most a circuit takes) in one block of the tree, and
 * values whose sums pass 2^64. */
static void test_transfer_limits(void)
{
    tz_transfer_public tp;
    tz_error err = {0};
    size_t n = 0;
    memset(&tw, 0, sizeof tw);
    tz_default_auth_domain(&tw.auth_domain);
    tw.n = 7;
    tw.fee = 7;
    for (size_t i = 0; i < 7; i++) {
        owner[i] = &addr[i % 2];
        make_input(&tw.in[i], owner[i], 100 * (i + 1), 1000 + 7 * (uint32_t)i, 0,
                   20 + (uint32_t)i);
    }
    make_paths_block(tw.in, 7, (UINT64_C(5) << 40) + 24, &tw.root);
    make_output(&tw.out[0], 1300, 2000);
    make_output(&tw.out[1], 1400, 790);
    make_output(&tw.out[2], 1500, 3);
    seal_transfer(&tw);
    tm = tw;
    T_EXPECT(TZ_OK, NULL);
    CHECK(tp.n_nf == 7 && tz_felt_eq(&tp.nf[6], &tw.in[6].nf));
    tm = tw, flip(&tm.in[6].sig[100]);
    T_EXPECT(TZ_EMISMATCH, "input 6: WOTS signature of the sighash (key_idx 1042)");
    tm = tw, flip(&tm.in[3].cm_path[1]);
    T_EXPECT(TZ_EMISMATCH, "input 3: commitment membership fails at pos 5497558138907");
    tm = tw, flip(&tm.in[5].nf), seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH, "input 5: nullifier");
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n, &tw, &err) == TZ_OK);
    CHECK(n == TZ_PROVARG_MAX);
    /* felt 5 + 7 * 9 + 7 * 48 + 2 * 16: input 2's auth sibling 0 */
    prove_and_verify(TZ_CIRCUIT_TRANSFER, n, "input 2: WOTS signature", 5 + 63 + 336 + 32);

    /* u64 maxima: 2 x max in, max + max + 1 + fee max - 1 out */
    const uint64_t M = UINT64_MAX;
    memset(&tw, 0, sizeof tw);
    tw.n = 2, tw.fee = M - 1;
    owner[0] = &addr[0], owner[1] = &addr[1];
    make_input(&tw.in[0], &addr[0], M, 1, 0, 30);
    make_input(&tw.in[1], &addr[1], M, 2, 0, 31);
    make_paths_block(tw.in, 2, 0, &tw.root);
    make_output(&tw.out[0], 1600, M);
    make_output(&tw.out[1], 1700, 0);
    make_output(&tw.out[2], 1800, 1);
    seal_transfer(&tw);
    tm = tw;
    T_EXPECT(TZ_OK, NULL);
    /* equal modulo 2^64 only: a 64-bit sum would accept it */
    tm = tw, tm.fee = 0, tm.out[0].v = M - 2, seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH,
             "value balance: inputs 36893488147419103230 != outputs 18446744073709551614 + fee 0");
}

static void test_circuit_of_exe(void)
{
    tz_circuit c = 0;
    EXPECT(tz_transparent_circuit_of_exe("/x/y/run_transfer.executable.json", &c, &e_), TZ_OK,
           NULL);
    CHECK(c == TZ_CIRCUIT_TRANSFER);
    EXPECT(tz_transparent_circuit_of_exe("run_unshield.executable.json", &c, &e_), TZ_OK, NULL);
    CHECK(c == TZ_CIRCUIT_UNSHIELD);
    EXPECT(tz_transparent_circuit_of_exe("d/run_shield.executable.json", &c, &e_), TZ_OK, NULL);
    CHECK(c == TZ_CIRCUIT_SHIELD);
    EXPECT(tz_transparent_circuit_of_exe("d/run_shield.json", &c, &e_), TZ_EINVAL,
           "not a circuit executable");
    EXPECT(tz_transparent_circuit_of_exe("run_transfer.executable.json/", &c, &e_), TZ_EINVAL,
           NULL);
    CHECK(c == TZ_CIRCUIT_SHIELD);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    witness_keys_init();
    test_transfer();
    test_unshield();
    test_shield();
    test_proofs();
    test_transfer_limits();
    test_circuit_of_exe();
    witness_keys_wipe();
    return tz_test_done("test_transparent");
}
