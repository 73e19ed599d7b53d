/*
 * check.h: the one assertion of the pure-C unit tests.  CHECK(cond, fmt, ...)
 * counts a pass, or prints the failing place and message and counts a failure.
 */
#ifndef VAULT_TEST_CHECK_H
#define VAULT_TEST_CHECK_H

#include <stdio.h>

static int	passed = 0;
static int	failed = 0;

#define CHECK(cond, ...) \
	do { \
		if (cond) passed++; \
		else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
	} while (0)

#endif							/* VAULT_TEST_CHECK_H */
