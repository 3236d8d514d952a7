/* Sample -> profile stack: pseudo-frames, Python frames outermost first, then kernel frames. */
#include <errno.h>
#include <stdio.h>

#include "samplefold.h"

static int add(struct profile *p, uint32_t *ids, size_t max, size_t *n, const char *name, const char *file,
	       int line, uint8_t kind)
{
	int id;

	if (*n >= max)
		return -E2BIG;
	id = prof_frame_id(p, name, file, line, kind);
	if (id < 0)
		return id;
	ids[(*n)++] = (uint32_t)id;
	return 0;
}

static int add_python(struct profile *p, struct pysym *sym, const struct py_target *t,
		      const struct pm_py_stack *st, uint32_t *ids, size_t max, size_t *n)
{
	int err = 0;

	if (st->flags & PM_STACK_TRUNCATED)
		err = add(p, ids, max, n, "[truncated]", "", 0, PROF_FRAME_MARKER);
	for (int i = (int)st->nframes - 1; i >= 0 && !err; i--) {
		struct pysym_frame f = { "<unknown>", "", 0 };

		if (t)
			pysym_resolve(sym, t, st->frames[i].code, st->frames[i].lasti, &f);
		err = add(p, ids, max, n, f.name, f.file, f.line, PROF_FRAME_PYTHON);
	}
	return err;
}

int samplefold(struct profile *p, struct pysym *sym, const struct ksyms *ks, const struct py_target *t,
	       const struct cpu_sample *s, const struct samplefold_opts *o, uint32_t *ids, size_t max)
{
	size_t n = 0;
	int err = 0;

	if (o && o->process_label)
		err = add(p, ids, max, &n, o->process_label, "", 0, PROF_FRAME_PROCESS);
	if (!err && o && o->thread_label)
		err = add(p, ids, max, &n, o->thread_label, "", 0, PROF_FRAME_THREAD);
	if (!err && s->stack && s->stack->nframes)
		err = add_python(p, sym, t, s->stack, ids, max, &n);
	else if (!err && s->key->py_stack_hash)
		err = add(p, ids, max, &n, "[unknown]", "", 0, PROF_FRAME_MARKER);
	else if (!err && !s->nkips && !s->nuips)
		err = add(p, ids, max, &n, "[no Python frame]", "", 0, PROF_FRAME_MARKER);
	for (int i = s->nuips - 1; i >= 0 && !err; i--) {
		char buf[32];

		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)s->uips[i]);
		err = add(p, ids, max, &n, buf, "", 0, PROF_FRAME_NATIVE);
	}
	for (int i = s->nkips - 1; i >= 0 && !err; i--) {
		const char *name = ksyms_lookup(ks, s->kips[i]);
		char buf[32];

		if (!name) {
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)s->kips[i]);
			name = buf;
		}
		err = add(p, ids, max, &n, name, "", 0, PROF_FRAME_KERNEL);
	}
	return err ? err : (int)n;
}
