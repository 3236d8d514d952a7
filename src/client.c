/* libcurl client for the CLI verbs that ask pyrometerd: one easy handle per client, GETs into a
 * bounded in-memory buffer, failures classified as "unreachable" (nothing listening) or "transfer"
 * (reached but TLS/timeout/reset), and the one-line messages the verbs print. */
#define _GNU_SOURCE /* asprintf */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "client.h"
#include "cmd.h"

struct client {
	CURL *h;
	char *server;
	char *userpwd;
	long timeout_s;
	client_progress_fn progress;
	void *progress_ctx;
	double start;
};

struct sink {
	char *buf;
	size_t len, cap;
	bool too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "host:port" -> "http://host:port"; only http and https; no trailing '/'. */
static char *normalize_server(const char *s)
{
	const char *sep = strstr(s, "://");
	char *url;
	size_t n;

	if (!*s)
		return errno = EINVAL, NULL;
	if (sep) {
		size_t slen = sep - s;

		if (!((slen == 4 && !strncasecmp(s, "http", 4)) || (slen == 5 && !strncasecmp(s, "https", 5))) ||
		    !sep[3])
			return errno = EINVAL, NULL;
		url = strdup(s);
	} else if (asprintf(&url, "http://%s", s) < 0) {
		url = NULL;
	}
	if (!url)
		return errno = ENOMEM, NULL;
	n = strlen(url);
	while (n > (size_t)(strstr(url, "://") - url) + 3 && url[n - 1] == '/')
		url[--n] = 0;
	return url;
}

int client_new(const struct client_opts *o, struct client **out)
{
	const char *server = o->server;
	struct client *c;
	int err = -ENOMEM;

	if (!server || !*server)
		server = getenv(CLIENT_ENV_SERVER);
	if (!server || !*server)
		server = CLIENT_DEFAULT_SERVER;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->server = normalize_server(server);
	if (!c->server) {
		err = -errno;
		goto fail;
	}
	c->h = curl_easy_init();
	if (!c->h)
		goto fail;
	if (o->user && !(c->userpwd = strdup(o->user)))
		goto fail;
	c->timeout_s = o->timeout_s ? o->timeout_s : CLIENT_DEFAULT_TIMEOUT_S;
	c->progress = o->progress;
	c->progress_ctx = o->progress_ctx;

	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, "pyrometer/" PYROMETER_VERSION);
	curl_easy_setopt(c->h, CURLOPT_ACCEPT_ENCODING, NULL);
	if (o->cacert)
		curl_easy_setopt(c->h, CURLOPT_CAINFO, o->cacert);
	if (o->insecure) {
		curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->userpwd) {
		curl_easy_setopt(c->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c->h, CURLOPT_USERPWD, c->userpwd);
	}
	*out = c;
	return 0;
fail:
	client_free(c);
	return err;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c->server);
	free(c->userpwd);
	free(c);
}

const char *client_server(const struct client *c)
{
	return c->server;
}

void client_set_timeout(struct client *c, long timeout_s)
{
	c->timeout_s = timeout_s;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb;

	if (s->len + n + 1 > CLIENT_MAX_BODY) {
		s->too_big = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		char *nb;

		while (cap < s->len + n + 1)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (!nb)
			return 0;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = 0;
	return n;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct client *c = ctx;

	c->progress(mono_s() - c->start, c->progress_ctx);
	return 0;
}

static int classify(struct client *c, CURLcode rc, const struct sink *s, enum client_fail *fail)
{
	curl_off_t connect_us = 0;

	*fail = CLIENT_TRANSFER;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		*fail = CLIENT_UNREACHABLE;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*fail = CLIENT_UNREACHABLE;
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		/* no TCP connection within the connect timeout: nothing answering there */
		curl_easy_getinfo(c->h, CURLINFO_CONNECT_TIME_T, &connect_us);
		if (!connect_us)
			*fail = CLIENT_UNREACHABLE;
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
		return s->too_big ? -EFBIG : -ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	default:
		return -EIO;
	}
}

int client_get(struct client *c, const char *path, struct client_resp *r, enum client_fail *fail,
	       char *reason, size_t reasonlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct sink s = {};
	const char *ct = NULL;
	char *url = NULL;
	CURLcode rc;
	int err;

	memset(r, 0, sizeof(*r));
	*fail = CLIENT_OK;
	if (reasonlen)
		*reason = 0;
	if (asprintf(&url, "%s%s", c->server, path) < 0)
		return -ENOMEM;
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, errbuf);
	if (c->progress) {
		curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, c);
		curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
	}
	c->start = mono_s();
	rc = curl_easy_perform(c->h);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		err = classify(c, rc, &s, fail);
		if (reasonlen)
			snprintf(reason, reasonlen, "%s",
				 err == -EFBIG ? "answer larger than the client accepts"
					       : *errbuf ? errbuf : curl_easy_strerror(rc));
		goto fail;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c->h, CURLINFO_CONTENT_TYPE, &ct);
	if (!s.buf && !(s.buf = calloc(1, 1))) {
		err = -ENOMEM;
		goto fail;
	}
	if (ct && !(r->content_type = strdup(ct))) {
		err = -ENOMEM;
		goto fail;
	}
	r->body = s.buf;
	r->len = s.len;
	free(url);
	return 0;
fail:
	if (err == -ENOMEM && *fail == CLIENT_OK)
		*fail = CLIENT_TRANSFER;
	if (err == -ENOMEM && reasonlen && !*reason)
		snprintf(reason, reasonlen, "out of memory");
	free(s.buf);
	free(url);
	client_resp_free(r);
	return err;
}

void client_resp_free(struct client_resp *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->content_type);
	memset(r, 0, sizeof(*r));
}

char *client_escape(struct client *c, const char *s)
{
	char *e = curl_easy_escape(c->h, s, 0), *copy;

	if (!e)
		return NULL;
	copy = strdup(e);
	curl_free(e);
	return copy;
}

/* ---- messages ------------------------------------------------------------------------------ */

void client_fail_msg(enum client_fail fail, const char *server, const char *reason, char *out, size_t outlen)
{
	if (fail == CLIENT_UNREACHABLE)
		snprintf(out, outlen, "cannot reach pyrometerd at %s: %s (is it running?)", server, reason);
	else
		snprintf(out, outlen, "request to pyrometerd at %s failed: %s", server, reason);
}

/* Copies the first line of text, keeping printable characters only, at most max bytes. */
static void copy_line(char *out, size_t outlen, const char *s, size_t len, size_t max)
{
	size_t j = 0;

	for (size_t i = 0; i < len && i < max && s[i] != '\n' && j + 1 < outlen; i++)
		out[j++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (outlen)
		out[j] = 0;
}

void client_error_msg(const struct client_resp *r, char *out, size_t outlen)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL, *e;
	char line[200];
	size_t n;

	if (tok && r->body && r->len)
		o = json_tokener_parse_ex(tok, r->body, (int)(r->len > (1u << 20) ? 1u << 20 : r->len));
	if (o && json_object_object_get_ex(o, "error", &e) && json_object_is_type(e, json_type_string)) {
		const char *t = json_object_get_string(e);

		copy_line(out, outlen, t, strlen(t), 1000);
	} else {
		n = snprintf(out, outlen, "pyrometerd answered HTTP %ld", r->status);
		copy_line(line, sizeof(line), r->body ? r->body : "", r->len, sizeof(line) - 1);
		while (*line && isspace((unsigned char)line[strlen(line) - 1]))
			line[strlen(line) - 1] = 0;
		if (*line && n < outlen)
			snprintf(out + n, outlen - n, ": %s", line);
	}
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
}

/* ---- CLI edge -------------------------------------------------------------------------------- */

int client_opt(struct client_opts *o, int opt, const char *arg)
{
	char *url;
	long v;

	switch (opt) {
	case CLIENT_OPT_SERVER:
		url = normalize_server(arg);
		if (!url) {
			fprintf(stderr, "pyrometer: invalid --server URL '%s' (want HOST:PORT, http://... or https://...)\n",
				arg);
			return -EINVAL;
		}
		free(url);
		o->server = arg;
		return 1;
	case CLIENT_OPT_CACERT:
		o->cacert = arg;
		return 1;
	case CLIENT_OPT_INSECURE:
		o->insecure = true;
		return 1;
	case CLIENT_OPT_USER:
		if (!strchr(arg, ':')) {
			fprintf(stderr, "pyrometer: --user wants USER:PASS, got '%s'\n", arg);
			return -EINVAL;
		}
		o->user = arg;
		return 1;
	case CLIENT_OPT_TIMEOUT:
		if (cmd_parse_long(arg, 1, 86400, &v)) {
			fprintf(stderr, "pyrometer: --timeout must be 1..86400 seconds, got '%s'\n", arg);
			return -EINVAL;
		}
		o->timeout_s = v;
		o->timeout_set = true;
		return 1;
	default:
		return 0;
	}
}

struct client *client_open(const struct client_opts *o)
{
	struct client *c = NULL;
	int err = client_new(o, &c);

	if (err == -EINVAL)
		fprintf(stderr, "pyrometer: invalid server URL '%s' in $%s (want HOST:PORT, http://... or https://...)\n",
			getenv(CLIENT_ENV_SERVER), CLIENT_ENV_SERVER);
	else if (err)
		fprintf(stderr, "pyrometer: failed to set up the HTTP client: %s\n", strerror(-err));
	return err ? NULL : c;
}

void client_report(struct client *c, enum client_fail fail, const char *reason, const struct client_resp *r)
{
	char msg[1536];

	if (r)
		client_error_msg(r, msg, sizeof(msg));
	else
		client_fail_msg(fail, c->server, reason, msg, sizeof(msg));
	fprintf(stderr, "pyrometer: %s\n", msg);
}

int client_get_json(struct client *c, const char *path, json_object **out, char **body)
{
	struct client_resp r;
	enum client_fail fail;
	char reason[CURL_ERROR_SIZE + 64];
	json_object *o;

	*out = NULL;
	if (body)
		*body = NULL;
	if (client_get(c, path, &r, &fail, reason, sizeof(reason)) < 0) {
		client_report(c, fail, reason, NULL);
		return 1;
	}
	if (r.status != 200) {
		client_report(c, fail, reason, &r);
		client_resp_free(&r);
		return 1;
	}
	o = json_tokener_parse(r.body);
	if (!o) {
		fprintf(stderr, "pyrometer: pyrometerd at %s sent invalid JSON for %s\n", c->server, path);
		client_resp_free(&r);
		return 1;
	}
	*out = o;
	if (body) {
		*body = r.body;
		r.body = NULL;
	}
	client_resp_free(&r);
	return 0;
}
