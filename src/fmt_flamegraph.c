/* A standalone interactive SVG flame graph: stacks sorted by frame labels are swept left to right
 * (the classic "flow" merge) into one rect per tree node, root at the bottom, width by share,
 * colour by frame kind; embedded JavaScript adds hover details, click-to-zoom, reset and search. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define FG_WIDTH 1200
#define FG_PAD 10
#define FG_FRAME_H 16
#define FG_FONT 12
#define FG_CHAR_W (FG_FONT * 0.59)
#define FG_TOP 56    /* title and controls */
#define FG_BOTTOM 32 /* details line */
#define FG_MAX_RECTS 100000
#define FG_LABEL_MAX 4096

struct fg_rect {
	uint32_t depth;  /* 0 = the "all" root */
	int32_t frame;   /* representative frame id; -1 for the root */
	uint64_t start, value;
};

struct fg {
	const struct profile *p;
	char **labels;   /* per frame id */
	size_t *order;   /* stack indexes sorted by label sequence */
	struct fg_rect *rects;
	size_t nrects, rects_cap;
	uint32_t maxdepth;
};

/* ---- the flow merge ------------------------------------------------------------------------ */

static int stack_cmp(const void *a, const void *b, void *arg)
{
	const struct fg *g = arg;
	const struct prof_stack *x = prof_stack_at(g->p, *(const size_t *)a);
	const struct prof_stack *y = prof_stack_at(g->p, *(const size_t *)b);
	uint32_t n = x->nframes < y->nframes ? x->nframes : y->nframes;

	for (uint32_t i = 0; i < n; i++) {
		int c = strcmp(g->labels[x->frames[i]], g->labels[y->frames[i]]);

		if (c)
			return c;
	}
	return (x->nframes > y->nframes) - (x->nframes < y->nframes);
}

static int rect_push(struct fg *g, uint32_t depth, int32_t frame, uint64_t start, uint64_t value)
{
	if (g->nrects >= g->rects_cap) {
		size_t cap = g->rects_cap ? g->rects_cap * 2 : 256;
		struct fg_rect *r = realloc(g->rects, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		g->rects = r;
		g->rects_cap = cap;
	}
	g->rects[g->nrects++] = (struct fg_rect){ depth, frame, start, value };
	if (depth > g->maxdepth)
		g->maxdepth = depth;
	return 0;
}

/* Closes the open frames prev[from..n) at x (deepest first), keeping those at least min wide. */
static int flow_close(struct fg *g, const struct prof_stack *prev, uint32_t from,
		      const uint64_t *starts, uint64_t x, uint64_t min)
{
	for (uint32_t d = prev ? prev->nframes : 0; d-- > from;) {
		uint64_t v = x - starts[d];

		if (v >= min && rect_push(g, d + 1, (int32_t)prev->frames[d], starts[d], v))
			return -ENOMEM;
	}
	return 0;
}

static uint32_t common_prefix(const struct fg *g, const struct prof_stack *a,
			      const struct prof_stack *b)
{
	uint32_t n = 0;

	if (!a)
		return 0;
	while (n < a->nframes && n < b->nframes &&
	       !strcmp(g->labels[a->frames[n]], g->labels[b->frames[n]]))
		n++;
	return n;
}

static int flow(struct fg *g, uint32_t maxframes, uint64_t min)
{
	uint64_t *starts = calloc(maxframes ?: 1, sizeof(*starts)), x = 0;
	const struct prof_stack *prev = NULL;
	int err = -ENOMEM;

	g->nrects = 0;
	g->maxdepth = 0;
	if (!starts)
		return -ENOMEM;
	for (size_t i = 0; i < prof_nstacks(g->p); i++) {
		const struct prof_stack *s = prof_stack_at(g->p, g->order[i]);
		uint32_t common = common_prefix(g, prev, s);

		if (flow_close(g, prev, common, starts, x, min))
			goto cleanup;
		for (uint32_t d = common; d < s->nframes; d++)
			starts[d] = x;
		x += s->value;
		prev = s;
	}
	if (flow_close(g, prev, 0, starts, x, min) || rect_push(g, 0, -1, 0, x))
		goto cleanup;
	err = 0;
cleanup:
	free(starts);
	return err;
}

static int rect_cmp(const void *a, const void *b)
{
	const struct fg_rect *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return (x->start > y->start) - (x->start < y->start);
}

/* Rects for the whole profile, root first; narrow rects are dropped, more of them if the graph
 * would exceed FG_MAX_RECTS (their samples still count in their parents). */
static int fg_build(struct fg *g)
{
	const struct profile *p = g->p;
	uint64_t min = prof_total(p) / 100000;
	uint32_t maxframes = 0;
	int err;

	for (size_t i = 0; i < prof_nstacks(p); i++) {
		g->order[i] = i;
		if (prof_stack_at(p, i)->nframes > maxframes)
			maxframes = prof_stack_at(p, i)->nframes;
	}
	qsort_r(g->order, prof_nstacks(p), sizeof(*g->order), stack_cmp, g);
	for (;;) {
		err = flow(g, maxframes, min ?: 1);
		if (err || g->nrects <= FG_MAX_RECTS)
			break;
		min = min ? min * 2 : 2;
	}
	if (!err)
		qsort(g->rects, g->nrects, sizeof(*g->rects), rect_cmp);
	return err;
}

/* ---- SVG text ------------------------------------------------------------------------------- */

/* Length of the UTF-8 sequence starting at s, or 0 if it is cut short (a truncated label). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Writes at most maxchars code points of s, XML-escaped; longer text ends in "..". */
static void xml_put(FILE *out, const char *str, size_t maxchars)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t total = 0, chars = 0;

	for (const unsigned char *t = s; *t && utf8_len(t); t += utf8_len(t))
		total++;
	if (total > maxchars)
		maxchars = maxchars >= 2 ? maxchars - 2 : 0;
	for (size_t n; *s && (n = utf8_len(s)) && chars < maxchars; s += n, chars++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		default:
			/* XML 1.0 cannot carry control characters, not even as references. */
			if (*s < 0x20 || *s == 0x7f)
				fputc('?', out);
			else
				fwrite(s, 1, n, out);
		}
	}
	if (total > chars && chars)
		fputs("..", out);
}

static const char *unit_word(enum prof_unit u)
{
	return u == PROF_UNIT_NANOSECONDS ? "ns" : u == PROF_UNIT_BYTES ? "bytes" : "samples";
}

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Deterministic colour: the hue family says the kind, the name picks the shade. */
static void frame_color(const struct prof_frame *f, char *buf, size_t len)
{
	uint32_t h = f ? hash_name(f->name) : 0;
	double v1 = (h & 0xff) / 255.0, v2 = (h >> 8 & 0xff) / 255.0, v3 = (h >> 16 & 0xff) / 255.0;
	int r, gr, b;

	switch (f ? f->kind : PROF_FRAME_MARKER) {
	case PROF_FRAME_PYTHON: /* greens */
		r = 70 + 90 * v1, gr = 175 + 65 * v2, b = 60 + 50 * v3;
		break;
	case PROF_FRAME_NATIVE: /* reds and oranges */
		r = 210 + 45 * v1, gr = 70 + 120 * v2, b = 40 + 40 * v3;
		break;
	case PROF_FRAME_KERNEL: /* blues */
		r = 80 + 60 * v1, gr = 135 + 60 * v2, b = 210 + 45 * v3;
		break;
	case PROF_FRAME_THREAD:
	case PROF_FRAME_PROCESS: /* violets */
		r = 170 + 40 * v1, gr = 140 + 30 * v2, b = 210 + 40 * v3;
		break;
	default: /* markers and the root: greys */
		r = gr = b = 175 + 40 * v1;
		break;
	}
	snprintf(buf, len, "rgb(%d,%d,%d)", r, gr, b);
}

/* ---- the document --------------------------------------------------------------------------- */

/* Hover shows a frame's title in the details line; click zooms (ancestors stretch full width and
 * fade, everything outside the subtree hides); "Reset zoom" and Escape undo it. Query
 * parameters ?zoom=LABEL and ?search=REGEXP apply the same actions on load. */
static const char fg_script[] =
	"\"use strict\";\n"
	"var svg, frames, rootG, details, unzoomEl, matchedEl, W, PAD, CW, searching = null;\n"
	"function num(e, n) { return +e.getAttribute(n); }\n"
	"function label(g) {\n"
	"  var t = g.querySelector(\"title\").textContent, i = t.lastIndexOf(\" \\u2014 \");\n"
	"  return i < 0 ? t : t.substring(0, i);\n"
	"}\n"
	"function frameOf(e) {\n"
	"  for (; e && e !== svg; e = e.parentNode)\n"
	"    if (e.classList && e.classList.contains(\"f\")) return e;\n"
	"  return null;\n"
	"}\n"
	"function init() {\n"
	"  svg = document.documentElement;\n"
	"  W = num(svg, \"data-width\"); PAD = num(svg, \"data-pad\"); CW = num(svg, \"data-charw\");\n"
	"  frames = Array.prototype.slice.call(document.querySelectorAll(\"#frames > g\"));\n"
	"  rootG = frames[0];\n"
	"  details = document.getElementById(\"details\");\n"
	"  unzoomEl = document.getElementById(\"unzoom\");\n"
	"  matchedEl = document.getElementById(\"matched\");\n"
	"  var fr = document.getElementById(\"frames\");\n"
	"  fr.addEventListener(\"mouseover\", function (e) {\n"
	"    var g = frameOf(e.target);\n"
	"    if (g) details.textContent = g.querySelector(\"title\").textContent;\n"
	"  });\n"
	"  fr.addEventListener(\"mouseout\", function () { details.textContent = \" \"; });\n"
	"  fr.addEventListener(\"click\", function (e) { var g = frameOf(e.target); if (g) zoom(g); });\n"
	"  unzoomEl.addEventListener(\"click\", unzoom);\n"
	"  document.getElementById(\"search\").addEventListener(\"click\", function () {\n"
	"    var t = prompt(\"Search frames (regular expression):\", searching || \"\");\n"
	"    if (t !== null) search(t);\n"
	"  });\n"
	"  document.addEventListener(\"keydown\", function (e) {\n"
	"    if (e.key === \"Escape\") { unzoom(); search(\"\"); }\n"
	"  });\n"
	"  applyQuery();\n"
	"}\n"
	"function applyQuery() {\n"
	"  var q = new URLSearchParams(document.location.search), best = null;\n"
	"  if (q.has(\"search\")) search(q.get(\"search\"));\n"
	"  if (!q.has(\"zoom\")) return;\n"
	"  frames.forEach(function (g) {\n"
	"    if (label(g) === q.get(\"zoom\") && (!best || num(g, \"data-v\") > num(best, \"data-v\")))\n"
	"      best = g;\n"
	"  });\n"
	"  if (best) zoom(best);\n"
	"}\n"
	"function fitText(g, x, w) {\n"
	"  var t = g.querySelector(\"text\"), chars = Array.from(label(g)), n = Math.floor((w - 6) / CW);\n"
	"  t.setAttribute(\"x\", (x + 3).toFixed(2));\n"
	"  if (n < 3) t.textContent = \"\";\n"
	"  else if (chars.length <= n) t.textContent = chars.join(\"\");\n"
	"  else t.textContent = chars.slice(0, n - 2).join(\"\") + \"..\";\n"
	"}\n"
	"function place(g, x, w) {\n"
	"  var r = g.querySelector(\"rect\");\n"
	"  r.setAttribute(\"x\", x.toFixed(2));\n"
	"  r.setAttribute(\"width\", w.toFixed(2));\n"
	"  g.style.display = \"\";\n"
	"  fitText(g, x, w);\n"
	"}\n"
	"function zoom(node) {\n"
	"  var s = num(node, \"data-s\"), v = num(node, \"data-v\"), d = num(node, \"data-d\");\n"
	"  var scale = (W - 2 * PAD) / (v || 1);\n"
	"  frames.forEach(function (g) {\n"
	"    var gs = num(g, \"data-s\"), gv = num(g, \"data-v\"), gd = num(g, \"data-d\");\n"
	"    g.classList.remove(\"parent\");\n"
	"    if (gd < d && gs <= s && gs + gv >= s + v) {\n"
	"      place(g, PAD, W - 2 * PAD);\n"
	"      g.classList.add(\"parent\");\n"
	"    } else if (gd >= d && gs >= s && gs + gv <= s + v) {\n"
	"      place(g, PAD + (gs - s) * scale, gv * scale);\n"
	"    } else {\n"
	"      g.style.display = \"none\";\n"
	"    }\n"
	"  });\n"
	"  unzoomEl.classList.toggle(\"hide\", node === rootG);\n"
	"  if (node === rootG) svg.removeAttribute(\"data-zoom\");\n"
	"  else svg.setAttribute(\"data-zoom\", label(node));\n"
	"}\n"
	"function unzoom() { zoom(rootG); }\n"
	"function search(term) {\n"
	"  var re = null, ranges = [], sum = 0, end = -1, total = num(rootG, \"data-v\");\n"
	"  searching = term || null;\n"
	"  if (term) {\n"
	"    try { re = new RegExp(term); }\n"
	"    catch (e) { re = new RegExp(term.replace(/[.*+?^${}()|[\\]\\\\]/g, \"\\\\$&\")); }\n"
	"  }\n"
	"  frames.forEach(function (g) {\n"
	"    var r = g.querySelector(\"rect\");\n"
	"    if (!r.hasAttribute(\"data-fill\")) r.setAttribute(\"data-fill\", r.getAttribute(\"fill\"));\n"
	"    if (re && g !== rootG && re.test(label(g))) {\n"
	"      r.setAttribute(\"fill\", \"rgb(230,0,230)\");\n"
	"      ranges.push([num(g, \"data-s\"), num(g, \"data-s\") + num(g, \"data-v\")]);\n"
	"    } else {\n"
	"      r.setAttribute(\"fill\", r.getAttribute(\"data-fill\"));\n"
	"    }\n"
	"  });\n"
	"  /* nested matches count once: sum the union of the matched ranges */\n"
	"  ranges.sort(function (a, b) { return a[0] - b[0]; });\n"
	"  ranges.forEach(function (r) {\n"
	"    if (r[1] > end) { sum += r[1] - Math.max(r[0], end); end = r[1]; }\n"
	"  });\n"
	"  matchedEl.textContent = re ? \"Matched: \" + (100 * sum / (total || 1)).toFixed(2) + \"%\" : \" \";\n"
	"  if (re) svg.setAttribute(\"data-matched\", sum); else svg.removeAttribute(\"data-matched\");\n"
	"}\n";

static const char fg_style[] =
	"text { font-family: Verdana, 'DejaVu Sans', sans-serif; font-size: 12px; fill: #000; }\n"
	"#title { font-size: 17px; text-anchor: middle; }\n"
	"#unzoom, #search { cursor: pointer; fill: #1a4a8a; }\n"
	"#search, #matched { text-anchor: end; }\n"
	"#frames text { pointer-events: none; }\n"
	".f:hover rect { stroke: #000; stroke-width: 0.6; cursor: pointer; }\n"
	".parent { opacity: 0.55; }\n"
	".hide { display: none; }\n";

static void fg_header(FILE *out, const char *title, uint32_t height)
{
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%u\" "
		"viewBox=\"0 0 %d %u\" data-width=\"%d\" data-pad=\"%d\" data-charw=\"%.2f\" "
		"onload=\"init()\">\n",
		FG_WIDTH, height, FG_WIDTH, height, FG_WIDTH, FG_PAD, FG_CHAR_W);
	fprintf(out, "<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", fg_style);
	fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n", fg_script);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%u\" fill=\"#f6f6f2\"/>\n",
		FG_WIDTH, height);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"24\">", FG_WIDTH / 2);
	xml_put(out, title, 200);
	fprintf(out, "</text>\n<text id=\"unzoom\" class=\"hide\" x=\"%d\" y=\"24\">Reset zoom</text>\n",
		FG_PAD);
	fprintf(out, "<text id=\"search\" x=\"%d\" y=\"24\">Search</text>\n", FG_WIDTH - FG_PAD);
	fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%u\"> </text>\n", FG_WIDTH - FG_PAD,
		height - 12);
	fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%u\"> </text>\n", FG_PAD, height - 12);
}

static void fg_rect_out(FILE *out, const struct fg *g, const struct fg_rect *r, uint32_t height)
{
	const struct prof_frame *f = r->frame >= 0 ? prof_frame_at(g->p, (uint32_t)r->frame) : NULL;
	const char *label = f ? g->labels[r->frame] : "all";
	double total = prof_total(g->p) ? (double)prof_total(g->p) : 1.0, plot = FG_WIDTH - 2 * FG_PAD;
	double x = FG_PAD + (double)r->start / total * plot, w = (double)r->value / total * plot;
	double y = height - FG_BOTTOM - (double)(r->depth + 1) * FG_FRAME_H;
	long chars = (long)((w - 6) / FG_CHAR_W);
	char color[32];

	frame_color(f, color, sizeof(color));
	fprintf(out, "<g class=\"f\" data-s=\"%llu\" data-v=\"%llu\" data-d=\"%u\"><title>",
		(unsigned long long)r->start, (unsigned long long)r->value, r->depth);
	xml_put(out, label, SIZE_MAX);
	fprintf(out, " \u2014 %llu %s (%.2f%%)</title>", (unsigned long long)r->value,
		unit_word(prof_unit(g->p)), 100.0 * (double)r->value / total);
	fprintf(out, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>",
		x, y, w, FG_FRAME_H - 1, color);
	fprintf(out, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + FG_FRAME_H - 4.5);
	if (chars >= 3)
		xml_put(out, label, (size_t)chars);
	fputs("</text></g>\n", out);
}

static int fg_write(const struct fg *g, const char *title, FILE *out)
{
	uint32_t height = FG_TOP + (g->maxdepth + 1) * FG_FRAME_H + FG_BOTTOM;

	fg_header(out, title, height);
	fputs("<g id=\"frames\">\n", out);
	/* An empty profile still gets its (zero-width) root so the script has something to hold. */
	for (size_t i = 0; i < g->nrects; i++)
		fg_rect_out(out, g, &g->rects[i], height);
	fputs("</g>\n</svg>\n", out);
	if (fflush(out) == EOF || ferror(out))
		return -EIO;
	return 0;
}

int fmt_flamegraph_svg(const struct profile *p, const char *title, FILE *out)
{
	struct fg g = { .p = p };
	size_t nframes = prof_nframes(p);
	int err = -ENOMEM;

	g.labels = calloc(nframes ?: 1, sizeof(*g.labels));
	g.order = calloc(prof_nstacks(p) ?: 1, sizeof(*g.order));
	if (!g.labels || !g.order)
		goto cleanup;
	for (uint32_t id = 0; id < nframes; id++) {
		char buf[FG_LABEL_MAX];

		prof_frame_label(prof_frame_at(p, id), buf, sizeof(buf));
		g.labels[id] = strdup(buf);
		if (!g.labels[id])
			goto cleanup;
	}
	err = fg_build(&g);
	if (!err)
		err = fg_write(&g, title && *title ? title : "Flame Graph", out);
cleanup:
	if (g.labels)
		for (uint32_t id = 0; id < nframes; id++)
			free(g.labels[id]);
	free(g.labels);
	free(g.order);
	free(g.rects);
	return err;
}
