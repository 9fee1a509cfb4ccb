#define _GNU_SOURCE
#include "affinity.h"

#ifdef __linux__
#include <sched.h>

int joule_get_affinity(unsigned char *mask, int bytes) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    for (int c = 0; c < bytes * 8 && c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) mask[c / 8] |= (unsigned char)(1u << (c % 8));
    return 0;
}

int joule_set_affinity(const unsigned char *mask, int bytes) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0; c < bytes * 8 && c < CPU_SETSIZE; c++)
        if (mask[c / 8] & (1u << (c % 8))) CPU_SET(c, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

int joule_current_cpu(void) { return sched_getcpu(); }

int joule_pin_thread(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return -1;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}
#else
/* No thread affinity elsewhere (macOS has none to set): regions run unpinned. */
int joule_get_affinity(unsigned char *mask, int bytes) { (void)mask; (void)bytes; return -1; }
int joule_set_affinity(const unsigned char *mask, int bytes) { (void)mask; (void)bytes; return -1; }
int joule_pin_thread(int cpu) { (void)cpu; return -1; }
int joule_current_cpu(void) { return -1; }
#endif
