/* Unit tests: OCI index/manifest/config and docker manifest.json parsing,
 * image references and names (core/oci.c, core/image.c, core/store.c). */
#include <stdlib.h>
#include <string.h>

#include "autoconf.h"
#include "core/image.h"
#include "core/oci.h"
#include "core/sha256.h"
#include "core/store.h"
#include "unit.h"

#if ENABLE_FEATURE_IMAGES
#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define MT_M "application/vnd.oci.image.manifest.v1+json"

static const char *manifest_json =
	"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D2
	"\",\"size\":10},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D3
	"\",\"size\":5}]}";

static char *loader(void *data, const char *digest, struct sfc_error *e)
{
	const char *nested = data;
	if (!strcmp(digest, D1) && nested)
		return strdup(nested);
	if (!strcmp(digest, D1) || !strcmp(digest, "sha256:4444444444444444444444444444444444444444444444444444444444444444"))
		return strdup(manifest_json);
	sfc_err(e, 0, "no blob %s", digest);
	return NULL;
}

TEST(index_by_tag)
{
	struct sfc_error e = { 0 };
	struct sfc_oci_manifest m;
	const char *idx = "{\"manifests\":[{\"mediaType\":\"" MT_M "\",\"digest\":\"" D1
			  "\",\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}},"
			  "{\"mediaType\":\"" MT_M "\",\"digest\":\"sha256:4444444444444444444444444444444444444444444444444444444444444444\","
			  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}]}";

	CHECK(sfc_oci_resolve(idx, "v1", loader, NULL, &m, &e) == 0);
	CHECK_STR(m.config.digest, D2);
	CHECK(m.nlayers == 1);
	CHECK_STR(m.layers[0].digest, D3);
	sfc_oci_manifest_free(&m);
	/* no tag and several images: "latest" */
	CHECK(sfc_oci_resolve(idx, NULL, loader, NULL, &m, &e) == 0);
	sfc_oci_manifest_free(&m);
	CHECK(sfc_oci_resolve(idx, "nope", loader, NULL, &m, &e) < 0);
	CHECK(strstr(e.msg, "nope") != NULL);
}

TEST(nested_index_picks_platform)
{
	struct sfc_error e = { 0 };
	struct sfc_oci_manifest m;
	static char nested[1024];
	const char *idx = "{\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"" D1
			  "\"}]}";

	snprintf(nested, sizeof(nested),
		 "{\"manifests\":[{\"mediaType\":\"" MT_M "\",\"digest\":\"" D3
		 "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x-not-this\"}},"
		 "{\"mediaType\":\"" MT_M "\",\"digest\":\"sha256:4444444444444444444444444444444444444444444444444444444444444444\","
		 "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}}]}",
		 sfc_oci_arch());
	CHECK(sfc_oci_resolve(idx, NULL, loader, nested, &m, &e) == 0);
	CHECK_STR(m.config.digest, D2);
	sfc_oci_manifest_free(&m);
}

TEST(digests_that_walk_out_are_refused)
{
	struct sfc_error e = { 0 };
	struct sfc_oci_manifest m;
	const char *bad[] = {
		"{\"config\":{\"digest\":\"sha256:../../etc/passwd\"},\"layers\":[]}",
		"{\"config\":{\"digest\":\"" D2 "\"},\"layers\":[{\"digest\":\"sha256:/abs\"}]}",
		"{\"config\":{\"digest\":\"sha512:" "11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111" "\"},\"layers\":[]}",
		"{\"config\":{\"digest\":\"" D2 "\"},\"layers\":[{\"digest\":\"" D3 "\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+encrypted\"}]}",
		"[1,2]",
		"not json",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(sfc_oci_parse_manifest(bad[i], &m, &e) < 0);
		CHECK(e.msg[0]);
	}
	CHECK(sfc_digest_valid(D1));
	CHECK(!sfc_digest_valid("sha256:ABCD"));
	CHECK(!sfc_digest_valid("sha256:111111111111111111111111111111111111111111111111111111111111111/"));
}

TEST(config_fields)
{
	struct sfc_error e = { 0 };
	struct sfc_image_config c;
	const char *cfg = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"A=1\",\"PATH=/bin\"],"
			  "\"WorkingDir\":\"/w\",\"User\":\"app:staff\",\"Entrypoint\":[\"/e\"],\"Cmd\":[\"-x\",\"y\"],"
			  "\"Labels\":{\"k\":\"v\"}}}";

	CHECK(sfc_oci_parse_config(cfg, &c, &e) == 0);
	CHECK(c.env.n == 2);
	CHECK_STR(c.env.v[1], "PATH=/bin");
	CHECK_STR(c.workdir, "/w");
	CHECK_STR(c.user, "app:staff");
	CHECK(c.entrypoint.n == 1 && c.cmd.n == 2);
	CHECK_STR(c.labels.v[0], "k=v");
	CHECK_STR(c.os, "linux");
	sfc_image_config_free(&c);
	CHECK(sfc_oci_parse_config("{}", &c, &e) == 0 && !c.workdir && !c.env.n);
	sfc_image_config_free(&c);
}

TEST(docker_manifest)
{
	struct sfc_error e = { 0 };
	struct sfc_docker_manifest m;
	const char *j = "[{\"Config\":\"abc.json\",\"RepoTags\":[\"docker.io/library/bb:v1\"],\"Layers\":[\"l1.tar\",\"l2.tar\"]}]";

	CHECK(sfc_docker_parse_manifest(j, NULL, &m, &e) == 0);
	CHECK_STR(m.config, "abc.json");
	CHECK(m.layers.n == 2);
	sfc_docker_manifest_free(&m);
	CHECK(sfc_docker_parse_manifest("{}", NULL, &m, &e) < 0);
	CHECK(sfc_docker_parse_manifest("[{\"Layers\":[]}]", NULL, &m, &e) < 0);
}

TEST(references_and_names)
{
	struct sfc_error e = { 0 };
	struct sfc_imgref r;
	char *n;

	CHECK(sfc_imgref_parse("oci:/x/img:v2", &r, &e) == 0 && r.kind == SFC_REF_OCI);
	CHECK_STR(r.path, "/x/img");
	CHECK_STR(r.tag, "v2");
	sfc_imgref_free(&r);
	CHECK(sfc_imgref_parse("oci:./img", &r, &e) == 0 && !r.tag);
	sfc_imgref_free(&r);
	CHECK(sfc_imgref_parse("docker-archive:/a.tar", &r, &e) == 0 && r.kind == SFC_REF_DOCKER_ARCHIVE);
	sfc_imgref_free(&r);
	CHECK(sfc_imgref_parse("docker://busybox:1", &r, &e) == 0 && r.kind == SFC_REF_DOCKER);
	sfc_imgref_free(&r);
	CHECK(sfc_imgref_parse("host", &r, &e) == 0 && r.kind == SFC_REF_HOST);
	CHECK(sfc_imgref_parse("ubuntu:22.04", &r, &e) == 0 && r.kind == SFC_REF_NAME);
	sfc_imgref_free(&r);
	CHECK(sfc_imgref_parse("tar:", &r, &e) < 0);
	CHECK(sfc_imgref_parse("ftp://x/y", &r, &e) < 0);

	CHECK_STR((n = sfc_store_image_name("busybox")), "busybox:latest");
	free(n);
	CHECK_STR((n = sfc_store_image_name("docker.io/library/bb:v1")), "bb:v1");
	free(n);
	CHECK_STR((n = sfc_store_image_name("reg:5000/a/b:t")), "reg:5000/a/b:t");
	free(n);
	CHECK(!sfc_store_image_name_valid("../x"));
	CHECK(!sfc_store_image_name_valid("a//b"));
	CHECK(!sfc_store_image_name_valid("a b"));
	CHECK(!sfc_store_image_name_valid("x:"));
	CHECK(!sfc_store_image_name_valid(""));
}

static void sha(const void *d, size_t n, char out[65])
{
	struct sfc_sha256 c;
	sfc_sha256_init(&c);
	sfc_sha256_update(&c, d, n);
	sfc_sha256_final_hex(&c, out);
}

TEST(sha256_nist_vectors)
{
	char h[65];
	static char million[1000000];
	struct sfc_sha256 c;

	sha("", 0, h);
	CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha("abc", 3, h);
	CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	CHECK_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	sha("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    112, h);
	CHECK_STR(h, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	memset(million, 'a', sizeof(million));
	sha(million, sizeof(million), h);
	CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* the same, fed in odd pieces */
	sfc_sha256_init(&c);
	for (size_t i = 0; i < sizeof(million);) {
		size_t k = (i % 97) + 1;
		if (i + k > sizeof(million))
			k = sizeof(million) - i;
		sfc_sha256_update(&c, million + i, k);
		i += k;
	}
	sfc_sha256_final_hex(&c, h);
	CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
#endif

int main(void)
{
	unit_init("oci");
#if ENABLE_FEATURE_IMAGES
	RUN(index_by_tag);
	RUN(nested_index_picks_platform);
	RUN(digests_that_walk_out_are_refused);
	RUN(config_fields);
	RUN(docker_manifest);
	RUN(references_and_names);
	RUN(sha256_nist_vectors);
#else
	printf("SKIP unit/oci: FEATURE_IMAGES is not compiled in\n");
#endif
	return unit_failed_checks != 0;
}
