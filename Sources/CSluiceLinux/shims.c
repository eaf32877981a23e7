#define _GNU_SOURCE
#include "CSluiceLinux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int sluice_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}

int sluice_allowed_cpus(int *cpus, int capacity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -errno;
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && count < capacity; cpu++) {
        if (CPU_ISSET(cpu, &set)) cpus[count++] = cpu;
    }
    return count;
}

int sluice_schedule_as_batch(void) {
    struct sched_param param = { .sched_priority = 0 };
    return sched_setscheduler(0, SCHED_BATCH, &param) == 0 ? 0 : -errno;
}

int sluice_schedule_normally(void) {
    struct sched_param param = { .sched_priority = 0 };
    return sched_setscheduler(0, SCHED_OTHER, &param) == 0 ? 0 : -errno;
}

uint64_t sluice_affinity_mask(pid_t pid) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(pid, sizeof(set), &set) != 0) return 0;
    uint64_t mask = 0;
    for (int cpu = 0; cpu < 64; cpu++) {
        if (CPU_ISSET(cpu, &set)) mask |= (uint64_t)1 << cpu;
    }
    return mask;
}

int sluice_set_process_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0) == 0 ? 0 : -errno;
}

int sluice_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0) == 0 ? 0 : -errno;
}

pid_t sluice_fork(void) { return fork(); }

int sluice_signalfd(const int *signals, int count) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int i = 0; i < count; i++) sigaddset(&mask, signals[i]);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) return -errno;
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

void sluice_reset_signals(void) {
    // The signals a child reads from a signalfd stay blocked until it has made one: a SIGUSR1 for
    // log rotation, or a SIGTERM, that arrives while a worker is still setting up waits for it
    // instead of killing it. (SIGHUP is the supervisor's alone; a child never dies of one.)
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        signal(sig, SIG_DFL);
    }
    // A peer that closes while a worker writes must not kill the worker.
    signal(SIGPIPE, SIG_IGN);
}

int sluice_signalfd_siginfo_size(void) { return (int)sizeof(struct signalfd_siginfo); }

int sluice_read_signal(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n == (ssize_t)sizeof(info)) return (int)info.ssi_signo;
    if (n < 0 && errno == EAGAIN) return 0;
    return n < 0 ? -errno : -EIO;
}

int sluice_tcp_listen(const char *host, int port, int reuse_port, int backlog) {
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof(storage));
    socklen_t length;
    int family;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        family = AF_INET;
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        length = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        family = AF_INET6;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        length = sizeof(*v6);
    } else {
        return -EINVAL;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) goto fail;
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) goto fail;
    // Accepted sockets inherit TCP_NODELAY from the listener, which spares a setsockopt per connection.
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) goto fail;
    if (bind(fd, (struct sockaddr *)&storage, length) != 0) goto fail;
    if (backlog < 0) {
        // A probe: the bind alone says whether another process listens there.
        close(fd);
        return 0;
    }
    if (listen(fd, backlog) != 0) goto fail;
    return fd;
fail:;
    int error = errno;
    close(fd);
    return -error;
}

int sluice_local_port(int fd) {
    struct sockaddr_storage storage;
    socklen_t length = sizeof(storage);
    if (getsockname(fd, (struct sockaddr *)&storage, &length) != 0) return -errno;
    if (storage.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&storage)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&storage)->sin6_port);
}

int sluice_peer_address(int fd, char *out, int capacity) {
    struct sockaddr_storage storage;
    socklen_t length = sizeof(storage);
    if (getpeername(fd, (struct sockaddr *)&storage, &length) != 0) return -errno;
    const void *address = storage.ss_family == AF_INET
        ? (const void *)&((struct sockaddr_in *)&storage)->sin_addr
        : (const void *)&((struct sockaddr_in6 *)&storage)->sin6_addr;
    if (inet_ntop(storage.ss_family, address, out, (socklen_t)capacity) == NULL) return -errno;
    return (int)strlen(out);
}

int sluice_peer_ip(int fd, uint64_t *high, uint64_t *low) {
    struct sockaddr_storage storage;
    socklen_t length = sizeof(storage);
    if (getpeername(fd, (struct sockaddr *)&storage, &length) != 0) return -errno;
    unsigned char bytes[16] = {0};
    if (storage.ss_family == AF_INET) {
        bytes[10] = 0xff;
        bytes[11] = 0xff;
        memcpy(bytes + 12, &((struct sockaddr_in *)&storage)->sin_addr, 4);
    } else if (storage.ss_family == AF_INET6) {
        memcpy(bytes, &((struct sockaddr_in6 *)&storage)->sin6_addr, 16);
    } else {
        return -EAFNOSUPPORT;
    }
    uint64_t h = 0, l = 0;
    for (int i = 0; i < 8; i++) h = h << 8 | bytes[i];
    for (int i = 8; i < 16; i++) l = l << 8 | bytes[i];
    *high = h;
    *low = l;
    return 0;
}

void *sluice_map_shared(size_t bytes) {
    int fd = memfd_create("sluice-zone", MFD_CLOEXEC);
    if (fd < 0) return NULL;
    if (ftruncate(fd, (off_t)bytes) != 0) { close(fd); return NULL; }
    void *address = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return address == MAP_FAILED ? NULL : address;
}

void *sluice_map_lazy(size_t bytes) {
    void *address = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return address == MAP_FAILED ? NULL : address;
}

void sluice_unmap(void *address, size_t bytes) { munmap(address, bytes); }

struct io_uring_buf_ring *sluice_setup_buf_ring(struct io_uring *ring, unsigned entries, int group_id, int *error) {
    size_t bytes = (size_t)entries * sizeof(struct io_uring_buf);
    void *address = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (address == MAP_FAILED) { *error = -errno; return NULL; }
    struct io_uring_buf_ring *buffers = address;
    io_uring_buf_ring_init(buffers);
    struct io_uring_buf_reg registration;
    memset(&registration, 0, sizeof(registration));
    registration.ring_addr = (unsigned long)buffers;
    registration.ring_entries = entries;
    registration.bgid = (unsigned short)group_id;
    int result = io_uring_register_buf_ring(ring, &registration, 0);
    if (result != 0) { munmap(address, bytes); *error = result; return NULL; }
    *error = 0;
    return buffers;
}

int sluice_queue_init(struct io_uring *ring, unsigned entries, int *flags_used) {
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    // One thread submits, and completions' task work runs only when that thread enters the
    // kernel to wait: fewer interruptions, and the work happens in batches.
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
    params.cq_entries = entries * 4;
    params.flags |= IORING_SETUP_CQSIZE;
    int result = io_uring_queue_init_params(entries, ring, &params);
    if (result == 0) { *flags_used = (int)params.flags; return 0; }
    memset(&params, 0, sizeof(params));
    params.cq_entries = entries * 4;
    params.flags = IORING_SETUP_CQSIZE;
    result = io_uring_queue_init_params(entries, ring, &params);
    *flags_used = (int)params.flags;
    return result;
}

static int64_t clock_ns(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int64_t sluice_monotonic_coarse_ns(void) { return clock_ns(CLOCK_MONOTONIC_COARSE); }
int64_t sluice_monotonic_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
int64_t sluice_realtime_ns(void) { return clock_ns(CLOCK_REALTIME); }

long sluice_process_cpu_ticks(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    char buffer[1024];
    size_t n = fread(buffer, 1, sizeof(buffer) - 1, file);
    fclose(file);
    buffer[n] = 0;
    char *close_paren = strrchr(buffer, ')');
    if (!close_paren) return -1;
    unsigned long utime = 0, stime = 0;
    // Fields after the command name: state(3) ... utime(14) stime(15).
    if (sscanf(close_paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return -1;
    return (long)(utime + stime);
}

int sluice_getrandom(void *buffer, size_t bytes) {
    ssize_t n = getrandom(buffer, bytes, 0);
    return n == (ssize_t)bytes ? 0 : -errno;
}

long sluice_raise_open_file_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -errno;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return -errno;
    }
    return (long)limit.rlim_cur;
}

int sluice_make_address(const char *host, int port, void *address) {
    struct sockaddr_storage *storage = address;
    memset(storage, 0, sizeof(*storage));
    struct sockaddr_in *v4 = (struct sockaddr_in *)storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)storage;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return (int)sizeof(*v4);
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return (int)sizeof(*v6);
    }
    return -EINVAL;
}

int sluice_sockaddr_storage_size(void) { return (int)sizeof(struct sockaddr_storage); }

int sluice_tcp_socket(int ipv6) {
    int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int sluice_resolve(const char *name, char *out, int capacity) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    // No AI_ADDRCONFIG: with only a loopback interface it would hide loopback answers too.
    struct addrinfo *list = NULL;
    int status = getaddrinfo(name, NULL, &hints, &list);
    if (status != 0) {
        snprintf(out, (size_t)capacity, "%s", status == EAI_SYSTEM ? strerror(errno) : gai_strerror(status));
        return -1;
    }
    int count = 0;
    int used = 0;
    out[0] = 0;
    for (struct addrinfo *entry = list; entry; entry = entry->ai_next) {
        if (entry->ai_family != AF_INET && entry->ai_family != AF_INET6) continue;
        char host[64];
        if (getnameinfo(entry->ai_addr, entry->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0) continue;
        if (strchr(host, '%')) continue;  // fe80::1%eth0: the worker's addresses carry no zone
        int written = snprintf(out + used, (size_t)(capacity - used), "%c %s\n",
                               entry->ai_family == AF_INET6 ? '6' : '4', host);
        if (written < 0 || written >= capacity - used) break;
        used += written;
        count++;
    }
    freeaddrinfo(list);
    return count;
}


long sluice_http_exchange(const char *host, const char *port, const void *request, size_t request_length,
                          int timeout_ms, uint8_t *buffer, size_t capacity) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *list = NULL;
    if (getaddrinfo(host, port, &hints, &list) != 0 || !list) return -EHOSTUNREACH;
    struct timeval timeout = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int fd = -1;
    int error = ECONNREFUSED;
    for (struct addrinfo *entry = list; entry; entry = entry->ai_next) {
        fd = socket(entry->ai_family, entry->ai_socktype | SOCK_CLOEXEC, entry->ai_protocol);
        if (fd < 0) {
            error = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (connect(fd, entry->ai_addr, entry->ai_addrlen) == 0) break;
        error = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    if (fd < 0) return -error;
    size_t sent = 0;
    while (sent < request_length) {
        ssize_t count = send(fd, (const uint8_t *)request + sent, request_length - sent, MSG_NOSIGNAL);
        if (count < 0) {
            if (errno == EINTR) continue;
            error = errno;
            close(fd);
            return -error;
        }
        sent += (size_t)count;
    }
    size_t received = 0;
    while (received < capacity) {
        ssize_t count = recv(fd, buffer + received, capacity - received, 0);
        if (count == 0) break;
        if (count < 0) {
            if (errno == EINTR) continue;
            error = errno;
            close(fd);
            return -error;
        }
        received += (size_t)count;
    }
    close(fd);
    return (long)received;
}
