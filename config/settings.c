/* SPDX-License-Identifier: Apache-2.0 */
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

enum kind {
	KIND_STRING,
	KIND_INT,
	KIND_BOOL,
	KIND_POOLING,
	KIND_LIST,
	KIND_SECRET,
	KIND_TOKENIZER_FILES
};

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
     "a Hugging Face model folder, or a Hub repository id (org/name) to load from the "
     "Hugging Face cache, downloading what is missing"},
    {"--hostname", NULL, "HOSTNAME", KIND_STRING, STR(hostname), 0, 0, "127.0.0.1",
     "address to listen on (IPv4 or IPv6 literal, or a name); 0.0.0.0 for every interface"},
    {"--port", "-p", "PORT", KIND_INT, NUM(port), 0, 65535, "3000",
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
     "longest a free worker waits for requests already admitted and being parsed; a lone "
     "request never waits; 0 = never wait"},
    {"--max-concurrent-requests", NULL, "MAX_CONCURRENT_REQUESTS", KIND_INT,
     NUM(max_concurrent_requests), 1, 1 << 20, "512",
     "requests in flight at once; beyond it: 429 with Retry-After"},
    {"--workers", NULL, "WORKERS", KIND_INT, NUM(workers), 0, 1024, "0",
     "worker threads running batches; 0 = derived from the usable CPUs"},
    {"--blas-threads", NULL, "BLAS_THREADS", KIND_INT, NUM(blas_threads), 0, 1024, "0",
     "compute threads per worker; 0 = derived (workers x threads <= CPUs)"},
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
    {"--revision", NULL, "REVISION", KIND_STRING, STR(revision), 0, 0, "main",
     "Hub revision of --model-id: a branch, tag or commit id"},
    {"--hf-token", "--hf-api-token", "HF_TOKEN", KIND_STRING, STR(hf_token), 0, 0, "",
     "Hugging Face token for gated or private repositories; default "
     "HUGGING_FACE_HUB_TOKEN, then the file `huggingface-cli login` writes"},
    {"--huggingface-hub-cache", NULL, "HF_HUB_CACHE", KIND_STRING, STR(hub_cache), 0, 0, "",
     "the Hugging Face cache folder; default HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, "
     "~/.cache/huggingface/hub"},
    {"--hf-endpoint", NULL, "HF_ENDPOINT", KIND_STRING, STR(hf_endpoint), 0, 0,
     "https://huggingface.co", "the Hub (or a mirror) to download from"},
    {"--hf-hub-offline", NULL, "HF_HUB_OFFLINE", KIND_BOOL, NUM(hf_hub_offline), 0, 1, "false",
     "use only the Hugging Face cache, never the network"},
    {"--api-key", NULL, "API_KEY", KIND_SECRET, STR(api_key), 0, 0, "",
     "requests to every route but health, ping, metrics and docs need "
     "`Authorization: Bearer KEY`"},
    {"--cors-allow-origin", NULL, "CORS_ALLOW_ORIGIN", KIND_LIST, STR(cors_allow_origin), 0, 0, "",
     "origins browsers may call from (repeat the flag or separate with commas); default any"},
    {"--default-prompt-name", NULL, "DEFAULT_PROMPT_NAME", KIND_STRING, STR(default_prompt_name), 0,
     0, "", "prompt of config_sentence_transformers.json put before every text to embed"},
    {"--default-prompt", NULL, "DEFAULT_PROMPT", KIND_STRING, STR(default_prompt), 0, 0, "",
     "text put before every text to embed (not with --default-prompt-name)"},
    {"--served-model-name", NULL, "SERVED_MODEL_NAME", KIND_STRING, STR(served_model_name), 0, 0,
     "", "the `model` of /v1/embeddings answers and /info; default: the model id"},
    {"--log-level", NULL, "LOG_LEVEL", KIND_STRING, STR(log_level), 0, 0, "info",
     "lowest level logged: debug, info, warn or error"},
    {"--task", NULL, "TASK", KIND_STRING, STR(task), 0, 0, "",
     "sentence-similarity: POST / and /invocations answer as /similarity"},
    {"--tokenizer-files", NULL, "TOKENIZER_FILES", KIND_TOKENIZER_FILES, STR(tokenizer_files), 0, 0,
     "auto",
     "auto: tokenizer.json when the folder has one (as TEI), else vocab.txt, vocab.json + "
     "merges.txt, spiece.model or sentencepiece.bpe.model; tokenizer.json or classic: only "
     "those"},
    {"--blas-kernel-choice", NULL, "BLAS_KERNEL_CHOICE", KIND_BOOL, NUM(blas_kernel_choice), 0, 1,
     "true",
     "if OpenBLAS picked older kernels than the CPU runs, restart with OPENBLAS_CORETYPE set "
     "(a set OPENBLAS_CORETYPE is always kept)"},
    {"--gemm-backend", NULL, "GEMM_BACKEND", KIND_STRING, STR(gemm_backend), 0, 0, "auto",
     "dense products: auto, packed (own AVX2/AVX-512 kernel, weights laid out at load), "
     "openblas, or amx (packed, with batches' products on Intel AMX tiles at fp32 accuracy); "
     "auto: amx where the CPU has it, else packed where it has AVX2"},
    {"--layout-cache", NULL, "LAYOUT_CACHE", KIND_STRING, STR(layout_cache), 0, 0, "",
     "folder keeping the packed kernel's layout of the weights for the next start (which then "
     "maps it instead of laying them out); default $XDG_CACHE_HOME/smolserve, else "
     "~/.cache/smolserve; off: none"},
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

static int check_combination(const struct settings *s, char *err, size_t n_err);

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
	case KIND_TOKENIZER_FILES:
		if (row->kind == KIND_TOKENIZER_FILES && strcmp(value, "auto") != 0 &&
		    strcmp(value, "tokenizer.json") != 0 && strcmp(value, "classic") != 0)
			return fail(err, n_err, "%s: \"%s\" is not auto, tokenizer.json or classic",
			            source, value);
		/* fall through */
	case KIND_STRING:
	case KIND_SECRET:
	case KIND_LIST: /* a repeated flag appends (see settings_parse) */
		if (strlen(value) >= row->size)
			return fail(err, n_err, "%s: value is longer than %zu bytes", source,
			            row->size - 1);
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case KIND_BOOL:
		if (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
		    strcasecmp(value, "yes") == 0 || strcasecmp(value, "on") == 0)
			*(int *)field = 1;
		else if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
		         strcasecmp(value, "no") == 0 || strcasecmp(value, "off") == 0)
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
	const struct option_row *listed = NULL; /* a list flag already given once */
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strchr(arg, '=');
		size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct option_row *row = arg[0] == '-' ? find_flag(arg, n) : NULL;
		if (row == NULL)
			return fail(err, n_err, "unknown argument \"%s\" (see --help)", arg);
		const char *value = eq ? eq + 1 : NULL;
		if (value == NULL && row->kind == KIND_BOOL)
			value = "true";
		else if (value == NULL && i + 1 < argc)
			value = argv[++i];
		if (value == NULL)
			return fail(err, n_err, "%s needs a value", row->flag);
		if (row->kind == KIND_LIST && row == listed) {
			char *field = (char *)s + row->offset;
			size_t have = strlen(field);
			if (have + 1 + strlen(value) >= row->size)
				return fail(err, n_err, "%s: the list is longer than %zu bytes",
				            row->flag, row->size - 1);
			field[have] = ',';
			memcpy(field + have + 1, value, strlen(value) + 1);
			continue;
		}
		if (apply(s, row, value, row->flag, err, n_err) != 0)
			return -1;
		if (row->kind == KIND_LIST)
			listed = row;
	}
	return check_combination(s, err, n_err);
}

/* Rules between settings, after every source is applied. */
static int check_combination(const struct settings *s, char *err, size_t n_err)
{
	if (s->default_prompt_name[0] != '\0' && s->default_prompt[0] != '\0')
		return fail(err, n_err,
		            "the argument '--default-prompt-name <DEFAULT_PROMPT_NAME>' cannot be "
		            "used with '--default-prompt <DEFAULT_PROMPT>'");
	static const char *const levels[] = {"trace", "debug", "info", "warn", "warning", "error"};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(s->log_level, levels[i]) == 0)
			return 0;
	return fail(err, n_err, "--log-level (LOG_LEVEL): \"%s\" is not debug, info, warn or error",
	            s->log_level);
}

/* Every variable text-embeddings-inference's router reads (its CLI
 * arguments' env names, TASK and LOG_LEVEL). */
static const char *const TEI_ENV[] = {
    "MODEL_ID",
    "REVISION",
    "TOKENIZATION_WORKERS",
    "DTYPE",
    "POOLING",
    "MAX_CONCURRENT_REQUESTS",
    "MAX_BATCH_TOKENS",
    "MAX_BATCH_REQUESTS",
    "MAX_CLIENT_BATCH_SIZE",
    "AUTO_TRUNCATE",
    "DEFAULT_PROMPT_NAME",
    "DEFAULT_PROMPT",
    "DENSE_PATH",
    "HF_API_TOKEN",
    "HF_TOKEN",
    "HOSTNAME",
    "PORT",
    "UDS_PATH",
    "HUGGINGFACE_HUB_CACHE",
    "PAYLOAD_LIMIT",
    "API_KEY",
    "JSON_OUTPUT",
    "DISABLE_SPANS",
    "OTLP_ENDPOINT",
    "OTLP_SERVICE_NAME",
    "PROMETHEUS_PORT",
    "CORS_ALLOW_ORIGIN",
    "SERVED_MODEL_NAME",
    "TASK",
    "LOG_LEVEL",
};

size_t settings_unhonoured_env(const char **out, size_t n_out)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof(TEI_ENV) / sizeof(TEI_ENV[0]); i++) {
		if (getenv(TEI_ENV[i]) == NULL)
			continue;
		int honoured = 0;
		for (size_t r = 0; r < sizeof(ROWS) / sizeof(ROWS[0]); r++)
			honoured |= strcmp(ROWS[r].env, TEI_ENV[i]) == 0;
		if (!honoured && n < n_out)
			out[n] = TEI_ENV[i];
		n += !honoured;
	}
	return n;
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

void settings_write_example(FILE *f)
{
	fputs("# smolserve settings file (`smolserve --config FILE`, or SMOLSERVE_CONFIG=FILE).\n"
	      "# Lines are `name = value`: the name is the flag without its dashes, or the\n"
	      "# environment variable; `#` starts a comment. Precedence: a command-line flag,\n"
	      "# then an environment variable, then this file, then the built-in default.\n"
	      "# Every setting is listed with its default, commented out: uncomment a line\n"
	      "# to change it. Written by `smolserve --print-config`.\n",
	      f);
	for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++) {
		const struct option_row *r = &ROWS[i];
		if (r->offset == offsetof(struct settings, config_file))
			continue; /* a file cannot name another file */
		fprintf(f, "\n# %s\n# flag %s%s%s, variable %s, default: %s\n#%s =%s%s\n", r->help,
		        r->flag, r->alias ? " or " : "", r->alias ? r->alias : "", r->env,
		        r->defval[0] ? r->defval : "none", r->flag + 2, r->defval[0] ? " " : "",
		        r->defval);
	}
}
