/* A small JSON writer for the audit record, --explain --json and status
 * objects.  Output is always valid UTF-8 JSON whatever the input bytes:
 * strings are escaped (quotes, backslashes, every control character, DEL,
 * U+2028/U+2029) and invalid UTF-8 becomes U+FFFD, so a command's
 * arguments or a process name can neither end a string, add a field nor
 * start a new line of the log.
 *
 * Commas are placed by the writer: call sfc_json_key() before each member
 * of an object, and the value functions for array elements. */
#ifndef SFC_JSON_H
#define SFC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sfc_json {
	char *buf;
	size_t len, cap;
	int depth;
	uint64_t need_comma; /* bit per nesting level: a value was written there */
	bool after_key;
};

void sfc_json_init(struct sfc_json *j);
void sfc_json_free(struct sfc_json *j);
/* Take the text (NUL-terminated); the writer is reset. */
char *sfc_json_steal(struct sfc_json *j, size_t *len);

void sfc_json_obj_begin(struct sfc_json *j);
void sfc_json_obj_end(struct sfc_json *j);
void sfc_json_arr_begin(struct sfc_json *j);
void sfc_json_arr_end(struct sfc_json *j);
void sfc_json_key(struct sfc_json *j, const char *key);

void sfc_json_string(struct sfc_json *j, const char *s);         /* NULL writes null */
void sfc_json_stringn(struct sfc_json *j, const char *s, size_t n);
void sfc_json_sint(struct sfc_json *j, int64_t v);
void sfc_json_uint(struct sfc_json *j, uint64_t v);
void sfc_json_double(struct sfc_json *j, double v, int decimals); /* non-finite writes null */
void sfc_json_boolean(struct sfc_json *j, bool v);
void sfc_json_null(struct sfc_json *j);

/* key + value shorthands */
void sfc_json_kstr(struct sfc_json *j, const char *key, const char *s);
void sfc_json_kint(struct sfc_json *j, const char *key, int64_t v);
void sfc_json_kuint(struct sfc_json *j, const char *key, uint64_t v);
void sfc_json_kbool(struct sfc_json *j, const char *key, bool v);
void sfc_json_knull(struct sfc_json *j, const char *key);

/* Append S to OUT as the body of a JSON string (no quotes). */
void sfc_json_escape(struct sfc_json *out, const char *s, size_t n);

#endif
