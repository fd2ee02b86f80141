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

/* Writes the flag table (flag, variable, default, meaning) to f. */
#include <stdio.h>
void settings_usage(FILE *f);

#endif
