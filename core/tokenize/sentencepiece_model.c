/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads a SentencePiece model file, as the sentencepiece library (v0.1.99)
 * loads it: a bounds-checked reader for the ModelProto protobuf
 * (sentencepiece_model.proto: pieces = 1 {piece = 1, score = 2, type = 3},
 * trainer_spec = 2, normalizer_spec = 3), the checks model_interface.cc
 * makes (one <unk>, no duplicate pieces, valid byte pieces), and the trie
 * of matchable pieces the models walk. Any malformed input is
 * STATUS_EFORMAT with the message, field and byte offset in err; nothing is
 * read outside the caller's buffer. Encoding is sentencepiece_encode.c.
 */
#include "sentencepiece-impl.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

/* --- protobuf --------------------------------------------------------- */

struct pb {
	const uint8_t *p;
	size_t n, pos;
	size_t base;     /* file offset of p[0] */
	const char *msg; /* message name, for errors */
};

struct pb_field {
	uint32_t num;
	int wire;
	uint64_t v;          /* wire 0, 1, 5 */
	const uint8_t *data; /* wire 2 */
	size_t n_data;
	size_t at; /* file offset of the tag */
};

static int pb_varint(struct pb *r, uint64_t *v)
{
	uint64_t x = 0;
	for (int i = 0; i < 10; i++) {
		if (r->pos >= r->n)
			return -1;
		uint8_t b = r->p[r->pos++];
		if (i == 9 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (b < 0x80) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Reads the next field of r into f: 1, 0 at the end, or STATUS_EFORMAT. */
static int pb_next(struct pb *r, struct pb_field *f, char *err, size_t n_err)
{
	const char *what = "truncated tag";
	uint64_t key = 0, len;
	if (r->pos >= r->n)
		return 0;
	f->at = r->base + r->pos;
	if (pb_varint(r, &key) != 0)
		goto fail;
	f->num = (uint32_t)(key >> 3);
	f->wire = (int)(key & 7);
	what = "bad field number";
	if (f->num == 0 || (key >> 3) > 0x1fffffff)
		goto fail;
	what = "truncated value";
	switch (f->wire) {
	case 0:
		if (pb_varint(r, &f->v) != 0)
			goto fail;
		return 1;
	case 1:
	case 5: {
		size_t k = f->wire == 1 ? 8 : 4;
		if (r->n - r->pos < k)
			goto fail;
		f->v = 0;
		for (size_t i = 0; i < k; i++)
			f->v |= (uint64_t)r->p[r->pos + i] << (8 * i);
		r->pos += k;
		return 1;
	}
	case 2:
		what = "length past the end of its message";
		if (pb_varint(r, &len) != 0 || len > r->n - r->pos)
			goto fail;
		f->data = r->p + r->pos;
		f->n_data = (size_t)len;
		r->pos += (size_t)len;
		return 1;
	default:
		what = "unsupported wire type";
		goto fail;
	}
fail:
	return status_fail(err, n_err, STATUS_EFORMAT,
	                   "sentencepiece model: %s: %s (field %u, wire type %d) at byte %zu",
	                   r->msg, what, (unsigned)(key >> 3), (int)(key & 7), f->at);
}

static int pb_want(const struct pb *r, const struct pb_field *f, int wire, const char *name,
                   char *err, size_t n_err)
{
	if (f->wire == wire)
		return 0;
	return status_fail(err, n_err, STATUS_EFORMAT,
	                   "sentencepiece model: %s.%s (field %u) has wire type %d, expected %d at "
	                   "byte %zu",
	                   r->msg, name, (unsigned)f->num, f->wire, wire, f->at);
}

static struct pb pb_sub(const struct pb *r, const struct pb_field *f, const char *msg)
{
	struct pb s = {f->data, f->n_data, 0, r->base + (size_t)(f->data - r->p), msg};
	return s;
}

static float pb_float(uint64_t v)
{
	uint32_t u = (uint32_t)v;
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

/* --- model file -------------------------------------------------------- */

/* Pieces[i]: SentencePiece {piece = 1, score = 2, type = 3}. */
static int parse_piece(struct spm_model *m, const struct pb *top, const struct pb_field *pf,
                       char *err, size_t n_err)
{
	struct pb r = pb_sub(top, pf, "SentencePiece");
	struct pb_field f;
	const uint8_t *s = NULL;
	size_t n_s = 0;
	float score = 0.0f;
	uint64_t type = SPM_PIECE_NORMAL;
	int rc, id = m->pieces.n_tokens;
	while ((rc = pb_next(&r, &f, err, n_err)) > 0) {
		if (f.num == 1) {
			if ((rc = pb_want(&r, &f, 2, "piece", err, n_err)) != 0)
				return rc;
			s = f.data;
			n_s = f.n_data;
		} else if (f.num == 2) {
			if ((rc = pb_want(&r, &f, 5, "score", err, n_err)) != 0)
				return rc;
			score = pb_float(f.v);
		} else if (f.num == 3) {
			if ((rc = pb_want(&r, &f, 0, "type", err, n_err)) != 0)
				return rc;
			type = f.v;
		}
	}
	if (rc < 0)
		return rc;
	if (type < SPM_PIECE_NORMAL || type > SPM_PIECE_BYTE)
		return status_fail(
		    err, n_err, STATUS_EFORMAT,
		    "sentencepiece model: piece %d has unknown type %llu at byte %zu", id,
		    (unsigned long long)type, pf->at);
	if (n_s == 0 || memchr(s, '\0', n_s) != NULL)
		return status_fail(
		    err, n_err, STATUS_EFORMAT,
		    "sentencepiece model: piece %d is empty or has a NUL byte at byte "
		    "%zu",
		    id, pf->at);
	if (spm_model_find(m, (const char *)s, n_s) >= 0)
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "sentencepiece model: piece %d \"%.*s\" is already defined", id,
		                   (int)(n_s < 64 ? n_s : 64), (const char *)s);
	if (vocab_add(&m->pieces, (const char *)s, n_s) != 0)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory reading pieces");
	m->scores[id] = score;
	m->types[id] = (uint8_t)type;
	return 0;
}

/* TrainerSpec: model_type = 3, treat_whitespace_as_suffix = 24,
 * byte_fallback = 35, unk_surface = 44; the rest only matters to training. */
static int parse_trainer(struct spm_model *m, struct pb *r, char *err, size_t n_err)
{
	struct pb_field f;
	int rc;
	while ((rc = pb_next(r, &f, err, n_err)) > 0) {
		if (f.num == 3 || f.num == 24 || f.num == 35) {
			if ((rc = pb_want(r, &f, 0, "flag", err, n_err)) != 0)
				return rc;
			if (f.num == 3)
				m->model_type = (int)(int32_t)f.v;
			else if (f.num == 24 && f.v != 0)
				return status_fail(
				    err, n_err, STATUS_EUNSUPPORTED,
				    "sentencepiece model: treat_whitespace_as_suffix "
				    "is not supported");
			else if (f.num == 35)
				m->byte_fallback = f.v != 0;
		} else if (f.num == 44) {
			if ((rc = pb_want(r, &f, 2, "unk_surface", err, n_err)) != 0)
				return rc;
			char *s = malloc(f.n_data + 1);
			if (s == NULL)
				return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
			memcpy(s, f.data, f.n_data);
			s[f.n_data] = '\0';
			free(m->unk_surface);
			m->unk_surface = s;
		}
	}
	return rc;
}

/* NormalizerSpec: precompiled_charsmap = 2, add_dummy_prefix = 3,
 * remove_extra_whitespaces = 4, escape_whitespaces = 5. */
static int parse_normalizer(struct spm_model *m, struct pb *r, const uint8_t **map, size_t *n_map,
                            char *err, size_t n_err)
{
	struct pb_field f;
	int rc;
	while ((rc = pb_next(r, &f, err, n_err)) > 0) {
		if (f.num == 2) {
			if ((rc = pb_want(r, &f, 2, "precompiled_charsmap", err, n_err)) != 0)
				return rc;
			*map = f.data;
			*n_map = f.n_data;
		} else if (f.num >= 3 && f.num <= 5) {
			if ((rc = pb_want(r, &f, 0, "flag", err, n_err)) != 0)
				return rc;
			int *flag = f.num == 3   ? &m->add_dummy_prefix
			            : f.num == 4 ? &m->remove_extra_whitespaces
			                         : &m->escape_whitespaces;
			*flag = f.v != 0;
		}
	}
	return rc;
}

/* See sentencepiece-impl.h (Normalizer::DecodePrecompiledCharsMap). */
int spm_charsmap_parse(struct spm_charsmap *cm, const uint8_t *p, size_t n, char *err, size_t n_err)
{
	memset(cm, 0, sizeof(*cm));
	if (n == 0)
		return 0; /* no rules: identity */
	uint32_t size = n < 4 ? 0
	                      : (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	                            (uint32_t)p[3] << 24;
	if (n < 4 || size < 4 || size > n - 4 || n - 4 - size == 0 || p[n - 1] != '\0')
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "precompiled_charsmap is broken (%zu bytes, trie size %u)", n,
		                   (unsigned)size);
	cm->n_units = size / 4;
	cm->n_replacements = n - 4 - size;
	cm->units = malloc((size_t)cm->n_units * sizeof(*cm->units));
	cm->replacements = malloc(cm->n_replacements);
	if (cm->units == NULL || cm->replacements == NULL) {
		spm_charsmap_dispose(cm);
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < cm->n_units; i++) {
		const uint8_t *u = p + 4 + 4 * (size_t)i;
		cm->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
		               (uint32_t)u[3] << 24;
	}
	memcpy(cm->replacements, p + 4 + size, cm->n_replacements);
	return 0;
}

void spm_charsmap_dispose(struct spm_charsmap *cm)
{
	free(cm->units);
	free(cm->replacements);
	memset(cm, 0, sizeof(*cm));
}

/* The trie of the pieces the models match against (model_interface.cc's
 * pieces_: NORMAL, USER_DEFINED, UNUSED). */
static int build_trie(struct spm_model *m, char *err, size_t n_err)
{
	size_t n_bytes = 0;
	for (int32_t id = 0; id < m->pieces.n_tokens; id++)
		if (spm_matchable(m, id))
			n_bytes += strlen(m->pieces.tokens[id]);
	if (n_bytes >= (1u << 23))
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "sentencepiece model: pieces too long (%zu bytes)", n_bytes);
	uint32_t slots = 16;
	while (slots < 2 * (n_bytes + 1))
		slots *= 2;
	m->node_piece = malloc((n_bytes + 1) * sizeof(*m->node_piece));
	m->edges = malloc((size_t)slots * sizeof(*m->edges));
	if (m->node_piece == NULL || m->edges == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	m->n_edge_slots = slots;
	for (uint32_t i = 0; i < slots; i++)
		m->edges[i].node = -1;
	m->node_piece[0] = -1;
	m->n_nodes = 1;
	for (int32_t id = 0; id < m->pieces.n_tokens; id++) {
		if (!spm_matchable(m, id))
			continue;
		const uint8_t *s = (const uint8_t *)m->pieces.tokens[id];
		int32_t node = 0;
		for (; *s; s++) {
			int32_t child = spm_trie_child(m, node, *s);
			if (child < 0) {
				child = (int32_t)m->n_nodes++;
				m->node_piece[child] = -1;
				uint32_t i = spm_edge_hash(node, *s) & (slots - 1);
				while (m->edges[i].node >= 0)
					i = (i + 1) & (slots - 1);
				m->edges[i] = (struct spm_edge){node, child, *s};
			}
			node = child;
		}
		m->node_piece[node] = id;
		if (m->types[id] == SPM_PIECE_USER_DEFINED)
			m->has_user_defined = 1;
	}
	return 0;
}

/* See sentencepiece-impl.h. */
int spm_piece_to_byte(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	if (strlen(s) != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	const char *hi = memchr(hex, s[3], 16), *lo = memchr(hex, s[4], 16);
	if (hi == NULL || lo == NULL || s[3] == '\0' || s[4] == '\0')
		return -1;
	return (int)((hi - hex) * 16 + (lo - hex));
}

/* Checks what model_interface.cc and the models check after loading. */
static int finish_model(struct spm_model *m, char *err, size_t n_err)
{
	if (m->model_type != SPM_MODEL_UNIGRAM && m->model_type != SPM_MODEL_BPE)
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "sentencepiece model: model_type %d is not supported (unigram "
		                   "and BPE are)",
		                   m->model_type);
	m->unk_id = -1;
	m->min_score = FLT_MAX;
	m->max_score = FLT_MIN; /* as unigram_model.cc, so >= FLT_MIN */
	for (int32_t id = 0; id < m->pieces.n_tokens; id++) {
		const char *s = m->pieces.tokens[id];
		if (m->types[id] == SPM_PIECE_UNKNOWN) {
			if (m->unk_id >= 0)
				return status_fail(err, n_err, STATUS_EFORMAT,
				                   "sentencepiece model: unk is already defined");
			m->unk_id = id;
		} else if (m->types[id] == SPM_PIECE_NORMAL) {
			if (m->scores[id] < m->min_score)
				m->min_score = m->scores[id];
			if (m->scores[id] > m->max_score)
				m->max_score = m->scores[id];
		} else if (m->types[id] == SPM_PIECE_BYTE && spm_piece_to_byte(s) < 0) {
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "sentencepiece model: byte piece %s is invalid", s);
		}
	}
	if (m->unk_id < 0)
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "sentencepiece model: unk is not defined");
	for (int b = 0; b < 256; b++)
		m->byte_ids[b] = m->unk_id;
	for (int32_t id = 0; id < m->pieces.n_tokens; id++)
		if (m->types[id] == SPM_PIECE_BYTE)
			m->byte_ids[spm_piece_to_byte(m->pieces.tokens[id])] = id;
	return build_trie(m, err, n_err);
}

int spm_model_parse(struct spm_model *m, const uint8_t *p, size_t n, char *err, size_t n_err)
{
	struct pb top = {p, n, 0, 0, "ModelProto"};
	struct pb_field f;
	const uint8_t *map = NULL;
	size_t n_map = 0, n_pieces = 0;
	char msg[256];
	int rc;

	memset(m, 0, sizeof(*m));
	m->model_type = SPM_MODEL_UNIGRAM;
	m->add_dummy_prefix = m->remove_extra_whitespaces = m->escape_whitespaces = 1;
	m->unk_surface = strdup(" \xe2\x81\x87 ");
	if (m->unk_surface == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto fail;
	}
	while ((rc = pb_next(&top, &f, err, n_err)) > 0) /* pass 1: framing, count */
		if (f.num == 1 || f.num == 2 || f.num == 3) {
			if ((rc = pb_want(&top, &f, 2, "message", err, n_err)) != 0)
				goto fail;
			n_pieces += f.num == 1;
		}
	if (rc < 0)
		goto fail;
	if (n_pieces == 0 || n_pieces >= INT32_MAX / 2) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "sentencepiece model: %zu pieces (not a sentencepiece model?)",
		                 n_pieces);
		goto fail;
	}
	m->scores = malloc(n_pieces * sizeof(*m->scores));
	m->types = malloc(n_pieces);
	if (m->scores == NULL || m->types == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto fail;
	}
	top.pos = 0;
	while ((rc = pb_next(&top, &f, err, n_err)) > 0) {
		struct pb sub;
		if (f.num == 1) {
			rc = parse_piece(m, &top, &f, err, n_err);
		} else if (f.num == 2) {
			sub = pb_sub(&top, &f, "TrainerSpec");
			rc = parse_trainer(m, &sub, err, n_err);
		} else if (f.num == 3) {
			sub = pb_sub(&top, &f, "NormalizerSpec");
			rc = parse_normalizer(m, &sub, &map, &n_map, err, n_err);
		}
		if (rc < 0)
			goto fail;
	}
	if (rc < 0)
		goto fail;
	if ((rc = spm_charsmap_parse(&m->charsmap, map, n_map, msg, sizeof(msg))) != 0) {
		rc = status_fail(err, n_err, rc, "sentencepiece model: %s", msg);
		goto fail;
	}
	if ((rc = finish_model(m, err, n_err)) != 0)
		goto fail;
	return 0;

fail:
	spm_model_dispose(m);
	return rc;
}

void spm_model_dispose(struct spm_model *m)
{
	if (m == NULL)
		return;
	vocab_dispose(&m->pieces);
	free(m->scores);
	free(m->types);
	free(m->unk_surface);
	spm_charsmap_dispose(&m->charsmap);
	free(m->dscores);
	free(m->node_piece);
	free(m->edges);
	memset(m, 0, sizeof(*m));
}

int spm_model_from_vocab(struct spm_model *m, struct vocab *pieces, const double *scores,
                         int32_t unk_id, char *err, size_t n_err)
{
	int32_t n = pieces->n_tokens;
	int rc;

	memset(m, 0, sizeof(*m));
	m->pieces = *pieces;
	memset(pieces, 0, sizeof(*pieces));
	m->model_type = SPM_MODEL_UNIGRAM;
	m->unk_id = unk_id;
	if (n == 0 || unk_id >= n) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 n == 0 ? "Unigram: the vocabulary is empty"
		                        : "Unigram: unk_id is larger than the vocabulary");
		goto fail;
	}
	m->dscores = malloc((size_t)n * sizeof(*m->dscores));
	m->scores = malloc((size_t)n * sizeof(*m->scores));
	m->types = malloc((size_t)n);
	if (m->dscores == NULL || m->scores == NULL || m->types == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto fail;
	}
	m->dmin_score = 0.0;
	for (int32_t id = 0; id < n; id++) {
		m->dscores[id] = scores[id];
		m->scores[id] = (float)scores[id];
		m->types[id] = SPM_PIECE_NORMAL;
		if (id == 0 || scores[id] < m->dmin_score)
			m->dmin_score = scores[id];
	}
	for (int b = 0; b < 256; b++)
		m->byte_ids[b] = unk_id;
	if ((rc = build_trie(m, err, n_err)) != 0)
		goto fail;
	m->has_user_defined = 0;
	return 0;

fail:
	spm_model_dispose(m);
	return rc;
}

int32_t spm_model_find(const struct spm_model *m, const char *s, size_t n)
{
	return vocab_find(&m->pieces, s, n);
}
