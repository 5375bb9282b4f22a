/* Minimal unit-test harness: each CHECK failure is reported with its line;
 * each TEST prints PASS or FAIL for the runner to count. */
#ifndef SFC_UNIT_H
#define SFC_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed_checks;
static const char *unit_file;

#define CHECK(cond)                                                                                                    \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                     \
			unit_failed_checks++;                                                                          \
		}                                                                                                      \
	} while (0)
#define CHECK_STR(a, b)                                                                                                \
	do {                                                                                                           \
		const char *_a = (a), *_b = (b);                                                                       \
		if (!_a || !_b || strcmp(_a, _b)) {                                                                    \
			fprintf(stderr, "  %s:%d: '%s' != '%s'\n", __FILE__, __LINE__, _a ? _a : "(null)",             \
				_b ? _b : "(null)");                                                                   \
			unit_failed_checks++;                                                                          \
		}                                                                                                      \
	} while (0)

#define TEST(name)                                                                                                     \
	static void test_##name(void);                                                                                 \
	static void run_##name(void)                                                                                   \
	{                                                                                                              \
		int before = unit_failed_checks;                                                                       \
		test_##name();                                                                                         \
		printf("%s unit/%s/%s\n", unit_failed_checks == before ? "PASS" : "FAIL", unit_file, #name);           \
	}                                                                                                              \
	static void test_##name(void)

#define RUN(name) run_##name()

/* Line-buffered, so a crash (or a sanitizer abort) loses no verdict. */
static inline void unit_init(const char *file)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	unit_file = file;
}

#endif
