#include "core/oci.h"

#if ENABLE_FEATURE_IMAGES
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

const char *sfc_json_str(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int64_t sfc_json_int(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_int64(v);
}

bool sfc_json_bool(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

void sfc_json_add_str(json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

json_object *sfc_json_from_strv(const struct sfc_strv *v)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < v->n; i++)
		json_object_array_add(a, json_object_new_string(v->v[i]));
	return a;
}

void sfc_json_to_strv(json_object *a, struct sfc_strv *out)
{
	if (a && json_object_is_type(a, json_type_array)) {
		size_t n = json_object_array_length(a);
		for (size_t i = 0; i < n; i++) {
			json_object *it = json_object_array_get_idx(a, i);
			if (json_object_is_type(it, json_type_string))
				sfc_strv_push(out, json_object_get_string(it));
		}
	} else if (a && json_object_is_type(a, json_type_object)) {
		json_object_object_foreach(a, k, v)
		{
			if (json_object_is_type(v, json_type_string))
				sfc_strv_push_owned(out, sfc_xasprintf("%s=%s", k, json_object_get_string(v)));
		}
	}
}

void sfc_json_image_config(json_object *c, struct sfc_image_config *out)
{
	const char *s;
	json_object *v;

	sfc_json_to_strv(json_object_object_get(c, "Env"), &out->env);
	if ((s = sfc_json_str(c, "WorkingDir")) && *s)
		out->workdir = sfc_xstrdup(s);
	if ((s = sfc_json_str(c, "User")) && *s)
		out->user = sfc_xstrdup(s);
	if (json_object_object_get_ex(c, "Entrypoint", &v))
		sfc_json_to_strv(v, &out->entrypoint);
	if (json_object_object_get_ex(c, "Cmd", &v))
		sfc_json_to_strv(v, &out->cmd);
	sfc_json_to_strv(json_object_object_get(c, "Labels"), &out->labels);
	if ((s = sfc_json_str(c, "os")))
		out->os = sfc_xstrdup(s);
	if ((s = sfc_json_str(c, "architecture")))
		out->arch = sfc_xstrdup(s);
}

const char *sfc_oci_arch(void)
{
	static const char *const map[][2] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm" },	 { "i686", "386" },
		{ "i386", "386" },     { "ppc64le", "ppc64le" }, { "s390x", "s390x" }, { "riscv64", "riscv64" },
	};
	static struct utsname u;
	if (uname(&u) < 0)
		return "amd64";
	for (size_t i = 0; i < SFC_ARRAY_SIZE(map); i++)
		if (!strcmp(u.machine, map[i][0]))
			return map[i][1];
	return u.machine;
}

static void desc_free(struct sfc_oci_desc *d)
{
	free(d->media_type);
	free(d->digest);
	memset(d, 0, sizeof(*d));
}

void sfc_oci_manifest_free(struct sfc_oci_manifest *m)
{
	desc_free(&m->config);
	for (size_t i = 0; i < m->nlayers; i++)
		desc_free(&m->layers[i]);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

static int parse_desc(json_object *o, struct sfc_oci_desc *d, const char *what, struct sfc_error *e)
{
	const char *dg = sfc_json_str(o, "digest"), *mt = sfc_json_str(o, "mediaType");

	memset(d, 0, sizeof(*d));
	/* The digest names a file in blobs/: anything but sha256:HEX could
	 * walk out of the layout ("sha256:../../x"). */
	if (!sfc_digest_valid(dg))
		return sfc_err(e, 0, "%s: digest '%s' is not sha256:<64 hex digits>", what, dg ? dg : "(none)");
	d->digest = sfc_xstrdup(dg);
	d->media_type = sfc_xstrdup(mt ? mt : "");
	d->size = sfc_json_int(o, "size", -1);
	return 0;
}

static json_object *parse_obj(const char *json, const char *what, struct sfc_error *e)
{
	json_object *o = json ? json_tokener_parse(json) : NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		sfc_err(e, 0, "%s is not a JSON object", what);
		return NULL;
	}
	return o;
}

bool sfc_oci_layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.diff.tar",
		"",
	};
	for (size_t i = 0; i < SFC_ARRAY_SIZE(ok); i++)
		if (!strcmp(mt, ok[i]))
			return true;
	return false;
}

int sfc_oci_parse_manifest(const char *json, struct sfc_oci_manifest *m, struct sfc_error *e)
{
	json_object *o = parse_obj(json, "the image manifest", e), *c, *ls;
	int r = 0;

	memset(m, 0, sizeof(*m));
	if (!o)
		return -EINVAL;
	if (!json_object_object_get_ex(o, "config", &c) || (r = parse_desc(c, &m->config, "manifest config", e)) < 0) {
		if (!r)
			r = sfc_err(e, 0, "the image manifest has no config");
		goto out;
	}
	if (!json_object_object_get_ex(o, "layers", &ls) || !json_object_is_type(ls, json_type_array)) {
		r = sfc_err(e, 0, "the image manifest has no layers list");
		goto out;
	}
	m->nlayers = json_object_array_length(ls);
	m->layers = sfc_xcalloc(m->nlayers ? m->nlayers : 1, sizeof(*m->layers));
	for (size_t i = 0; i < m->nlayers; i++) {
		if ((r = parse_desc(json_object_array_get_idx(ls, i), &m->layers[i], "manifest layer", e)) < 0)
			goto out;
		if (!sfc_oci_layer_type_ok(m->layers[i].media_type)) {
			r = sfc_err(e, 0, "layer %s has media type %s, which sefaca cannot unpack (encrypted or foreign "
					  "layers are not supported)", m->layers[i].digest, m->layers[i].media_type);
			goto out;
		}
	}
out:
	json_object_put(o);
	if (r < 0)
		sfc_oci_manifest_free(m);
	return r;
}

static bool is_index_type(const char *mt)
{
	return mt && (!strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
		      !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

static int resolve(json_object *idx, const char *tag, sfc_oci_loader load, void *data, struct sfc_oci_manifest *out,
		   int depth, struct sfc_error *e)
{
	json_object *ms, *pick = NULL;
	size_t n, matches = 0;
	struct sfc_oci_desc d;
	char *blob;
	int r;

	if (depth > 4)
		return sfc_err(e, 0, "image indexes nested too deeply");
	if (!json_object_object_get_ex(idx, "manifests", &ms) || !json_object_is_type(ms, json_type_array) ||
	    !(n = json_object_array_length(ms)))
		return sfc_err(e, 0, "the image index lists no manifests");
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(ms, i), *ann, *plat;
		const char *ref = NULL;
		if (json_object_object_get_ex(m, "annotations", &ann))
			ref = sfc_json_str(ann, "org.opencontainers.image.ref.name");
		if (depth == 0 && tag) {
			/* the ref name is a tag, or a full NAME:TAG */
			const char *c = ref ? strrchr(ref, ':') : NULL;
			if (!ref || (strcmp(ref, tag) && !(c && !strcmp(c + 1, tag))))
				continue;
		} else if (depth > 0 && json_object_object_get_ex(m, "platform", &plat)) {
			const char *os = sfc_json_str(plat, "os"), *arch = sfc_json_str(plat, "architecture");
			if ((os && strcmp(os, "linux")) || (arch && strcmp(arch, sfc_oci_arch())))
				continue;
		} else if (depth == 0 && n > 1 && !(ref && !strcmp(ref, "latest"))) {
			continue;
		}
		if (!pick)
			pick = m;
		matches++;
	}
	if (!pick && depth == 0 && !tag && n > 1)
		return sfc_err(e, 0, "the image layout holds %zu images: name one with oci:DIR:TAG", n);
	if (!pick && depth == 0 && tag)
		return sfc_err(e, ENOENT, "no image tagged '%s' in the layout", tag);
	if (!pick)
		return sfc_err(e, 0, "the image index has no manifest for linux/%s", sfc_oci_arch());
	if ((r = parse_desc(pick, &d, "index entry", e)) < 0)
		return r;
	if (!(blob = load(data, d.digest, e))) {
		desc_free(&d);
		return -EIO;
	}
	if (is_index_type(d.media_type)) {
		json_object *sub = parse_obj(blob, "a nested image index", e);
		r = sub ? resolve(sub, NULL, load, data, out, depth + 1, e) : -EINVAL;
		json_object_put(sub);
	} else {
		r = sfc_oci_parse_manifest(blob, out, e);
	}
	free(blob);
	desc_free(&d);
	(void)matches;
	return r;
}

int sfc_oci_resolve(const char *index_json, const char *tag, sfc_oci_loader load, void *data,
		    struct sfc_oci_manifest *out, struct sfc_error *e)
{
	json_object *o = parse_obj(index_json, "index.json", e);
	int r;

	memset(out, 0, sizeof(*out));
	if (!o)
		return -EINVAL;
	r = resolve(o, tag, load, data, out, 0, e);
	json_object_put(o);
	return r;
}

int sfc_oci_parse_config(const char *json, struct sfc_image_config *out, struct sfc_error *e)
{
	json_object *o = parse_obj(json, "the image config", e), *c;
	const char *os, *arch;

	memset(out, 0, sizeof(*out));
	if (!o)
		return -EINVAL;
	if (json_object_object_get_ex(o, "config", &c) && json_object_is_type(c, json_type_object))
		sfc_json_image_config(c, out);
	if ((os = sfc_json_str(o, "os")))
		out->os = sfc_xstrdup(os);
	if ((arch = sfc_json_str(o, "architecture")))
		out->arch = sfc_xstrdup(arch);
	json_object_put(o);
	return 0;
}

void sfc_docker_manifest_free(struct sfc_docker_manifest *m)
{
	free(m->config);
	sfc_strv_clear(&m->layers);
	sfc_strv_clear(&m->tags);
	memset(m, 0, sizeof(*m));
}

int sfc_docker_parse_manifest(const char *json, const char *tag, struct sfc_docker_manifest *out,
			      struct sfc_error *e)
{
	json_object *a = json ? json_tokener_parse(json) : NULL, *pick = NULL;
	size_t n;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!a || !json_object_is_type(a, json_type_array) || !(n = json_object_array_length(a))) {
		json_object_put(a);
		return sfc_err(e, 0, "manifest.json of the docker archive is not a non-empty JSON array");
	}
	for (size_t i = 0; i < n && !pick; i++) {
		json_object *m = json_object_array_get_idx(a, i);
		struct sfc_strv tags = { 0 };
		sfc_json_to_strv(json_object_object_get(m, "RepoTags"), &tags);
		if (!tag || sfc_strv_contains(&tags, tag))
			pick = m;
		sfc_strv_clear(&tags);
	}
	if (!pick) {
		r = sfc_err(e, ENOENT, "no image tagged '%s' in the docker archive", tag);
		goto out;
	}
	if (!sfc_json_str(pick, "Config")) {
		r = sfc_err(e, 0, "manifest.json of the docker archive names no Config");
		goto out;
	}
	out->config = sfc_xstrdup(sfc_json_str(pick, "Config"));
	sfc_json_to_strv(json_object_object_get(pick, "Layers"), &out->layers);
	sfc_json_to_strv(json_object_object_get(pick, "RepoTags"), &out->tags);
out:
	json_object_put(a);
	if (r < 0)
		sfc_docker_manifest_free(out);
	return r;
}
#else
typedef int sfc_oci_unused; /* FEATURE_IMAGES off: nothing here */
#endif
