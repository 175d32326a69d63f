//! Provided-buffer rings checked against what the kernel's own code does
//! to them (Linux 6.18: `io_uring/kbuf.c`, `kbuf.h`, `net.c`, `rw.c`), from
//! safe code only.
//!
//! Each test drives one path of the kernel that moves the ring's head (at
//! selection, at completion, or not at all), posts `IORING_CQE_F_BUFFER`
//! and `IORING_CQE_F_BUF_MORE`, or counts bytes in a completion's result,
//! and checks the library's claims against it: which buffer a completion
//! lends, how many of its bytes, whether the buffer goes back to the kernel
//! once (and only once the kernel is done with it), and that a live `Buf`
//! never changes while the kernel goes on filling the ring.
//!
//! The paths: selections the kernel commits at once (a regular file, which
//! cannot be polled, and an io-wq worker, which runs unlocked:
//! `io_ring_buffer_select` / `io_should_commit`) against those it commits
//! at completion (`io_put_kbuf` from `kiocb_done` and `io_recv_finish`) or
//! never (`io_kbuf_recycle_ring` on `-EAGAIN`, before a poll is armed);
//! failures and empty transfers after a selection, on incremental rings
//! (`io_kbuf_inc_commit`); a `MSG_WAITALL` receive that the kernel commits
//! at its first piece and retries into the same buffer
//! (`io_net_kbuf_recyle`); and receives whose results would count bytes
//! the kernel did not place (`MSG_TRUNC` on TCP, which discards them, and
//! on a datagram received into a selection shorter than the buffer), which
//! a scope refuses.

use std::io::{Read as _, Write as _};
use std::net::Shutdown;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Instant;

use uring::ops::{Read, Recv};
use uring::{Buf, BufRing, BufferSelect, MsgFlags, Ring, SqeFlags};
use uring_tests::{PATIENCE, incremental_buf_ring, plain_buf_ring, tcp_pair};

/// Whether the kernel keeps the rest of the completion's buffer.
fn buf_more(flags: u32) -> bool {
    flags & uring::sys::IORING_CQE_F_BUF_MORE != 0
}

/// Waits (without a deadline of its own beyond [`PATIENCE`]) until the
/// kernel's head of `pool` reaches `head`: an io-wq worker took a buffer.
fn wait_for_head(pool: &BufRing, head: u16) {
    let start = Instant::now();
    while pool.head().unwrap() != head {
        assert!(
            start.elapsed() < PATIENCE,
            "the kernel's head stays at {}, not {head}",
            pool.head().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Fails unless the ring offers the kernel at most one copy of each buffer.
fn assert_not_overfull(pool: &BufRing) {
    let available = pool.available().unwrap();
    assert!(
        available <= pool.count(),
        "the ring offers {available} positions for {} buffers: one is in it twice",
        pool.count()
    );
}

/// A live claim and what it showed when it was made.
struct Held<'a> {
    buf: Buf<'a>,
    seen: Vec<u8>,
}

impl<'a> Held<'a> {
    fn new(buf: Buf<'a>) -> Held<'a> {
        let seen = buf.to_vec();
        Held { buf, seen }
    }

    /// Fails if the kernel wrote into the claim since it was made.
    fn assert_untouched(&self, what: &str) {
        assert_eq!(
            &self.buf[..],
            &self.seen[..],
            "{what}: the kernel wrote into a lent buffer: {:?}",
            self.buf
        );
    }
}

/// A read of a descriptor opened for writing only, selecting a whole buffer
/// of an incremental ring. The file is regular, so `io_ring_buffer_select`
/// commits at selection (`io_should_commit`: `!io_file_can_poll`), and
/// `io_kbuf_inc_commit` takes the whole remaining length: the head moves
/// past the buffer and the commit reports it used up (no `BUF_MORE`).
/// `__io_read` then fails with `EBADF` in `io_rw_init_file`; `io_read`
/// recycles only while `REQ_F_BUFFERS_COMMIT` is set (it was cleared by the
/// commit), so the completion names the buffer, flagged `F_BUFFER` without
/// `F_BUF_MORE`. The kernel is done with the buffer: once its claim is
/// dropped it must be in the ring again, or the group loses a buffer for
/// good.
#[test]
fn a_failed_file_read_that_took_a_whole_incremental_buffer_gives_it_back() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 70, 2, 64) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let write_only = std::fs::File::create(dir.path().join("w")).unwrap();
    let readable = uring_tests::file_of(&uring_tests::pattern(256, 70));
    ring.scope(|s| {
        s.push(Read::new(&write_only, pool.select()).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), -libc::EBADF, "{:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), Some(0), "{:?}", cqe.cqe());
        assert!(!buf_more(cqe.flags()), "used up: {:?}", cqe.cqe());
        assert_eq!(
            pool.head().unwrap(),
            1,
            "the kernel took the whole buffer off the ring at selection"
        );
        if let Ok(buf) = pool.claim(&mut cqe) {
            assert!(buf.is_empty(), "the read wrote nothing: {buf:?}");
        }
        assert_not_overfull(&pool);
        assert_eq!(
            pool.available().unwrap(),
            pool.count(),
            "the buffer the kernel let go of is back in the ring"
        );
        // Every buffer can be read into again, in turn.
        for i in 0..4u64 {
            s.push(
                Read::new(&readable, pool.select())
                    .offset(i * 64)
                    .user_data(2 + i),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.res(), 64, "read {i}: {:?}", cqe.cqe());
            drop(pool.claim(&mut cqe).unwrap());
        }
    });
}

/// A read of a regular file at its end, selecting a whole buffer of an
/// incremental ring: `io_ring_buffer_select` commits the whole remaining
/// length at selection (the file cannot be polled), so the head moves past
/// the buffer, and the read completes with 0 bytes, flagged `F_BUFFER`
/// without `F_BUF_MORE` (`__io_put_kbufs` gets no list to commit, the
/// commit was done). An empty completion is not always the kernel keeping
/// the buffer: here it has let go of it, and the buffer must go back to the
/// ring once its claim is dropped.
#[test]
fn a_file_read_at_end_of_file_that_took_a_whole_incremental_buffer_gives_it_back() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 71, 2, 64) else {
        return;
    };
    let file = uring_tests::file_of(&uring_tests::pattern(64, 71));
    ring.scope(|s| {
        s.push(Read::new(&file, pool.select()).offset(64).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 0, "at the end: {:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), Some(0), "{:?}", cqe.cqe());
        assert!(!buf_more(cqe.flags()), "used up: {:?}", cqe.cqe());
        assert_eq!(pool.head().unwrap(), 1, "the kernel took the whole buffer");
        drop(pool.claim(&mut cqe));
        assert_not_overfull(&pool);
        assert_eq!(
            pool.available().unwrap(),
            pool.count(),
            "the buffer the kernel let go of is back in the ring"
        );
    });
}

/// A receive forced into an io-wq worker (`IOSQE_ASYNC`) selects a whole
/// buffer of an incremental ring: the worker runs unlocked, so
/// `io_ring_buffer_select` commits at once and the head moves past the
/// buffer. The peer has shut down its end: the receive gets 0 bytes, and
/// `io_recv` calls `io_kbuf_recycle` with no list (`sel.buf_list` was
/// cleared by the early commit), which leaves the flags: the completion
/// names the buffer, without `F_BUF_MORE`. The kernel is done with it,
/// and once its claim is dropped it must be in the ring again.
#[test]
fn a_worker_receive_at_end_of_stream_that_took_a_whole_incremental_buffer_gives_it_back() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 72, 2, 64) else {
        return;
    };
    let (tx, rx) = UnixStream::pair().unwrap();
    tx.shutdown(Shutdown::Write).unwrap();
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.select())
                .flags(SqeFlags::ASYNC)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 0, "end of stream: {:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), Some(0), "{:?}", cqe.cqe());
        assert!(!buf_more(cqe.flags()), "used up: {:?}", cqe.cqe());
        assert_eq!(pool.head().unwrap(), 1, "the worker took the whole buffer");
        drop(pool.claim(&mut cqe));
        assert_not_overfull(&pool);
        assert_eq!(
            pool.available().unwrap(),
            pool.count(),
            "the buffer the kernel let go of is back in the ring"
        );
    });
}

/// The counterpart of the tests above: a read of a pipe whose writer is
/// gone. Issued inline, a pipe (which can be polled) would not commit its
/// selection; `kiocb_done` would commit the result, 0, leaving the buffer at
/// the head (since the "no data consumed" fix flagged `F_BUF_MORE`; before
/// it, not), where an empty completion that named it could not say whether
/// the kernel still had it. A scope sends every read of an incremental
/// group to a worker (`IOSQE_ASYNC`), which commits the whole buffer as it
/// selects it: each empty completion names a buffer the head has passed,
/// its claim gives it back once, every buffer stays in the ring once, and
/// the next read lands at the start of a buffer, where the claims expect
/// it.
#[test]
fn a_pipe_read_at_end_of_file_gives_its_incremental_buffer_back_once() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 73, 2, 64) else {
        return;
    };
    let (r, w) = uring_tests::pipe();
    drop(w);
    let file = uring_tests::file_of(&uring_tests::pattern(40, 73));
    ring.scope(|s| {
        for i in 0..3u64 {
            s.push(Read::new(&r, pool.select()).user_data(i)).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.res(), 0, "end of file: {:?}", cqe.cqe());
            assert!(cqe.buffer_id().is_some(), "{:?}", cqe.cqe());
            assert!(!buf_more(cqe.flags()), "taken whole: {:?}", cqe.cqe());
            assert_eq!(
                pool.head().unwrap(),
                i as u16 + 1,
                "the worker took the buffer"
            );
            if let Ok(buf) = pool.claim(&mut cqe) {
                assert!(buf.is_empty(), "{buf:?}");
            }
            assert_eq!(pool.available().unwrap(), 2, "each buffer in the ring once");
        }
        s.push(Read::new(&file, pool.select()).user_data(9))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 40, "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(buf.offset(), 0, "from the buffer's start");
        assert_eq!(buf[..], uring_tests::pattern(40, 73)[..]);
    });
}

/// A receive issued inline on an empty socket selects the head buffer
/// without committing it, gets `-EAGAIN`, and `io_kbuf_recycle_ring` puts
/// the selection back (the head never moved) before the poll is armed: a
/// poll-armed receive holds no buffer. A regular-file read then takes the
/// head buffer (committed at selection), and when data arrives the receive
/// selects again, the next buffer. The claims lend distinct buffers with
/// what each op got, and the read's `Buf` stays as it was while the
/// receive fills the ring.
#[test]
fn a_poll_armed_receive_holds_no_buffer_while_a_file_read_takes_the_head() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 74, 2, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let file = uring_tests::file_of(&[0xf1; 64]);
    let sent = uring_tests::pattern(40, 74);
    ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit().unwrap();
        assert_eq!(
            pool.head().unwrap(),
            0,
            "a poll-armed receive holds no buffer"
        );
        s.push(Read::new(&file, pool.select()).user_data(2))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut read = s.completions().next().unwrap();
        assert_eq!(read.user_data(), 2, "{:?}", read.cqe());
        assert_eq!(read.res(), 64, "{:?}", read.cqe());
        assert_eq!(read.buffer_id(), Some(0), "{:?}", read.cqe());
        let held = Held::new(pool.claim(&mut read).unwrap());
        assert_eq!(held.seen, [0xf1; 64]);
        assert_eq!(pool.head().unwrap(), 1);
        tx.write_all(&sent).unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut recv = s.completions().next().unwrap();
        assert_eq!(recv.user_data(), 1, "{:?}", recv.cqe());
        assert_eq!(recv.res(), 40, "{:?}", recv.cqe());
        assert_eq!(
            recv.buffer_id(),
            Some(1),
            "the next buffer: {:?}",
            recv.cqe()
        );
        let got = pool.claim(&mut recv).unwrap();
        assert_eq!(got[..], sent[..]);
        held.assert_untouched("after the receive");
        drop(got);
        assert_not_overfull(&pool);
    });
}

/// A poll-armed receive (its selection put back by `io_kbuf_recycle_ring`
/// before the poll) is cancelled: `io_req_defer_failed` posts
/// `-ECANCELED` through `io_put_kbuf`, which finds `REQ_F_BUFFER_RING`
/// cleared and adds no `F_BUFFER`. Nothing can be claimed from it, no
/// buffer is given back a second time, and every buffer is still the
/// kernel's to hand out, whole, on either kind of ring.
#[test]
fn a_cancelled_poll_armed_receive_names_no_buffer_and_returns_none_twice() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    for incremental in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        let pool = if incremental {
            incremental_buf_ring(&mut ring, 79, 2, 32)
        } else {
            plain_buf_ring(&mut ring, 79, 2, 32)
        };
        let Some(pool) = pool else {
            return;
        };
        let (mut tx, rx) = UnixStream::pair().unwrap();
        ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
            s.submit().unwrap();
            s.cancel(1).unwrap();
            s.submit().unwrap();
            let mut seen = Vec::new();
            while !seen.iter().any(|c: &uring::Cqe| c.user_data() == 1) {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    seen.push(cqe.cqe());
                    if cqe.user_data() == 1 {
                        assert_eq!(cqe.res(), -libc::ECANCELED, "{seen:?}");
                        assert_eq!(cqe.buffer_id(), None, "no buffer held: {seen:?}");
                        assert!(pool.claim(&mut cqe).is_err(), "{seen:?}");
                    }
                }
            }
            assert_eq!(pool.head().unwrap(), 0, "incremental: {incremental}");
            assert_eq!(pool.available().unwrap(), 2, "incremental: {incremental}");
            tx.write_all(&[0x31; 32]).unwrap();
            s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.buffer_id(), Some(0), "{:?}", cqe.cqe());
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!((buf.offset(), &buf[..]), (0, &[0x31; 32][..]));
        });
    }
}

/// A receive forced into an io-wq worker takes a buffer of a plain ring
/// (committed at selection) and waits for data; the `BufRing` is dropped
/// inside the scope, which unregisters the group (`io_unregister_pbuf_ring`
/// drops the kernel's list, not the worker's selection) and keeps the
/// buffers' addresses reserved with no memory behind them. When data
/// comes, the worker's copy into the buffer it took faults (`-EFAULT`),
/// the completion still naming the buffer: no memory the program has
/// reused is written, and the bytes stay in the socket.
#[test]
fn a_buffer_ring_dropped_under_a_worker_that_took_a_buffer_is_written_by_no_one() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 80, 2, 64) else {
        return;
    };
    let (mut tx, mut rx) = UnixStream::pair().unwrap();
    let rx_op = rx.try_clone().unwrap();
    let mut pool = Some(pool);
    let cqe = ring.scope(|s| {
        let select = pool.as_ref().unwrap().select();
        s.push(
            Recv::new(&rx_op, select)
                .flags(SqeFlags::ASYNC)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        wait_for_head(pool.as_ref().unwrap(), 1);
        drop(pool.take());
        tx.write_all(&[0x42; 48]).unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        s.completions().next().unwrap().cqe()
    });
    assert_eq!(cqe.res(), -libc::EFAULT, "{cqe:?}");
    assert_eq!(cqe.buffer_id(), Some(0), "{cqe:?}");
    let mut left = [0u8; 48];
    rx.read_exact(&mut left).unwrap();
    assert_eq!(left, [0x42; 48], "the bytes were never placed");
}

/// A receive forced into an io-wq worker selects and commits the head
/// buffer at once (it runs unlocked), gets `-EAGAIN` and arms a poll from
/// the worker; `io_kbuf_recycle` has no list to put the buffer back on, so
/// the receive keeps it while it waits. A file read meanwhile takes the
/// next buffer, not that one; when data comes, the receive writes into the
/// buffer it kept, and names it. The read's `Buf` stays as it was.
#[test]
fn a_worker_receive_keeps_the_buffer_it_took_while_it_waits_for_data() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 75, 3, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let file = uring_tests::file_of(&[0xf2; 64]);
    let sent = uring_tests::pattern(48, 75);
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.select())
                .flags(SqeFlags::ASYNC)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        wait_for_head(&pool, 1);
        s.push(Read::new(&file, pool.select()).user_data(2))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut read = s.completions().next().unwrap();
        assert_eq!(read.user_data(), 2, "{:?}", read.cqe());
        assert_eq!(
            read.buffer_id(),
            Some(1),
            "not the worker's: {:?}",
            read.cqe()
        );
        let held = Held::new(pool.claim(&mut read).unwrap());
        assert_eq!(held.seen, [0xf2; 64]);
        tx.write_all(&sent).unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut recv = s.completions().next().unwrap();
        assert_eq!(recv.user_data(), 1, "{:?}", recv.cqe());
        assert_eq!(recv.res(), 48, "{:?}", recv.cqe());
        assert_eq!(
            recv.buffer_id(),
            Some(0),
            "the one it kept: {:?}",
            recv.cqe()
        );
        let got = pool.claim(&mut recv).unwrap();
        assert_eq!(got[..], sent[..]);
        held.assert_untouched("after the receive");
        assert_eq!(pool.head().unwrap(), 2, "two buffers taken, once each");
        drop(got);
        drop(held);
        assert_eq!(pool.available().unwrap(), 3, "both came back, once");
    });
}

/// A receive flagged `MSG_WAITALL` on a plain ring gets a short first
/// piece: `io_recv` sees `io_net_retry` and `io_net_kbuf_recyle` commits
/// the buffer it mapped (one: `io_bundle_nbufs` of a single buffer), marks
/// it not to be recycled, and retries into the rest of the same buffer at
/// the next poll. The completion reports both pieces, in the one buffer
/// the ring was charged for: the claim lends exactly those bytes, the head
/// moved once, and a later read takes the next buffer without touching the
/// claim. (A scope refuses `MSG_WAITALL` only on bundles and incremental
/// rings.)
#[test]
fn a_waitall_receive_on_a_plain_ring_takes_one_buffer_and_fills_it_whole() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 76, 3, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = uring_tests::pattern(64, 76);
    let file = uring_tests::file_of(&[0xf3; 64]);
    ring.scope(|s| {
        tx.write_all(&sent[..20]).unwrap();
        s.push(
            Recv::new(&rx, pool.select())
                .msg_flags(MsgFlags::WAITALL)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        assert_eq!(
            pool.head().unwrap(),
            1,
            "the first piece charged the ring for its buffer"
        );
        tx.write_all(&sent[20..]).unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 64, "both pieces: {:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), Some(0), "{:?}", cqe.cqe());
        assert_eq!(pool.head().unwrap(), 1, "one buffer for both pieces");
        let held = Held::new(pool.claim(&mut cqe).unwrap());
        assert_eq!(held.seen, sent, "the claim lends both pieces");
        s.push(Read::new(&file, pool.select()).user_data(2))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut read = s.completions().next().unwrap();
        assert_eq!(read.buffer_id(), Some(1), "{:?}", read.cqe());
        drop(pool.claim(&mut read).unwrap());
        held.assert_untouched("after the read");
        drop(held);
        assert_not_overfull(&pool);
    });
}

/// `MSG_TRUNC` on a TCP socket makes `tcp_recvmsg` skip the copy: the
/// bytes are discarded and the result counts them. A receive so flagged
/// would select a buffer that an earlier receive had filled (the ring has
/// one buffer) and `io_recv_finish` would name it: a claim of the result's
/// length would hand out the earlier receive's bytes as if this receive
/// had written them. The scope refuses the receive (`EINVAL`, no buffer
/// named), the bytes stay in the socket, and the next receive lends them.
#[test]
fn a_truncating_tcp_receive_is_refused_and_lends_no_stale_bytes() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 77, 1, 32) else {
        return;
    };
    let (mut tx, rx) = tcp_pair();
    ring.scope(|s| {
        tx.write_all(&[0xc1; 32]).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut first = s.completions().next().unwrap();
        assert_eq!(first.res(), 32, "{:?}", first.cqe());
        let buf = pool.claim(&mut first).unwrap();
        assert_eq!(buf[..], [0xc1; 32]);
        drop(buf);
        tx.write_all(&[0x5e; 12]).unwrap();
        s.push(
            Recv::new(&rx, pool.select())
                .msg_flags(MsgFlags::TRUNC)
                .user_data(2),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), -libc::EINVAL, "refused: {:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), None, "{:?}", cqe.cqe());
        assert!(pool.claim(&mut cqe).is_err());
        assert_eq!(pool.available().unwrap(), 1, "the buffer stays in the ring");
        // The bytes were not discarded: the next receive lends them.
        s.push(Recv::new(&rx, pool.select()).user_data(3)).unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 12, "{:?}", cqe.cqe());
        assert_eq!(pool.claim(&mut cqe).unwrap()[..], [0x5e; 12]);
    });
}

/// A datagram of 12 bytes received with `MSG_TRUNC` into a selection of 8
/// bytes of a 16-byte buffer: `io_ring_buffer_select` would cap the
/// receive at the 8 bytes selected, `unix_dgram_recvmsg` copy 8 and return
/// the datagram's whole length, 12, which `io_recv_finish` would post with
/// the buffer, whose bytes 8 to 12 hold what an earlier receive left. The
/// scope refuses the receive (`EINVAL`), the datagram stays queued, and a
/// receive without the flag lends its 12 bytes.
#[test]
fn a_truncating_datagram_receive_in_a_short_selection_is_refused() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 78, 1, 16) else {
        return;
    };
    let (tx, rx) = UnixDatagram::pair().unwrap();
    ring.scope(|s| {
        tx.send(&[0xc2; 16]).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut first = s.completions().next().unwrap();
        assert_eq!(first.res(), 16, "{:?}", first.cqe());
        drop(pool.claim(&mut first).unwrap());
        tx.send(&[0x5f; 12]).unwrap();
        s.push(
            Recv::new(&rx, BufferSelect::new(pool.group(), 8))
                .msg_flags(MsgFlags::TRUNC)
                .user_data(2),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), -libc::EINVAL, "refused: {:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), None, "{:?}", cqe.cqe());
        assert!(pool.claim(&mut cqe).is_err());
        s.push(Recv::new(&rx, pool.select()).user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 12, "the datagram waited: {:?}", cqe.cqe());
        assert_eq!(pool.claim(&mut cqe).unwrap()[..], [0x5f; 12]);
    });
}

/// Reads of a TCP socket the peer reset, selecting from an incremental
/// ring, one after the other: the socket can be polled, so
/// `io_ring_buffer_select` leaves the buffer at the head for a commit at
/// completion, and the read fails (`ECONNRESET`, then end of stream).
/// Whatever the completion names and flags, the kernel moved nothing: the
/// buffer must stay in the ring once, never be given back a second time
/// when its claim is dropped, and the next read must land at its start.
#[test]
fn reads_of_a_reset_socket_leave_their_incremental_buffer_in_the_ring_once() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 73, 2, 64) else {
        return;
    };
    let (tx, rx) = tcp_pair();
    uring_tests::reset_on_close(&tx);
    drop(tx);
    ring.scope(|s| {
        let mut results = Vec::new();
        for i in 0..2u64 {
            s.push(Read::new(&rx, pool.select()).user_data(i)).unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert!(cqe.res() <= 0, "nothing to read: {:?}", cqe.cqe());
            results.push((cqe.res(), cqe.flags()));
            drop(pool.claim(&mut cqe));
            assert_not_overfull(&pool);
            assert_eq!(
                pool.available().unwrap(),
                pool.count(),
                "both buffers in the ring, once: {results:?}"
            );
        }
    });
    // The next read of data fills the buffer at the head from its start.
    let file = uring_tests::file_of(&uring_tests::pattern(64, 73));
    ring.scope(|s| {
        s.push(Read::new(&file, pool.select()).user_data(9))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 64, "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!((buf.bid(), buf.offset()), (0, 0));
        assert_eq!(buf[..], uring_tests::pattern(64, 73)[..]);
    });
}
