/* libFuzzer target: the shell-line parse of blocked_commands, and the
 * JSON string escaping of the audit record: whatever the bytes, the
 * output is one valid JSON string (no raw control byte, valid UTF-8, every
 * quote escaped), so no argument can forge a field or a line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/blocked.h"
#include "core/json.h"
#include "core/util.h"

/* A strict check of one JSON string literal, S[0..N). */
static int valid_json_string(const unsigned char *s, size_t n)
{
	size_t i = 1;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return 0;
	while (i < n - 1) {
		unsigned char c = s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c == '"')
			return 0;
		if (c == '\\') {
			if (i + 1 >= n - 1)
				return 0;
			c = s[i + 1];
			if (c == 'u') {
				if (i + 5 >= n - 1)
					return 0;
				for (int k = 2; k < 6; k++)
					if (!strchr("0123456789abcdefABCDEF", s[i + k]))
						return 0;
				i += 6;
			} else if (strchr("\"\\/bfnrt", c)) {
				i += 2;
			} else {
				return 0;
			}
			continue;
		}
		if (c >= 0x80) {
			size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
			if (!len || i + len > n - 1)
				return 0;
			for (size_t k = 1; k < len; k++)
				if ((s[i + k] & 0xc0) != 0x80)
					return 0;
			i += len;
			continue;
		}
		i++;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sfc_list l = { { 0 }, NULL };
	struct sfc_json j;
	char *line, *out;
	size_t n;

	if (size > 65536)
		return 0;
	sfc_json_init(&j);
	sfc_json_stringn(&j, (const char *)data, size);
	out = sfc_json_steal(&j, &n);
	if (!valid_json_string((const unsigned char *)out, n))
		abort();
	free(out);

	line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = 0;
	sfc_strv_push(&l.items, "sudo");
	sfc_strv_push(&l.items, "/usr/bin/wget");
	(void)sfc_blocked_match_line(&l, line);
	sfc_strv_clear(&l.items);
	free(line);
	return 0;
}
