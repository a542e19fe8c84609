/* The proof bundle a prover writes (`reprove --output`, a proving
 * service's proof_bundle): {"proof_bytes": hex, "output_preimage":
 * [64-hex little-endian felts]}. As the reference verifier does, the
 * parser refuses unknown and duplicate fields; hex is read in either case,
 * without "0x". The proof is a core/kmsg.h tz_kmsg_proof, ready to go into
 * a kernel message. */
#ifndef TZ_SPEND_BUNDLE_H
#define TZ_SPEND_BUNDLE_H

#include <stddef.h>

#include "core/kmsg.h"
#include "core/status.h"

/* Longest bundle text read: the kernel's proof cap in hex, a full
 * preimage, and room for layout. */
#define TZ_BUNDLE_MAX_TEXT ((size_t)18 << 20)

/* Parses text[0..len): TZ_OK with *out owning new buffers
 * (tz_kmsg_proof_free), TZ_EPARSE with a message for text over
 * TZ_BUNDLE_MAX_TEXT, not JSON, not an object, a missing, unknown or
 * duplicate field, odd-length or non-hex proof_bytes, proof_bytes over
 * TZ_KMSG_MAX_PROOF_BYTES, more than TZ_KMSG_MAX_PREIMAGE felts or a felt
 * that is not 64 hex characters; TZ_ENOMEM. *out untouched on failure. */
tz_status tz_bundle_parse(tz_kmsg_proof *out, const char *text, size_t len, tz_error *err) TZ_WUR;

/* Writes the bundle of *p as compact JSON (lowercase hex, proof_bytes
 * first): TZ_OK with a new NUL-terminated *out (free() it) and *out_len,
 * TZ_EINVAL when p exceeds the kernel caps, TZ_ENOMEM. */
tz_status tz_bundle_json(const tz_kmsg_proof *p, char **out, size_t *out_len, tz_error *err) TZ_WUR;

#endif
