/* libFuzzer target: the value parsers (sizes, durations, CPU shares,
 * counts, booleans).  The first byte picks the parser; what a parser
 * accepts must format back and parse to the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sfc_error e;
	char *s, buf[64];
	uint64_t v, w;
	uint32_t m;
	bool b;

	if (size < 1 || size > 4096)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	switch (data[0] % 5) {
	case 0:
		if (sfc_parse_size(s, &v, &e) == 0) {
			if (v == 0 || v >= (1ULL << 63))
				abort();
			sfc_format_size(v, buf, sizeof(buf));
			if (sfc_parse_size(buf, &w, &e) != 0 || w != v)
				abort();
		}
		break;
	case 1:
		if (sfc_parse_duration(s, &v, &e) == 0) {
			if (v == 0)
				abort();
			sfc_format_duration(v, buf, sizeof(buf));
			if (sfc_parse_duration(buf, &w, &e) != 0 || w != v)
				abort();
		}
		break;
	case 2:
		if (sfc_parse_cpu(s, &m, &e) == 0 && (m == 0 || m > 1024 * 1000))
			abort();
		break;
	case 3:
		if (sfc_parse_uint(s, 1, 4194304, &v, &e) == 0 && (v < 1 || v > 4194304))
			abort();
		break;
	case 4:
		(void)sfc_parse_bool(s, &b, &e);
		(void)sfc_is_none(s);
		break;
	}
	free(s);
	return 0;
}
