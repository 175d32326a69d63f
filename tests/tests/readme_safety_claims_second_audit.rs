//! README.md and SAFETY.md, a second pass: the sentences added since
//! `readme_claims.rs`, `readme_claims_audit.rs` and
//! `attacks_safety_claims.rs` were written that no other suite checks,
//! each against what the library and the running kernel really do: what
//! `IORING_REGISTER_SYNC_CANCEL` returns (the README's "Not there yet"
//! said 0 whatever it found; it now says when Linux counts), the
//! reactor's `Recv` dropping `MSG_TRUNC` (SAFETY.md, section 10), the
//! heads and counts a buffer ring reports (`pool.head()`,
//! `pool.available()`, `ring.buf_ring_head(group)`), the known limit of an
//! incremental ring's unclaimed completion, and the conversions of
//! `Error` to `io::Error` and back that the README leans on for `?`.
//!
//! Read against Linux 6.18: `io_uring/cancel.c` (`io_sync_cancel`, which
//! returns `__io_async_cancel`'s count of what it cancelled straight to
//! user space unless a request was running; `__io_async_cancel`, which
//! counts for `IORING_ASYNC_CANCEL_ALL` and `_ANY`), `io_uring/register.c`
//! (`IORING_REGISTER_SYNC_CANCEL`, `IORING_REGISTER_PBUF_STATUS`),
//! `io_uring/kbuf.c` (`io_ring_buffer_select`, `io_kbuf_inc_commit`,
//! `io_register_pbuf_status`), `io_uring/net.c` (`io_recv`, which passes
//! the SQE's `msg_flags` to `sock_recvmsg`) and `net/ipv4/tcp.c`
//! (`tcp_recvmsg_locked`, which with `MSG_TRUNC` skips the copy and counts
//! the bytes it discards).
//!
//! Every test is safe code, but for one raw `io_uring_register` call that
//! asks the kernel for its count, and checks what the kernel did: results,
//! errnos, the bytes in each buffer, the heads.

use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::ops::{Recv, Timeout};
use uring::reactor::{Reactor, SharedFd, ops as rops};
use uring::{BufferGroup, Error, MsgFlags, PushErrorKind, Ring, SyncCancel, sys};
use uring_tests::{incremental_buf_ring, plain_buf_ring};

/// Whether the completion says the kernel keeps the rest of its buffer.
fn buf_more(cqe: &uring::Cqe) -> bool {
    cqe.flags() & sys::IORING_CQE_F_BUF_MORE != 0
}

/// One raw `IORING_REGISTER_SYNC_CANCEL` call on `ring`'s descriptor with
/// `flags` and `user_data`, no timeout: the kernel's return value.
fn raw_sync_cancel(ring: &Ring, flags: u32, user_data: u64) -> io::Result<u32> {
    let reg = sys::io_uring_sync_cancel_reg {
        addr: user_data,
        fd: -1,
        flags,
        timeout: sys::__kernel_timespec {
            tv_sec: -1,
            tv_nsec: -1,
        },
        ..Default::default()
    };
    // SAFETY: `reg` is a whole `io_uring_sync_cancel_reg` on this stack
    // frame, which the kernel only reads during the call (`copy_from_user`
    // in `io_sync_cancel`), and `nr_args` is the 1 the call requires; the
    // descriptor is the ring's own, alive for the call, and the cancel
    // names only requests of timeouts, which borrow nothing.
    unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_SYNC_CANCEL,
            (&reg as *const sys::io_uring_sync_cancel_reg).cast(),
            1,
        )
    }
}

/// Pushes `n` ten-second timeouts with `user_data` from `first` on, and
/// submits them.
fn push_timeouts(ring: &mut Ring, first: u64, n: u64) {
    for user_data in first..first + n {
        ring.push(Timeout::new(Duration::from_secs(10)).user_data(user_data))
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), n as u32);
}

/// Reads `n` completions, sorted by `user_data`.
fn reap(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = uring_tests::reap_sorted(ring, n);
    got.sort_unstable();
    got
}

/// What the kernel answers, and what the library makes of it (the README's
/// "Not there yet" says why `cancel_sync` returns no count): a raw call keyed `ANY` returns
/// the number of requests it cancelled (3), one keyed `ALL` by a
/// `user_data` the number of those that carry it (2 of 3), and 0, not
/// `ENOENT`, when such a key finds nothing; a call for one `user_data`
/// returns 0 when found and `ENOENT` when not. `Ring::cancel_sync` turns
/// them all into `Ok(())` but the last (an error carrying `ENOENT`), and
/// the requests end with `ECANCELED`, each once.
#[test]
fn sync_cancel_counts_what_any_and_all_keys_cancelled() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let mut ring = Ring::new(16).unwrap();
    push_timeouts(&mut ring, 1, 3);
    assert_eq!(
        raw_sync_cancel(&ring, sys::IORING_ASYNC_CANCEL_ANY, 0).unwrap(),
        3,
        "ANY counts the requests it cancelled"
    );
    assert_eq!(reap(&mut ring, 3).len(), 3);
    assert_eq!(
        raw_sync_cancel(&ring, sys::IORING_ASYNC_CANCEL_ANY, 0).unwrap(),
        0,
        "ANY over nothing: 0, not ENOENT"
    );

    // Two of three carry 7.
    for user_data in [7, 8, 7] {
        ring.push(Timeout::new(Duration::from_secs(10)).user_data(user_data))
            .unwrap();
    }
    ring.submit().unwrap();
    assert_eq!(
        raw_sync_cancel(&ring, sys::IORING_ASYNC_CANCEL_ALL, 7).unwrap(),
        2,
        "ALL by user_data counts the matches"
    );
    assert_eq!(
        reap(&mut ring, 2),
        [(7, -libc::ECANCELED), (7, -libc::ECANCELED)]
    );
    assert_eq!(
        raw_sync_cancel(&ring, sys::IORING_ASYNC_CANCEL_ALL, 7).unwrap(),
        0,
        "ALL over nothing: 0"
    );
    // One key: 0 when found, ENOENT when not.
    assert_eq!(raw_sync_cancel(&ring, 0, 8).unwrap(), 0);
    assert_eq!(reap(&mut ring, 1), [(8, -libc::ECANCELED)]);
    let e = raw_sync_cancel(&ring, 0, 8).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));

    // The library's calls over the same situations.
    push_timeouts(&mut ring, 20, 3);
    ring.cancel_sync(SyncCancel::any(), Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        reap(&mut ring, 3),
        [
            (20, -libc::ECANCELED),
            (21, -libc::ECANCELED),
            (22, -libc::ECANCELED)
        ]
    );
    ring.cancel_sync(SyncCancel::any(), Some(Duration::from_secs(5)))
        .unwrap();
    let e = ring
        .cancel_sync(SyncCancel::user_data(99), Some(Duration::from_secs(5)))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e:?}");
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// SAFETY.md, section 10: "What an owned buffer shows as received is what
/// the kernel wrote: the reactor's `Recv` drops `MSG_TRUNC` (a stream
/// socket then discards the bytes and completes with their count)." On
/// TCP a receive of 4 of 10 waiting bytes flagged `MSG_TRUNC` would leave
/// the buffer unwritten and report 4; with the flag dropped the buffer
/// holds the first 4 bytes and the other 6 stay for the next receive. On
/// UDP, a 10-byte datagram into 4 bytes would report 10; it reports 4,
/// the 4 bytes the buffer holds.
#[test]
fn the_reactors_recv_drops_msg_trunc_on_streams_and_datagrams() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut client, server) = uring_tests::tcp_pair();
    let stream = SharedFd::new(OwnedFd::from(server));
    client.write_all(b"0123456789").unwrap();
    let flags = MsgFlags::TRUNC | MsgFlags::WAITALL;
    let (res, buf) = reactor
        .run_until(reactor.op(rops::Recv::new(&stream, Vec::with_capacity(4)).flags(flags)))
        .unwrap();
    assert_eq!(res.unwrap(), 4);
    assert_eq!(
        buf, b"0123",
        "the bytes the count stands for are in the buffer"
    );
    let (res, buf) = reactor
        .run_until(reactor.op(rops::Recv::new(&stream, Vec::with_capacity(16))))
        .unwrap();
    assert_eq!(res.unwrap(), 6);
    assert_eq!(buf, b"456789", "nothing was discarded");

    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    let dgram = SharedFd::new(OwnedFd::from(b));
    a.send(b"abcdefghij").unwrap();
    let (res, buf) = reactor
        .run_until(
            reactor.op(rops::Recv::new(&dgram, Vec::with_capacity(4)).flags(MsgFlags::TRUNC)),
        )
        .unwrap();
    assert_eq!(
        res.unwrap(),
        4,
        "the count is what the buffer got, not the datagram's length"
    );
    assert_eq!(buf, b"abcd");
    assert_eq!(buf.len(), 4);
}

/// README, buffer rings: "`pool.head()` reads the kernel's head
/// (`IORING_REGISTER_PBUF_STATUS`, 6.8), `ring.buf_ring_head(group)` that
/// of any group, and `pool.available()` the buffers it can still pick."
/// A plain ring of 4: head 0 and 4 available; a receive takes buffer 0
/// (head 1, 3 available), a claim holds it out of the ring (still 3) and
/// its drop gives it back (4, the head unchanged). The ring's reading of
/// the group agrees; a group no ring registered, and this one once its
/// `BufRing` is dropped, is `ENOENT`.
#[test]
fn buffer_ring_heads_and_counts_follow_a_selection_and_its_claim() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        uring_tests::skip("IORING_REGISTER_PBUF_STATUS (6.8)");
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 31, 4, 64) else {
        return;
    };
    let group = BufferGroup::new(31);
    assert_eq!(pool.head().unwrap(), 0);
    assert_eq!(pool.available().unwrap(), 4);
    assert_eq!(ring.buf_ring_head(group).unwrap(), 0);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"hello").unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.res(), cqe.buffer_id()), (5, Some(0)), "{cqe:?}");
        assert_eq!(pool.head().unwrap(), 1, "the kernel took one buffer");
        assert_eq!(pool.available().unwrap(), 3);
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(&buf[..], b"hello");
        assert_eq!(pool.lent(), 1);
        assert_eq!(
            pool.available().unwrap(),
            3,
            "a lent buffer is not in the ring"
        );
        drop(buf);
        assert_eq!(pool.lent(), 0);
        assert_eq!(pool.available().unwrap(), 4, "given back");
        assert_eq!(pool.head().unwrap(), 1, "the head does not move back");
    });
    assert_eq!(ring.buf_ring_head(group).unwrap(), 1);
    let e = ring.buf_ring_head(BufferGroup::new(999)).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e:?}");
    drop(pool);
    let e = ring.buf_ring_head(group).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e:?}");
}

/// SAFETY.md, "Known limits": "On an incremental ring, a completion left
/// unclaimed shifts the bytes that later claims of its buffer hand out:
/// they start where the last claim ended, so they are bytes the kernel
/// wrote for the unclaimed one (it has passed them), not the later
/// completion's." Two receives into buffer 0 of an incremental ring, 4
/// bytes then 6; the first is read and dropped unclaimed, the second is
/// claimed: its `Buf` starts at offset 0 and holds 6 bytes from there,
/// the first receive's 4 and 2 of the second's, as the limit says.
/// Nothing is lent twice: the buffer is the kernel's again only after the
/// `Buf` is dropped.
#[test]
fn an_unclaimed_incremental_completion_shifts_the_next_claim() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 32, 1, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        tx.write_all(b"AAAA").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let first = s.completions().next().unwrap();
        assert_eq!((first.res(), first.buffer_id()), (4, Some(0)), "{first:?}");
        assert!(buf_more(&first), "{first:?}");
        drop(first);
        tx.write_all(b"BBBBBB").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut second = s.completions().next().unwrap();
        assert_eq!(
            (second.res(), second.buffer_id()),
            (6, Some(0)),
            "{second:?}"
        );
        assert!(buf_more(&second), "{second:?}");
        let buf = pool.claim(&mut second).unwrap();
        assert_eq!(
            (buf.bid(), buf.offset()),
            (0, 0),
            "from where no claim ended"
        );
        assert_eq!(
            &buf[..],
            b"AAAABB",
            "the unclaimed completion's bytes first"
        );
        assert!(pool.claim(&mut second).is_err(), "claimed once");
    });
}

/// README, "Errors": "It converts to `io::Error` and back, so `?` takes a
/// completion's `cqe.result()` ..."; and `Error`'s rustdoc: each variant
/// but `Os` becomes an `io::Error` of the nearest kind (`TimedOut`,
/// `Unsupported`, `WouldBlock`, `InvalidInput`) with no errno, and comes
/// back as itself; `Error::raw_os_error` is `ETIME` for a timed-out wait
/// and `EINVAL` for a mistake caught before any system call. Every
/// variant, and every `PushErrorKind` inside `PushRefused`, round-trips
/// with its payload; an `Os` error keeps its errno and comes back as
/// `Os` with `call` `"I/O"`.
#[test]
fn every_error_converts_to_io_error_and_back() {
    let _watch = uring_tests::watchdog();
    let kinds = [
        PushErrorKind::QueueFull,
        PushErrorKind::ScopeFull,
        PushErrorKind::Disabled,
        PushErrorKind::ForeignFile,
        PushErrorKind::NothingPushed,
        PushErrorKind::Targeted,
        PushErrorKind::AfterDrain,
        PushErrorKind::SharedSqThread,
        PushErrorKind::OtherThread,
        PushErrorKind::Restricted,
    ];
    for kind in kinds {
        let io = io::Error::from(Error::PushRefused(kind));
        let want = match kind {
            PushErrorKind::ScopeFull => io::ErrorKind::WouldBlock,
            PushErrorKind::AfterDrain => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::InvalidInput,
        };
        assert_eq!(io.kind(), want, "{kind:?}");
        assert_eq!(io.raw_os_error(), None, "{kind:?}");
        let back = Error::from(io);
        assert!(
            matches!(back, Error::PushRefused(k) if k == kind),
            "{back:?}"
        );
    }
    let cases: Vec<(Error, io::ErrorKind, Option<i32>)> = vec![
        (Error::TimedOut, io::ErrorKind::TimedOut, Some(libc::ETIME)),
        (Error::QueueFull, io::ErrorKind::WouldBlock, None),
        (
            Error::Unsupported("thing"),
            io::ErrorKind::Unsupported,
            None,
        ),
        (
            Error::UnsupportedOp {
                name: "GetSockName",
                code: 46,
            },
            io::ErrorKind::Unsupported,
            None,
        ),
        (
            Error::Setup("why"),
            io::ErrorKind::InvalidInput,
            Some(libc::EINVAL),
        ),
        (
            Error::InvalidArgument("what".into()),
            io::ErrorKind::InvalidInput,
            Some(libc::EINVAL),
        ),
    ];
    for (error, kind, errno) in cases {
        let shown = format!("{error:?}");
        assert_eq!(error.raw_os_error(), errno, "{shown}");
        let io = io::Error::from(error);
        assert_eq!(io.kind(), kind, "{shown}");
        assert_eq!(io.raw_os_error(), None, "{shown}");
        let back = Error::from(io);
        assert_eq!(format!("{back:?}"), shown, "round trip");
    }
    let os = Error::Os {
        call: "IORING_REGISTER_FILES",
        source: io::Error::from_raw_os_error(libc::EMFILE),
    };
    assert_eq!(os.raw_os_error(), Some(libc::EMFILE));
    let io = io::Error::from(os);
    assert_eq!(io.raw_os_error(), Some(libc::EMFILE));
    match Error::from(io) {
        Error::Os { call, source } => {
            assert_eq!(call, "I/O");
            assert_eq!(source.raw_os_error(), Some(libc::EMFILE));
        }
        other => panic!("{other:?}"),
    }
}
