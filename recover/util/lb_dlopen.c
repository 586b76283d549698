/* lb_dlopen.c - optional libraries by soname, with one clear error. */
#include "lb_dlopen.h"

#include <dlfcn.h>

/* Sanitizer runtimes refuse RTLD_DEEPBIND.  LB_SANITIZE comes from
 * -DLB_SANITIZE=ON; the fuzz build (tests/fuzz) sets -fsanitize itself. */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(LB_SANITIZE) || defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define LB_DLOPEN_NAMESPACE 1
#endif

static void *open_lib(const char *soname, enum lb_dlopen_mode mode)
{
	if (mode == LB_DLOPEN_PLAIN)
		return dlopen(soname, RTLD_NOW | RTLD_LOCAL);
#ifdef LB_DLOPEN_NAMESPACE
	/* ASan's dlopen interceptor aborts on RTLD_DEEPBIND; dlmopen is not
	 * intercepted, and a namespace of its own isolates the library's
	 * symbols from ours at least as well (its libc is a separate copy). */
	return dlmopen(LM_ID_NEWLM, soname, RTLD_NOW | RTLD_LOCAL);
#else
	return dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
}

void *lb_dlopen(const char *soname, const char *package, const char *what,
                enum lb_dlopen_mode mode, const struct lb_dlsym *syms, size_t nsyms,
                struct lb_err *err)
{
	const char *ask = soname;
	const char *why;
	void *h;

	if (lb_test_dlopen_soname)
		ask = lb_test_dlopen_soname(soname);
	h = open_lib(ask, mode);
	if (!h) {
		why = dlerror();
		lb_err_set(err, LB_EK_INTERNAL, 0, "%s needs %s (Debian package %s): %s", what, soname,
		           package, why ? why : "cannot be loaded");
		return NULL;
	}
	for (size_t i = 0; i < nsyms; i++) {
		void *p;

		dlerror();
		p = dlsym(h, syms[i].name);
		if (!p) {
			why = dlerror();
			lb_err_set(err, LB_EK_INTERNAL, 0, "%s needs %s (Debian package %s): %s", what,
			           soname, package, why ? why : syms[i].name);
			dlclose(h);
			for (size_t j = 0; j < nsyms; j++)
				*syms[j].slot = NULL;
			return NULL;
		}
		*syms[i].slot = p;
	}
	return h;
}
