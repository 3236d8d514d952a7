/* Unit tests for the output formats (src/fmt_*.c) over one small hand-built profile: exact folded
 * text, speedscope JSON parsed back with json-c, pprof gunzipped and unpacked with the generated
 * protobuf-c code, and the SVG flame graph's frames, escaping and tag balance. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <zlib.h>

#include "profile.h"
#include "profile.pb-c.h"

#define PERIOD 10000000ull

enum { F_MAIN, F_WORK3, F_IDLE, F_SYS, F_TRUNC, F_ODD, F_XML, F_WORK5, NFRAMES };

struct fixture {
	struct profile *p;
	uint32_t id[NFRAMES];
};

static const uint32_t stacks[][4] = {
	/* n, frames... */
	{ 2, F_MAIN, F_WORK3 },        { 3, F_MAIN, F_WORK3, F_SYS }, { 2, F_MAIN, F_IDLE },
	{ 1, F_TRUNC },                { 2, F_MAIN, F_ODD },          { 1, F_XML },
	{ 2, F_MAIN, F_WORK3 },        { 2, F_MAIN, F_WORK5 },
};
static const uint64_t values[] = { 4, 3, 2, 1, 5, 1, 2, 1 };
#define TOTAL 19

static struct profile *build(enum prof_unit unit, struct fixture *fx)
{
	struct profile *p = prof_new(unit, PERIOD);

	assert_non_null(p);
	fx->id[F_MAIN] = (uint32_t)prof_frame_id(p, "main", "/app/m.py", 10, PROF_FRAME_PYTHON);
	fx->id[F_WORK3] = (uint32_t)prof_frame_id(p, "work", "/app/w.py", 3, PROF_FRAME_PYTHON);
	fx->id[F_IDLE] = (uint32_t)prof_frame_id(p, "idle", "/app/w.py", 0, PROF_FRAME_PYTHON);
	fx->id[F_SYS] = (uint32_t)prof_frame_id(p, "do_syscall_64", "", 0, PROF_FRAME_KERNEL);
	fx->id[F_TRUNC] = (uint32_t)prof_frame_id(p, "[truncated]", "", 0, PROF_FRAME_MARKER);
	fx->id[F_ODD] = (uint32_t)prof_frame_id(p, "a;b\nc\\d", "/lib/x.so", 0, PROF_FRAME_NATIVE);
	fx->id[F_XML] = (uint32_t)prof_frame_id(p, "<T&U>\"'", "", 0, PROF_FRAME_NATIVE);
	fx->id[F_WORK5] = (uint32_t)prof_frame_id(p, "work", "/app/w.py", 5, PROF_FRAME_PYTHON);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		uint32_t ids[3];

		for (uint32_t j = 0; j < stacks[i][0]; j++)
			ids[j] = fx->id[stacks[i][1 + j]];
		assert_int_equal(prof_add(p, ids, stacks[i][0], values[i]), 0);
	}
	prof_set_time(p, 1700000000000000000ull, 5000000000ull);
	fx->p = p;
	return p;
}

struct mem {
	char *buf;
	size_t len;
	FILE *f;
};

static FILE *mem_open(struct mem *m)
{
	m->buf = NULL;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
	return m->f;
}

static char *mem_close(struct mem *m)
{
	fclose(m->f);
	return m->buf;
}

/* Runs a writer (which writes to `out`) into m; evaluates to the NUL-terminated bytes. */
#define CAPTURE(m, call)                                                                            \
	({                                                                                          \
		FILE *out = mem_open(&(m));                                                         \
		assert_int_equal((call), 0);                                                        \
		mem_close(&(m));                                                                    \
	})

/* ---- folded --------------------------------------------------------------------------------- */

static void test_folded_exact(void **state)
{
	struct fixture fx;
	struct profile *p = build(PROF_UNIT_SAMPLES, &fx);
	struct mem m;
	char *text = CAPTURE(m, fmt_folded(p, out));

	assert_string_equal(text,
			    "<T&U>\"' 1\n"
			    "[truncated] 1\n"
			    "main (/app/m.py:10);a\\x3bb\\nc\\\\d 5\n"
			    "main (/app/m.py:10);idle (/app/w.py) 2\n"
			    "main (/app/m.py:10);work (/app/w.py:3) 6\n"
			    "main (/app/m.py:10);work (/app/w.py:3);do_syscall_64 3\n"
			    "main (/app/m.py:10);work (/app/w.py:5) 1\n");
	free(text);
	prof_free(p);
}

static void test_folded_merges_lookalike_stacks(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 0);
	uint32_t a = (uint32_t)prof_frame_id(p, "read", "/lib/libc.so", 0, PROF_FRAME_NATIVE);
	uint32_t b = (uint32_t)prof_frame_id(p, "read", "", 0, PROF_FRAME_KERNEL);
	struct mem m;
	char *text;

	assert_int_equal(prof_add(p, &a, 1, 2), 0);
	assert_int_equal(prof_add(p, &b, 1, 3), 0);
	text = CAPTURE(m, fmt_folded(p, out));
	assert_string_equal(text, "read 5\n");
	free(text);
	prof_free(p);
}

static void test_folded_empty(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 0);
	struct mem m;
	char *text = CAPTURE(m, fmt_folded(p, out));

	assert_int_equal(m.len, 0);
	free(text);
	prof_free(p);
}

/* ---- speedscope ----------------------------------------------------------------------------- */

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void test_speedscope_parses(void **state)
{
	struct fixture fx;
	struct profile *p = build(PROF_UNIT_SAMPLES, &fx);
	struct mem m;
	char *text = CAPTURE(m, fmt_speedscope(p, "unit <test>", out));
	struct json_object *root = json_tokener_parse(text), *frames, *prof, *samples, *weights, *f;
	uint64_t sum = 0;

	assert_non_null(root);
	assert_string_equal(json_object_get_string(get(root, "$schema")),
			    "https://www.speedscope.app/file-format-schema.json");
	assert_string_equal(json_object_get_string(get(root, "name")), "unit <test>");
	frames = get(get(root, "shared"), "frames");
	assert_int_equal(json_object_array_length(frames), NFRAMES);
	f = json_object_array_get_idx(frames, fx.id[F_WORK3]);
	assert_string_equal(json_object_get_string(get(f, "name")), "work");
	assert_string_equal(json_object_get_string(get(f, "file")), "/app/w.py");
	assert_int_equal(json_object_get_int(get(f, "line")), 3);
	f = json_object_array_get_idx(frames, fx.id[F_IDLE]);
	assert_false(json_object_object_get_ex(f, "line", NULL));
	f = json_object_array_get_idx(frames, fx.id[F_ODD]);
	assert_string_equal(json_object_get_string(get(f, "name")), "a;b\nc\\d");

	assert_int_equal(json_object_array_length(get(root, "profiles")), 1);
	prof = json_object_array_get_idx(get(root, "profiles"), 0);
	assert_string_equal(json_object_get_string(get(prof, "type")), "sampled");
	assert_string_equal(json_object_get_string(get(prof, "unit")), "none");
	assert_int_equal(json_object_get_int64(get(prof, "endValue")), TOTAL);
	samples = get(prof, "samples");
	weights = get(prof, "weights");
	assert_int_equal(json_object_array_length(samples), prof_nstacks(p));
	assert_int_equal(json_object_array_length(weights), prof_nstacks(p));
	for (size_t i = 0; i < prof_nstacks(p); i++) {
		const struct prof_stack *s = prof_stack_at(p, i);
		struct json_object *st = json_object_array_get_idx(samples, i);

		assert_int_equal(json_object_array_length(st), s->nframes);
		for (uint32_t j = 0; j < s->nframes; j++) /* root first */
			assert_int_equal(json_object_get_int(json_object_array_get_idx(st, j)),
					 s->frames[j]);
		assert_int_equal(json_object_get_int64(json_object_array_get_idx(weights, i)), s->value);
		sum += (uint64_t)json_object_get_int64(json_object_array_get_idx(weights, i));
	}
	assert_int_equal(sum, TOTAL);
	json_object_put(root);
	free(text);
	prof_free(p);
}

static void test_speedscope_units(void **state)
{
	static const struct {
		enum prof_unit unit;
		const char *want;
	} cases[] = { { PROF_UNIT_NANOSECONDS, "nanoseconds" }, { PROF_UNIT_BYTES, "bytes" } };

	for (size_t i = 0; i < 2; i++) {
		struct fixture fx;
		struct profile *p = build(cases[i].unit, &fx);
		struct mem m;
		char *text = CAPTURE(m, fmt_speedscope(p, NULL, out));
		struct json_object *root = json_tokener_parse(text);

		assert_non_null(root);
		assert_string_equal(json_object_get_string(get(json_object_array_get_idx(
						get(root, "profiles"), 0), "unit")), cases[i].want);
		json_object_put(root);
		free(text);
		prof_free(p);
	}
}

/* ---- pprof ---------------------------------------------------------------------------------- */

static Perftools__Profiles__Profile *pprof_roundtrip(const struct profile *p)
{
	struct mem mem;
	size_t cap = 1 << 20;
	char *gz = CAPTURE(mem, fmt_pprof(p, out));
	size_t len = mem.len;
	uint8_t *raw = malloc(cap);
	z_stream zs = { 0 };
	Perftools__Profiles__Profile *msg;

	assert_true(len > 18);
	assert_int_equal((uint8_t)gz[0], 0x1f); /* gzip magic, not a bare zlib stream */
	assert_int_equal((uint8_t)gz[1], 0x8b);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (uint8_t *)gz;
	zs.avail_in = (uInt)len;
	zs.next_out = raw;
	zs.avail_out = (uInt)cap;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	msg = perftools__profiles__profile__unpack(NULL, zs.total_out, raw);
	inflateEnd(&zs);
	assert_non_null(msg);
	free(raw);
	free(gz);
	return msg;
}

static const char *str_at(const Perftools__Profiles__Profile *m, int64_t i)
{
	assert_true(i >= 0 && (size_t)i < m->n_string_table);
	return m->string_table[i];
}

static const Perftools__Profiles__Function *loc_function(const Perftools__Profiles__Profile *m,
							  uint64_t loc_id)
{
	for (size_t i = 0; i < m->n_location; i++) {
		if (m->location[i]->id != loc_id)
			continue;
		assert_int_equal(m->location[i]->n_line, 1);
		for (size_t j = 0; j < m->n_function; j++)
			if (m->function[j]->id == m->location[i]->line[0]->function_id)
				return m->function[j];
	}
	fail_msg("location %llu has no function", (unsigned long long)loc_id);
	return NULL;
}

static void test_pprof_roundtrip_cpu(void **state)
{
	struct fixture fx;
	struct profile *p = build(PROF_UNIT_SAMPLES, &fx);
	Perftools__Profiles__Profile *m = pprof_roundtrip(p);
	int64_t sum0 = 0, sum1 = 0;

	assert_string_equal(m->string_table[0], "");
	assert_int_equal(m->n_sample_type, 2);
	assert_string_equal(str_at(m, m->sample_type[0]->type), "samples");
	assert_string_equal(str_at(m, m->sample_type[0]->unit), "count");
	assert_string_equal(str_at(m, m->sample_type[1]->type), "cpu");
	assert_string_equal(str_at(m, m->sample_type[1]->unit), "nanoseconds");
	assert_non_null(m->period_type);
	assert_string_equal(str_at(m, m->period_type->type), "cpu");
	assert_int_equal(m->period, PERIOD);
	assert_int_equal(m->time_nanos, 1700000000000000000ll);
	assert_int_equal(m->duration_nanos, 5000000000ll);
	assert_true(m->n_comment >= 1);
	assert_memory_equal(str_at(m, m->comment[0]), "pyrometer ", 10);
	assert_int_equal(m->n_location, NFRAMES);
	assert_int_equal(m->n_mapping, 1);
	assert_true(m->mapping[0]->has_functions);
	for (size_t i = 0; i < m->n_location; i++)
		assert_int_equal(m->location[i]->mapping_id, m->mapping[0]->id);
	/* work:3 and work:5 share one Function; every other frame has its own. */
	assert_int_equal(m->n_function, NFRAMES - 1);
	assert_int_equal(m->n_sample, prof_nstacks(p));
	for (size_t i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *s = m->sample[i];
		const struct prof_stack *st = prof_stack_at(p, i);

		assert_int_equal(s->n_value, 2);
		assert_int_equal(s->value[1], s->value[0] * (int64_t)PERIOD);
		assert_int_equal(s->n_location_id, st->nframes);
		for (uint32_t j = 0; j < st->nframes; j++) { /* leaf first */
			const struct prof_frame *f = prof_frame_at(p, st->frames[st->nframes - 1 - j]);
			const Perftools__Profiles__Function *fn = loc_function(m, s->location_id[j]);

			assert_string_equal(str_at(m, fn->name), f->name);
			assert_string_equal(str_at(m, fn->filename), f->file);
		}
		sum0 += s->value[0];
		sum1 += s->value[1];
	}
	assert_int_equal(sum0, TOTAL);
	assert_int_equal(sum1, TOTAL * (int64_t)PERIOD);
	perftools__profiles__profile__free_unpacked(m, NULL);
	prof_free(p);
}

static void test_pprof_bytes_and_drops(void **state)
{
	struct fixture fx;
	struct profile *p = build(PROF_UNIT_BYTES, &fx);
	Perftools__Profiles__Profile *m;
	uint32_t extra = fx.id[F_IDLE];
	int64_t sum = 0;
	int found = 0;

	prof_set_max_stacks(p, prof_nstacks(p));
	assert_int_equal(prof_add(p, &extra, 1, 77), -E2BIG);
	m = pprof_roundtrip(p);
	assert_int_equal(m->n_sample_type, 1);
	assert_string_equal(str_at(m, m->sample_type[0]->type), "space");
	assert_string_equal(str_at(m, m->sample_type[0]->unit), "bytes");
	for (size_t i = 0; i < m->n_sample; i++) {
		assert_int_equal(m->sample[i]->n_value, 1);
		sum += m->sample[i]->value[0];
	}
	assert_int_equal(sum, TOTAL);
	for (size_t i = 0; i < m->n_comment; i++)
		found |= !strcmp(str_at(m, m->comment[i]), "dropped 77 (stack cap)");
	assert_true(found);
	perftools__profiles__profile__free_unpacked(m, NULL);
	prof_free(p);
}

static void test_pprof_empty(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 0);
	Perftools__Profiles__Profile *m = pprof_roundtrip(p);

	assert_int_equal(m->n_sample, 0);
	assert_int_equal(m->n_sample_type, 1);
	assert_string_equal(m->string_table[0], "");
	perftools__profiles__profile__free_unpacked(m, NULL);
	prof_free(p);
}

/* ---- SVG flame graph ------------------------------------------------------------------------ */

/* Checks that every element opened is closed in order; skips <?..?>, comments and CDATA. */
static void assert_balanced(const char *s)
{
	char stack[64][32];
	int depth = 0, elements = 0;

	while ((s = strchr(s, '<'))) {
		if (!strncmp(s, "<?", 2)) {
			s = strstr(s, "?>");
		} else if (!strncmp(s, "<!--", 4)) {
			s = strstr(s, "-->");
		} else if (!strncmp(s, "<![CDATA[", 9)) {
			s = strstr(s, "]]>");
		} else {
			int closing = s[1] == '/';
			const char *name = s + 1 + closing, *gt = strchr(s, '>');
			size_t n = strcspn(name, " \t\n/>");

			assert_non_null(gt);
			assert_true(n > 0 && n < 32);
			if (closing) {
				assert_true(depth > 0);
				depth--;
				assert_true(strlen(stack[depth]) == n && !strncmp(stack[depth], name, n));
			} else if (gt[-1] != '/') {
				assert_true(depth < 64);
				memcpy(stack[depth], name, n);
				stack[depth++][n] = '\0';
			}
			elements++;
			s = gt;
		}
		assert_non_null(s);
		s++;
	}
	assert_int_equal(depth, 0);
	assert_true(elements > 10);
}

static int count(const char *s, const char *needle)
{
	int n = 0;

	for (; (s = strstr(s, needle)); s += strlen(needle))
		n++;
	return n;
}

/* The fill of the frame whose title starts with `label` is dominated by channel r, g or b. */
static void assert_fill(const char *svg, const char *label, char channel)
{
	char needle[64];
	const char *t, *fill;
	int r, g, b, want, o1, o2;

	snprintf(needle, sizeof(needle), "<title>%s", label);
	t = strstr(svg, needle);
	assert_non_null(t);
	fill = strstr(t, "fill=\"rgb(");
	assert_non_null(fill);
	assert_int_equal(sscanf(fill, "fill=\"rgb(%d,%d,%d)", &r, &g, &b), 3);
	want = channel == 'r' ? r : channel == 'g' ? g : b;
	o1 = channel == 'r' ? g : r;
	o2 = channel == 'b' ? g : b;
	assert_true(want > o1 && want > o2);
}

static void test_svg_frames(void **state)
{
	struct fixture fx;
	struct profile *p = build(PROF_UNIT_SAMPLES, &fx);
	struct mem m;
	char *svg = CAPTURE(m, fmt_flamegraph_svg(p, "CPU <prod>", out));

	assert_memory_equal(svg, "<?xml", 5);
	assert_balanced(svg);
	/* Tree nodes: all, <T&U>, [truncated], main, and main's children a;b.., idle, work:3
	 * (with do_syscall_64 on top), work:5. */
	assert_int_equal(count(svg, "<g class=\"f\""), 9);
	assert_non_null(strstr(svg, "<title>all \u2014 19 samples (100.00%)</title>"));
	assert_non_null(strstr(svg, "<title>main (/app/m.py:10) \u2014 17 samples (89.47%)</title>"));
	assert_non_null(strstr(svg, "<title>work (/app/w.py:3) \u2014 9 samples (47.37%)</title>"));
	assert_non_null(strstr(svg, "<title>do_syscall_64 \u2014 3 samples (15.79%)</title>"));
	assert_non_null(strstr(svg, "<title>work (/app/w.py:5) \u2014 1 samples (5.26%)</title>"));
	assert_non_null(strstr(svg, "CPU &lt;prod&gt;"));
	assert_non_null(strstr(svg, "<title>&lt;T&amp;U&gt;&quot;&apos; \u2014 1 samples"));
	assert_null(strstr(svg, "<T&U>"));
	assert_non_null(strstr(svg, "<title>a;b?c\\d \u2014 5 samples"));
	/* Kinds get distinct colour families: Python green, kernel blue, native red. */
	assert_fill(svg, "main (", 'g');
	assert_fill(svg, "work (", 'g');
	assert_fill(svg, "do_syscall_64 ", 'b');
	assert_fill(svg, "a;b?c", 'r');
	assert_non_null(strstr(svg, "onload=\"init()\""));
	assert_non_null(strstr(svg, "function zoom("));
	assert_non_null(strstr(svg, ">Reset zoom</text>"));
	free(svg);
	prof_free(p);
}

static void test_svg_root_at_bottom_and_widths(void **state)
{
	struct fixture fx;
	struct profile *p = build(PROF_UNIT_SAMPLES, &fx);
	struct mem m;
	char *svg = CAPTURE(m, fmt_flamegraph_svg(p, NULL, out));
	const char *all = strstr(svg, "<title>all "), *sys = strstr(svg, "<title>do_syscall_64 ");
	double ay, sy, aw, sw;

	assert_non_null(all);
	assert_non_null(sys);
	assert_int_equal(sscanf(strstr(all, "<rect"), "<rect x=\"%*f\" y=\"%lf\" width=\"%lf\"", &ay, &aw), 2);
	assert_int_equal(sscanf(strstr(sys, "<rect"), "<rect x=\"%*f\" y=\"%lf\" width=\"%lf\"", &sy, &sw), 2);
	assert_true(ay > sy); /* root below its descendants */
	assert_true(aw > 1179.9 && aw < 1180.1);
	assert_true(sw > aw * 3 / 19 - 0.01 && sw < aw * 3 / 19 + 0.01);
	free(svg);
	prof_free(p);
}

static void test_svg_drops_narrow_frames(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_NANOSECONDS, 0);
	uint32_t big = (uint32_t)prof_frame_id(p, "big", "", 0, PROF_FRAME_NATIVE);
	uint32_t tiny = (uint32_t)prof_frame_id(p, "tiny", "", 0, PROF_FRAME_NATIVE);
	struct mem m;
	char *svg;

	assert_int_equal(prof_add(p, &big, 1, 10000000), 0);
	assert_int_equal(prof_add(p, &tiny, 1, 3), 0);
	svg = CAPTURE(m, fmt_flamegraph_svg(p, NULL, out));
	assert_non_null(strstr(svg, "<title>big \u2014 10000000 ns"));
	assert_null(strstr(svg, "tiny"));
	assert_non_null(strstr(svg, "<title>all \u2014 10000003 ns (100.00%)"));
	free(svg);
	prof_free(p);
}

static void test_svg_rect_cap(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 0);
	char name[16];
	struct mem m;
	char *svg;

	/* 60100 two-frame stacks: 120201 rects at the first threshold, over the 100000 cap. */
	prof_set_max_stacks(p, 100000);
	for (int i = 0; i < 60100; i++) {
		uint32_t ids[2];

		snprintf(name, sizeof(name), "f%d", i);
		ids[0] = (uint32_t)prof_frame_id(p, name, "", 0, PROF_FRAME_NATIVE);
		snprintf(name, sizeof(name), "g%d", i);
		ids[1] = (uint32_t)prof_frame_id(p, name, "", 0, PROF_FRAME_NATIVE);
		assert_int_equal(prof_add(p, ids, 2, i < 100 ? 1000 : 1), 0);
	}
	svg = CAPTURE(m, fmt_flamegraph_svg(p, NULL, out));
	/* The threshold rises until only the wide stacks (two rects each) and the root remain. */
	assert_int_equal(count(svg, "<g class=\"f\""), 201);
	assert_non_null(strstr(svg, "<title>g99 \u2014 1000 samples"));
	assert_null(strstr(svg, "<title>g100 "));
	free(svg);
	prof_free(p);
}

static void test_svg_empty(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 0);
	struct mem m;
	char *svg = CAPTURE(m, fmt_flamegraph_svg(p, "empty", out));

	assert_balanced(svg);
	assert_int_equal(count(svg, "<g class=\"f\""), 1);
	assert_null(strstr(svg, "nan"));
	free(svg);
	prof_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded_exact),
		cmocka_unit_test(test_folded_merges_lookalike_stacks),
		cmocka_unit_test(test_folded_empty),
		cmocka_unit_test(test_speedscope_parses),
		cmocka_unit_test(test_speedscope_units),
		cmocka_unit_test(test_pprof_roundtrip_cpu),
		cmocka_unit_test(test_pprof_bytes_and_drops),
		cmocka_unit_test(test_pprof_empty),
		cmocka_unit_test(test_svg_frames),
		cmocka_unit_test(test_svg_root_at_bottom_and_widths),
		cmocka_unit_test(test_svg_drops_narrow_frames),
		cmocka_unit_test(test_svg_rect_cap),
		cmocka_unit_test(test_svg_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
