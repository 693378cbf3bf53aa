// An LD_PRELOAD library that steps a process's wall clock at run time, for tests of issue 10's
// rule 6 (timers, rate-limit slots and backoff run on a monotonic clock).
//
// It interposes clock_gettime (CLOCK_REALTIME and CLOCK_REALTIME_COARSE only), gettimeofday, time
// and timespec_get, adding an offset read from the file named by WALL_CLOCK_SHIFT_FILE: one decimal
// number of seconds, possibly negative or fractional ("6", "-114.5"). A test rewrites that file to
// step the clock; the file is read again at most every 5 ms (of the monotonic clock, which is left
// alone, as are all other clocks). A missing or unreadable file means no offset.
//
// What a real step also moves and this does not: the kernel's own CLOCK_REALTIME, so absolute
// CLOCK_REALTIME waits passed to the kernel (futex, pthread_cond_timedwait, timerfd) still expire
// on the real clock; and programs that read the vDSO or make the syscall without going through
// libc's symbols.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*ClockGettimeFn)(clockid_t, struct timespec*);

static ClockGettimeFn RealClockGettime(void) {
  static ClockGettimeFn real = NULL;
  ClockGettimeFn fn = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
  if (fn == NULL) {
    fn = (ClockGettimeFn)dlsym(RTLD_NEXT, "clock_gettime");
    __atomic_store_n(&real, fn, __ATOMIC_RELEASE);
  }
  return fn;
}

static int64_t MonotonicNanos(void) {
  struct timespec ts;
  RealClockGettime()(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Parses "[-]digits[.digits]" seconds into nanoseconds; 0 when malformed.
static int64_t ParseSeconds(const char* text) {
  int negative = 0;
  int64_t whole = 0;
  int64_t fraction = 0;
  int64_t scale = 100000000;
  while (*text == ' ' || *text == '+') ++text;
  if (*text == '-') {
    negative = 1;
    ++text;
  }
  for (; *text >= '0' && *text <= '9'; ++text) whole = whole * 10 + (*text - '0');
  if (*text == '.') {
    for (++text; *text >= '0' && *text <= '9' && scale > 0; ++text, scale /= 10) {
      fraction += (*text - '0') * scale;
    }
  }
  const int64_t nanos = whole * 1000000000 + fraction;
  return negative ? -nanos : nanos;
}

static int64_t OffsetNanos(void) {
  static int64_t offset = 0;
  static int64_t read_at = -1;  // never
  const int64_t now = MonotonicNanos();
  const int64_t last = __atomic_load_n(&read_at, __ATOMIC_ACQUIRE);
  if (last >= 0 && now - last < 5000000) {
    return __atomic_load_n(&offset, __ATOMIC_RELAXED);
  }
  int64_t fresh = 0;
  const char* path = getenv("WALL_CLOCK_SHIFT_FILE");
  if (path != NULL) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buffer[64];
      const ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
      close(fd);
      if (n > 0) {
        buffer[n] = '\0';
        fresh = ParseSeconds(buffer);
      }
    }
  }
  // Racing threads may each read the file; they store what they read, all of it current.
  __atomic_store_n(&offset, fresh, __ATOMIC_RELAXED);
  __atomic_store_n(&read_at, now, __ATOMIC_RELEASE);
  return fresh;
}

static void Shift(struct timespec* ts) {
  int64_t nanos = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + OffsetNanos();
  ts->tv_sec = nanos / 1000000000;
  ts->tv_nsec = nanos % 1000000000;
  if (ts->tv_nsec < 0) {
    ts->tv_nsec += 1000000000;
    ts->tv_sec -= 1;
  }
}

int clock_gettime(clockid_t clock, struct timespec* ts) {
  const int result = RealClockGettime()(clock, ts);
  if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) Shift(ts);
  return result;
}

int gettimeofday(struct timeval* tv, void* tz) {
  (void)tz;
  struct timespec ts;
  const int result = clock_gettime(CLOCK_REALTIME, &ts);
  if (result == 0) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return result;
}

time_t time(time_t* out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out != NULL) *out = ts.tv_sec;
  return ts.tv_sec;
}

int timespec_get(struct timespec* ts, int base) {
  if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0) return 0;
  return base;
}
