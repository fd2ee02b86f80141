/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a tokenizer.json component splits or replaces: Hugging Face's
 * Pattern (tokenizer/pattern.rs) and NormalizedString::split's delimiter
 * behaviours. A pattern is a regular expression compiled by Oniguruma, the
 * engine Hugging Face tokenizers itself uses for these patterns, so a
 * pattern means what it means there (syntax, \s, \w, \p{..}, lookaround);
 * a literal string is escaped into one. Character-class patterns (a
 * predicate per character) need no engine.
 */
#ifndef SMOLSERVE_CORE_TOKENIZE_PATTERN_H
#define SMOLSERVE_CORE_TOKENIZE_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* How a split treats its delimiters (SplitDelimiterBehavior). */
enum split_behavior {
	SPLIT_REMOVED = 0,
	SPLIT_ISOLATED,
	SPLIT_MERGED_WITH_PREVIOUS,
	SPLIT_MERGED_WITH_NEXT,
	SPLIT_CONTIGUOUS,
};

/* One stretch of a string: bytes [a, b), a match of the pattern or not. */
struct nmatch {
	size_t a, b;
	int match;
};

/* A growable list of stretches (per call scratch, reused). */
struct nmatches {
	struct nmatch *v; /* (cap) owned */
	size_t n, cap;
};

struct pattern; /* a compiled regular expression; read-only after compiling */

/* Per-call scratch of pattern_find (a match region). */
struct pattern_scratch {
	void *region; /* owned OnigRegion, created on first use */
};

/*
 * Compiles pattern[0, n) (UTF-8) as a regular expression, or as a literal
 * string when literal != 0. 0, STATUS_EFORMAT (err has Oniguruma's message)
 * or STATUS_ENOMEM. Build time; any thread (compilation is serialised).
 */
int pattern_compile(const char *pattern, size_t n, int literal, struct pattern **out, char *err,
                    size_t n_err);
void pattern_destroy(struct pattern *p);

/*
 * Pattern::find_matches of a regex on s[0, n): the stretches covering the
 * whole string in order, matches flagged, as rust-onig's find_iter yields
 * them (an empty match right after the previous match is skipped). An empty
 * string is one unmatched empty stretch. out is reset first. 0,
 * STATUS_ENOMEM, or STATUS_ETOKENIZER if the engine fails (err says why).
 * Any thread; sc is the caller's.
 */
int pattern_find(const struct pattern *p, const char *s, size_t n, struct nmatches *out,
                 struct pattern_scratch *sc, char *err, size_t n_err);

/* find_matches of a character predicate: every character for which pred is
 * true is a one-character match. 0 or STATUS_ENOMEM. */
int pattern_find_chars(int (*pred)(int32_t), const char *s, size_t n, struct nmatches *out);

/* Inverts every match flag (pattern::Invert). */
void pattern_invert(struct nmatches *m);

/*
 * NormalizedString::split's behaviour applied to m in place: afterwards m
 * holds the stretches to keep, in order (some may be empty; callers drop
 * those, as PreTokenizedString::split does).
 */
void pattern_apply_behavior(struct nmatches *m, enum split_behavior behavior);

void pattern_scratch_dispose(struct pattern_scratch *sc);
void nmatches_dispose(struct nmatches *m);
int nmatches_push(struct nmatches *m, size_t a, size_t b, int match);

#endif
