/* The L1 recipient of an unshield: a Tezos account in Base58check (tz1,
 * tz2, tz3 or KT1, a 20-byte hash), given as UTF-8 text that the kernel
 * trims of Unicode White_Space before checking and hashing it. */
#ifndef TZ_CORE_RECIPIENT_H
#define TZ_CORE_RECIPIENT_H

#include <stdbool.h>
#include <stddef.h>

/* s[0..*len) without leading and trailing Unicode White_Space: returns
 * the start of the trimmed text and writes its length into *len. s is
 * UTF-8 (not checked; a truncated sequence ends the trimming). */
const char *tz_recipient_trim(const char *s, size_t *len);

/* True when s[0..len), trimmed, is a Base58check tz1, tz2, tz3 or KT1
 * address with a valid checksum and a 20-byte hash. */
bool tz_recipient_valid(const char *s, size_t len);

#endif
