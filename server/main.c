/* SPDX-License-Identifier: Apache-2.0 */
/*
 * smolserve's entry point: subcommand dispatch, --help, --version,
 * --print-config, and the OpenBLAS kernel choice that has to happen before
 * anything else runs.
 *
 * OpenBLAS picks its kernels from the CPU model when the library loads; a
 * build older than the CPU falls back to generic SSE3 kernels. When the
 * user has not set OPENBLAS_CORETYPE (and --blas-kernel-choice is on),
 * smolserve compares OpenBLAS's pick with what CPUID says the CPU runs
 * (gemm_core_choose) and, if the pick is older, sets OPENBLAS_CORETYPE and
 * executes itself again, so the library loads with the right kernels. The
 * new process finds SMOLSERVE_OPENBLAS_REEXEC (the core OpenBLAS had
 * picked) and reports what happened instead of choosing again
 * (blas_kernels_choose, server/cpus.c).
 */
#include <stdio.h>
#include <string.h>

#include "cpus.h"
#include "gemm.h"
#include "log.h"
#include "run.h"
#include "service.h"
#include "settings.h"
#include "version.h"

/* Settings-driven set-up shared by serve and run: the kernel choice (may
 * re-exec) and the GEMM backend. 0, or 2 after printing why. */
static int set_up(const struct settings *s, char **argv)
{
	char err[256];
	blas_kernels_choose(argv, s->blas_kernel_choice);
	int b = gemm_backend_parse(s->gemm_backend);
	if (b < 0) {
		fprintf(stderr,
		        "smolserve: --gemm-backend: \"%s\" is not auto, packed, openblas or amx\n",
		        s->gemm_backend);
		return 2;
	}
	if (gemm_backend_set((enum gemm_backend)b, err, sizeof(err)) != 0) {
		fprintf(stderr, "smolserve: --gemm-backend: %s\n", err);
		return 2;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "smolserve %s: serve small Hugging Face transformer encoders\n\n"
	        "usage:\n"
	        "  smolserve serve --model DIR [options]\n"
	        "      serve the model over HTTP (TEI's API); `smolserve --model DIR` too\n"
	        "  smolserve run ROUTE --model DIR [options] < request.json\n"
	        "      answer one request (JSON on stdin) as the HTTP route ROUTE would;\n"
	        "      ROUTE is embed, embed_all, predict, tokenize, rerank, similarity,\n"
	        "      decode or v1/embeddings.\n"
	        "      exit 0: answered; 1: request rejected (error JSON on stdout);\n"
	        "      2: model or usage error (message on stderr)\n"
	        "  smolserve --version | -V | --help\n"
	        "  smolserve --print-config\n"
	        "      print an example settings file, every option commented out with\n"
	        "      its default (the Debian package's /etc/smolserve/smolserve.conf)\n\n"
	        "options (flag > environment variable > default):\n",
	        SMOLSERVE_VERSION);
	settings_usage(f);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		struct settings s;
		char err[512];
		settings_defaults(&s);
		if (settings_parse(&s, 0, NULL, err, sizeof(err)) != 0) {
			fprintf(stderr, "smolserve: %s\n", err);
			return 2;
		}
		blas_kernels_choose(argv, s.blas_kernel_choice);
		const struct gemm_core_report *r = gemm_core_report();
		printf("smolserve %s (commit %s; OpenBLAS %s kernels)\n", SMOLSERVE_VERSION,
		       SMOLSERVE_COMMIT, gemm_corename());
		printf("OpenBLAS kernel choice: %s: %s; packed GEMM kernel %s\n", r->action,
		       r->reason, gemm_kernel_name());
		return 0;
	}
	if (strcmp(argv[1], "--print-config") == 0) {
		settings_write_example(stdout);
		return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
	}
	if (strcmp(argv[1], "serve") == 0 || strncmp(argv[1], "--", 2) == 0) {
		static struct settings s; /* outlives the service */
		char err[512];
		int skip = strcmp(argv[1], "serve") == 0 ? 2 : 1;
		settings_defaults(&s);
		int rc = settings_parse(&s, argc - skip, argv + skip, err, sizeof(err));
		int level = log_level_from_name(s.log_level);
		log_init(s.json_output, level < 0 ? LOG_INFO : (enum log_level)level);
		if (rc != 0) {
			log_error("smolserve: %s", err);
			return 2;
		}
		if (set_up(&s, argv) != 0)
			return 2;
		return service_main(&s);
	}
	if (strcmp(argv[1], "run") == 0) {
		struct settings s;
		char err[512];
		if (argc < 3) {
			fprintf(stderr, "smolserve run: missing ROUTE (see --help)\n");
			return 2;
		}
		settings_defaults(&s);
		if (settings_parse(&s, argc - 3, argv + 3, err, sizeof(err)) != 0) {
			fprintf(stderr, "smolserve: %s\n", err);
			return 2;
		}
		if (set_up(&s, argv) != 0)
			return 2;
		return run_command(argv[2], &s, stdin, stdout);
	}
	fprintf(stderr, "smolserve: unknown command \"%s\" (see --help)\n", argv[1]);
	return 2;
}
