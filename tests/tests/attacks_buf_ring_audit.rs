//! An audit of provided-buffer rings from safe code only, at the edges the
//! other suites leave: rings of one buffer and of the most buffers, buffers
//! of one byte and of gigabytes, incremental buffers consumed in many
//! pieces whose claims are dropped out of order, bundles whose buffers lie
//! across the end of the descriptor array, multishot receives read after
//! the ring was refilled, receives that find the ring dry between ones that
//! succeed, claims through the wrong group or ring, and claims that outlive
//! their ring.
//!
//! Each test follows what the kernel did to the ring (which buffer each
//! completion names, where its bytes are, the kernel's head, the buffers it
//! can still take) against a model of it, and checks the safe outcome: a
//! buffer is lent once per providing, a live `Buf` never changes while the
//! kernel goes on filling the ring, and every claim lends exactly the bytes
//! the kernel wrote for its completion.

use std::collections::{BTreeSet, VecDeque};
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::{Duration, Instant};

use uring::ops::{Read, ReadMultishot, Recv};
use uring::{
    Buf, BufRing, BufferGroup, BufferSelect, Error, MAX_BUF_RING_BUFFERS, RecvFlags, Ring, ScopeCqe,
};
use uring_tests::net::assert_kernel_bytes;
use uring_tests::{PATIENCE, Rng, incremental_buf_ring, plain_buf_ring};

/// Whether the kernel has receive and send bundles (6.10), with a skip
/// message if not.
fn bundles(ring: &Ring) -> bool {
    uring_tests::require_features(ring, uring::Features::RECVSEND_BUNDLE, "bundles")
}

/// Whether the kernel keeps the rest of the completion's buffer.
fn buf_more(flags: u32) -> bool {
    flags & uring::sys::IORING_CQE_F_BUF_MORE != 0
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
}

/// Fails if any live claim changed since it was made, or two of them lend
/// the same bytes.
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

/// How many distinct buffers the live claims hold.
fn buffers_held(held: &[Held<'_>]) -> u16 {
    held.iter()
        .map(|h| h.buf.bid())
        .collect::<BTreeSet<_>>()
        .len() as u16
}

/// A ring of one buffer of one byte: each receive takes the byte the
/// kernel gives it, the buffer is lent to one claim at a time, a receive
/// while it is lent finds the ring dry (`ENOBUFS`, no buffer named, nothing
/// to claim, the byte left in the socket), and the kernel's head counts
/// one buffer per receive that took it.
#[test]
fn a_ring_of_one_one_byte_buffer_is_lent_once_per_providing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 90, 1, 1) else {
        return;
    };
    let status = uring_tests::has_pbuf_status();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = b"kernel";
    tx.write_all(sent).unwrap();
    let got = ring.scope(|s| {
        let mut got = Vec::new();
        for i in 0..sent.len() {
            s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(
                (cqe.res(), cqe.buffer_id()),
                (1, Some(0)),
                "{:?}",
                cqe.cqe()
            );
            let buf = pool.claim(&mut cqe).unwrap();
            assert!(pool.claim(&mut cqe).is_err(), "a completion lends once");
            assert_eq!(
                (buf.bid(), buf.offset(), buf.len(), buf.capacity()),
                (0, 0, 1, 1)
            );
            if status {
                assert_eq!(pool.head().unwrap(), i as u16 + 1);
                assert_eq!(pool.available().unwrap(), 0);
            }
            // Lent: the next receive finds nothing to select.
            s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut dry = s.completions().next().unwrap();
            assert_eq!((dry.res(), dry.buffer_id()), (-libc::ENOBUFS, None));
            assert!(pool.claim(&mut dry).is_err());
            assert!(pool.claim_bundle(&mut dry).is_err());
            assert_eq!(pool.lent(), 1);
            got.push(buf[0]);
            drop(buf);
            assert_eq!(pool.lent(), 0);
            if status {
                assert_eq!(pool.available().unwrap(), 1);
            }
        }
        got
    });
    assert_kernel_bytes(&got, sent, "one byte per receive");
}

/// An incremental ring of one-byte buffers: each receive uses its buffer
/// up, so no completion keeps it (`IORING_CQE_F_BUF_MORE`), each claim
/// lends the whole buffer from its start, and the kernel's head passes one
/// buffer per receive.
#[test]
fn one_byte_buffers_of_an_incremental_ring_are_used_up_by_each_receive() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 91, 2, 1) else {
        return;
    };
    let status = uring_tests::has_pbuf_status();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = uring_tests::pattern(9, 91);
    tx.write_all(&sent).unwrap();
    let got = ring.scope(|s| {
        let mut got = Vec::new();
        let mut held: VecDeque<Buf<'_>> = VecDeque::new();
        for i in 0..sent.len() {
            if held.len() == 2 {
                // Both lent: the ring is dry until one comes back.
                s.push(Recv::new(&rx, pool.select()).user_data(9)).unwrap();
                s.submit_and_wait(1).unwrap();
                let dry = s.completions().next().unwrap();
                assert_eq!((dry.res(), dry.buffer_id()), (-libc::ENOBUFS, None));
                held.pop_front();
            }
            s.push(Recv::new(&rx, pool.select()).user_data(i as u64))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.res(), 1, "{:?}", cqe.cqe());
            assert!(!buf_more(cqe.flags()), "a used-up buffer: {:?}", cqe.cqe());
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!((buf.offset(), buf.len()), (0, 1));
            if status {
                assert_eq!(pool.head().unwrap(), i as u16 + 1, "receive {i}");
            }
            got.push(buf[0]);
            held.push_back(buf);
        }
        got
    });
    assert_kernel_bytes(&got, &sent, "one byte per buffer");
    assert_eq!(pool.lent(), 0);
}

/// A ring of the most buffers (32767) lends each of them once before any
/// comes back: 32767 reads of a file, each claimed and kept, take 32767
/// different buffers holding the bytes each read asked for; one more read
/// finds the ring dry; a buffer given back is the next one taken, and once
/// all are back the kernel can take every one again.
#[test]
fn the_largest_ring_lends_each_buffer_once_before_any_comes_back() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(256).unwrap();
    let most = MAX_BUF_RING_BUFFERS;
    let Some(pool) = plain_buf_ring(&mut ring, 92, most, 2) else {
        return;
    };
    let status = uring_tests::has_pbuf_status();
    let bytes: Vec<u8> = (0..usize::from(most) * 2)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect();
    let file = uring_tests::file_of(&bytes);
    ring.scope(|s| {
        let mut held: Vec<Option<Buf<'_>>> = (0..most).map(|_| None).collect();
        let mut bids = BTreeSet::new();
        let mut next = 0u16;
        while next < most {
            let batch = (most - next).min(128);
            for k in next..next + batch {
                s.push(
                    Read::new(&file, pool.select())
                        .offset(u64::from(k) * 2)
                        .user_data(u64::from(k)),
                )
                .unwrap();
            }
            s.submit_and_wait(u32::from(batch)).unwrap();
            let mut seen = 0;
            while seen < batch {
                for mut cqe in s.completions() {
                    let k = cqe.user_data() as usize;
                    assert_eq!(cqe.res(), 2, "read {k}: {:?}", cqe.cqe());
                    let buf = pool.claim(&mut cqe).unwrap();
                    assert!(bids.insert(buf.bid()), "buffer {} lent twice", buf.bid());
                    assert_kernel_bytes(&buf, &bytes[k * 2..k * 2 + 2], "a read's two bytes");
                    held[k] = Some(buf);
                    seen += 1;
                }
                if seen < batch {
                    s.wait(1).unwrap();
                }
            }
            next += batch;
        }
        assert_eq!(bids.len(), usize::from(most));
        assert_eq!(pool.lent(), most);
        if status {
            assert_eq!(pool.head().unwrap(), most);
            assert_eq!(pool.available().unwrap(), 0);
        }
        s.push(Read::new(&file, pool.select()).user_data(u64::MAX))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let dry = s.completions().next().unwrap();
        assert_eq!((dry.res(), dry.buffer_id()), (-libc::ENOBUFS, None));
        // One buffer back: the next read takes it, and only it.
        let back = held[12345].take().unwrap().bid();
        s.push(Read::new(&file, pool.select()).offset(10).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.res(), cqe.buffer_id()), (2, Some(back)));
        let again = pool.claim(&mut cqe).unwrap();
        assert_kernel_bytes(&again, &bytes[10..12], "the buffer given back");
        drop(again);
        held.clear();
        assert_eq!(pool.lent(), 0);
        if status {
            assert_eq!(pool.available().unwrap(), most);
        }
    });
}

/// What the kernel does to an incremental ring, as the tests follow it:
/// the buffers in the ring in the order the kernel takes them, how far the
/// kernel has used the one at the head, and the buffers the kernel is done
/// with whose claims are still alive.
struct Incremental {
    len: u32,
    queue: VecDeque<u16>,
    used: Vec<u32>,
    out: Vec<bool>,
}

impl Incremental {
    fn new(count: u16, len: u32) -> Incremental {
        Incremental {
            len,
            queue: (0..count).collect(),
            used: vec![0; usize::from(count)],
            out: vec![false; usize::from(count)],
        }
    }

    /// The most bytes the next op can take: what is left of the head.
    fn room(&self) -> Option<u32> {
        self.queue
            .front()
            .map(|&bid| self.len - self.used[usize::from(bid)])
    }

    /// Checks a completion of `res` bytes naming `bid` with `flags`
    /// against the model and its claim `buf`, and follows it.
    fn took(&mut self, res: i32, bid: Option<u16>, flags: u32, buf: &Buf<'_>, what: &str) {
        let head = *self.queue.front().expect("a buffer in the ring");
        let at = self.used[usize::from(head)];
        assert_eq!(bid, Some(head), "{what}: the buffer at the head");
        assert!(
            res > 0 && res as u32 <= self.len - at,
            "{what}: {res} bytes"
        );
        assert_eq!(
            (buf.bid(), buf.offset(), buf.len()),
            (head, at as usize, res as usize),
            "{what}: the claim lends the bytes the kernel wrote"
        );
        let used = at + res as u32;
        assert_eq!(
            buf_more(flags),
            used < self.len,
            "{what}: BUF_MORE while the buffer has room ({used} of {})",
            self.len
        );
        self.used[usize::from(head)] = used;
        if used == self.len {
            self.queue.pop_front();
            self.out[usize::from(head)] = true;
        }
    }

    /// Drops live claim `i`; a buffer the kernel is done with whose last
    /// claim that was goes back to the ring.
    fn drop_claim(&mut self, held: &mut Vec<Held<'_>>, i: usize, what: &str) {
        let h = held.remove(i);
        assert_eq!(&h.buf[..], &h.seen[..], "{what}: a lent buffer changed");
        let bid = h.buf.bid();
        drop(h);
        if self.out[usize::from(bid)] && !held.iter().any(|h| h.buf.bid() == bid) {
            self.out[usize::from(bid)] = false;
            self.used[usize::from(bid)] = 0;
            self.queue.push_back(bid);
        }
    }
}

/// Receives of random sizes through an incremental ring of `count` buffers
/// of `len` bytes, each claimed; claims dropped at random, out of order.
/// Every completion names the buffer the model has at the head, at the
/// offset the model says, with `BUF_MORE` exactly while the buffer has
/// room; every claim lends exactly the completion's bytes, which are the
/// next bytes of the stream; no live claim changes; the ring's counts
/// follow the model.
fn incremental_walk(group: u16, count: u16, len: u32, steps: usize, max_write: u64, seed: u64) {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, group, count, len) else {
        return;
    };
    let status = uring_tests::has_pbuf_status();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut rng = Rng(seed);
    let mut model = Incremental::new(count, len);
    let mut sent: Vec<u8> = Vec::new();
    let mut received = 0usize;
    let mut dry_runs = 0;
    ring.scope(|s| {
        let mut held: Vec<Held<'_>> = Vec::new();
        for step in 0..steps {
            let what = format!("step {step} (seed {seed})");
            let unread = (sent.len() - received) as u64;
            if unread < max_write {
                let n = 1 + rng.below(max_write);
                let piece: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                tx.write_all(&piece).unwrap();
                sent.extend_from_slice(&piece);
            }
            s.push(Recv::new(&rx, pool.select()).user_data(step as u64))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            if model.room().is_none() {
                // Every buffer is used up and still lent.
                assert_eq!(
                    (cqe.res(), cqe.buffer_id()),
                    (-libc::ENOBUFS, None),
                    "{what}: a dry ring"
                );
                assert!(pool.claim(&mut cqe).is_err(), "{what}");
                dry_runs += 1;
                while !held.is_empty() {
                    let i = rng.below(held.len() as u64) as usize;
                    model.drop_claim(&mut held, i, &what);
                }
                continue;
            }
            let buf = pool.claim(&mut cqe).unwrap();
            model.took(cqe.res(), cqe.buffer_id(), cqe.flags(), &buf, &what);
            let res = cqe.res() as usize;
            assert_kernel_bytes(&buf, &sent[received..received + res], &what);
            received += res;
            held.push(Held::new(buf));
            // Drop some claims, any of them.
            while !held.is_empty() && rng.below(3) == 0 {
                let i = rng.below(held.len() as u64) as usize;
                model.drop_claim(&mut held, i, &what);
            }
            assert_untouched(&held, &what);
            assert_eq!(pool.lent(), buffers_held(&held), "{what}");
            if status {
                assert_eq!(
                    pool.available().unwrap(),
                    model.queue.len() as u16,
                    "{what}: the buffers the kernel can take"
                );
            }
        }
        while !held.is_empty() {
            let i = rng.below(held.len() as u64) as usize;
            model.drop_claim(&mut held, i, "the end");
        }
    });
    assert!(received > 0);
    assert_eq!(pool.lent(), 0);
    assert_eq!(model.queue.len(), usize::from(count));
    if status {
        assert_eq!(pool.available().unwrap(), count);
    }
    eprintln!("{steps} steps, {received} bytes, {dry_runs} dry");
}

/// An incremental ring of two 64-byte buffers consumed by 400 receives of
/// 1 to 40 bytes, claims dropped out of order (see [`incremental_walk`]).
#[test]
fn incremental_pieces_dropped_out_of_order_follow_the_kernel_s_consumption() {
    let _watch = uring_tests::watchdog();
    for seed in [0x9e37_79b9, 0x1234_5678, 0xdead_beef] {
        incremental_walk(93, 2, 64, 400, 40, seed);
    }
}

/// Incremental buffers of a mebibyte, consumed by receives of up to 48 KiB
/// (see [`incremental_walk`]); and of three buffers of 5 bytes, where most
/// receives use a buffer up.
#[test]
fn incremental_pieces_of_large_and_tiny_buffers_follow_the_kernel_s_consumption() {
    let _watch = uring_tests::watchdog();
    incremental_walk(94, 2, 1 << 20, 150, 48 << 10, 0x0bad_cafe);
    incremental_walk(95, 3, 5, 300, 7, 0x5eed);
}

/// Bundles through a ring of three buffers of 8 bytes, whose descriptor
/// array has four entries: the positions the ring provides at go round the
/// array, so most bundles take buffers across its end. Each bundle's claim
/// lends the buffers the kernel took, in the order they were given back,
/// every one full but the last, holding the bytes sent; with all three lent
/// the ring is dry; the kernel's head counts every buffer taken.
#[test]
fn bundles_across_the_end_of_a_ring_of_three_buffers_take_them_in_ring_order() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !bundles(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 96, 3, 8) else {
        return;
    };
    let status = uring_tests::has_pbuf_status();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut rng = Rng(96);
    let mut queue: VecDeque<u16> = (0..3).collect();
    let mut taken = 0u16;
    ring.scope(|s| {
        for round in 0..12u8 {
            let what = format!("round {round}");
            let sent = uring_tests::pattern(24, round);
            tx.write_all(&sent).unwrap();
            let mut held: Vec<Held<'_>> = Vec::new();
            let mut got = Vec::new();
            while got.len() < sent.len() {
                s.push(
                    Recv::new(&rx, pool.select())
                        .recv_flags(RecvFlags::BUNDLE)
                        .user_data(u64::from(round)),
                )
                .unwrap();
                s.submit_and_wait(1).unwrap();
                let mut cqe = s.completions().next().unwrap();
                assert!(cqe.res() > 0, "{what}: {:?}", cqe.cqe());
                let bufs = pool.claim_bundle(&mut cqe).unwrap();
                assert_eq!(
                    bufs.len(),
                    (cqe.res() as usize).div_ceil(8),
                    "{what}: {:?}",
                    cqe.cqe()
                );
                for (i, buf) in bufs.into_iter().enumerate() {
                    assert_eq!(Some(buf.bid()), queue.pop_front(), "{what}: ring order");
                    assert_eq!(buf.offset(), 0);
                    if i == 0 {
                        assert_eq!(Some(buf.bid()), cqe.buffer_id());
                    }
                    got.extend_from_slice(&buf);
                    held.push(Held::new(buf));
                    taken += 1;
                }
                for h in &held[..held.len() - 1] {
                    assert_eq!(h.buf.len(), 8, "{what}: a full buffer before the last");
                }
            }
            assert_kernel_bytes(&got, &sent, &what);
            assert!(queue.is_empty(), "{what}: 24 bytes take the three buffers");
            if status {
                assert_eq!(pool.head().unwrap(), taken, "{what}");
                assert_eq!(pool.available().unwrap(), 0, "{what}");
            }
            // All lent: a bundle finds nothing, even with no data to wait for.
            s.push(
                Recv::new(&rx, pool.select())
                    .recv_flags(RecvFlags::BUNDLE)
                    .user_data(99),
            )
            .unwrap();
            s.submit_and_wait_timeout(1, PATIENCE).unwrap();
            let mut dry = s.completions().next().unwrap();
            assert_eq!(
                (dry.res(), dry.buffer_id()),
                (-libc::ENOBUFS, None),
                "{what}"
            );
            assert!(pool.claim_bundle(&mut dry).is_err());
            assert_untouched(&held, &what);
            // Given back in a random order: the next bundle takes them so.
            while !held.is_empty() {
                let h = held.remove(rng.below(held.len() as u64) as usize);
                queue.push_back(h.buf.bid());
            }
            assert_eq!(pool.lent(), 0);
        }
    });
}

/// A multishot receive on a stream whose completions are read one at a
/// time while the ring is refilled under it: of the first two, only the
/// first is read, claimed and given back, and the kernel fills that buffer
/// again for a third message before the second completion is read. Each
/// claim lends its own message from the buffer its completion names; with
/// both buffers lent, the next message ends the receive with `ENOBUFS`
/// (nothing to claim, the message left in the socket), and a new receive
/// takes it into the buffer given back first.
#[test]
fn a_multishot_receive_read_after_its_ring_was_refilled_claims_each_buffer_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 97, 2, 16) else {
        return;
    };
    let status = uring_tests::has_pbuf_status();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let msgs: Vec<Vec<u8>> = (0..4u8)
        .map(|i| uring_tests::pattern(5 + usize::from(i), 97 + i))
        .collect();
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        // One message per completion: each waits for the last to land.
        tx.write_all(&msgs[0]).unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        tx.write_all(&msgs[1]).unwrap();
        s.wait_timeout(2, PATIENCE).unwrap();
        // Only the first is read, claimed and given back.
        let mut a = s.completions().next().unwrap();
        assert!(a.has_more(), "{:?}", a.cqe());
        let buf = pool.claim(&mut a).unwrap();
        assert_eq!(buf.bid(), 0);
        assert_kernel_bytes(&buf, &msgs[0], "the first message");
        drop(buf);
        // The kernel takes buffer 0 again for the third message, while
        // the completion of the second is still unread.
        tx.write_all(&msgs[2]).unwrap();
        s.wait_timeout(2, PATIENCE).unwrap();
        let mut cqes: Vec<ScopeCqe<'_>> = s.completions().collect();
        assert_eq!(cqes.len(), 2);
        let mut held = Vec::new();
        for (cqe, (bid, msg)) in cqes.iter_mut().zip([(1u16, &msgs[1]), (0, &msgs[2])]) {
            assert!(cqe.has_more(), "{:?}", cqe.cqe());
            assert_eq!(cqe.buffer_id(), Some(bid), "{:?}", cqe.cqe());
            let buf = pool.claim(cqe).unwrap();
            assert!(pool.claim(cqe).is_err(), "claimed once");
            assert_kernel_bytes(&buf, msg, "a message read after the refill");
            held.push(Held::new(buf));
        }
        assert_eq!(pool.lent(), 2);
        if status {
            assert_eq!(pool.head().unwrap(), 3);
            assert_eq!(pool.available().unwrap(), 0);
        }
        // Both lent: the next message ends the receive.
        tx.write_all(&msgs[3]).unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut end = s.completions().next().unwrap();
        assert_eq!((end.res(), end.buffer_id()), (-libc::ENOBUFS, None));
        assert!(!end.has_more());
        assert!(pool.claim(&mut end).is_err());
        assert_eq!(s.in_flight(), 0);
        assert_untouched(&held, "after the receive ended");
        // Given back as 1, then 0: the message left goes to buffer 1.
        drop(held);
        s.push(
            Recv::new(&rx, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(2),
        )
        .unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.buffer_id(), Some(1), "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        assert_kernel_bytes(&buf, &msgs[3], "the message the dry receive left");
    });
    assert_eq!(pool.lent(), 0);
}

/// Receives pushed in one batch onto a ring with one buffer left: the first
/// takes it, the others find the ring dry (`ENOBUFS`, naming no buffer,
/// nothing to claim) and leave their datagrams; given back, the buffers
/// take those datagrams in order. Round after round, the kernel's head
/// counts only the receives that took a buffer.
#[test]
fn receives_that_find_the_ring_dry_interleave_with_ones_that_claim() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 98, 2, 16) else {
        return;
    };
    let status = uring_tests::has_pbuf_status();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let mut next_msg = 0u8;
    let mut sent = VecDeque::new();
    let mut send = |sent: &mut VecDeque<Vec<u8>>| {
        let msg = uring_tests::pattern(3 + usize::from(next_msg % 9), next_msg);
        next_msg = next_msg.wrapping_add(1);
        tx.send(&msg).unwrap();
        sent.push_back(msg);
    };
    let mut taken = 0u16;
    ring.scope(|s| {
        send(&mut sent);
        s.push(Recv::new(&rx, pool.select()).user_data(0)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut first = s.completions().next().unwrap();
        let mut kept = pool.claim(&mut first).unwrap();
        assert_kernel_bytes(&kept, &sent.pop_front().unwrap(), "the first datagram");
        taken += 1;
        for round in 0..6u64 {
            let what = format!("round {round}");
            for _ in 0..3 {
                send(&mut sent);
            }
            for i in 0..3 {
                s.push(Recv::new(&rx, pool.select()).user_data(round * 10 + i))
                    .unwrap();
            }
            s.submit_and_wait(3).unwrap();
            let mut cqes: Vec<ScopeCqe<'_>> = s.completions().collect();
            cqes.sort_by_key(|c| c.user_data());
            assert_eq!(cqes[0].res() as usize, sent[0].len(), "{what}");
            assert_eq!(cqes[0].buffer_id(), Some(1 - kept.bid()), "{what}");
            let got = pool.claim(&mut cqes[0]).unwrap();
            assert_kernel_bytes(&got, &sent.pop_front().unwrap(), &what);
            taken += 1;
            for dry in &mut cqes[1..] {
                assert_eq!(
                    (dry.res(), dry.buffer_id()),
                    (-libc::ENOBUFS, None),
                    "{what}"
                );
                assert!(pool.claim(dry).is_err(), "{what}");
                assert!(pool.claim_bundle(dry).is_err(), "{what}");
            }
            if status {
                assert_eq!(pool.head().unwrap(), taken, "{what}");
                assert_eq!(pool.available().unwrap(), 0, "{what}");
            }
            // The older claim goes back first and takes the next datagram.
            let back = kept.bid();
            drop(kept);
            s.push(Recv::new(&rx, pool.select()).user_data(100 + round))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.buffer_id(), Some(back), "{what}");
            let again = pool.claim(&mut cqe).unwrap();
            assert_kernel_bytes(&again, &sent.pop_front().unwrap(), &what);
            taken += 1;
            // The last datagram of the round goes to the other buffer once
            // it is back; `again` is kept into the next round.
            drop(got);
            s.push(Recv::new(&rx, pool.select()).user_data(200 + round))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            let last = pool.claim(&mut cqe).unwrap();
            assert_eq!(last.bid(), 1 - back, "{what}");
            assert_kernel_bytes(&last, &sent.pop_front().unwrap(), &what);
            taken += 1;
            drop(last);
            kept = again;
        }
        assert!(sent.is_empty());
    });
    assert_eq!(pool.lent(), 0);
}

/// A completion offered to a buffer ring of another group of its ring, and
/// to one of its own group on another ring, is refused by both, and the
/// refusals take nothing from it: its own ring then lends its buffer once.
/// The refusing rings lend nothing and keep every buffer.
#[test]
fn claims_refused_for_another_group_or_ring_leave_the_completion_to_its_own() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(8).unwrap();
    let Some(own) = plain_buf_ring(&mut ring, 100, 2, 32) else {
        return;
    };
    let Some(neighbour) = incremental_buf_ring(&mut ring, 101, 2, 32) else {
        return;
    };
    let twin = plain_buf_ring(&mut other, 100, 2, 32).unwrap();
    let status = uring_tests::has_pbuf_status();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"for group 100 of this ring").unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&rx, own.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        for _ in 0..3 {
            let refused = neighbour.claim(&mut cqe);
            assert!(
                matches!(refused, Err(Error::InvalidArgument(ref m)) if m.contains("group 100")),
                "{refused:?}"
            );
            assert!(neighbour.claim_bundle(&mut cqe).is_err());
            assert!(twin.claim(&mut cqe).is_err(), "same group, another ring");
            assert!(twin.claim_bundle(&mut cqe).is_err());
        }
        let buf = own.claim(&mut cqe).unwrap();
        assert_kernel_bytes(&buf, b"for group 100 of this ring", "the own ring's claim");
        assert!(own.claim(&mut cqe).is_err());
        assert!(neighbour.claim(&mut cqe).is_err());
        assert_eq!((own.lent(), neighbour.lent(), twin.lent()), (1, 0, 0));
        if status {
            assert_eq!(neighbour.available().unwrap(), 2);
            assert_eq!(twin.available().unwrap(), 2);
            assert_eq!(neighbour.head().unwrap(), 0);
            assert_eq!(twin.head().unwrap(), 0);
        }
    });
    // The twin ring's buffers are all still the kernel's: its next receives
    // take 0 and 1 in order.
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    other.scope(|o| {
        for bid in 0..2u16 {
            tx2.write_all(&[bid as u8; 3]).unwrap();
            o.push(Recv::new(&rx2, twin.select()).user_data(2)).unwrap();
            o.submit_and_wait(1).unwrap();
            let mut cqe = o.completions().next().unwrap();
            assert!(own.claim(&mut cqe).is_err(), "another ring's completion");
            let buf = twin.claim(&mut cqe).unwrap();
            assert_eq!((buf.bid(), &buf[..]), (bid, &[bid as u8; 3][..]));
        }
    });
}

/// A claim kept after its `Ring` is dropped (the buffer ring keeps the
/// kernel's ring alive): its bytes stay, while a new ring registers the
/// same group id and its receives fill their own buffers; that ring's
/// completions cannot be claimed from the old buffer ring, and the old
/// claim, dropped at last, goes back to its own ring.
#[test]
fn a_claim_outlives_its_ring_and_a_new_registration_of_its_group() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(old) = plain_buf_ring(&mut ring, 102, 2, 32) else {
        return;
    };
    let status = uring_tests::has_pbuf_status();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let first = uring_tests::pattern(20, 102);
    tx.write_all(&first).unwrap();
    let kept = ring.scope(|s| {
        s.push(Recv::new(&rx, old.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        old.claim(&mut cqe).unwrap()
    });
    drop(ring);
    assert_kernel_bytes(&kept, &first, "the claim after its ring went");
    assert_eq!(old.lent(), 1);
    if status {
        assert_eq!(old.head().unwrap(), 1, "the kernel's ring lives on");
        assert_eq!(old.available().unwrap(), 1);
    }
    let mut ring = Ring::new(8).unwrap();
    let new = ring
        .register_buf_ring(BufferGroup::new(102), 2, 32)
        .unwrap();
    ring.scope(|s| {
        for i in 0..6u8 {
            let msg = uring_tests::pattern(32, i);
            tx.write_all(&msg).unwrap();
            s.push(Recv::new(&rx, new.select()).user_data(u64::from(i)))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert!(old.claim(&mut cqe).is_err(), "a completion of another ring");
            let buf = new.claim(&mut cqe).unwrap();
            assert_eq!(buf.bid(), u16::from(i % 2));
            assert_kernel_bytes(&buf, &msg, "the new ring's claim");
            assert_kernel_bytes(&kept, &first, "the old claim, meanwhile");
        }
    });
    drop(kept);
    assert_eq!(old.lent(), 0);
    if status {
        assert_eq!(old.available().unwrap(), 2, "given back to its own ring");
        assert_eq!(new.available().unwrap(), 2);
    }
}

/// A multishot read of a pipe through an incremental ring: the kernel
/// posts a completion per piece of each buffer (a write that does not fit
/// what is left of the head is split over two buffers); each claim lends
/// the piece the model says, the last pieces stay lent and unchanged while
/// the read goes on, and a read that finds the ring dry (every piece kept
/// for a while) ends and is armed again without losing a byte.
#[test]
fn a_multishot_read_of_a_pipe_through_an_incremental_ring_hands_out_contiguous_pieces() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 7, "multishot reads") {
        return;
    }
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 103, 2, 16) else {
        return;
    };
    let (rd, wr): (OwnedFd, OwnedFd) = uring_tests::pipe();
    let mut wr = std::fs::File::from(wr);
    let mut model = Incremental::new(2, 16);
    let mut rng = Rng(103);
    let mut sent = Vec::new();
    let mut received = 0usize;
    let mut armed = 0;
    ring.scope(|s| {
        let mut held: Vec<Held<'_>> = Vec::new();
        let mut running = false;
        for step in 0..40u64 {
            let what = format!("step {step}");
            if !running {
                s.push(ReadMultishot::new(&rd, pool.group()).user_data(step))
                    .unwrap();
                s.submit().unwrap();
                running = true;
                armed += 1;
            }
            let piece = uring_tests::pattern(1 + rng.below(9) as usize, step as u8);
            wr.write_all(&piece).unwrap();
            sent.extend_from_slice(&piece);
            let deadline = Instant::now() + PATIENCE;
            while running && received < sent.len() {
                assert!(Instant::now() < deadline, "{what}: no completion");
                s.wait_timeout(1, Duration::from_millis(100)).unwrap();
                for mut cqe in s.completions() {
                    if cqe.res() == -libc::ENOBUFS {
                        assert!(model.room().is_none(), "{what}: dry with room");
                        assert!(!cqe.has_more());
                        running = false;
                        continue;
                    }
                    assert!(cqe.has_more(), "{what}: {:?}", cqe.cqe());
                    let buf = pool.claim(&mut cqe).unwrap();
                    model.took(cqe.res(), cqe.buffer_id(), cqe.flags(), &buf, &what);
                    let res = cqe.res() as usize;
                    assert_kernel_bytes(&buf, &sent[received..received + res], &what);
                    received += res;
                    held.push(Held::new(buf));
                }
            }
            // The last two pieces stay lent, or every piece for a few steps
            // (the ring then runs dry and the read ends); when the read
            // stopped, all go.
            let keep = match (running, step % 12 < 4) {
                (false, _) => 0,
                (true, true) => usize::MAX,
                (true, false) => 2,
            };
            while held.len() > keep {
                model.drop_claim(&mut held, 0, &what);
            }
            assert_untouched(&held, &what);
            assert_eq!(pool.lent(), buffers_held(&held), "{what}");
        }
    });
    assert_eq!(received, sent.len());
    assert!(armed > 1, "the ring never ran dry");
}

/// Buffers of 2 GiB or more are refused, by every way to register a buffer
/// ring and by the reactor's, with nothing registered under the group. On
/// Linux 6.18 an op that takes its buffer off the ring when it selects it
/// (a read of a regular file; a receive run by an io-wq worker) commits the
/// selection with its length as an `int`: a whole buffer of 2^31 bytes
/// counts as negative, the commit is skipped and the buffer stays at the
/// ring's head, while its completion, without `IORING_CQE_F_BUF_MORE`,
/// lets a claim lend it, and the next op took the same buffer again and
/// wrote into the live `Buf`. A raw ring's `add` refuses such a buffer too;
/// one of `i32::MAX` bytes is accepted (the test below reads through it).
#[test]
fn buffers_of_2_gib_or_more_are_refused_by_every_registration() {
    let _watch = uring_tests::watchdog();
    assert_eq!(uring::MAX_BUF_RING_BUFFER_LEN, i32::MAX as u32);
    let mut ring = Ring::new(8).unwrap();
    let g = BufferGroup::new(104);
    for len in [1u32 << 31, u32::MAX] {
        let refused = [
            ("plain", ring.register_buf_ring(g, 2, len).map(drop)),
            (
                "incremental",
                ring.register_buf_ring_incremental(g, 2, len).map(drop),
            ),
            ("mmap", ring.register_buf_ring_mmap(g, 2, len).map(drop)),
            (
                "incremental mmap",
                ring.register_buf_ring_incremental_mmap(g, 2, len).map(drop),
            ),
        ];
        for (kind, r) in refused {
            assert!(
                matches!(r, Err(Error::InvalidArgument(_))),
                "{kind} ring of {len}-byte buffers: {r:?}"
            );
        }
        let reactor = uring::reactor::Reactor::new().unwrap();
        let r = reactor.register_buf_ring(g, 2, len);
        assert_eq!(
            r.as_ref().err().map(std::io::Error::kind),
            Some(std::io::ErrorKind::InvalidInput),
            "the reactor's ring of {len}-byte buffers: {:?}",
            r.map(drop)
        );
    }
    // Nothing was registered under the group: a ring that fits takes it.
    let Some(mut raw) = ring.register_buf_ring_raw(g, 2).ok() else {
        uring_tests::skip("no provided-buffer rings");
        return;
    };
    let mut buf = vec![0u8; 16];
    // SAFETY: never added: `add` refuses the length before it writes.
    let r = unsafe { raw.add(buf.as_mut_ptr(), 1 << 31, 0) };
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    drop(raw);
}

/// Buffers one byte short of 2 GiB: the kernel's length is still positive,
/// so a file read takes the buffer off the ring (the head passes it) and
/// the next read takes the other buffer, leaving the claim untouched.
#[test]
fn buffers_just_under_2_gib_are_taken_off_the_ring_by_file_reads() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 106, 2, i32::MAX as u32) else {
        return;
    };
    let status = uring_tests::has_pbuf_status();
    let first = uring_tests::file_of(&[0x11; 16]);
    let second = uring_tests::file_of(&[0x22; 16]);
    ring.scope(|s| {
        s.push(Read::new(&first, pool.select()).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!((buf.bid(), &buf[..]), (0, &[0x11; 16][..]));
        if status {
            assert_eq!(pool.head().unwrap(), 1);
        }
        s.push(Read::new(&second, pool.select()).user_data(2))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.buffer_id(), Some(1));
        let other = pool.claim(&mut cqe).unwrap();
        assert_eq!(&other[..], [0x22; 16]);
        assert_eq!(&buf[..], [0x11; 16]);
    });
}

/// Sizes no memory holds (the most buffers of 4 GiB less a byte: about
/// 140 TB), for every kind of buffer ring, and counts and groups out of
/// range: each an error, none a panic, and the group stays free for a
/// ring that fits.
#[test]
fn sizes_beyond_memory_and_out_of_range_are_errors() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let group = BufferGroup::new(107);
    type Register = fn(&mut Ring, BufferGroup, u16, u32) -> uring::Result<BufRing>;
    let kinds: [(&str, Register); 4] = [
        ("plain", |r, g, c, l| r.register_buf_ring(g, c, l)),
        ("incremental", |r, g, c, l| {
            r.register_buf_ring_incremental(g, c, l)
        }),
        ("mmap", |r, g, c, l| r.register_buf_ring_mmap(g, c, l)),
        ("incremental mmap", |r, g, c, l| {
            r.register_buf_ring_incremental_mmap(g, c, l)
        }),
    ];
    for (kind, register) in kinds {
        let huge = register(&mut ring, group, MAX_BUF_RING_BUFFERS, u32::MAX);
        assert!(huge.is_err(), "{kind}: 140 TB of buffers: {huge:?}");
        for (count, len) in [(0, 1), (1, 0), (MAX_BUF_RING_BUFFERS + 1, 1), (u16::MAX, 1)] {
            let got = register(&mut ring, group, count, len);
            assert!(
                matches!(got, Err(Error::InvalidArgument(_))),
                "{kind}: count {count}, len {len}: {got:?}"
            );
        }
        match register(&mut ring, group, 1, 1) {
            Ok(pool) => assert_eq!((pool.count(), pool.buf_len()), (1, 1)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                uring_tests::skip(format_args!("{kind} buffer rings: {e}"));
            }
            Err(e) => panic!("{kind}: the group is not free: {e}"),
        }
    }
    for id in [2048, u16::MAX] {
        let got = ring.register_buf_ring_mmap(BufferGroup::new(id), 1, 1);
        assert!(
            matches!(got, Err(Error::InvalidArgument(_))),
            "group {id}: {got:?}"
        );
    }
    // A selection longer than the buffer is capped by the kernel at the
    // buffer's length.
    let Some(pool) = plain_buf_ring(&mut ring, 108, 1, 4) else {
        return;
    };
    let file = uring_tests::file_of(b"0123456789");
    ring.scope(|s| {
        s.push(Read::new(&file, BufferSelect::new(pool.group(), u32::MAX)).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!((cqe.res(), &buf[..]), (4, &b"0123"[..]));
    });
}
