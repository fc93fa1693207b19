/*
 * bench_proc.h - process measurement helpers shared by the benchmarks:
 * CPU time and peak memory of a process read from /proc, and free/open TCP
 * ports on 127.0.0.1. Benchmark-only code; not part of librill.
 */
#ifndef RILL_BENCH_PROC_H
#define RILL_BENCH_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/**
 * One reading of a process's CPU time. utime+stime from /proc/<pid>/stat
 * count in clock ticks (10 ms), too coarse for short phases, so the sum of
 * the per-thread /proc/<pid>/task/<tid>/schedstat run times (nanoseconds) is
 * read as well. That sum forgets threads that exit, so it is used only when
 * the same threads are alive at both readings (same count and tid sum).
 */
typedef struct cpu_sample {
        double stat_s;           /**< utime+stime, or -1 */
        double sched_s;          /**< sum of the threads' run time, or -1 */
        long ntid;
        unsigned long long tid_sum;
        double self_s;           /**< this (the client) process's CPU time */
} cpu_sample_t;

/** CPU seconds (user+system) consumed so far by process @p pid, from
 *  /proc/<pid>/stat (clock-tick resolution, dead threads included), or -1. */
double proc_stat_cpu_s(pid_t pid);

/** CPU seconds (user+system) of this process so far, or -1. */
double self_cpu_s(void);

/** Takes one reading of @p pid's CPU time (and of this process's). */
void cpu_sample(pid_t pid, cpu_sample_t *c);

/** CPU seconds used between readings @p a and @p b (NAN if unknown). */
double cpu_delta(const cpu_sample_t *a, const cpu_sample_t *b);

/** Peak resident set size of @p pid in MB (VmHWM), or NAN. */
double proc_peak_rss_mb(pid_t pid);

/** A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int free_port(void);

/** True if something accepts connections on 127.0.0.1:@p port. */
bool port_open(int port);

#endif
