#ifndef JOULE_AFFINITY_H
#define JOULE_AFFINITY_H
/* The calling thread's CPU affinity (Linux's sched_{get,set}affinity, which Swift's Glibc module
   does not export: they need _GNU_SOURCE). Masks are little-endian bit sets, CPU c at bit c % 8 of
   byte c / 8. Each returns 0 on success, -1 otherwise (errno set); on failure nothing changes. */
int joule_get_affinity(unsigned char *mask, int bytes);   /* ORs the allowed CPUs into mask */
int joule_set_affinity(const unsigned char *mask, int bytes);
int joule_pin_thread(int cpu);                            /* the calling thread on `cpu` only */
int joule_current_cpu(void);                              /* the CPU the calling thread runs on, or -1 */
#endif
