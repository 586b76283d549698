/* lb_volume.c - the one open sequence (see lb_volume.h). */
#include "lb_volume.h"
