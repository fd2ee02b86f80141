/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every setting of smolserve in one plain struct, filled from command-line
 * flags and the environment (TEI's upper-case names) with the precedence
 * flag > environment > default. This file knows the settings, not what
 * they do: server/ reads the struct.
 */
#ifndef SMOLSERVE_CONFIG_SETTINGS_H
#define SMOLSERVE_CONFIG_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

struct settings {
	char config_file[4096];          /* --config FILE, SMOLSERVE_CONFIG */
	char model_id[4096];             /* --model / --model-id, MODEL_ID */
	char hostname[256];              /* --hostname, HOSTNAME */
	int64_t port;                    /* --port, PORT */
	char pooling[8];                 /* --pooling cls|mean, POOLING; "" = folder's */
	int auto_truncate;               /* --auto-truncate, AUTO_TRUNCATE */
	int64_t max_client_batch_size;   /* --max-client-batch-size, MAX_CLIENT_BATCH_SIZE */
	int64_t payload_limit;           /* --payload-limit bytes, PAYLOAD_LIMIT */
	int64_t max_batch_tokens;        /* --max-batch-tokens, MAX_BATCH_TOKENS */
	int64_t blas_threads;            /* --blas-threads, BLAS_THREADS; 0 = auto */
	int64_t workers;                 /* --workers, WORKERS; 0 = auto */
	int64_t max_batch_requests;      /* --max-batch-requests, MAX_BATCH_REQUESTS */
	int64_t max_batch_delay_us;      /* --max-batch-delay-us, MAX_BATCH_DELAY_US */
	int64_t max_concurrent_requests; /* --max-concurrent-requests */
	int64_t shutdown_timeout_s;      /* --shutdown-timeout-s, SHUTDOWN_TIMEOUT_S */
	int json_output;                 /* --json-output, JSON_OUTPUT */
	int64_t tokenization_workers;    /* --tokenization-workers; 0 = auto */
	int64_t max_response_floats;     /* --max-response-floats, MAX_RESPONSE_FLOATS */
	int64_t header_timeout_s;        /* --header-timeout-s, HEADER_TIMEOUT_S */
	int64_t body_timeout_s;          /* --body-timeout-s, BODY_TIMEOUT_S */
	int64_t idle_timeout_s;          /* --idle-timeout-s, IDLE_TIMEOUT_S */
	int64_t max_connections_per_ip;  /* --max-connections-per-ip; 0 = no limit */
	char revision[256];              /* --revision, REVISION: Hub branch, tag or commit */
	char hf_token[1024];             /* --hf-token, HF_TOKEN; "" = the usual fallbacks */
	char hub_cache[4096];            /* --huggingface-hub-cache, HF_HUB_CACHE; "" = default */
	char hf_endpoint[1024];          /* --hf-endpoint, HF_ENDPOINT */
	int hf_hub_offline;              /* --hf-hub-offline, HF_HUB_OFFLINE */
	char api_key[4096];              /* --api-key, API_KEY; "" = no key (secret) */
	char cors_allow_origin[4096];    /* --cors-allow-origin, comma-joined list; "" = any */
	char default_prompt_name[256];   /* --default-prompt-name, DEFAULT_PROMPT_NAME */
	char default_prompt[4096];       /* --default-prompt, DEFAULT_PROMPT */
	char served_model_name[4096];    /* --served-model-name; "" = model_id */
	char log_level[16];              /* --log-level, LOG_LEVEL */
	char task[64];                   /* --task, TASK (sentence-similarity routes POST /) */
	char tokenizer_files[16];        /* --tokenizer-files auto|tokenizer.json|classic */
	char layout_cache[4096];         /* --layout-cache, LAYOUT_CACHE; "" = default, "off" */
	int blas_kernel_choice;          /* --blas-kernel-choice, BLAS_KERNEL_CHOICE */
	char gemm_backend[16];           /* --gemm-backend auto|packed|openblas, GEMM_BACKEND */
};

void settings_defaults(struct settings *s);

/*
 * Applies, lowest precedence first: the file named by --config or
 * SMOLSERVE_CONFIG (lines `name = value`, name a flag without its dashes
 * or the variable's name, `#` comments), the environment, then the flags
 * argv[0..argc) (positional arguments are an error). 0, or -1 with err
 * naming the flag, variable or file:line and the bad value. `--help` is not
 * handled here.
 */
int settings_parse(struct settings *s, int argc, char **argv, char *err, size_t n_err);

/*
 * The variables text-embeddings-inference reads that smolserve does not
 * honour and that are set in this environment: up to n_out names into out
 * (static strings), returns how many there are. A variable some settings
 * row reads is honoured, so the list shrinks as rows are added.
 */
size_t settings_unhonoured_env(const char **out, size_t n_out);

/* Writes the flag table (flag, variable, default, meaning) to f. */
#include <stdio.h>
void settings_usage(FILE *f);

/*
 * Writes an example settings file to f: a header saying the format and the
 * precedence, then for every setting a settings file may hold (all but
 * --config) its meaning, flag and variable, and `#name = default`, commented
 * out, so the file as written changes nothing. `smolserve --print-config`
 * prints it; the Debian package installs it as /etc/smolserve/smolserve.conf
 * (generated at build time from this table, so it lists every setting). Any
 * thread; f is borrowed.
 */
void settings_write_example(FILE *f);

#endif
