/* Prometheus text exposition writer: builds one /metrics page in memory, validating names and
 * escaping label values so that whatever the daemon observed (cmdlines, unit names) cannot
 * break the format. See include/expo.h for the contract. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expo.h"

struct expo {
	char *buf;
	size_t len, cap;
	int err;
	char **families; /* names begun on this page, to refuse duplicates */
	size_t nfamilies;
	const char *cur;  /* current family name (points into families[]) */
	enum expo_type cur_type;
};

struct expo *expo_new(void)
{
	return calloc(1, sizeof(struct expo));
}

static void free_families(struct expo *e)
{
	for (size_t i = 0; i < e->nfamilies; i++)
		free(e->families[i]);
	free(e->families);
	e->families = NULL;
	e->nfamilies = 0;
	e->cur = NULL;
}

void expo_free(struct expo *e)
{
	if (!e)
		return;
	free_families(e);
	free(e->buf);
	free(e);
}

void expo_reset(struct expo *e)
{
	free_families(e);
	e->len = 0;
	if (e->buf)
		e->buf[0] = '\0';
	e->err = 0;
}

static int fail(struct expo *e, int err)
{
	if (!e->err)
		e->err = err;
	return err;
}

static int reserve(struct expo *e, size_t more)
{
	size_t need = e->len + more + 1, cap;
	char *nb;

	if (need <= e->cap)
		return 0;
	cap = e->cap ? e->cap : 4096;
	while (cap < need)
		cap *= 2;
	nb = realloc(e->buf, cap);
	if (!nb)
		return fail(e, -ENOMEM);
	e->buf = nb;
	e->cap = cap;
	return 0;
}

static int put(struct expo *e, const char *s, size_t n)
{
	if (reserve(e, n) < 0)
		return -ENOMEM;
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = '\0';
	return 0;
}

static int puts_(struct expo *e, const char *s)
{
	return put(e, s, strlen(s));
}

static int putc_(struct expo *e, char c)
{
	return put(e, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, or a UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0; /* overlong, or beyond U+10FFFF */
		return 4;
	}
	return 0;
}

/* Appends s escaped for a HELP text (quote == false: \\ and \n) or a label value (quote ==
 * true: also \"). Bytes that are not UTF-8 become U+FFFD. */
static int put_escaped(struct expo *e, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq(p);
		int rc;

		if (*p == '\\')
			rc = put(e, "\\\\", 2);
		else if (*p == '\n')
			rc = put(e, "\\n", 2);
		else if (*p == '"' && quote)
			rc = put(e, "\\\"", 2);
		else if (n)
			rc = put(e, (const char *)p, n);
		else
			rc = put(e, "\xef\xbf\xbd", 3);
		if (rc < 0)
			return rc;
		p += n ? n : 1;
	}
	return 0;
}

bool expo_valid_metric_name(const char *name)
{
	if (!name || !*name)
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';

		if (!alpha && !(p != name && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

bool expo_valid_label_name(const char *name)
{
	if (!name || !*name || (name[0] == '_' && name[1] == '_'))
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

		if (!alpha && !(p != name && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

int expo_format_value(double v, char *buf, size_t len)
{
	int n;

	if (isnan(v))
		return snprintf(buf, len, "NaN");
	if (isinf(v))
		return snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	if (v == 0)
		return snprintf(buf, len, "0"); /* also -0.0 */
	if (v == nearbyint(v) && fabs(v) < 1e18)
		return snprintf(buf, len, "%.0f", v);
	/* Shortest of %.15g..%.17g that parses back to the same double. */
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, len, "%.*g", prec, v);
		if (prec == 17 || strtod(buf, NULL) == v)
			break;
	}
	return n;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *type_name(enum expo_type t)
{
	switch (t) {
	case EXPO_COUNTER: return "counter";
	case EXPO_GAUGE: return "gauge";
	case EXPO_HISTOGRAM: return "histogram";
	default: return "untyped";
	}
}

static int remember_family(struct expo *e, const char *name)
{
	char **nf, *copy;

	for (size_t i = 0; i < e->nfamilies; i++)
		if (strcmp(e->families[i], name) == 0)
			return fail(e, -EINVAL);
	if (e->nfamilies >= EXPO_MAX_FAMILIES)
		return fail(e, -E2BIG);
	nf = realloc(e->families, (e->nfamilies + 1) * sizeof(*nf));
	if (!nf)
		return fail(e, -ENOMEM);
	e->families = nf;
	copy = strdup(name);
	if (!copy)
		return fail(e, -ENOMEM);
	e->families[e->nfamilies++] = copy;
	e->cur = copy;
	return 0;
}

int expo_family(struct expo *e, const char *name, enum expo_type type, const char *help)
{
	int rc;

	if (e->err)
		return e->err;
	if (!expo_valid_metric_name(name) || type > EXPO_UNTYPED ||
	    (type == EXPO_COUNTER && !has_suffix(name, "_total")))
		return fail(e, -EINVAL);
	rc = remember_family(e, name);
	if (rc < 0)
		return rc;
	e->cur_type = type;
	if (help && *help) {
		if ((rc = puts_(e, "# HELP ")) || (rc = puts_(e, name)) || (rc = putc_(e, ' ')) ||
		    (rc = put_escaped(e, help, false)) || (rc = putc_(e, '\n')))
			return rc;
	}
	if ((rc = puts_(e, "# TYPE ")) || (rc = puts_(e, name)) || (rc = putc_(e, ' ')) ||
	    (rc = puts_(e, type_name(type))) || (rc = putc_(e, '\n')))
		return rc;
	return 0;
}

static int check_labels(struct expo *e, const struct expo_label *labels, size_t n)
{
	if (n > EXPO_MAX_LABELS || (n && !labels))
		return fail(e, -EINVAL);
	for (size_t i = 0; i < n; i++) {
		if (!expo_valid_label_name(labels[i].name) || !labels[i].value)
			return fail(e, -EINVAL);
		if (e->cur_type == EXPO_HISTOGRAM && strcmp(labels[i].name, "le") == 0)
			return fail(e, -EINVAL);
		for (size_t j = 0; j < i; j++)
			if (strcmp(labels[i].name, labels[j].name) == 0)
				return fail(e, -EINVAL);
	}
	return 0;
}

/* Writes "<family><suffix>{labels[,le="..."]} " — everything up to the value. */
static int put_series(struct expo *e, const char *suffix, const struct expo_label *labels,
		      size_t n, const char *le)
{
	int rc;

	if ((rc = puts_(e, e->cur)) || (rc = puts_(e, suffix)))
		return rc;
	if (n || le) {
		if ((rc = putc_(e, '{')))
			return rc;
		for (size_t i = 0; i < n; i++) {
			if ((i && (rc = putc_(e, ','))) || (rc = puts_(e, labels[i].name)) ||
			    (rc = put(e, "=\"", 2)) || (rc = put_escaped(e, labels[i].value, true)) ||
			    (rc = putc_(e, '"')))
				return rc;
		}
		if (le && ((n && (rc = putc_(e, ','))) || (rc = puts_(e, "le=\"")) ||
			   (rc = puts_(e, le)) || (rc = putc_(e, '"'))))
			return rc;
		if ((rc = putc_(e, '}')))
			return rc;
	}
	return putc_(e, ' ');
}

static int put_line_end(struct expo *e, const char *value)
{
	int rc;

	if ((rc = puts_(e, value)))
		return rc;
	return putc_(e, '\n');
}

static int check_scalar(struct expo *e, const struct expo_label *labels, size_t n)
{
	if (e->err)
		return e->err;
	if (!e->cur || e->cur_type == EXPO_HISTOGRAM)
		return fail(e, -EINVAL);
	return check_labels(e, labels, n);
}

int expo_value(struct expo *e, const struct expo_label *labels, size_t nlabels, double value)
{
	char num[64];
	int rc;

	if ((rc = check_scalar(e, labels, nlabels)))
		return rc;
	if (e->cur_type == EXPO_COUNTER && (isnan(value) || value < 0))
		return fail(e, -EINVAL);
	expo_format_value(value, num, sizeof(num));
	if ((rc = put_series(e, "", labels, nlabels, NULL)))
		return rc;
	return put_line_end(e, num);
}

int expo_value_u64(struct expo *e, const struct expo_label *labels, size_t nlabels, uint64_t value)
{
	char num[32];
	int rc;

	if ((rc = check_scalar(e, labels, nlabels)))
		return rc;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
	if ((rc = put_series(e, "", labels, nlabels, NULL)))
		return rc;
	return put_line_end(e, num);
}

static int check_bounds(const double *bounds, size_t n)
{
	if (n > EXPO_MAX_BUCKETS || (n && !bounds))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			return -EINVAL;
	}
	return 0;
}

int expo_histogram(struct expo *e, const struct expo_label *labels, size_t nlabels,
		   const double *bounds, const uint64_t *counts, size_t nbounds, double sum)
{
	char num[64], le[64];
	uint64_t cum = 0;
	int rc;

	if (e->err)
		return e->err;
	if (!e->cur || e->cur_type != EXPO_HISTOGRAM || !counts || check_bounds(bounds, nbounds))
		return fail(e, -EINVAL);
	if ((rc = check_labels(e, labels, nlabels)))
		return rc;
	for (size_t i = 0; i <= nbounds; i++) {
		cum += counts[i];
		if (i < nbounds)
			expo_format_value(bounds[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		snprintf(num, sizeof(num), "%llu", (unsigned long long)cum);
		if ((rc = put_series(e, "_bucket", labels, nlabels, le)) || (rc = put_line_end(e, num)))
			return rc;
	}
	expo_format_value(sum, num, sizeof(num));
	if ((rc = put_series(e, "_sum", labels, nlabels, NULL)) || (rc = put_line_end(e, num)))
		return rc;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)cum);
	if ((rc = put_series(e, "_count", labels, nlabels, NULL)) || (rc = put_line_end(e, num)))
		return rc;
	return 0;
}

const char *expo_data(const struct expo *e, size_t *len)
{
	if (e->err)
		return NULL;
	if (len)
		*len = e->len;
	return e->buf ? e->buf : "";
}

char *expo_steal(struct expo *e, size_t *len)
{
	char *b;

	if (e->err)
		return NULL;
	b = e->buf ? e->buf : strdup("");
	if (len)
		*len = b ? e->len : 0;
	e->buf = NULL;
	e->len = e->cap = 0;
	free_families(e);
	return b;
}

int expo_error(const struct expo *e)
{
	return e->err;
}
