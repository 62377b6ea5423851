/* Preloaded by benchmarks/slow_disk.py: every fsync and fdatasync does the real flush, then
 * sleeps SLOWSYNC_US microseconds -- a disk whose flush is as slow as the one issue 14 was measured on. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
static long delay_ns(void) {
    static long delay = -1;
    if (delay < 0) {
        const char *text = getenv("SLOWSYNC_US");
        delay = text ? atol(text) * 1000L : 0;
    }
    return delay;
}
static void slow(void) {
    long ns = delay_ns();
    if (ns > 0) { struct timespec t = {ns / 1000000000L, ns % 1000000000L}; nanosleep(&t, 0); }
}
int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r = real(fd); slow(); return r;
}
int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int r = real(fd); slow(); return r;
}
