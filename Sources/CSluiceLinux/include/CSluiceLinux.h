// C shims for what Swift cannot import directly: macros, variadic functions and a few
// structures whose layout Swift should not have to know. liburing's inline functions import
// into Swift as they are, so they need no shim.
#ifndef CSLUICE_LINUX_H
#define CSLUICE_LINUX_H

// liburing.h defines _GNU_SOURCE and _XOPEN_SOURCE before including system headers, which
// changes their definitions (fd_set's fields, for one) from the ones Swift's Glibc module sees.
// Including those headers first, with the default macros, keeps the two views identical.
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <time.h>
#include <fcntl.h>
#include <sched.h>
#include <liburing.h>

// Pins the calling process to one CPU. Returns 0 or -errno.
int sluice_pin_to_cpu(int cpu);
// The number of CPUs the calling process may run on, and their numbers in `cpus` (ascending).
int sluice_allowed_cpus(int *cpus, int capacity);
// The set of CPUs the process `pid` may run on, as a bit mask of the first 64 CPUs (for tests).
uint64_t sluice_affinity_mask(pid_t pid);
// Schedules the calling process as a batch task (no preemption of a running task when it wakes),
// or as a normal one. Children inherit it. Return 0 or -errno.
int sluice_schedule_as_batch(void);
int sluice_schedule_normally(void);
// prctl(PR_SET_NAME): the name `ps -o comm` and `top` show (15 bytes at most).
int sluice_set_process_name(const char *name);
// prctl(PR_SET_PDEATHSIG): the signal the calling process receives when its parent dies.
int sluice_set_parent_death_signal(int signal);
pid_t sluice_fork(void);
// A signalfd for `signals` (blocked for the process first); returns the fd or -errno.
int sluice_signalfd(const int *signals, int count);
// Unblocks every signal and restores default dispositions (after fork, in a child).
void sluice_reset_signals(void);
// The size of struct signalfd_siginfo and the offsets of the fields Sluice reads.
int sluice_signalfd_siginfo_size(void);
// Reads one pending signal number from a signalfd; 0 if none; -errno on error.
int sluice_read_signal(int fd);
// Opens a TCP listener: IPv4 or IPv6 literal `host`, `port` (0 for ephemeral), SO_REUSEADDR,
// SO_REUSEPORT when `reuse_port`, TCP_NODELAY (inherited by accepted sockets), nonblocking,
// close-on-exec. Returns the fd or -errno. With a negative `backlog`, only binds and closes
// again: 0 when the address is free, -EADDRINUSE when another socket listens on it.
int sluice_tcp_listen(const char *host, int port, int reuse_port, int backlog);
// Fills `address` (a struct sockaddr_storage) for a numeric IPv4/IPv6 `host` and `port`; returns the
// address length or -EINVAL.
int sluice_make_address(const char *host, int port, void *address);
int sluice_sockaddr_storage_size(void);
// Resolves `name` for TCP with getaddrinfo: writes its numeric addresses into `out`, one per line
// as "4 ADDRESS" or "6 ADDRESS" (IPv6 link-local addresses with a zone left out), in the
// resolver's order. Returns how many, or -1 with the resolver's reason written into `out`.
int sluice_resolve(const char *name, char *out, int capacity);
// A nonblocking, close-on-exec TCP socket for `ipv6` or IPv4, with TCP_NODELAY; fd or -errno.
int sluice_tcp_socket(int ipv6);
// The local port a socket is bound to, or -errno.
int sluice_local_port(int fd);
// The peer address of a socket as text, for logs; returns the length written or -errno.
int sluice_peer_address(int fd, char *out, int capacity);
// The peer address of a socket as an IPv6 address in two big-endian halves (IPv4 mapped to
// ::ffff:a.b.c.d); returns 0 or -errno.
int sluice_peer_ip(int fd, uint64_t *high, uint64_t *low);
// memfd-backed shared memory of `bytes`, mapped MAP_SHARED; NULL on failure (errno set).
void *sluice_map_shared(size_t bytes);
// Anonymous private memory that is only committed when touched; NULL on failure.
void *sluice_map_lazy(size_t bytes);
void sluice_unmap(void *address, size_t bytes);
// Registers a provided-buffer ring of `entries` for group `group_id` (liburing 2.3 lacks
// io_uring_setup_buf_ring). Returns the ring or NULL with *error set to -errno.
struct io_uring_buf_ring *sluice_setup_buf_ring(struct io_uring *ring, unsigned entries, int group_id, int *error);
// Whether the kernel accepted IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN; falls
// back to plain flags when it does not. Returns 0 or -errno.
int sluice_queue_init(struct io_uring *ring, unsigned entries, int *flags_used);
// CLOCK_MONOTONIC_COARSE and CLOCK_REALTIME_COARSE in nanoseconds (vDSO, no syscall).
int64_t sluice_monotonic_coarse_ns(void);
int64_t sluice_monotonic_ns(void);
int64_t sluice_realtime_ns(void);
// Reads /proc/self/stat style CPU times for a pid in clock ticks: utime + stime, or -1.
long sluice_process_cpu_ticks(pid_t pid);
int sluice_getrandom(void *buffer, size_t bytes);
// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit or -errno.
long sluice_raise_open_file_limit(void);
// A blocking request/answer over TCP for processes off the request path (the coordinator
// fetching an issuer's keys): connects to `host`:`port` (each operation bounded by
// `timeout_ms`), sends `request`, reads until the peer closes or `capacity` bytes arrived.
// Returns the bytes read, or -errno.
long sluice_http_exchange(const char *host, const char *port, const void *request, size_t request_length,
                          int timeout_ms, uint8_t *buffer, size_t capacity);


#endif
