/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model source (see model_source.h): settings to hub_opts, with
 * huggingface_hub's defaults for what the settings leave empty (the cache
 * folder, the token), and the log lines of a download.
 */
#include "model_source.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "status.h"

/* bytes as "612 B", "12.3 kB", "45.1 MB", "1.2 GB" into out. */
static const char *human(double bytes, char *out, size_t n)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	int u = 0;
	while (bytes >= 1000.0 && u < 4) {
		bytes /= 1000.0;
		u++;
	}
	snprintf(out, n, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
	return out;
}

/* One log line per progress report: readable numbers in the message, the
 * exact ones as fields (for --json-output). */
static void on_progress(void *data, const struct hub_progress *p)
{
	(void)data;
	double rate = p->seconds > 0 ? (double)p->done_bytes / p->seconds : 0.0;
	double pct =
	    p->total_bytes > 0 ? 100.0 * (double)p->done_bytes / (double)p->total_bytes : 0.0;
	char done[32], total[32], speed[32], f_bytes[24], f_total[24], f_pct[16], f_rate[24],
	    f_secs[24];
	human((double)p->done_bytes, done, sizeof(done));
	human((double)p->total_bytes, total, sizeof(total));
	human(rate, speed, sizeof(speed));
	snprintf(f_bytes, sizeof(f_bytes), "%lld", (long long)p->done_bytes);
	snprintf(f_total, sizeof(f_total), "%lld", (long long)p->total_bytes);
	snprintf(f_pct, sizeof(f_pct), "%.1f", pct);
	snprintf(f_rate, sizeof(f_rate), "%.0f", rate);
	snprintf(f_secs, sizeof(f_secs), "%.3f", p->seconds);
	const char *fields[] = {"file",    p->file,       "bytes",
	                        f_bytes,   "total_bytes", f_total,
	                        "percent", f_pct,         "bytes_per_second",
	                        f_rate,    "seconds",     f_secs};
	size_t n_fields = sizeof(fields) / sizeof(fields[0]) / 2;
	if (p->finished)
		log_event(LOG_INFO, fields, n_fields, "downloaded %s: %s in %.1f s (%s/s)", p->file,
		          done, p->seconds, speed);
	else if (p->total_bytes > 0)
		log_event(LOG_INFO, fields, n_fields, "downloading %s: %s of %s (%.0f%%), %s/s",
		          p->file, done, total, pct, speed);
	else
		log_event(LOG_INFO, fields, n_fields, "downloading %s: %s, %s/s", p->file, done,
		          speed);
}

static void on_note(void *data, const char *text)
{
	(void)data;
	log_info("%s", text);
}

int model_source_load(const struct settings *c, const _Atomic int *cancel, struct model **out,
                      struct model_source *src, char *err, size_t n_err)
{
	char cache[4096], token[1024], endpoint[1024];
	*out = NULL;
	if (c->model_id[0] == '\0')
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "--model-id (MODEL_ID) is required: a model folder or a Hugging "
		                   "Face Hub repository id (org/name)");
	if (c->hub_cache[0] != '\0')
		snprintf(cache, sizeof(cache), "%s", c->hub_cache);
	else if (hub_default_cache_dir(cache, sizeof(cache)) != 0)
		cache[0] = '\0'; /* hub_resolve says so if a Hub id needs it */
	if (c->hf_token[0] != '\0')
		snprintf(token, sizeof(token), "%s", c->hf_token);
	else
		hub_default_token(token, sizeof(token));
	snprintf(endpoint, sizeof(endpoint), "%s", c->hf_endpoint);
	for (size_t n = strlen(endpoint); n > 0 && endpoint[n - 1] == '/'; n--)
		endpoint[n - 1] = '\0';
	struct hub_opts ho = {.endpoint = endpoint,
	                      .cache_dir = cache,
	                      .revision = c->revision,
	                      .token = token,
	                      .offline = c->hf_hub_offline,
	                      .on_progress = on_progress,
	                      .on_note = on_note,
	                      .data = (void *)c,
	                      .cancel = cancel};
	int rc = hub_resolve(c->model_id, &ho, src->dir, sizeof(src->dir), src->commit, err, n_err);
	if (rc != 0)
		return rc;
	struct model_opts mo = {.pooling_set = c->pooling[0] != '\0',
	                        .pooling =
	                            strcmp(c->pooling, "cls") == 0 ? POOLING_CLS : POOLING_MEAN};
	tokenizer_source_parse(c->tokenizer_files, &mo.tokenizer_source); /* checked by settings */
	char layout[4096] = "";
	if (strcmp(c->layout_cache, "off") == 0)
		layout[0] = '\0';
	else if (c->layout_cache[0] != '\0')
		snprintf(layout, sizeof(layout), "%s", c->layout_cache);
	else if (layout_cache_default_dir(layout, sizeof(layout)) != 0)
		layout[0] = '\0'; /* no HOME: no cache */
	mo.layout_cache_dir = layout;
	return model_load(src->dir, &mo, out, err, n_err);
}
