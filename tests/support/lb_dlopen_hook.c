/* lb_dlopen_hook.c - loopbreaker-test only: LB_TEST_DLOPEN_MISSING=SONAME
 * makes lb_dlopen ask for a library that does not exist instead of SONAME,
 * so that tests/shell/evidence_formats.sh can check the error a machine
 * without that library gets.  Not linked into the shipped binary, where
 * lb_test_dlopen_soname (a weak reference in util/lb_dlopen.h) is NULL. */
#include <stdlib.h>
#include <string.h>

#include "lb_dlopen.h"

const char *lb_test_dlopen_soname(const char *soname)
{
	const char *missing = getenv("LB_TEST_DLOPEN_MISSING");

	if (missing && strcmp(missing, soname) == 0)
		return "libloopbreaker-test-missing.so.0";
	return soname;
}
