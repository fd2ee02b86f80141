/*
 * The model source (see model_source.h): settings to hub_opts, with
 * huggingface_hub's defaults for what the settings leave empty (the cache
 * folder, the token), and the log lines of a download.
 */
#include "model_source.h"

#include <stdio.h>
#include <string.h>

#include "status.h"

/* s as the inside of a JSON string into out (n bytes), cut if need be. */
static const char *json_escaped(const char *s, char *out, size_t n)
{
	size_t k = 0;
	for (; *s && k + 7 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[k++] = '\\';
			out[k++] = (char)c;
		} else if (c < 0x20) {
			k += (size_t)snprintf(out + k, n - k, "\\u%04x", c);
		} else {
			out[k++] = (char)c;
		}
	}
	out[k] = '\0';
	return out;
}

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

static void on_progress(void *data, const struct hub_progress *p)
{
	const struct settings *c = data;
	double rate = p->seconds > 0 ? (double)p->done_bytes / p->seconds : 0.0;
	double pct =
	    p->total_bytes > 0 ? 100.0 * (double)p->done_bytes / (double)p->total_bytes : 0.0;
	char file[600], done[32], total[32], speed[32];
	human((double)p->done_bytes, done, sizeof(done));
	human((double)p->total_bytes, total, sizeof(total));
	human(rate, speed, sizeof(speed));
	if (c->json_output)
		fprintf(stderr,
		        "{\"level\":\"info\",\"message\":\"%s\",\"file\":\"%s\",\"bytes\":%lld,"
		        "\"total_bytes\":%lld,\"percent\":%.1f,\"bytes_per_second\":%.0f,"
		        "\"seconds\":%.3f}\n",
		        p->finished ? "downloaded" : "downloading",
		        json_escaped(p->file, file, sizeof(file)), (long long)p->done_bytes,
		        (long long)p->total_bytes, pct, rate, p->seconds);
	else if (p->finished)
		fprintf(stderr, "smolserve: downloaded %s: %s in %.1f s (%s/s)\n", p->file, done,
		        p->seconds, speed);
	else if (p->total_bytes > 0)
		fprintf(stderr, "smolserve: downloading %s: %s of %s (%.0f%%), %s/s\n", p->file,
		        done, total, pct, speed);
	else
		fprintf(stderr, "smolserve: downloading %s: %s, %s/s\n", p->file, done, speed);
}

static void on_note(void *data, const char *text)
{
	const struct settings *c = data;
	char esc[2048];
	if (c->json_output)
		fprintf(stderr, "{\"level\":\"info\",\"message\":\"%s\"}\n",
		        json_escaped(text, esc, sizeof(esc)));
	else
		fprintf(stderr, "smolserve: %s\n", text);
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
	return model_load(src->dir, &mo, out, err, n_err);
}
