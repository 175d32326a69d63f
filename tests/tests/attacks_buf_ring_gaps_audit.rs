//! Provided-buffer rings in the combinations the other buffer-ring suites
//! leave out, checked against what Linux's `kbuf.c` and `net.c` do:
//! send bundles that wait for room in the socket or are cut by a reset
//! half-way (the kernel commits every buffer it mapped when it selects
//! them), two receives armed on the last buffer of a ring, multishot
//! receives capped per completion, datagrams packed into one incremental
//! buffer, multishot bundles over an incremental ring whose descriptors the
//! kernel allocated, sends from the unused rest of an incremental buffer,
//! claims that outlive the `Ring` value through the buffer ring's duplicate
//! of its descriptor, buffer rings dropped on another thread, and the
//! reactor's ring buffers used as the destination of a read or filled by
//! datagrams longer than them.
//!
//! Each test follows the kernel's head of the ring, the buffer ids and
//! byte counts its completions name, and the bytes of every buffer lent,
//! and checks that a buffer is lent only once the kernel is done with it,
//! once per providing, that its bytes never change while it is lent, and
//! that every buffer comes back to the ring when its claim is dropped.

use std::io::{Read as _, Write as _};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Duration;

use uring::ops::{Recv, Send};
use uring::reactor::ops::{Read as ReactorRead, RecvMulti};
use uring::reactor::{Reactor, RingBuf, SharedFd};
use uring::{Buf, BufRing, BufferGroup, RecvFlags, Ring, ScopeCqe, SendFlags};
use uring_tests::{next_scope_cqe, pattern, plain_buf_ring};

/// Whether the kernel has receive and send bundles (6.10), with a skip
/// message if not.
fn bundles(ring: &Ring) -> bool {
    uring_tests::require_features(ring, uring::Features::RECVSEND_BUNDLE, "bundles")
}

/// Whether the kernel keeps the rest of the completion's buffer
/// (`IORING_CQE_F_BUF_MORE`).
fn buf_more(flags: u32) -> bool {
    flags & uring::sys::IORING_CQE_F_BUF_MORE != 0
}

/// Fills every buffer of `pool` with its part of `bytes` (one buffer's
/// length each, in the order the ring offers them), through receives of a
/// Unix stream fed one part at a time: a send from the ring then sends
/// those bytes.
fn fill(ring: &mut Ring, pool: &BufRing, bytes: &[u8]) {
    let len = pool.buf_len() as usize;
    assert_eq!(bytes.len(), len * usize::from(pool.count()));
    let (mut feed, src) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        for (i, chunk) in bytes.chunks(len).enumerate() {
            feed.write_all(chunk).unwrap();
            s.push(Recv::new(&src, pool.select()).user_data(i as u64))
                .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!(cqe.res() as usize, len, "fill {i}: {:?}", cqe.cqe());
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], chunk, "fill {i}");
        }
    });
}

/// A live claim and the bytes it showed when it was made.
struct Held<'a> {
    buf: Buf<'a>,
    seen: Vec<u8>,
}

impl<'a> Held<'a> {
    fn new(buf: Buf<'a>) -> Held<'a> {
        let seen = buf.to_vec();
        Held { buf, seen }
    }
}

/// Fails if a live claim changed since it was made, or two lend the same
/// bytes.
fn assert_untouched(held: &[Held<'_>], what: &str) {
    for (i, h) in held.iter().enumerate() {
        assert_eq!(
            &h.buf[..],
            &h.seen[..],
            "{what}: the kernel wrote into a lent buffer: {:?}",
            h.buf
        );
        for other in &held[i + 1..] {
            let (a, b) = (&h.buf, &other.buf);
            let overlap = a.bid() == b.bid()
                && a.offset() < b.offset() + b.len()
                && b.offset() < a.offset() + a.len();
            assert!(
                !overlap,
                "{what}: two claims lend the same bytes: {a:?}, {b:?}"
            );
        }
    }
}

/// A TCP pair whose sender and receiver keep as few bytes as the kernel
/// allows, so that a send of a few hundred KiB fills them.
fn tight_tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let (tx, rx) = uring_tests::tcp_pair();
    uring_tests::set_int_option(&tx, libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
    uring_tests::set_int_option(&rx, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).unwrap();
    (tx, rx)
}

/// A send bundle of four 64 KiB buffers into a TCP socket that holds far
/// less: `io_buffers_select` commits all four when the send selects them,
/// the first attempt sends part, and the kernel (6.18) finishes the bundle
/// through poll as the reader drains, with one completion of every byte.
/// Its claim lends the four buffers in ring order with the bytes the
/// reader got, and all four come back.
#[test]
fn a_send_bundle_into_a_full_socket_waits_for_room_and_lends_every_buffer_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !bundles(&ring) || !uring_tests::has_pbuf_status() {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 40, 4, 65536) else {
        return;
    };
    let bytes = pattern(4 * 65536, 40);
    fill(&mut ring, &pool, &bytes);
    assert_eq!((pool.head().unwrap(), pool.available().unwrap()), (4, 4));
    let (tx, mut rx) = tight_tcp_pair();
    let reader = std::thread::spawn(move || {
        // Only once the send has filled the socket and waits for room.
        std::thread::sleep(Duration::from_millis(100));
        let mut got = vec![0u8; 4 * 65536];
        rx.read_exact(&mut got).unwrap();
        got
    });
    ring.scope(|s| {
        s.push(
            Send::new(&tx, pool.group().select(0))
                .send_flags(SendFlags::BUNDLE)
                .user_data(1),
        )
        .unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(
            (cqe.res(), cqe.buffer_id(), cqe.has_more()),
            (4 * 65536, Some(0), false),
            "{:?}",
            cqe.cqe()
        );
        assert_eq!(pool.head().unwrap(), 8, "committed when selected");
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        assert_eq!(
            bufs.iter().map(|b| (b.bid(), b.len())).collect::<Vec<_>>(),
            [(0, 65536), (1, 65536), (2, 65536), (3, 65536)]
        );
        let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        assert!(joined == bytes, "the claims lend the bytes sent");
        assert_eq!(pool.lent(), 4);
        drop(bufs);
    });
    let got = reader.join().unwrap();
    assert!(
        got == bytes,
        "the reader got the four buffers in ring order"
    );
    assert_eq!(pool.available().unwrap(), 4, "every buffer is back");
    assert_eq!(pool.lent(), 0);
}

/// The same bundle, cut by a reset after its first attempt sent 64 KiB or
/// so: the kernel's head passed all four buffers when the send selected
/// them, and the completion reports the bytes sent (a success, not an
/// error) naming buffer 0. `claim_bundle` counts the buffers from that
/// result and lends only those; the others, taken by the kernel and let
/// go of without a word, never come back: the ring keeps fewer buffers for
/// its whole life, although no op failed as far as the program can see.
#[test]
#[ignore = "known loss (SAFETY.md): Linux 6.18 names only the first buffer of a send bundle a reset cuts short, and the library does not yet read the ring's head to take back the rest"]
fn a_send_bundle_cut_by_a_reset_loses_the_buffers_it_did_not_send() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !bundles(&ring) || !uring_tests::has_pbuf_status() {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 41, 4, 65536) else {
        return;
    };
    let bytes = pattern(4 * 65536, 41);
    fill(&mut ring, &pool, &bytes);
    let (tx, rx) = tight_tcp_pair();
    let sent = ring.scope(|s| {
        s.push(
            Send::new(&tx, pool.group().select(0))
                .send_flags(SendFlags::BUNDLE)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        // The first attempt fills the socket; the rest waits for room.
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            s.completions().next().is_none(),
            "the bundle waits for room"
        );
        uring_tests::reset_on_close(&rx);
        drop(rx);
        let mut cqe = next_scope_cqe(s);
        assert_eq!(cqe.buffer_id(), Some(0), "{:?}", cqe.cqe());
        assert!(!cqe.has_more());
        let sent = cqe.res();
        assert!(
            sent > 0 && sent < 3 * 65536,
            "the reset cut the bundle after a part: {:?}",
            cqe.cqe()
        );
        assert_eq!(pool.head().unwrap(), 8, "all four committed when selected");
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        assert_eq!(bufs.iter().map(|b| b.len()).sum::<usize>(), sent as usize);
        let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        assert!(joined[..] == bytes[..sent as usize]);
        drop(bufs);
        sent
    });
    let lost = pool.count() - pool.available().unwrap();
    assert_eq!(
        lost,
        0,
        "{lost} of the ring's 4 buffers are gone for good after a bundle that reported {sent} \
         bytes sent (the kernel's head is {}, no buffer is lent)",
        pool.head().unwrap()
    );
}

/// Two receives on two sockets, both armed (poll) on a ring with one
/// buffer left: a receive that finds no data gives its selection back
/// (`io_kbuf_recycle`), so neither holds the buffer while it waits. When
/// both sockets get data, one takes the buffer; the other finds the ring
/// empty and fails with `ENOBUFS`, naming no buffer, its bytes left in its
/// socket.
#[test]
fn two_receives_armed_on_the_last_buffer_leave_one_with_enobufs_and_its_bytes() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 42, 1, 32) else {
        return;
    };
    let (mut ta, ra) = UnixStream::pair().unwrap();
    let (mut tb, rb) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&ra, pool.select()).user_data(1)).unwrap();
        s.push(Recv::new(&rb, pool.select()).user_data(2)).unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(s.completions().next().is_none(), "both wait for data");
        if uring_tests::has_pbuf_status() {
            assert_eq!(pool.available().unwrap(), 1, "neither holds the buffer");
        }
        ta.write_all(b"first socket").unwrap();
        tb.write_all(b"second socket").unwrap();
        let mut a = next_scope_cqe(s);
        let mut b = next_scope_cqe(s);
        if a.user_data() == 2 {
            std::mem::swap(&mut a, &mut b);
        }
        let outcomes = [(a.res(), a.buffer_id()), (b.res(), b.buffer_id())];
        let (won, lost, lost_bytes): (&mut ScopeCqe<'_>, &mut ScopeCqe<'_>, &[u8]) = if a.res() > 0
        {
            (&mut a, &mut b, b"second socket")
        } else {
            (&mut b, &mut a, b"first socket")
        };
        assert_eq!(won.buffer_id(), Some(0), "{outcomes:?}");
        assert_eq!(
            (lost.res(), lost.buffer_id()),
            (-libc::ENOBUFS, None),
            "{outcomes:?}"
        );
        assert!(pool.claim(lost).is_err());
        let buf = pool.claim(won).unwrap();
        let expected: &[u8] = if won.user_data() == 1 {
            b"first socket"
        } else {
            b"second socket"
        };
        assert_eq!(&buf[..], expected);
        drop(buf);
        // The loser's bytes are still in its socket.
        if lost.user_data() == 2 {
            let mut left = vec![0u8; lost_bytes.len()];
            (&rb).read_exact(&mut left).unwrap();
            assert_eq!(left, lost_bytes);
        } else {
            s.push(Recv::new(&ra, pool.select()).user_data(3)).unwrap();
            let mut again = next_scope_cqe(s);
            assert_eq!(&pool.claim(&mut again).unwrap()[..], lost_bytes);
        }
    });
    assert_eq!(pool.lent(), 0);
    if uring_tests::has_pbuf_status() {
        assert_eq!(pool.available().unwrap(), 1);
    }
}

/// A multishot receive whose selection is shorter than the ring's buffers
/// (`group.select(5)`): Linux caps each completion at that length
/// (`mshot_len`), and each one takes a whole buffer of a plain ring. Twenty
/// bytes waiting fill four buffers with five each; the claims lend exactly
/// those bytes, and with the ring dry the receive ends with `ENOBUFS`.
#[test]
fn a_capped_multishot_receive_takes_a_whole_buffer_per_capped_completion() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 43, 4, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = pattern(24, 43);
    tx.write_all(&sent).unwrap();
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.group().select(5))
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        let mut held = Vec::new();
        let mut last = None;
        while last.is_none() {
            let mut cqe = next_scope_cqe(s);
            if cqe.res() > 0 {
                let buf = pool.claim(&mut cqe).unwrap();
                assert!(buf.len() <= 5, "a completion past the cap: {buf:?}");
                held.push(Held::new(buf));
                assert_untouched(&held, "capped multishot");
            }
            if !cqe.has_more() {
                last = Some((cqe.res(), cqe.buffer_id()));
            }
        }
        if held.iter().all(|h| h.buf.len() == 5) && held.len() == 4 {
            assert_eq!(last, Some((-libc::ENOBUFS, None)), "the ring ran dry");
        } else {
            uring_tests::skip(format_args!(
                "this kernel does not cap multishot receives by their length: {:?}",
                held.iter().map(|h| h.buf.len()).collect::<Vec<_>>()
            ));
        }
        let got: Vec<u8> = held.iter().flat_map(|h| h.seen.iter().copied()).collect();
        assert_eq!(
            got[..],
            sent[..got.len()],
            "in order, nothing lost or repeated"
        );
        assert_eq!(
            held.iter().map(|h| h.buf.bid()).collect::<Vec<_>>(),
            (0..held.len() as u16).collect::<Vec<_>>(),
            "one whole buffer per completion, in ring order"
        );
    });
    assert_eq!(pool.lent(), 0);
}

/// Datagrams received into an incremental ring: each takes only its bytes
/// out of the buffer at the head, the next one following in the same
/// buffer (`IORING_CQE_F_BUF_MORE`); a datagram longer than what is left
/// is cut to it and uses the buffer up. Every claim lends its datagram (or
/// its cut prefix) at the offset the kernel wrote it, while the claims
/// before it stay alive and unchanged.
#[test]
fn datagrams_pack_into_an_incremental_buffer_and_a_long_one_uses_it_up() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::incremental_buf_ring(&mut ring, 44, 2, 64) else {
        return;
    };
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let grams = [
        pattern(10, 1),
        pattern(20, 2),
        pattern(50, 3),
        pattern(7, 4),
    ];
    for g in &grams {
        tx.send(g).unwrap();
    }
    ring.scope(|s| {
        let mut held = Vec::new();
        // (bid, offset, len, BUF_MORE) for each datagram.
        let expected = [
            (0, 0, 10, true),
            (0, 10, 20, true),
            (0, 30, 34, false),
            (1, 0, 7, true),
        ];
        for (i, &(bid, offset, len, more)) in expected.iter().enumerate() {
            s.push(Recv::new(&rx, pool.select()).user_data(i as u64))
                .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!(
                (cqe.res(), cqe.buffer_id(), buf_more(cqe.flags())),
                (len as i32, Some(bid), more),
                "datagram {i}: {:?}",
                cqe.cqe()
            );
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(
                (buf.bid(), buf.offset(), buf.len()),
                (bid, offset, len),
                "datagram {i}"
            );
            assert_eq!(&buf[..], &grams[i][..len], "datagram {i}");
            held.push(Held::new(buf));
            assert_untouched(&held, "packed datagrams");
        }
        // Buffer 0 is used up and lent three times: it comes back after
        // the last of them.
        if uring_tests::has_pbuf_status() {
            assert_eq!(pool.head().unwrap(), 1);
            assert_eq!(pool.available().unwrap(), 1);
            held.remove(0);
            held.remove(0);
            assert_eq!(pool.available().unwrap(), 1, "still lent once");
            held.remove(0);
            assert_eq!(pool.available().unwrap(), 2);
        }
    });
    assert_eq!(pool.lent(), 0);
}

/// A multishot receive bundle over an incremental ring whose descriptors
/// the kernel allocated (`IOU_PBUF_RING_INC | IOU_PBUF_RING_MMAP`), three
/// buffers (a descriptor array of four), fed in pieces of every size while
/// the claims are kept: every claim's bytes follow the last one's, no two
/// overlap, none changes while lent, and what they lend joined is the
/// stream. When all claims are dropped the ring is whole again.
#[test]
fn a_multishot_bundle_over_a_kernel_allocated_incremental_ring_lends_the_stream_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(64).unwrap();
    if !bundles(&ring) {
        return;
    }
    let Some(pool) = uring_tests::mmap_buf_ring(&mut ring, 45, 3, 48, true) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let stream = pattern(48 * 3 - 5, 45);
    let pieces = [3usize, 40, 1, 17, 30, 2, 46];
    assert_eq!(pieces.iter().sum::<usize>(), stream.len());
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.group().select(0))
                .recv_flags(RecvFlags::MULTISHOT | RecvFlags::BUNDLE)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        let mut held: Vec<Held<'_>> = Vec::new();
        let mut got = Vec::new();
        let mut at = 0;
        for &n in &pieces {
            tx.write_all(&stream[at..at + n]).unwrap();
            at += n;
            while got.len() < at {
                let mut cqe = next_scope_cqe(s);
                assert!(cqe.res() > 0 && cqe.has_more(), "{:?}", cqe.cqe());
                for buf in pool.claim_bundle(&mut cqe).unwrap() {
                    got.extend_from_slice(&buf);
                    held.push(Held::new(buf));
                }
                assert_untouched(&held, "incremental multishot bundle");
            }
        }
        assert!(got == stream, "the claims lend the stream once, in order");
        assert_eq!(got.len(), at);
        s.cancel(1).unwrap();
        let mut end = next_scope_cqe(s);
        while end.has_more() {
            end = next_scope_cqe(s);
        }
        assert!(end.res() <= 0, "{:?}", end.cqe());
        assert_untouched(&held, "after the end");
        drop(held);
    });
    assert_eq!(pool.lent(), 0);
    if uring_tests::has_pbuf_status() {
        // Five bytes of the last buffer are left: it is still at the head,
        // and the two used up are back behind it.
        assert_eq!(pool.head().unwrap(), 2);
        assert_eq!(pool.available().unwrap(), 3);
    }
    // The rest of the ring serves the next receive: the unused five bytes
    // of buffer 2, then buffers 0 and 1 from their start.
    tx.write_all(&pattern(100, 46)).unwrap();
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.group().select(0))
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(2),
        )
        .unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(
            (cqe.res(), cqe.buffer_id()),
            (100, Some(2)),
            "{:?}",
            cqe.cqe()
        );
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        assert_eq!(
            bufs.iter()
                .map(|b| (b.bid(), b.offset(), b.len()))
                .collect::<Vec<_>>(),
            [(2, 43, 5), (0, 0, 48), (1, 0, 47)]
        );
        let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(joined, pattern(100, 46));
    });
}

/// A send selecting from an incremental ring takes the rest of the buffer
/// at the head: the part a receive did not use. `io_buffers_select`
/// commits that rest at selection, the send completes with its length, not
/// flagged `BUF_MORE`, and the claim lends the bytes sent at the offset
/// they were sent from; the receive's claim, alive meanwhile, is
/// untouched, and the buffer comes back whole once both are dropped.
#[test]
fn a_send_from_the_rest_of_an_incremental_buffer_sends_and_lends_that_rest() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::incremental_buf_ring(&mut ring, 46, 1, 64) else {
        return;
    };
    // A first filling, whole, so that the buffer's bytes are known.
    let whole = pattern(64, 46);
    fill(&mut ring, &pool, &whole);
    let (mut feed, src) = UnixStream::pair().unwrap();
    let (out, mut peer) = UnixStream::pair().unwrap();
    feed.write_all(b"ten bytes!").unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&src, pool.select()).user_data(1)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (10, Some(0)));
        assert!(buf_more(cqe.flags()));
        let first = Held::new(pool.claim(&mut cqe).unwrap());
        assert_eq!(
            (first.buf.offset(), &first.seen[..]),
            (0, &b"ten bytes!"[..])
        );
        s.push(Send::new(&out, pool.select()).user_data(2)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(
            (cqe.res(), cqe.buffer_id(), buf_more(cqe.flags())),
            (54, Some(0), false),
            "{:?}",
            cqe.cqe()
        );
        let rest = pool.claim(&mut cqe).unwrap();
        assert_eq!((rest.offset(), rest.len()), (10, 54));
        assert_eq!(
            &rest[..],
            &whole[10..],
            "the bytes left from the first filling"
        );
        let mut sent = [0u8; 54];
        peer.read_exact(&mut sent).unwrap();
        assert_eq!(&sent[..], &whole[10..]);
        assert_untouched(std::slice::from_ref(&first), "the receive's claim");
        if uring_tests::has_pbuf_status() {
            assert_eq!(pool.available().unwrap(), 0, "used up, and lent twice");
        }
        drop(rest);
        assert_eq!(pool.lent(), 1);
        drop(first);
        if uring_tests::has_pbuf_status() {
            assert_eq!(pool.available().unwrap(), 1);
        }
        // Provided again whole: the next receive starts at offset 0.
        feed.write_all(&[9; 64]).unwrap();
        s.push(Recv::new(&src, pool.select()).user_data(3)).unwrap();
        let mut cqe = next_scope_cqe(s);
        let again = pool.claim(&mut cqe).unwrap();
        assert_eq!(
            (again.bid(), again.offset(), &again[..]),
            (0, 0, &[9u8; 64][..])
        );
    });
}

/// A claim outlives the `Ring` that registered its buffer ring: the ring's
/// descriptor is closed, but the buffer ring's duplicate keeps the kernel's
/// ring, and the group, alive. The kernel's head is still read through it,
/// the claimed bytes stay as they were, and dropping the claim gives the
/// buffer back to the kernel's ring (its tail moves), on a ring of the
/// library's descriptors and on one the kernel allocated.
#[test]
fn claims_outlive_their_ring_and_go_back_through_the_duplicate_descriptor() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    for mmap in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        let pool = if mmap {
            match uring_tests::mmap_buf_ring(&mut ring, 47, 2, 16, false) {
                Some(pool) => pool,
                None => return,
            }
        } else {
            match plain_buf_ring(&mut ring, 47, 2, 16) {
                Some(pool) => pool,
                None => return,
            }
        };
        let (mut tx, rx) = UnixStream::pair().unwrap();
        tx.write_all(b"outlives").unwrap();
        let buf = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
            let mut cqe = next_scope_cqe(s);
            pool.claim(&mut cqe).unwrap()
        });
        drop(ring);
        assert_eq!(&buf[..], b"outlives", "mmap {mmap}");
        assert_eq!(
            pool.head().unwrap(),
            1,
            "mmap {mmap}: the kernel ring lives on"
        );
        assert_eq!(pool.available().unwrap(), 1, "mmap {mmap}");
        drop(buf);
        assert_eq!(
            pool.available().unwrap(),
            2,
            "mmap {mmap}: back in the kernel's ring"
        );
        assert_eq!(pool.lent(), 0);
        drop(pool);
    }
}

/// A `BufRing` is `Send`: moved to another thread with no buffer lent and
/// dropped there, it unregisters its group through its own descriptor, so
/// that the group can be registered again on the ring's thread, and ops
/// that select from it meanwhile find no buffer.
#[test]
fn a_buf_ring_dropped_on_another_thread_frees_its_group() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 48, 2, 16) else {
        return;
    };
    let select = pool.select();
    std::thread::spawn(move || drop(pool)).join().unwrap();
    if uring_tests::has_pbuf_status() {
        let err = ring.buf_ring_head(BufferGroup::new(48)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"waiting").unwrap();
    let cqe = uring_tests::complete(&mut ring, Recv::new(&rx, select));
    assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
    let again = plain_buf_ring(&mut ring, 48, 1, 16).expect("the group is free again");
    ring.scope(|s| {
        s.push(Recv::new(&rx, again.select()).user_data(2)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(&again.claim(&mut cqe).unwrap()[..], b"waiting");
    });
}

/// A reactor's ring buffer handed to a reactor read as its destination:
/// out of the ring while the read owns it, so a multishot receive on the
/// one-buffer group ends with `ENOBUFS` rather than take it; the read's
/// bytes land in it from its start, its length becomes the read's count,
/// and once dropped the next receive takes the same buffer again.
#[test]
fn a_ring_buf_read_into_by_the_reactor_stays_out_of_its_ring() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = match h.register_buf_ring(BufferGroup::new(49), 1, 32) {
        Ok(group) => group,
        Err(e) => return uring_tests::skip(format_args!("no buffer rings: {e}")),
    };
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let (pipe_r, pipe_w) = uring_tests::pipe();
    let pipe_r = SharedFd::new(pipe_r);
    let mut pipe_w = std::fs::File::from(pipe_w);
    peer.write_all(b"into the ring").unwrap();
    let mut stream = h.stream(RecvMulti::new(&fd, group));
    let buf: RingBuf = reactor
        .run_until(async { stream.next().await })
        .unwrap()
        .expect("an item")
        .unwrap()
        .expect("bytes");
    assert_eq!((&buf[..], buf.bid()), (&b"into the ring"[..], 0));
    // The ring is dry while `buf` lives: the armed receive ends.
    peer.write_all(b"no room").unwrap();
    let end = reactor.run_until(async { stream.next().await }).unwrap();
    match end {
        Some(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}"),
        other => panic!("the receive took a lent buffer: {other:?}"),
    }
    drop(stream);
    pipe_w.write_all(b"from a pipe").unwrap();
    let (count, read) = reactor
        .run_until(h.op(ReactorRead::new(&pipe_r, buf, u64::MAX)))
        .unwrap();
    assert_eq!(count.unwrap(), 11);
    assert_eq!((&read[..], read.bid()), (&b"from a pipe"[..], 0));
    drop(read);
    let mut stream = h.stream(RecvMulti::new(&fd, group));
    let again = reactor
        .run_until(async { stream.next().await })
        .unwrap()
        .expect("an item")
        .unwrap()
        .expect("bytes");
    assert_eq!((&again[..], again.bid()), (&b"no room"[..], 0));
}

/// A reactor's multishot receive on a datagram socket whose datagrams are
/// longer than the ring's buffers: each arrives cut to one buffer, in its
/// own `RingBuf`, the rest of it dropped by the socket; the `RingBuf`s held
/// together are distinct buffers whose bytes never change, and all go back.
#[test]
fn datagrams_longer_than_a_reactor_s_buffers_arrive_cut_one_per_ring_buf() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = match h.register_buf_ring(BufferGroup::new(50), 4, 8) {
        Ok(group) => group,
        Err(e) => return uring_tests::skip(format_args!("no buffer rings: {e}")),
    };
    let (a, peer) = UnixDatagram::pair().unwrap();
    let fd = SharedFd::new(a);
    let grams: Vec<Vec<u8>> = (0..3u8).map(|i| pattern(20 + usize::from(i), i)).collect();
    for g in &grams {
        peer.send(g).unwrap();
    }
    let mut held: Vec<(RingBuf, Vec<u8>)> = Vec::new();
    let mut stream = h.stream(RecvMulti::new(&fd, group));
    reactor
        .run_until(async {
            for g in &grams {
                let buf = stream.next().await.unwrap().unwrap().unwrap();
                assert_eq!(&buf[..], &g[..8], "cut to one buffer");
                assert_eq!(buf.capacity(), 8);
                let seen = buf.to_vec();
                held.push((buf, seen));
            }
        })
        .unwrap();
    {
        let mut bids: Vec<u16> = held.iter().map(|(b, _)| b.bid()).collect();
        bids.dedup();
        assert_eq!(bids, [0, 1, 2]);
    }
    // One more datagram takes the last buffer; the held ones stay.
    peer.send(&[0xee; 30]).unwrap();
    let last = reactor
        .run_until(async { stream.next().await })
        .unwrap()
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((&last[..], last.bid()), (&[0xee; 8][..], 3));
    for (buf, seen) in &held {
        assert_eq!(&buf[..], &seen[..], "a held RingBuf changed: {buf:?}");
    }
    held.clear();
    drop(last);
    // Taking the last buffer left the ring dry: the kernel ended the
    // receive with `ENOBUFS` after it, and nothing more comes from it.
    match reactor.run_until(async { stream.next().await }).unwrap() {
        Some(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}"),
        other => panic!("after the ring ran dry: {other:?}"),
    }
    drop(stream);
    // All four are back: a new receive takes each for one datagram.
    let mut stream = h.stream(RecvMulti::new(&fd, group));
    let mut again = Vec::new();
    for i in 0..4u8 {
        peer.send(&[i; 9]).unwrap();
        let buf = reactor
            .run_until(async { stream.next().await })
            .unwrap()
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..], &[i; 8]);
        again.push(buf);
    }
    assert_eq!(
        again.iter().map(RingBuf::bid).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "in the order they were given back"
    );
    for (i, buf) in again.iter().enumerate() {
        assert_eq!(&buf[..], &[i as u8; 8], "a held RingBuf changed");
    }
}

/// A receive bundle capped below one buffer (`group.select(5)` on 64-byte
/// buffers), cancelled while it waits for data: it maps the head buffer
/// with the cut length, and older kernels wrote that length into the
/// ring's shared descriptor (`buf->len = len` in `io_ring_buffers_peek`),
/// where it would stay for the next op since the cancelled one took
/// nothing. Linux 6.18 leaves the descriptor whole: the next receive of a
/// whole buffer gets all 40 bytes waiting. Either way the claims follow
/// what the kernel did (the bytes it wrote, at the buffer it named), and a
/// buffer given back is whole again.
#[test]
fn a_cancelled_capped_bundle_leaves_a_head_descriptor_the_claims_follow() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !bundles(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 52, 2, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = pattern(40, 52);
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.group().select(5))
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(s.completions().next().is_none(), "it waits for data");
        s.cancel(1).unwrap();
        let mut cqe = next_scope_cqe(s);
        while cqe.user_data() != 1 {
            cqe = next_scope_cqe(s);
        }
        assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ECANCELED, None));
        if uring_tests::has_pbuf_status() {
            assert_eq!(pool.head().unwrap(), 0, "nothing taken");
        }
        tx.write_all(&sent).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        let mut first = next_scope_cqe(s);
        assert_eq!(first.buffer_id(), Some(0), "{:?}", first.cqe());
        let n = first.res() as usize;
        let shortened = uring_tests::kernel_version() < (6, 18);
        assert!(
            n == 40 || (shortened && n == 5),
            "a receive of a whole buffer got {n} bytes of 40"
        );
        let a = Held::new(pool.claim(&mut first).unwrap());
        assert_eq!((a.buf.offset(), &a.seen[..]), (0, &sent[..n]));
        let mut held = vec![a];
        if n == 5 {
            // The rest goes into buffer 1, whose descriptor is whole.
            s.push(Recv::new(&rx, pool.select()).user_data(3)).unwrap();
            let mut rest = next_scope_cqe(s);
            assert_eq!((rest.res(), rest.buffer_id()), (35, Some(1)));
            held.push(Held::new(pool.claim(&mut rest).unwrap()));
            assert_eq!(&held[1].seen[..], &sent[5..]);
        }
        assert_untouched(&held, "after the shortened descriptor");
        drop(held);
        // Given back, buffer 0's descriptor is whole again.
        let more = pattern(64 * 2, 53);
        tx.write_all(&more).unwrap();
        let mut got = Vec::new();
        for i in 0..2 {
            s.push(Recv::new(&rx, pool.select()).user_data(4 + i))
                .unwrap();
            let mut cqe = next_scope_cqe(s);
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(buf.len(), 64, "{buf:?}");
            got.extend_from_slice(&buf);
        }
        assert_eq!(got, more);
    });
    assert_eq!(pool.lent(), 0);
}
