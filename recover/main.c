/* main.c - placeholder until the CLI lands. */
#include <stdio.h>
int main(void) { puts("loopbreaker " LB_VERSION); return 0; }
