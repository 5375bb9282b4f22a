/* Strict parsers for the values users type: sizes, durations, CPU shares,
 * counts.  Zero, negative numbers, overflow and trailing junk are errors. */
#ifndef SFC_PARSE_H
#define SFC_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* "512", "64k", "512m", "2g", "1t" (binary multiples, optional trailing
 * "b"/"B"/"iB"): bytes, > 0 and < 2^63. */
int sfc_parse_size(const char *s, uint64_t *out, struct sfc_error *e);
/* "90", "90s", "1500ms", "5m", "1h", "2d": milliseconds, > 0. */
int sfc_parse_duration(const char *s, uint64_t *ms, struct sfc_error *e);
/* "0.5", "2", "1.25": thousandths of a CPU, > 0 and <= 1024 CPUs. */
int sfc_parse_cpu(const char *s, uint32_t *milli, struct sfc_error *e);
/* Decimal integer in [MIN, MAX]. */
int sfc_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, struct sfc_error *e);
/* yes/no/true/false/on/off/1/0. */
int sfc_parse_bool(const char *s, bool *out, struct sfc_error *e);
/* "none", "unlimited", "off": no limit. */
bool sfc_is_none(const char *s);

/* Format helpers for --explain and the audit log. */
void sfc_format_size(uint64_t bytes, char *buf, int len);
void sfc_format_duration(uint64_t ms, char *buf, int len);

#endif
