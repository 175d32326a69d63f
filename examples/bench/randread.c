/*
 * The randread loop of examples/src/randread.rs, in C over liburing: the
 * baseline examples/io-compare.sh measures uring against.
 *
 *   randread FILE [--qd N] [--bs BYTES] [--secs S] [--ios N] [--seed N]
 *
 * Random blocks of BYTES, QD reads in flight, through a registered file
 * and registered buffers (READ_FIXED). QD reads are queued; then, until
 * the budget is spent, one io_uring_submit_and_wait(1), and for each
 * completion the read of the next random block into the buffer it freed.
 * The blocks come from the same xorshift64* generator as the Rust loops.
 * Prints the same result line as they do, with engine=liburing.
 *
 * Built by io-compare.sh: gcc -O2 randread.c -l:liburing.a (Debian's
 * liburing-dev; linked statically, so that its calls are not made
 * through the PLT).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: randread FILE [--qd N] [--bs BYTES] [--secs S] [--ios N] [--seed N]\n";

static uint64_t rng_state;

static inline uint64_t rng_next(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t rng_block(uint64_t blocks, unsigned bs)
{
	return (rng_next() % blocks) * bs;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_secs(int user)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	struct timeval tv = user ? ru.ru_utime : ru.ru_stime;
	return tv.tv_sec + tv.tv_usec * 1e-6;
}

/* Parses VALUE as a number between LO and HI, or exits with a message. */
static unsigned long long number(const char *name, const char *value,
				 unsigned long long lo, unsigned long long hi)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "--%s %s: must be a number between %llu and %llu\n%s",
			name, value, lo, hi, usage);
		exit(2);
	}
	return v;
}

/* Parses VALUE as seconds between 0.001 and a day, or exits. */
static double seconds(const char *value)
{
	char *end;
	errno = 0;
	double v = strtod(value, &end);
	if (errno || end == value || *end || !(v >= 0.001 && v <= 86400)) {
		fprintf(stderr, "--secs %s: must be between 0.001 and 86400\n%s", value, usage);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	unsigned qd = 32, bs = 4096;
	double secs = 10;
	unsigned long long ios = UINT64_MAX, seed = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			if (path) {
				fprintf(stderr, "unexpected argument '%s'\n%s", a, usage);
				return 2;
			}
			path = a;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "%s needs a value\n%s", a, usage);
			return 2;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--qd"))
			qd = number("qd", v, 1, 4096);
		else if (!strcmp(a, "--bs"))
			bs = number("bs", v, 1, 1 << 20);
		else if (!strcmp(a, "--secs"))
			secs = seconds(v);
		else if (!strcmp(a, "--ios"))
			ios = number("ios", v, 1, UINT64_MAX);
		else if (!strcmp(a, "--seed"))
			seed = number("seed", v, 0, UINT64_MAX);
		else {
			fprintf(stderr, "unknown option %s\n%s", a, usage);
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "%s", usage);
		return 2;
	}

	/* The generator must match the Rust one (examples/src/measure.rs). */
	rng_state = 1;
	if (rng_next() != 0x47e4ce4b896cdd1dULL || rng_next() != 0xabcfa6a8e079651dULL ||
	    rng_next() != 0xb9d10d8feb731f57ULL) {
		fprintf(stderr, "randread: the offset generator is not xorshift64*\n");
		return 1;
	}
	rng_state = seed ? seed : 1;

	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "randread: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "randread: %s: not a regular file\n", path);
		return 2;
	}
	uint64_t blocks = st.st_size / bs;
	if (blocks == 0) {
		fprintf(stderr, "randread: %s: smaller than one block of %u\n", path, bs);
		return 2;
	}

	unsigned entries = 1;
	while (entries < qd)
		entries <<= 1;
	struct io_uring ring;
	int ret = io_uring_queue_init(entries, &ring, 0);
	if (ret < 0) {
		fprintf(stderr, "randread: io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	ret = io_uring_register_files(&ring, &fd, 1);
	if (ret < 0) {
		fprintf(stderr, "randread: io_uring_register_files: %s\n", strerror(-ret));
		return 1;
	}
	char *region;
	if (posix_memalign((void **)&region, 4096, (size_t)qd * bs)) {
		fprintf(stderr, "randread: cannot allocate the buffers\n");
		return 1;
	}
	memset(region, 0, (size_t)qd * bs);
	struct iovec *iov = calloc(qd, sizeof(*iov));
	for (unsigned i = 0; i < qd; i++) {
		iov[i].iov_base = region + (size_t)i * bs;
		iov[i].iov_len = bs;
	}
	ret = io_uring_register_buffers(&ring, iov, qd);
	if (ret < 0) {
		fprintf(stderr, "randread: io_uring_register_buffers: %s\n", strerror(-ret));
		return 1;
	}

	uint64_t left = ios, done = 0, check_at = 256;
	unsigned in_flight = 0;
	int failed = 0;
	double start = now(), usr = cpu_secs(1), sys = cpu_secs(0);
	double deadline = start + secs;

	for (unsigned slot = 0; slot < qd && left; slot++, left--) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read_fixed(sqe, 0, region + (size_t)slot * bs, bs,
					 rng_block(blocks, bs), slot);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, slot);
		in_flight++;
	}
	while (in_flight) {
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR) {
			/* Reads may be in flight: the region stays allocated. */
			fprintf(stderr, "randread: io_uring_submit_and_wait: %s\n", strerror(-ret));
			return 1;
		}
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			seen++;
			in_flight--;
			done++;
			if (cqe->res != (int)bs) {
				if (!failed)
					fprintf(stderr, "randread: a read returned %d instead of %u\n",
						cqe->res, bs);
				failed = 1;
				left = 0;
				continue;
			}
			if (left) {
				left--;
				unsigned slot = (unsigned)cqe->user_data;
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
				if (!sqe) {
					fprintf(stderr, "randread: submission queue full\n");
					failed = 1;
					left = 0;
					continue;
				}
				io_uring_prep_read_fixed(sqe, 0, region + (size_t)slot * bs, bs,
							 rng_block(blocks, bs), slot);
				sqe->flags |= IOSQE_FIXED_FILE;
				io_uring_sqe_set_data64(sqe, slot);
				in_flight++;
			}
		}
		io_uring_cq_advance(&ring, seen);
		if (done >= check_at) {
			check_at = done + 256;
			if (now() >= deadline)
				left = 0;
		}
	}
	double elapsed = now() - start;
	usr = cpu_secs(1) - usr;
	sys = cpu_secs(0) - sys;
	io_uring_queue_exit(&ring);
	free(iov);
	free(region);
	if (failed)
		return 1;
	double n = done ? (double)done : 1;
	printf("randread engine=liburing qd=%u bs=%u ios=%llu secs=%.3f iops=%.0f "
	       "usr_ns_per_io=%.0f sys_ns_per_io=%.0f cpu_ns_per_io=%.0f\n",
	       qd, bs, (unsigned long long)done, elapsed, elapsed > 0 ? done / elapsed : 0,
	       usr * 1e9 / n, sys * 1e9 / n, (usr + sys) * 1e9 / n);
	return 0;
}
