/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Floats as JSON numbers, byte for byte as jansson writes a double with
 * JSON_REAL_PRECISION(9) (the rest of the API's numbers): "%.9g", ".0"
 * appended when there is neither '.' nor 'e', the exponent without '+' or
 * leading zeros ("1e-7", "1.5e10"). Nine digits give every float back
 * exactly. Without printf: an embedding of 384 floats takes microseconds
 * instead of the 50 us snprintf needs, on the loop thread.
 */
#ifndef SMOLSERVE_SERVER_REALFMT_H
#define SMOLSERVE_SERVER_REALFMT_H

#define REALFMT_MAX 24 /* the longest text, with its NUL: "-1.17549435e-38" */

/* Writes f into buf (NUL-terminated); its length, or -1 if f is NaN or
 * infinite (JSON has no such numbers). */
int realfmt_float(char buf[REALFMT_MAX], float f);

/* The same through snprintf: the definition realfmt_float follows (tests). */
int realfmt_float_printf(char buf[REALFMT_MAX], float f);

#endif
