/* libFuzzer target: the INI loader, then resolution of what it loaded.
 * Anything may come in; an error is fine, a crash, leak or undefined
 * behaviour is not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/spec.h"

static char *env[] = { "PATH=/usr/bin:/bin", "HOME=/home/u", "TMPDIR=/tmp/u", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sfc_sources src = { 0 };
	struct sfc_error e = { 0 };
	struct sfc_spec ctx, spec;

	sfc_spec_init(&ctx);
	ctx.caller_env = env;
	ctx.home = "/home/u";
	ctx.cwd = "/home/u/p";
	if (sfc_config_load_buffer(&src, "fuzz.ini", (const char *)data, size, &ctx, &e) == 0) {
		/* resolve what [default] chose, as a run would */
		sfc_spec_init(&spec);
		spec.caller_env = env;
		spec.home = "/home/u";
		spec.cwd = "/home/u/p";
		if (sfc_spec_resolve(&spec, &src, &e) == 0)
			for (int k = 0; k < SFC_K__MAX; k++)
				free(sfc_spec_value_string(&spec, k));
		spec.caller_env = NULL;
		spec.home = spec.cwd = NULL;
		sfc_spec_free(&spec);
	} else if (!strchr(e.msg, ':')) {
		abort(); /* every error names its place */
	}
	sfc_sources_clear(&src);
	return 0;
}
