/*
 * Prints the SQE each liburing `io_uring_prep_*` helper writes for the
 * arguments of tests/tests/sqe_bytes.rs, field by field (the non-zero ones),
 * so that the expected SQEs of those tests can be read off liburing itself.
 *
 * Each helper runs on a zeroed SQE, which is what `io_uring_get_sqe` hands
 * out once a helper has run (`io_uring_initialize_sqe` and
 * `io_uring_prep_rw` between them write every field but `user_data`).
 * Descriptors are the numbers below (FD, DIRFD, ...), and pointers are
 * placeholders printed by name (&buf, &ts, ...): the tests use the real
 * descriptors and addresses in the same places.
 *
 * Needs liburing's headers, 2.10 or newer (the helpers for futexes,
 * waitid, bind, listen, pipes, socket and block commands are recent): a
 * checkout of https://github.com/axboe/liburing after `./configure`, or a
 * distribution's liburing-dev if it is that new. Only inline helpers are
 * used, so nothing is linked:
 *
 *   cc -std=gnu11 -I /path/to/liburing/src/include \
 *       -o /tmp/sqe_dump tests/scripts/sqe_dump.c && /tmp/sqe_dump
 *
 * CI does not run it.
 */
#define _GNU_SOURCE
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/xattr.h>
#include <netinet/in.h>

#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE 128
#endif
#ifndef FUTEX_BITSET_MATCH_ANY
#define FUTEX_BITSET_MATCH_ANY 0xffffffff
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif
#ifndef RESOLVE_BENEATH
#define RESOLVE_BENEATH 0x08
#endif

enum { FD = 100, DIRFD = 101, NEWDIRFD = 102, PIPE_IN = 103, PIPE_OUT = 104,
       SOCKFD = 105, EPFD = 106, RINGFD = 107, PIDFD = 108 };

/* Placeholder addresses, printed back by name. */
static const char *const names[] = {
	"&buf", "&iovecs", "&path", "&how", "&statx", "&old", "&new",
	"&name", "&value", "&fds", "&addr", "&addrlen", "&msg", "&ts",
	"&optval", "&event", "&events", "&word", "&futexes", "&info",
	"&region", "&dest", "&target", "&link", "&layout",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))
enum { BUF, IOVECS, PATH, HOW, STATX, OLD, NEW, NAME, VALUE, FDS, ADDR,
       ADDRLEN, MSG, TS, OPTVAL, EVENT, EVENTS, WORD, FUTEXES, INFO,
       REGION, DEST, TARGET, LINK, LAYOUT };
#define P(n) ((void *)(uintptr_t)(0x5e000000ull + ((n) << 8)))

static void field(const char *name, unsigned long long v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < NNAMES; i++) {
		if (v == (uintptr_t)P(i)) {
			printf(" %s=%s", name, names[i]);
			return;
		}
	}
	printf(" %s=%#llx", name, v);
}

static void dump(const char *call, const struct io_uring_sqe *sqe)
{
	printf("%s:", call);
	field("opcode", sqe->opcode);
	field("flags", sqe->flags);
	field("ioprio", sqe->ioprio);
	if (sqe->fd)
		printf(" fd=%d", sqe->fd);
	field("off", sqe->off);
	field("addr", sqe->addr);
	field("len", sqe->len);
	field("rw_flags", (unsigned)sqe->rw_flags);
	field("user_data", sqe->user_data);
	field("buf_index", sqe->buf_index);
	field("personality", sqe->personality);
	field("file_index", sqe->file_index);
	field("addr3", sqe->addr3);
	field("__pad2", sqe->__pad2[0]);
	printf("\n");
}

/* Runs `body` (which writes `sqe`) on a zeroed SQE and prints the result. */
#define CASE(call, body)                                                \
	do {                                                            \
		struct io_uring_sqe s, *sqe = &s;                       \
		memset(&s, 0, sizeof(s));                               \
		body;                                                   \
		dump(call, &s);                                         \
	} while (0)

int main(void)
{
	/* What every op carries. */
	CASE("io_uring_prep_nop", io_uring_prep_nop(sqe));
	CASE("io_uring_sqe_set_data64",
	     (io_uring_prep_nop(sqe), io_uring_sqe_set_data64(sqe, 0x0123456789abcdefull)));
	CASE("io_uring_sqe_set_flags(DRAIN | ASYNC | CQE_SKIP_SUCCESS)",
	     (io_uring_prep_nop(sqe),
	      io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN | IOSQE_ASYNC | IOSQE_CQE_SKIP_SUCCESS)));
	CASE("io_uring_prep_link_timeout(ts, 0)", io_uring_prep_link_timeout(sqe, P(TS), 0));
	CASE("io_uring_prep_link_timeout(ts, ABS | REALTIME)",
	     io_uring_prep_link_timeout(sqe, P(TS), IORING_TIMEOUT_ABS | IORING_TIMEOUT_REALTIME));

	/* Files. */
	CASE("io_uring_prep_read(FD, buf, 16, 7)", io_uring_prep_read(sqe, FD, P(BUF), 16, 7));
	CASE("io_uring_prep_read, rw_flags NOWAIT | HIPRI, ioprio",
	     (io_uring_prep_read(sqe, FD, P(BUF), 16, -1),
	      sqe->rw_flags = RWF_NOWAIT | RWF_HIPRI, sqe->ioprio = (2 << 13) | 4));
	CASE("io_uring_prep_read(3, ..), FIXED_FILE | ASYNC",
	     (io_uring_prep_read(sqe, 3, P(BUF), 16, 64),
	      io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE | IOSQE_ASYNC)));
	CASE("io_uring_prep_read(FD, NULL, 64, -1), buffer select 7",
	     (io_uring_prep_read(sqe, FD, NULL, 64, -1), sqe->flags |= IOSQE_BUFFER_SELECT,
	      sqe->buf_group = 7));
	CASE("io_uring_prep_write(FD, buf, 10, 3)", io_uring_prep_write(sqe, FD, P(BUF), 10, 3));
	CASE("io_uring_prep_readv2(FD, iovecs, 2, 9, RWF_NOWAIT)",
	     io_uring_prep_readv2(sqe, FD, P(IOVECS), 2, 9, RWF_NOWAIT));
	CASE("io_uring_prep_writev2(FD, iovecs, 2, 9, RWF_SYNC)",
	     io_uring_prep_writev2(sqe, FD, P(IOVECS), 2, 9, RWF_SYNC));
	CASE("io_uring_prep_read_fixed(FD, buf, 64, 512, 1)",
	     io_uring_prep_read_fixed(sqe, FD, P(BUF), 64, 512, 1));
	CASE("io_uring_prep_write_fixed(FD, buf, 100, 4096, 0)",
	     io_uring_prep_write_fixed(sqe, FD, P(BUF), 100, 4096, 0));
	CASE("io_uring_prep_readv_fixed(FD, iovecs, 2, 77, RWF_NOWAIT, 1)",
	     io_uring_prep_readv_fixed(sqe, FD, P(IOVECS), 2, 77, RWF_NOWAIT, 1));
	CASE("io_uring_prep_writev_fixed(FD, iovecs, 2, 77, RWF_DSYNC, 0)",
	     io_uring_prep_writev_fixed(sqe, FD, P(IOVECS), 2, 77, RWF_DSYNC, 0));
	CASE("io_uring_prep_read_multishot(FD, 0, 0, 7)",
	     io_uring_prep_read_multishot(sqe, FD, 0, 0, 7));
	CASE("io_uring_prep_fsync(FD, 0)", io_uring_prep_fsync(sqe, FD, 0));
	CASE("io_uring_prep_fsync(FD, DATASYNC), off 4096, len 512",
	     (io_uring_prep_fsync(sqe, FD, IORING_FSYNC_DATASYNC), sqe->off = 4096, sqe->len = 512));
	CASE("io_uring_prep_sync_file_range(FD, 4096, 512, SYNC_FILE_RANGE_WRITE)",
	     io_uring_prep_sync_file_range(sqe, FD, 4096, 512, SYNC_FILE_RANGE_WRITE));
	CASE("io_uring_prep_fallocate(FD, FALLOC_FL_KEEP_SIZE, 512, 8192)",
	     io_uring_prep_fallocate(sqe, FD, FALLOC_FL_KEEP_SIZE, 512, 8192));
	CASE("io_uring_prep_fadvise(FD, 512, 4096, POSIX_FADV_DONTNEED)",
	     io_uring_prep_fadvise(sqe, FD, 512, 4096, POSIX_FADV_DONTNEED));
	CASE("io_uring_prep_fadvise64(FD, 512, 5 << 32, POSIX_FADV_WILLNEED)",
	     io_uring_prep_fadvise64(sqe, FD, 512, 5ll << 32, POSIX_FADV_WILLNEED));
	CASE("io_uring_prep_ftruncate(FD, 12345)", io_uring_prep_ftruncate(sqe, FD, 12345));
	CASE("io_uring_prep_splice(FD, -1, PIPE_OUT, -1, 1024, 0)",
	     io_uring_prep_splice(sqe, FD, -1, PIPE_OUT, -1, 1024, 0));
	CASE("io_uring_prep_splice(PIPE_IN, 100, FD, 200, 1024, MOVE | NONBLOCK)",
	     io_uring_prep_splice(sqe, PIPE_IN, 100, FD, 200, 1024,
				  SPLICE_F_MOVE | SPLICE_F_NONBLOCK));
	CASE("io_uring_prep_splice(3, -1, PIPE_OUT, -1, 1024, FD_IN_FIXED | MORE)",
	     io_uring_prep_splice(sqe, 3, -1, PIPE_OUT, -1, 1024,
				  SPLICE_F_FD_IN_FIXED | SPLICE_F_MORE));
	CASE("io_uring_prep_tee(PIPE_IN, PIPE_OUT, 1024, NONBLOCK)",
	     io_uring_prep_tee(sqe, PIPE_IN, PIPE_OUT, 1024, SPLICE_F_NONBLOCK));

	/* Paths. */
	CASE("io_uring_prep_openat(AT_FDCWD, path, O_CLOEXEC, 0)",
	     io_uring_prep_openat(sqe, AT_FDCWD, P(PATH), O_CLOEXEC, 0));
	CASE("io_uring_prep_openat(DIRFD, path, O_CREAT | O_WRONLY | O_TRUNC, 0640)",
	     io_uring_prep_openat(sqe, DIRFD, P(PATH), O_CREAT | O_WRONLY | O_TRUNC, 0640));
	CASE("io_uring_prep_openat_direct(AT_FDCWD, path, 0, 0, ALLOC)",
	     io_uring_prep_openat_direct(sqe, AT_FDCWD, P(PATH), 0, 0, IORING_FILE_INDEX_ALLOC));
	CASE("io_uring_prep_openat_direct(AT_FDCWD, path, 0, 0, 2)",
	     io_uring_prep_openat_direct(sqe, AT_FDCWD, P(PATH), 0, 0, 2));
	CASE("io_uring_prep_openat2(DIRFD, path, how)",
	     io_uring_prep_openat2(sqe, DIRFD, P(PATH), P(HOW)));
	CASE("io_uring_prep_openat2_direct(DIRFD, path, how, ALLOC)",
	     io_uring_prep_openat2_direct(sqe, DIRFD, P(PATH), P(HOW), IORING_FILE_INDEX_ALLOC));
	CASE("io_uring_prep_statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, st)",
	     io_uring_prep_statx(sqe, AT_FDCWD, P(PATH), 0, STATX_BASIC_STATS, P(STATX)));
	CASE("io_uring_prep_renameat(DIRFD, old, NEWDIRFD, new, RENAME_NOREPLACE)",
	     io_uring_prep_renameat(sqe, DIRFD, P(OLD), NEWDIRFD, P(NEW), RENAME_NOREPLACE));
	CASE("io_uring_prep_rename(old, new)", io_uring_prep_rename(sqe, P(OLD), P(NEW)));
	CASE("io_uring_prep_unlinkat(DIRFD, path, AT_REMOVEDIR)",
	     io_uring_prep_unlinkat(sqe, DIRFD, P(PATH), AT_REMOVEDIR));
	CASE("io_uring_prep_mkdirat(DIRFD, path, 0777)",
	     io_uring_prep_mkdirat(sqe, DIRFD, P(PATH), 0777));
	CASE("io_uring_prep_symlinkat(target, DIRFD, link)",
	     io_uring_prep_symlinkat(sqe, P(TARGET), DIRFD, P(LINK)));
	CASE("io_uring_prep_linkat(DIRFD, old, NEWDIRFD, new, AT_SYMLINK_FOLLOW)",
	     io_uring_prep_linkat(sqe, DIRFD, P(OLD), NEWDIRFD, P(NEW), AT_SYMLINK_FOLLOW));
	CASE("io_uring_prep_setxattr(name, value, path, XATTR_CREATE, 5)",
	     io_uring_prep_setxattr(sqe, P(NAME), P(VALUE), P(PATH), XATTR_CREATE, 5));
	CASE("io_uring_prep_getxattr(name, value, path, 32)",
	     io_uring_prep_getxattr(sqe, P(NAME), P(VALUE), P(PATH), 32));
	CASE("io_uring_prep_fsetxattr(FD, name, value, XATTR_REPLACE, 5)",
	     io_uring_prep_fsetxattr(sqe, FD, P(NAME), P(VALUE), XATTR_REPLACE, 5));
	CASE("io_uring_prep_fgetxattr(FD, name, value, 32)",
	     io_uring_prep_fgetxattr(sqe, FD, P(NAME), P(VALUE), 32));

	/* Descriptors. */
	CASE("io_uring_prep_close(FD)", io_uring_prep_close(sqe, FD));
	CASE("io_uring_prep_close_direct(6)", io_uring_prep_close_direct(sqe, 6));
	CASE("io_uring_prep_files_update(fds, 3, ALLOC)",
	     io_uring_prep_files_update(sqe, P(FDS), 3, IORING_FILE_INDEX_ALLOC));
	CASE("io_uring_prep_files_update(fds, 3, 4)", io_uring_prep_files_update(sqe, P(FDS), 3, 4));
	CASE("io_uring_prep_fixed_fd_install(3, NO_CLOEXEC)",
	     io_uring_prep_fixed_fd_install(sqe, 3, IORING_FIXED_FD_NO_CLOEXEC));
	CASE("io_uring_prep_pipe(fds, O_CLOEXEC)", io_uring_prep_pipe(sqe, P(FDS), O_CLOEXEC));
	CASE("io_uring_prep_pipe_direct(fds, 0, ALLOC)",
	     io_uring_prep_pipe_direct(sqe, P(FDS), 0, IORING_FILE_INDEX_ALLOC));
	CASE("io_uring_prep_pipe_direct(fds, 0, 2)", io_uring_prep_pipe_direct(sqe, P(FDS), 0, 2));

	/* Sockets. */
	CASE("io_uring_prep_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP, 0)",
	     io_uring_prep_socket(sqe, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP, 0));
	CASE("io_uring_prep_socket(AF_INET, -1, 0, 0)",
	     io_uring_prep_socket(sqe, AF_INET, -1, 0, 0));
	CASE("io_uring_prep_socket_direct(AF_INET6, SOCK_DGRAM, 0, 2, 0)",
	     io_uring_prep_socket_direct(sqe, AF_INET6, SOCK_DGRAM, 0, 2, 0));
	CASE("io_uring_prep_socket_direct_alloc(AF_INET6, SOCK_DGRAM, 0, 0)",
	     io_uring_prep_socket_direct_alloc(sqe, AF_INET6, SOCK_DGRAM, 0, 0));
	CASE("io_uring_prep_bind(SOCKFD, addr, 16)", io_uring_prep_bind(sqe, SOCKFD, P(ADDR), 16));
	CASE("io_uring_prep_listen(SOCKFD, 128)", io_uring_prep_listen(sqe, SOCKFD, 128));
	CASE("io_uring_prep_accept(SOCKFD, NULL, NULL, 0)",
	     io_uring_prep_accept(sqe, SOCKFD, NULL, NULL, 0));
	CASE("io_uring_prep_accept(1, addr, addrlen, SOCK_CLOEXEC | SOCK_NONBLOCK), fixed",
	     (io_uring_prep_accept(sqe, 1, P(ADDR), P(ADDRLEN), SOCK_CLOEXEC | SOCK_NONBLOCK),
	      io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE)));
	CASE("io_uring_prep_multishot_accept(SOCKFD, NULL, NULL, SOCK_CLOEXEC)",
	     io_uring_prep_multishot_accept(sqe, SOCKFD, NULL, NULL, SOCK_CLOEXEC));
	CASE("io_uring_prep_accept_direct(SOCKFD, NULL, NULL, 0, ALLOC)",
	     io_uring_prep_accept_direct(sqe, SOCKFD, NULL, NULL, 0, IORING_FILE_INDEX_ALLOC));
	CASE("io_uring_prep_accept_direct(SOCKFD, NULL, NULL, 0, 7)",
	     io_uring_prep_accept_direct(sqe, SOCKFD, NULL, NULL, 0, 7));
	CASE("io_uring_prep_multishot_accept_direct(SOCKFD, NULL, NULL, 0)",
	     io_uring_prep_multishot_accept_direct(sqe, SOCKFD, NULL, NULL, 0));
	CASE("io_uring_prep_connect(SOCKFD, addr, 28)",
	     io_uring_prep_connect(sqe, SOCKFD, P(ADDR), 28));
	CASE("io_uring_prep_send(SOCKFD, buf, 5, MSG_NOSIGNAL | MSG_MORE)",
	     io_uring_prep_send(sqe, SOCKFD, P(BUF), 5, MSG_NOSIGNAL | MSG_MORE));
	CASE("io_uring_prep_send(SOCKFD, buf, (1 << 32) + 5, 0)",
	     io_uring_prep_send(sqe, SOCKFD, P(BUF), (1ull << 32) + 5, 0));
	CASE("io_uring_prep_recv(SOCKFD, buf, (1 << 32) + 5, 0)",
	     io_uring_prep_recv(sqe, SOCKFD, P(BUF), (1ull << 32) + 5, 0));
	CASE("io_uring_prep_send_zc(SOCKFD, buf, (1 << 32) + 5, 0, 0)",
	     io_uring_prep_send_zc(sqe, SOCKFD, P(BUF), (1ull << 32) + 5, 0, 0));
	CASE("io_uring_prep_sendto(SOCKFD, buf, 5, MSG_DONTWAIT, dest, 16)",
	     io_uring_prep_sendto(sqe, SOCKFD, P(BUF), 5, MSG_DONTWAIT, P(DEST), 16));
	CASE("io_uring_prep_send_bundle(SOCKFD, 4096, 0), buffer select 9",
	     (io_uring_prep_send_bundle(sqe, SOCKFD, 4096, 0), sqe->flags |= IOSQE_BUFFER_SELECT,
	      sqe->buf_group = 9));
	CASE("io_uring_prep_recv(SOCKFD, buf, 64, MSG_PEEK | MSG_WAITALL)",
	     io_uring_prep_recv(sqe, SOCKFD, P(BUF), 64, MSG_PEEK | MSG_WAITALL));
	CASE("io_uring_prep_recv_multishot(SOCKFD, NULL, 0, MSG_TRUNC), buffer select 4",
	     (io_uring_prep_recv_multishot(sqe, SOCKFD, NULL, 0, MSG_TRUNC),
	      sqe->flags |= IOSQE_BUFFER_SELECT, sqe->buf_group = 4));
	CASE("io_uring_prep_sendmsg(SOCKFD, msg, MSG_NOSIGNAL)",
	     io_uring_prep_sendmsg(sqe, SOCKFD, P(MSG), MSG_NOSIGNAL));
	CASE("io_uring_prep_recvmsg(SOCKFD, msg, MSG_CMSG_CLOEXEC)",
	     io_uring_prep_recvmsg(sqe, SOCKFD, P(MSG), MSG_CMSG_CLOEXEC));
	CASE("io_uring_prep_recvmsg_multishot(SOCKFD, layout, MSG_TRUNC), buffer select 6",
	     (io_uring_prep_recvmsg_multishot(sqe, SOCKFD, P(LAYOUT), MSG_TRUNC),
	      sqe->flags |= IOSQE_BUFFER_SELECT, sqe->buf_group = 6));
	CASE("io_uring_prep_send_zc(SOCKFD, buf, 9, MSG_NOSIGNAL, POLL_FIRST | REPORT_USAGE)",
	     io_uring_prep_send_zc(sqe, SOCKFD, P(BUF), 9, MSG_NOSIGNAL,
				   IORING_RECVSEND_POLL_FIRST | IORING_SEND_ZC_REPORT_USAGE));
	CASE("io_uring_prep_send_zc(5, buf, 9, 0, 0), set_addr(dest, 28), fixed",
	     (io_uring_prep_send_zc(sqe, 5, P(BUF), 9, 0, 0),
	      io_uring_prep_send_set_addr(sqe, P(DEST), 28),
	      io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE)));
	CASE("io_uring_prep_send_zc_fixed(SOCKFD, buf, 100, MSG_DONTWAIT, REPORT_USAGE, 1)",
	     io_uring_prep_send_zc_fixed(sqe, SOCKFD, P(BUF), 100, MSG_DONTWAIT,
					 IORING_SEND_ZC_REPORT_USAGE, 1));
	CASE("io_uring_prep_sendmsg_zc(SOCKFD, msg, MSG_NOSIGNAL)",
	     io_uring_prep_sendmsg_zc(sqe, SOCKFD, P(MSG), MSG_NOSIGNAL));
	CASE("io_uring_prep_sendmsg_zc_fixed(SOCKFD, msg, MSG_NOSIGNAL, 0)",
	     io_uring_prep_sendmsg_zc_fixed(sqe, SOCKFD, P(MSG), MSG_NOSIGNAL, 0));
	CASE("io_uring_prep_rw(RECV_ZC, SOCKFD, NULL, 0, 0), MULTISHOT, zcrx_ifq_idx 2",
	     (io_uring_prep_rw(IORING_OP_RECV_ZC, sqe, SOCKFD, NULL, 0, 0),
	      sqe->ioprio |= IORING_RECV_MULTISHOT, sqe->zcrx_ifq_idx = 2));
	CASE("io_uring_prep_shutdown(SOCKFD, SHUT_WR)", io_uring_prep_shutdown(sqe, SOCKFD, SHUT_WR));
	CASE("io_uring_prep_uring_cmd(0x12345678, FD)",
	     io_uring_prep_uring_cmd(sqe, 0x12345678, FD));
	CASE("io_uring_prep_cmd_sock(SIOCINQ, SOCKFD, 0, 0, NULL, 0)",
	     io_uring_prep_cmd_sock(sqe, SOCKET_URING_OP_SIOCINQ, SOCKFD, 0, 0, NULL, 0));
	CASE("io_uring_prep_cmd_sock(SIOCOUTQ, SOCKFD, 0, 0, NULL, 0)",
	     io_uring_prep_cmd_sock(sqe, SOCKET_URING_OP_SIOCOUTQ, SOCKFD, 0, 0, NULL, 0));
	CASE("io_uring_prep_cmd_sock(GETSOCKOPT, SOCKFD, SOL_SOCKET, SO_RCVBUF, optval, 4)",
	     io_uring_prep_cmd_sock(sqe, SOCKET_URING_OP_GETSOCKOPT, SOCKFD, SOL_SOCKET, SO_RCVBUF,
				    P(OPTVAL), 4));
	CASE("io_uring_prep_cmd_sock(SETSOCKOPT, SOCKFD, SOL_SOCKET, SO_REUSEADDR, optval, 4)",
	     io_uring_prep_cmd_sock(sqe, SOCKET_URING_OP_SETSOCKOPT, SOCKFD, SOL_SOCKET,
				    SO_REUSEADDR, P(OPTVAL), 4));
	CASE("io_uring_prep_cmd_getsockname(SOCKFD, addr, addrlen, 1)",
	     io_uring_prep_cmd_getsockname(sqe, SOCKFD, P(ADDR), P(ADDRLEN), 1));
	CASE("io_uring_prep_cmd_discard(FD, 4096, 65536)",
	     io_uring_prep_cmd_discard(sqe, FD, 4096, 65536));

	/* Waiting. */
	CASE("io_uring_prep_timeout(ts, 3, ABS | BOOTTIME)",
	     io_uring_prep_timeout(sqe, P(TS), 3, IORING_TIMEOUT_ABS | IORING_TIMEOUT_BOOTTIME));
	CASE("io_uring_prep_timeout_remove(0xfeed, 0)", io_uring_prep_timeout_remove(sqe, 0xfeed, 0));
	CASE("io_uring_prep_timeout_update(ts, 0xfeed, ABS)",
	     io_uring_prep_timeout_update(sqe, P(TS), 0xfeed, IORING_TIMEOUT_ABS));
	CASE("io_uring_prep_timeout_update(ts, 0xbeef, LINK_TIMEOUT_UPDATE | BOOTTIME)",
	     io_uring_prep_timeout_update(sqe, P(TS), 0xbeef,
					  IORING_LINK_TIMEOUT_UPDATE | IORING_TIMEOUT_BOOTTIME));
	CASE("io_uring_prep_poll_add(SOCKFD, POLLIN | POLLRDHUP)",
	     io_uring_prep_poll_add(sqe, SOCKFD, POLLIN | POLLRDHUP));
	CASE("io_uring_prep_poll_multishot(SOCKFD, POLLOUT)",
	     io_uring_prep_poll_multishot(sqe, SOCKFD, POLLOUT));
	CASE("io_uring_prep_poll_remove(0x77)", io_uring_prep_poll_remove(sqe, 0x77));
	CASE("io_uring_prep_poll_update(0x77, 0x88, POLLIN, EVENTS | USER_DATA | MULTI)",
	     io_uring_prep_poll_update(sqe, 0x77, 0x88, POLLIN,
				       IORING_POLL_UPDATE_EVENTS | IORING_POLL_UPDATE_USER_DATA |
					       IORING_POLL_ADD_MULTI));
	CASE("io_uring_prep_epoll_ctl(EPFD, SOCKFD, EPOLL_CTL_ADD, event)",
	     io_uring_prep_epoll_ctl(sqe, EPFD, SOCKFD, EPOLL_CTL_ADD, P(EVENT)));
	CASE("io_uring_prep_epoll_wait(EPFD, events, 8, 0)",
	     io_uring_prep_epoll_wait(sqe, EPFD, P(EVENTS), 8, 0));
	CASE("io_uring_prep_futex_wait(word, 5, ANY, SIZE_U32, 0)",
	     io_uring_prep_futex_wait(sqe, P(WORD), 5, FUTEX_BITSET_MATCH_ANY, FUTEX2_SIZE_U32, 0));
	CASE("io_uring_prep_futex_wake(word, 3, 0b0110, SIZE_U32 | PRIVATE, 0)",
	     io_uring_prep_futex_wake(sqe, P(WORD), 3, 6, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE, 0));
	CASE("io_uring_prep_futex_waitv(futexes, 2, 0)",
	     io_uring_prep_futex_waitv(sqe, P(FUTEXES), 2, 0));
	CASE("io_uring_prep_waitid(P_PID, 1234, info, WEXITED, 0)",
	     io_uring_prep_waitid(sqe, P_PID, 1234, P(INFO), WEXITED, 0));
	CASE("io_uring_prep_waitid(P_PIDFD, PIDFD, info, WEXITED, 0)",
	     io_uring_prep_waitid(sqe, P_PIDFD, PIDFD, P(INFO), WEXITED, 0));

	/* Ops on other ops and other rings. */
	CASE("io_uring_prep_cancel64(0xabcd, ALL)",
	     io_uring_prep_cancel64(sqe, 0xabcd, IORING_ASYNC_CANCEL_ALL));
	CASE("io_uring_prep_cancel_fd(SOCKFD, ALL)",
	     io_uring_prep_cancel_fd(sqe, SOCKFD, IORING_ASYNC_CANCEL_ALL));
	CASE("io_uring_prep_cancel_fd(3, FD_FIXED)",
	     io_uring_prep_cancel_fd(sqe, 3, IORING_ASYNC_CANCEL_FD_FIXED));
	CASE("io_uring_prep_cancel64(0, OP | ALL), len IORING_OP_POLL_ADD",
	     (io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_OP | IORING_ASYNC_CANCEL_ALL),
	      sqe->len = IORING_OP_POLL_ADD));
	CASE("io_uring_prep_msg_ring(RINGFD, -5, data, CQE_SKIP)",
	     io_uring_prep_msg_ring(sqe, RINGFD, -5, 0x1122334455667788ull,
				    IORING_MSG_RING_CQE_SKIP));
	CASE("io_uring_prep_msg_ring_cqe_flags(RINGFD, 17, 9, CQE_SKIP, IORING_CQE_F_MORE)",
	     io_uring_prep_msg_ring_cqe_flags(sqe, RINGFD, 17, 9, IORING_MSG_RING_CQE_SKIP,
					      IORING_CQE_F_MORE));
	CASE("io_uring_prep_msg_ring_fd(RINGFD, 3, 6, 0x55, 0)",
	     io_uring_prep_msg_ring_fd(sqe, RINGFD, 3, 6, 0x55, 0));
	CASE("io_uring_prep_msg_ring_fd_alloc(RINGFD, 3, 0x55, CQE_SKIP)",
	     io_uring_prep_msg_ring_fd_alloc(sqe, RINGFD, 3, 0x55, IORING_MSG_RING_CQE_SKIP));

	/* Buffers and memory. */
	CASE("io_uring_prep_provide_buffers(region, 64, 15, 7, 10)",
	     io_uring_prep_provide_buffers(sqe, P(REGION), 64, 15, 7, 10));
	CASE("io_uring_prep_remove_buffers(4, 7)", io_uring_prep_remove_buffers(sqe, 4, 7));
	CASE("io_uring_prep_madvise(region, 4096, MADV_DONTNEED)",
	     io_uring_prep_madvise(sqe, P(REGION), 4096, MADV_DONTNEED));
	CASE("io_uring_prep_madvise64(region, 5 << 32, MADV_WILLNEED)",
	     io_uring_prep_madvise64(sqe, P(REGION), 5ll << 32, MADV_WILLNEED));
	return 0;
}
