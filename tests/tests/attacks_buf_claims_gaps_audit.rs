//! Claims of buffer-ring buffers from completions of the shapes the other
//! buffer-ring suites leave out.
//!
//! Read against Linux 6.18: `io_uring/kbuf.c` (`io_ring_buffers_peek`,
//! which in earlier 6.18 releases cut the head descriptor of a plain ring
//! to a bundle's length in place, and its stable fix; `io_ring_buffer_select`
//! and `io_should_commit`; `io_kbuf_recycle`, `io_kbuf_inc_commit`,
//! `__io_put_kbufs`), `io_uring/net.c` (`io_recv_buf_select`,
//! `io_recv_finish`, which retries a bundle once when a full transfer
//! leaves bytes in the socket and names the first buffer of both rounds;
//! `io_recvmsg_prep_multishot` and `io_recvmsg_multishot`, which caps a
//! message's count at the payload room but, under `MSG_TRUNC` on TCP,
//! counts bytes `tcp_recvmsg` discarded without writing them;
//! `io_recv`'s end of stream) and `io_uring/register.c` (resizing).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: the bytes each claim lends against the bytes the peer sent,
//! the buffer ids, and that every buffer comes back to its ring
//! (`BufRing::available`).

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;

use uring::ops::Recv;
use uring::{BufRing, Features, RecvFlags, Ring};
use uring_tests::{next_scope_cqe, pattern, plain_buf_ring, skip};

/// Whether the kernel has receive and send bundles (6.10), with a skip
/// message if not.
fn bundles(ring: &Ring) -> bool {
    uring_tests::require_features(ring, Features::RECVSEND_BUNDLE, "bundles")
}

/// Whether the kernel reports a group's head (6.8), with a skip message if
/// not: the tests count the buffers back in the ring through it.
fn head_known(pool: &BufRing) -> bool {
    if pool.available().is_ok() {
        return true;
    }
    skip("no IORING_REGISTER_PBUF_STATUS (6.8)");
    false
}

/// The next completion of one of the scope's ops, past the scope's own
/// (a cancel request's), which are not handed out.
fn next_op_cqe<'s>(s: &mut uring::Scope<'s, '_>) -> uring::ScopeCqe<'s> {
    loop {
        s.submit_and_wait_timeout(1, uring_tests::PATIENCE).unwrap();
        if let Some(cqe) = s.completions().next() {
            assert!(cqe.is_scope_op(), "another op's: {:?}", cqe.cqe());
            return cqe;
        }
    }
}

/// A receive bundle whose selection is shorter than a buffer maps the
/// ring's head buffer cut to that length. Earlier 6.18 releases (and every
/// kernel with bundles before them) also cut the head descriptor itself in
/// place (`io_ring_buffers_peek`: `WRITE_ONCE(buf->len, len)`), and left it
/// cut when the op went to poll and was recycled; a later stable fix
/// removed that write, and the running kernel (6.18.44 here) leaves the
/// descriptor whole. `claim_bundle` counts every buffer of a bundle but the
/// last as full, which holds only while no descriptor is cut: on a kernel
/// that cuts, the next bundle's first buffer holds 2 bytes, its retry goes
/// on into the next buffers, and the claim would lend 14 stale bytes of
/// buffer 0 and hide the last ones received. This checks the assumption
/// against the running kernel: a short bundle cancelled on an empty socket,
/// then a bundle of the whole ring, whose joined claims are the bytes sent.
#[test]
fn a_bundle_after_a_cancelled_short_bundle_is_claimed_with_the_bytes_received() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !bundles(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 61, 4, 16) else {
        return;
    };
    if !head_known(&pool) {
        return;
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = pattern(40, 3);
    let (res, joined, lens) = ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.group().select(2))
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        assert_eq!(s.cancel(1).unwrap(), 1);
        let cqe = next_op_cqe(s);
        assert_eq!(cqe.res(), -libc::ECANCELED, "{:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), None, "a cancelled poll names no buffer");
        assert_eq!(pool.available().unwrap(), 4, "nothing taken yet");
        tx.write_all(&sent).unwrap();
        s.push(
            Recv::new(&rx, pool.group().select(0))
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(2),
        )
        .unwrap();
        let mut cqe = next_scope_cqe(s);
        let res = cqe.result().unwrap() as usize;
        assert_eq!(cqe.buffer_id(), Some(0), "{:?}", cqe.cqe());
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        let lens: Vec<usize> = bufs.iter().map(|b| b.len()).collect();
        let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        (res, joined, lens)
    });
    // Every byte the bundle did not take is still in the socket.
    let mut rest = vec![0; sent.len() - res];
    rx.set_nonblocking(true).unwrap();
    (&rx).read_exact(&mut rest).unwrap();
    assert_eq!(rest[..], sent[res..], "the socket's rest");
    assert_eq!(pool.available().unwrap(), 4, "every buffer back");
    assert_eq!(
        joined,
        sent[..res],
        "a {res}-byte bundle claimed as buffers of {lens:?} bytes"
    );
}

/// A multishot `recvmsg` flagged `MSG_TRUNC` on a TCP socket:
/// `tcp_recvmsg` skips the copy under `MSG_TRUNC`, discarding the bytes
/// and counting them, and `io_recvmsg_multishot` caps that count at the
/// payload room, so the completion would say `hdr + n` bytes of the buffer
/// were used while the kernel wrote only the header, and a claim would lend
/// what the buffer held before (here a receive's `0xc1` bytes) as the 12
/// bytes the peer sent. The scope refuses it (`EINVAL`, no buffer named,
/// the bytes left in the socket), as it refuses a receive, a bundle and a
/// one-shot `recvmsg` so flagged; it lets the multishot `recvmsg` through
/// on datagram sockets alone, where the count is what was placed.
#[test]
fn a_truncating_multishot_recvmsg_on_tcp_lends_no_stale_payload() {
    use uring::ops::RecvMsgMulti;
    use uring::{MsgFlags, MsgLayout, RecvMsgOut};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<RecvMsgMulti<'_>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 62, 1, 64) else {
        return;
    };
    let (mut tx, rx) = uring_tests::tcp_pair();
    let layout = MsgLayout::new(0, 0);
    let sent = *b"twelve bytes";
    let outcome = ring.scope(|s| {
        tx.write_all(&[0xc1; 64]).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        let mut first = next_scope_cqe(s);
        assert_eq!(first.res(), 64, "{:?}", first.cqe());
        assert_eq!(pool.claim(&mut first).unwrap()[..], [0xc1; 64]);
        tx.write_all(&sent).unwrap();
        s.push(
            RecvMsgMulti::new(&rx, &layout, pool.group())
                .msg_flags(MsgFlags::TRUNC)
                .user_data(2),
        )
        .unwrap();
        let mut cqe = next_scope_cqe(s);
        let outcome = if cqe.res() < 0 {
            // Refused (or failed): it must name no buffer, and the bytes
            // must still be in the socket.
            assert_eq!(cqe.buffer_id(), None, "{:?}", cqe.cqe());
            Err(cqe.res())
        } else {
            let buf = pool.claim(&mut cqe).unwrap();
            let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
            Ok((msg.payload().to_vec(), msg.flags()))
        };
        s.cancel(2).unwrap();
        outcome
    });
    match outcome {
        Err(errno) => {
            assert_eq!(errno, -libc::EINVAL, "refused as the other receives are");
            let mut rest = [0; 12];
            (&rx).read_exact(&mut rest).unwrap();
            assert_eq!(rest, sent, "the bytes stay in the socket");
        }
        Ok((payload, flags)) => {
            panic!("let through: {payload:?} lent as the payload (header flags {flags:#x})");
        }
    }
    assert_eq!(pool.available().unwrap(), 1, "the buffer is back");
}

/// A multishot `recvmsg` whose layout leaves less room than its header
/// needs fails with `EFAULT` (`io_recvmsg_prep_multishot`) after it
/// selected a buffer, and `io_recvmsg` recycles the selection at once.
/// Inline and run by an io-wq worker (`SqeFlags::ASYNC`, where a selection
/// of other ops is committed as it is made) alike, Linux 6.18 names no
/// buffer in the failed completion and keeps it in the ring: the claim is
/// refused, and the ring ends with every buffer.
#[test]
fn a_recvmsg_header_larger_than_the_buffer_fails_and_every_buffer_comes_back() {
    use uring::ops::RecvMsgMulti;
    use uring::{MsgLayout, SqeFlags};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<RecvMsgMulti<'_>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 63, 2, 32) else {
        return;
    };
    if !head_known(&pool) {
        return;
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    // 16 bytes of header and 64 of address room: more than 32.
    let layout = MsgLayout::new(64, 0);
    tx.write_all(b"data").unwrap();
    for (round, flags) in [SqeFlags::EMPTY, SqeFlags::ASYNC].into_iter().enumerate() {
        let (res, bid, lent) = ring.scope(|s| {
            s.push(
                RecvMsgMulti::new(&rx, &layout, pool.group())
                    .flags(flags)
                    .user_data(round as u64),
            )
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!(
                cqe.flags() & uring::sys::IORING_CQE_F_MORE,
                0,
                "{:?}",
                cqe.cqe()
            );
            let (res, bid) = (cqe.res(), cqe.buffer_id());
            let lent = match bid {
                Some(_) => Some(pool.claim(&mut cqe).unwrap().len()),
                None => {
                    assert!(pool.claim(&mut cqe).is_err());
                    None
                }
            };
            (res, bid, lent)
        });
        assert_eq!(res, -libc::EFAULT, "round {round}");
        assert_eq!(
            (bid, lent),
            (None, None),
            "round {round}: the selection is put back"
        );
        assert_eq!(
            pool.available().unwrap(),
            2,
            "round {round}: every buffer back"
        );
    }
    let mut left = [0; 4];
    rx.set_nonblocking(true).unwrap();
    (&rx).read_exact(&mut left).unwrap();
    assert_eq!(&left, b"data", "nothing was received");
}

/// A receive at the end of a stream moves 0 bytes. Issued inline,
/// `io_recv` recycles its selection (`ret <= 0`, nothing done): the
/// completion names no buffer. Run by an io-wq worker
/// (`SqeFlags::ASYNC`), the selection was committed as it was made
/// (`io_should_commit`), and the completion names the buffer with a
/// result of 0: its claim lends an empty `Buf`, and the buffer goes back
/// when that is dropped. Either way the ring ends with every buffer, and a
/// claim of the inline completion is refused.
#[test]
fn receives_at_the_end_of_a_stream_lend_empty_buffers_and_every_buffer_comes_back() {
    use uring::SqeFlags;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 64, 2, 16) else {
        return;
    };
    if !head_known(&pool) {
        return;
    }
    let (tx, rx) = UnixStream::pair().unwrap();
    drop(tx);
    let mut named = Vec::new();
    for (round, flags) in [SqeFlags::EMPTY, SqeFlags::ASYNC, SqeFlags::ASYNC]
        .into_iter()
        .enumerate()
    {
        let (res, bid, lent) = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).flags(flags).user_data(7))
                .unwrap();
            let mut cqe = next_scope_cqe(s);
            let (res, bid) = (cqe.res(), cqe.buffer_id());
            let lent = pool.claim(&mut cqe).map(|buf| buf.len()).ok();
            // Claimed once: a second claim of the same completion fails.
            assert!(pool.claim(&mut cqe).is_err(), "round {round}");
            (res, bid, lent)
        });
        assert_eq!(res, 0, "round {round}: the end of the stream");
        if round == 0 {
            assert_eq!((bid, lent), (None, None), "inline: nothing selected");
        } else {
            assert!(bid.is_some(), "round {round}: a worker names its buffer");
            assert_eq!(lent, Some(0), "round {round}: an empty claim");
            named.push(bid.unwrap());
        }
        assert_eq!(
            pool.available().unwrap(),
            2,
            "round {round}: every buffer back"
        );
        assert_eq!(pool.lent(), 0);
    }
    // The worker took the ring's buffers in turn: the one given back went
    // to the tail.
    assert_eq!(named, [0, 1]);
}

/// A multishot `recvmsg` on an incremental ring takes `hdr + payload`
/// bytes of the buffer at the head per message (`io_kbuf_inc_commit` of
/// the result). Once the rest of the buffer is shorter than the header
/// (16 bytes here, no address or control room), `io_recvmsg_prep_multishot`
/// fails the next message with `EFAULT` and recycles the selection: the
/// op ends naming no buffer, and the rest stays at the ring's head, where
/// no `recvmsg` can use it while any other op can. A plain receive then
/// takes it (the rest's bytes follow the claims made so far) and the
/// buffer comes back whole.
#[test]
fn a_recvmsg_that_leaves_an_incremental_rest_shorter_than_its_header_fails_and_a_receive_takes_it()
{
    use std::os::unix::net::UnixDatagram;
    use uring::ops::RecvMsgMulti;
    use uring::{MsgLayout, RecvMsgOut};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<RecvMsgMulti<'_>>(&ring) {
        return;
    }
    let Some(pool) = uring_tests::incremental_buf_ring(&mut ring, 65, 1, 64) else {
        return;
    };
    if !head_known(&pool) {
        return;
    }
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let layout = MsgLayout::new(0, 0);
    let first = pattern(34, 5);
    // 16 + 34 = 50 bytes used, 14 left: less than a header.
    tx.send(&first).unwrap();
    tx.send(b"next").unwrap();
    ring.scope(|s| {
        s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(1))
            .unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(cqe.res(), 50, "{:?}", cqe.cqe());
        assert_ne!(cqe.flags() & uring::sys::IORING_CQE_F_BUF_MORE, 0);
        assert!(cqe.cqe().buf_more(), "the accessor reads the same flag");
        {
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!((buf.offset(), buf.len()), (0, 50));
            let msg = RecvMsgOut::parse(&buf, &layout).unwrap();
            assert_eq!(msg.payload(), &first[..]);
        }
        let mut end = next_scope_cqe(s);
        assert_eq!(end.res(), -libc::EFAULT, "{:?}", end.cqe());
        assert_eq!(end.buffer_id(), None);
        assert_eq!(
            end.flags() & uring::sys::IORING_CQE_F_MORE,
            0,
            "the op ended"
        );
        assert!(pool.claim(&mut end).is_err());
        assert_eq!(pool.available().unwrap(), 1, "the rest stays at the head");
        // A plain receive takes the 14 bytes left; the datagram fits.
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(cqe.res(), 4, "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!((buf.offset(), &buf[..]), (50, &b"next"[..]));
    });
    assert_eq!(pool.lent(), 0);
}

/// The bytes a multishot `recvmsg`'s claim lends are the result's count
/// from the buffer's start: the header, the whole address and control
/// room the layout reserved, and the payload. The kernel writes the
/// header, only `namelen` bytes of the address room (none from an unnamed
/// Unix socket) and only the control bytes it has; the rest of the room is
/// whatever the buffer held before, here an earlier receive's `0xc1`
/// bytes. `RecvMsgOut::parse` bounds the address and control it shows by
/// the header's lengths; the `Buf` itself shows the stale room.
#[test]
fn a_recvmsg_claim_lends_the_reserved_room_as_the_buffer_held_it() {
    use std::os::unix::net::UnixDatagram;
    use uring::ops::RecvMsgMulti;
    use uring::{MsgLayout, RecvMsgOut};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<RecvMsgMulti<'_>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 66, 1, 64) else {
        return;
    };
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let layout = MsgLayout::new(24, 0);
    ring.scope(|s| {
        tx.send(&[0xc1; 64]).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(pool.claim(&mut cqe).unwrap()[..], [0xc1; 64]);
        tx.send(b"payload").unwrap();
        s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(2))
            .unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(cqe.res(), 16 + 24 + 7, "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        let msg = RecvMsgOut::parse(&buf, &layout).unwrap();
        assert_eq!(msg.payload(), b"payload");
        assert_eq!(msg.name(), b"", "an unnamed sender");
        assert_eq!(buf[16..40], [0xc1; 24], "the address room as it was");
        drop(buf);
        s.cancel(2).unwrap();
    });
    assert_eq!(pool.lent(), 0);
}

/// Completions of a multishot receive left in the CQ while the scope
/// resizes the ring (`IORING_REGISTER_RESIZE_RINGS`, 6.13) move to the new
/// CQ; claimed there, each lends the buffer it names with the bytes of the
/// stream in order, later completions land in the new CQ past its start
/// and are claimed the same way, and the ring ends with every buffer.
#[test]
fn claims_of_completions_carried_over_a_resize_lend_the_stream_in_order() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(2) else {
        return;
    };
    let Some(pool) = plain_buf_ring(&mut ring, 67, 4, 8) else {
        return;
    };
    if !head_known(&pool) {
        return;
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = pattern(24 * 4, 9);
    let got = ring.scope(|s| {
        let mut got = Vec::new();
        s.push(
            Recv::new(&rx, pool.group().select(0))
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        for chunk in sent.chunks(24) {
            tx.write_all(chunk).unwrap();
            // Three completions of 8 bytes wait, unread, in a CQ of 4.
            s.wait_timeout(3, uring_tests::PATIENCE).unwrap();
            assert_eq!(s.ready(), 3);
            s.resize(2, 32 << (got.len() / 24 % 2)).unwrap();
            let mut read = 0;
            while read < 3 {
                let mut cqe = s.completions().next().expect("a carried completion");
                assert_eq!(cqe.res(), 8, "{:?}", cqe.cqe());
                assert_ne!(cqe.flags() & uring::sys::IORING_CQE_F_MORE, 0);
                got.extend_from_slice(&pool.claim(&mut cqe).unwrap());
                read += 1;
            }
            assert_eq!(pool.available().unwrap(), 4, "every buffer back");
        }
        s.cancel(1).unwrap();
        let end = next_op_cqe(s);
        assert_eq!(end.res(), -libc::ECANCELED, "{:?}", end.cqe());
        assert_eq!(end.buffer_id(), None);
        got
    });
    assert_eq!(got, sent);
    assert_eq!(pool.available().unwrap(), 4);
}
