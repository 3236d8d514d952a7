/* speedscope JSON output (https://www.speedscope.app/file-format-schema.json): every interned frame
 * in shared.frames (index = frame id) and one "sampled" profile whose samples are frame-index
 * arrays, root first, with the stack values as weights. Built with json-c. */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "profile.h"

#ifndef PYROMETER_VERSION
#define PYROMETER_VERSION "unknown"
#endif

static const char *speedscope_unit(enum prof_unit u)
{
	switch (u) {
	case PROF_UNIT_NANOSECONDS:
		return "nanoseconds";
	case PROF_UNIT_BYTES:
		return "bytes";
	default:
		return "none";
	}
}

/* json_object_object_add/array_add take ownership; on failure the child must be freed here. */
static int obj_put(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int arr_put(struct json_object *a, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_array_add(a, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *frame_json(const struct prof_frame *f)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (obj_put(o, "name", json_object_new_string(f->name)) ||
	    (f->file[0] && obj_put(o, "file", json_object_new_string(f->file))) ||
	    (f->line > 0 && obj_put(o, "line", json_object_new_int(f->line)))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *shared_json(const struct profile *p)
{
	struct json_object *shared = json_object_new_object(), *frames = json_object_new_array();

	if (!shared || !frames)
		goto fail;
	for (uint32_t id = 0; id < prof_nframes(p); id++)
		if (arr_put(frames, frame_json(prof_frame_at(p, id))))
			goto fail;
	if (obj_put(shared, "frames", frames)) {
		frames = NULL;
		goto fail;
	}
	return shared;
fail:
	json_object_put(frames);
	json_object_put(shared);
	return NULL;
}

static struct json_object *stack_json(const struct prof_stack *s)
{
	struct json_object *a = json_object_new_array_ext((int)s->nframes);

	if (!a)
		return NULL;
	for (uint32_t i = 0; i < s->nframes; i++)
		if (arr_put(a, json_object_new_int64(s->frames[i]))) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

static struct json_object *profile_json(const struct profile *p, const char *name)
{
	struct json_object *prof = json_object_new_object();
	struct json_object *samples = json_object_new_array(), *weights = json_object_new_array();
	int err;

	if (!prof || !samples || !weights)
		goto fail;
	for (size_t i = 0; i < prof_nstacks(p); i++) {
		const struct prof_stack *s = prof_stack_at(p, i);

		if (arr_put(samples, stack_json(s)) || arr_put(weights, json_object_new_uint64(s->value)))
			goto fail;
	}
	err = obj_put(prof, "type", json_object_new_string("sampled")) ||
	      obj_put(prof, "name", json_object_new_string(name)) ||
	      obj_put(prof, "unit", json_object_new_string(speedscope_unit(prof_unit(p)))) ||
	      obj_put(prof, "startValue", json_object_new_int(0)) ||
	      obj_put(prof, "endValue", json_object_new_uint64(prof_total(p)));
	if (err)
		goto fail;
	/* From here the object owns the arrays, whether or not the add succeeds. */
	err = obj_put(prof, "samples", samples);
	samples = NULL;
	err = err || obj_put(prof, "weights", weights);
	weights = NULL;
	if (err)
		goto fail;
	return prof;
fail:
	json_object_put(samples);
	json_object_put(weights);
	json_object_put(prof);
	return NULL;
}

static struct json_object *file_json(const struct profile *p, const char *name)
{
	struct json_object *root = json_object_new_object(), *profiles = json_object_new_array();
	struct json_object *shared = shared_json(p), *prof = profile_json(p, name);

	if (!root || !profiles || !shared || !prof)
		goto fail;
	if (arr_put(profiles, prof)) {
		prof = NULL;
		goto fail;
	}
	prof = NULL;
	if (obj_put(root, "$schema",
		    json_object_new_string("https://www.speedscope.app/file-format-schema.json")))
		goto fail;
	if (obj_put(root, "shared", shared)) {
		shared = NULL;
		goto fail;
	}
	shared = NULL;
	if (obj_put(root, "profiles", profiles)) {
		profiles = NULL;
		goto fail;
	}
	profiles = NULL;
	if (obj_put(root, "name", json_object_new_string(name)) ||
	    obj_put(root, "activeProfileIndex", json_object_new_int(0)) ||
	    obj_put(root, "exporter", json_object_new_string("pyrometer " PYROMETER_VERSION)))
		goto fail;
	return root;
fail:
	json_object_put(prof);
	json_object_put(shared);
	json_object_put(profiles);
	json_object_put(root);
	return NULL;
}

int fmt_speedscope(const struct profile *p, const char *name, FILE *out)
{
	struct json_object *root = file_json(p, name && *name ? name : "pyrometer");
	const char *text;
	int err = 0;

	if (!root)
		return -ENOMEM;
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		err = -ENOMEM;
	else if (fputs(text, out) == EOF || fputc('\n', out) == EOF || fflush(out) == EOF)
		err = -EIO;
	json_object_put(root);
	return err;
}
