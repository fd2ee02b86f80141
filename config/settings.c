/*
 * The settings table (see settings.h): one row per setting names its flag,
 * its environment variable, its type and its help text, so parsing, the
 * environment and --help can never disagree.
 */
#include "settings.h"

#include <errno.h>
#include <stddef.h>
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
    {"--config", NULL, "SMOLSERVE_CONFIG", KIND_STRING, STR(config_file), 0, 0, "",
     "settings file: lines `name = value` (flag names without dashes or variable names)"},
    {"--model", "--model-id", "MODEL_ID", KIND_STRING, STR(model_id), 0, 0, "",
     "Hugging Face model folder (config.json, model.safetensors, tokenizer files)"},
    {"--hostname", NULL, "HOSTNAME", KIND_STRING, STR(hostname), 0, 0, "127.0.0.1",
     "address to listen on (IPv4 or IPv6 literal, or a name); 0.0.0.0 for every interface"},
    {"--port", NULL, "PORT", KIND_INT, NUM(port), 0, 65535, "3000",
     "TCP port to listen on; 0 picks a free one (printed at start)"},
    {"--pooling", NULL, "POOLING", KIND_POOLING, STR(pooling), 0, 0, "",
     "cls or mean; default: the folder's 1_Pooling/config.json, else mean"},
    {"--auto-truncate", NULL, "AUTO_TRUNCATE", KIND_BOOL, NUM(auto_truncate), 0, 1, "false",
     "truncate inputs longer than the model allows instead of rejecting them"},
    {"--max-client-batch-size", NULL, "MAX_CLIENT_BATCH_SIZE", KIND_INT, NUM(max_client_batch_size),
     1, 1 << 20, "32", "most inputs one request may carry"},
    {"--payload-limit", NULL, "PAYLOAD_LIMIT", KIND_INT, NUM(payload_limit), 1, 1 << 30, "2000000",
     "largest request body, bytes"},
    {"--max-batch-tokens", NULL, "MAX_BATCH_TOKENS", KIND_INT, NUM(max_batch_tokens), 1, 1 << 24,
     "16384", "most tokens one batch may hold"},
    {"--max-batch-requests", NULL, "MAX_BATCH_REQUESTS", KIND_INT, NUM(max_batch_requests), 1,
     1 << 20, "64", "most requests one batch may hold"},
    {"--max-batch-delay-us", NULL, "MAX_BATCH_DELAY_US", KIND_INT, NUM(max_batch_delay_us), 0,
     10000000, "2000",
     "longest a queued request waits for company while every worker is busy; a free worker "
     "takes it at once"},
    {"--max-concurrent-requests", NULL, "MAX_CONCURRENT_REQUESTS", KIND_INT,
     NUM(max_concurrent_requests), 1, 1 << 20, "512",
     "requests in flight at once; beyond it: 429 with Retry-After"},
    {"--workers", NULL, "WORKERS", KIND_INT, NUM(workers), 0, 1024, "0",
     "worker threads running batches; 0 = derived from the usable CPUs"},
    {"--blas-threads", NULL, "BLAS_THREADS", KIND_INT, NUM(blas_threads), 0, 1024, "0",
     "OpenBLAS threads per worker; 0 = derived (workers x BLAS threads <= CPUs)"},
    {"--shutdown-timeout-s", NULL, "SHUTDOWN_TIMEOUT_S", KIND_INT, NUM(shutdown_timeout_s), 0, 3600,
     "30", "on SIGTERM/SIGINT, longest wait for accepted requests to be answered"},
    {"--json-output", NULL, "JSON_OUTPUT", KIND_BOOL, NUM(json_output), 0, 1, "false",
     "log one JSON object per line instead of text"},
    {"--tokenization-workers", NULL, "TOKENIZATION_WORKERS", KIND_INT, NUM(tokenization_workers), 0,
     64, "0",
     "threads that parse, tokenize and encode answers off the loop; 0 = derived from the "
     "usable CPUs"},
    {"--max-response-floats", NULL, "MAX_RESPONSE_FLOATS", KIND_INT, NUM(max_response_floats), 1,
     (int64_t)1 << 32, "4194304",
     "most floats one /embed_all answer may hold (tokens x hidden size); beyond: 422"},
    {"--header-timeout-s", NULL, "HEADER_TIMEOUT_S", KIND_INT, NUM(header_timeout_s), 1, 3600, "10",
     "a connection must deliver a request's complete headers within this"},
    {"--body-timeout-s", NULL, "BODY_TIMEOUT_S", KIND_INT, NUM(body_timeout_s), 1, 3600, "30",
     "a request's body must be complete this long after its headers"},
    {"--idle-timeout-s", NULL, "IDLE_TIMEOUT_S", KIND_INT, NUM(idle_timeout_s), 1, 3600, "15",
     "a kept-alive connection with no request in progress is closed after this"},
    {"--max-connections-per-ip", NULL, "MAX_CONNECTIONS_PER_IP", KIND_INT,
     NUM(max_connections_per_ip), 0, 1 << 20, "256",
     "open connections one client address may hold; 0 = no limit (raise it behind a proxy)"},
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
			return fail(err, n_err, "%s: \"%s\" is not a pooling (cls or mean)", source,
			            value);
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
			return fail(err, n_err,
			            "%s: \"%s\" is not a whole number from %lld to %lld", source,
			            value, (long long)row->min, (long long)row->max);
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

/* Finds the row whose flag (without "--") or variable is name. */
static const struct option_row *find_name(const char *name)
{
	for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++)
		if (strcmp(name, ROWS[i].flag + 2) == 0 || strcmp(name, ROWS[i].env) == 0 ||
		    (ROWS[i].alias != NULL && strcmp(name, ROWS[i].alias + 2) == 0))
			return &ROWS[i];
	return NULL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int apply_file(struct settings *s, const char *path, char *err, size_t n_err)
{
	char line[8192], where[4200];
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return fail(err, n_err, "%s: cannot open: %s", path, strerror(errno));
	int rc = 0;
	for (int no = 1; rc == 0 && fgets(line, sizeof(line), f) != NULL; no++) {
		snprintf(where, sizeof(where), "%s:%d", path, no);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rc = fail(err, n_err, "%s: line too long", where);
			break;
		}
		char *p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		char *eq = strchr(p, '=');
		if (eq == NULL) {
			rc = fail(err, n_err, "%s: expected `name = value`", where);
			break;
		}
		*eq = '\0';
		char *name = trim(p), *value = trim(eq + 1);
		size_t n = strlen(value);
		if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
			value[n - 1] = '\0';
			value++;
		}
		const struct option_row *row = find_name(name);
		if (row == NULL || row->offset == offsetof(struct settings, config_file))
			rc = fail(err, n_err, "%s: unknown setting \"%s\"", where, name);
		else
			rc = apply(s, row, value, where, err, n_err);
	}
	fclose(f);
	return rc;
}

/* The value of --config in argv, if any. */
static const char *config_flag(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
	}
	return NULL;
}

int settings_parse(struct settings *s, int argc, char **argv, char *err, size_t n_err)
{
	const char *file = config_flag(argc, argv);
	if (file == NULL)
		file = getenv("SMOLSERVE_CONFIG");
	if (file != NULL && file[0] != '\0' && apply_file(s, file, err, n_err) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++) {
		const char *v = getenv(ROWS[i].env);
		if (v != NULL && apply(s, &ROWS[i], v, ROWS[i].env, err, n_err) != 0)
			return -1;
	}
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strchr(arg, '=');
		size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct option_row *row =
		    strncmp(arg, "--", 2) == 0 ? find_flag(arg, n) : NULL;
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
