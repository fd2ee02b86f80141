/*
 * The settings table (see settings.h): one row per setting names its flag,
 * its environment variable, its type and its help text, so parsing, the
 * environment and --help can never disagree.
 */
#include "settings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { KIND_STRING, KIND_INT, KIND_BOOL, KIND_POOLING };

struct option_row {
	const char *flag;
	const char *alias;
	const char *env;
	enum kind kind;
	size_t offset;
	size_t size; /* strings: buffer size */
	int64_t min, max;
	const char *defval;
	const char *help;
};

#define STR(field) offsetof(struct settings, field), sizeof(((struct settings *)0)->field)
#define NUM(field) offsetof(struct settings, field), 0

static const struct option_row ROWS[] = {
	{"--model", "--model-id", "MODEL_ID", KIND_STRING, STR(model_id), 0, 0, "",
	 "Hugging Face model folder (config.json, model.safetensors, tokenizer files)"},
	{"--pooling", NULL, "POOLING", KIND_POOLING, STR(pooling), 0, 0, "",
	 "cls or mean; default: the folder's 1_Pooling/config.json, else mean"},
	{"--auto-truncate", NULL, "AUTO_TRUNCATE", KIND_BOOL, NUM(auto_truncate), 0, 1, "false",
	 "truncate inputs longer than the model allows instead of rejecting them"},
	{"--max-client-batch-size", NULL, "MAX_CLIENT_BATCH_SIZE", KIND_INT,
	 NUM(max_client_batch_size), 1, 1 << 20, "32", "most inputs one request may carry"},
	{"--payload-limit", NULL, "PAYLOAD_LIMIT", KIND_INT, NUM(payload_limit), 1, 1 << 30,
	 "2000000", "largest request body, bytes"},
	{"--max-batch-tokens", NULL, "MAX_BATCH_TOKENS", KIND_INT, NUM(max_batch_tokens), 1,
	 1 << 24, "16384", "most tokens one batch may hold"},
	{"--blas-threads", NULL, "BLAS_THREADS", KIND_INT, NUM(blas_threads), 0, 1024, "0",
	 "OpenBLAS threads per product; 0 = the CPUs this process may use"},
};

static int fail(char *err, size_t n_err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t n_err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n_err, fmt, ap);
	va_end(ap);
	return -1;
}

static int apply(struct settings *s, const struct option_row *row, const char *value,
		 const char *source, char *err, size_t n_err)
{
	char *field = (char *)s + row->offset;
	switch (row->kind) {
	case KIND_POOLING:
		if (strcmp(value, "cls") != 0 && strcmp(value, "mean") != 0)
			return fail(err, n_err, "%s: \"%s\" is not a pooling (cls or mean)",
				    source, value);
		/* fall through */
	case KIND_STRING:
		if (strlen(value) >= row->size)
			return fail(err, n_err, "%s: value is longer than %zu bytes", source,
				    row->size - 1);
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case KIND_BOOL:
		if (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0)
			*(int *)field = 1;
		else if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0)
			*(int *)field = 0;
		else
			return fail(err, n_err, "%s: \"%s\" is not true or false", source, value);
		return 0;
	case KIND_INT: {
		char *end;
		errno = 0;
		long long v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v < row->min || v > row->max)
			return fail(err, n_err, "%s: \"%s\" is not a whole number from %lld to %lld",
				    source, value, (long long)row->min, (long long)row->max);
		*(int64_t *)field = v;
		return 0;
	}
	}
	return 0;
}

void settings_defaults(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	char err[64];
	for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++)
		apply(s, &ROWS[i], ROWS[i].defval, "default", err, sizeof(err));
}

static const struct option_row *find_flag(const char *arg, size_t n)
{
	for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++) {
		if ((strlen(ROWS[i].flag) == n && strncmp(arg, ROWS[i].flag, n) == 0) ||
		    (ROWS[i].alias != NULL && strlen(ROWS[i].alias) == n &&
		     strncmp(arg, ROWS[i].alias, n) == 0))
			return &ROWS[i];
	}
	return NULL;
}

int settings_parse(struct settings *s, int argc, char **argv, char *err, size_t n_err)
{
	for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++) {
		const char *v = getenv(ROWS[i].env);
		if (v != NULL && apply(s, &ROWS[i], v, ROWS[i].env, err, n_err) != 0)
			return -1;
	}
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strchr(arg, '=');
		size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct option_row *row = strncmp(arg, "--", 2) == 0 ? find_flag(arg, n) : NULL;
		if (row == NULL)
			return fail(err, n_err, "unknown argument \"%s\" (see --help)", arg);
		const char *value = eq ? eq + 1 : NULL;
		if (value == NULL && row->kind == KIND_BOOL)
			value = "true";
		else if (value == NULL && i + 1 < argc)
			value = argv[++i];
		if (value == NULL)
			return fail(err, n_err, "%s needs a value", row->flag);
		if (apply(s, row, value, row->flag, err, n_err) != 0)
			return -1;
	}
	return 0;
}

void settings_usage(FILE *f)
{
	for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++) {
		const struct option_row *r = &ROWS[i];
		fprintf(f, "  %s%s%s%s\n      %s (env %s, default %s)\n", r->flag,
			r->alias ? ", " : "", r->alias ? r->alias : "",
			r->kind == KIND_BOOL ? "" : " VALUE", r->help, r->env,
			r->defval[0] ? r->defval : "none");
	}
}
