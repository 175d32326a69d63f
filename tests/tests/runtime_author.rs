//! Programs a small I/O runtime writes directly on the ring layer: a file
//! copy with linked chains, a TCP echo over one ring, a timer wheel, a
//! ring-to-ring message pipeline, a fixed-buffer reader that grows its
//! ring, a scope shut down with ops of every kind in flight, a completion
//! reaper that manages the head itself, the waits a runtime parks in, and
//! cancels by key. Each asserts what the kernel did.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use uring::ops::{
    Accept, Cancel, Fsync, MsgRing, Nop, PollAdd, Read, ReadFixed, Recv, Send, Timeout,
    TimeoutRemove, TimeoutUpdate, Write,
};
use uring::{
    AcceptFlags, DirectSlot, Either, Error, Linked, PollEvents, PushErrorKind, Query, RecvFlags,
    Ring, SyncCancel, TimeoutFlags,
};
use uring_tests::net::assert_kernel_bytes;
use uring_tests::{PATIENCE, Rng, pattern, pipe, plain_buf_ring, skip, under_valgrind, watchdog};

/// A `(user_data, res, more)` triple of a completion.
type Seen = (u64, i32, bool);

// ---------------------------------------------------------------------------
// 1. A file copy: linked read -> write chains, each under a link timeout.
// ---------------------------------------------------------------------------

/// `cp`: at most `QD` chains of a read and the write of the same buffer in
/// flight, each bounded by a link timeout, over registered files. Every
/// chain posts exactly three completions (read, write, the timeout
/// cancelled), the read and the write each the block's length, the read
/// before the write; the copy is byte-for-byte the source.
///
/// The read and the write of one chain name the same buffer, one as
/// `&mut [u8]` and the other as `&[u8]`: no safe push takes that (a scope
/// would need both borrows at once), so the chain goes through the
/// `unsafe` floor, as the library's own `cp` example does.
#[test]
fn a_file_copy_keeps_a_bounded_number_of_linked_chains_in_flight() {
    let _watch = watchdog();
    const BS: usize = 4096;
    const QD: usize = 4;
    let len = 37 * BS - 100;
    let data = pattern(len, 7);
    let mut src = tempfile::tempfile().unwrap();
    src.write_all(&data).unwrap();
    let mut dst = tempfile::tempfile().unwrap();
    // Declared before the ring: dropped after it, and every op is reaped
    // before the loop ends anyway.
    let mut region = vec![0u8; QD * BS];
    let base = region.as_mut_ptr();
    let mut ring = Ring::new(16).unwrap();
    let files = ring.register_files(&[src.as_fd(), dst.as_fd()]).unwrap();
    let (from, to) = (files.get(0).unwrap(), files.get(1).unwrap());

    // Per slot: the block it copies and the completions it still waits for.
    let mut slots: Vec<Option<(u64, Vec<Seen>)>> = vec![None; QD];
    let mut next = 0usize;
    let mut chains = 0;
    let mut busiest = 0;
    let mut done_blocks: BTreeMap<u64, Vec<Seen>> = BTreeMap::new();
    loop {
        for (i, slot) in slots.iter_mut().enumerate() {
            if slot.is_some() || next >= len {
                continue;
            }
            let n = (len - next).min(BS);
            // SAFETY: slot `i`'s `BS` bytes of `region`, which no chain in
            // flight uses (the slot is free), and which stay allocated and
            // untouched by Rust until the chain's three completions are
            // read (`region` outlives the ring). The two slices name the
            // same bytes; neither is read or written by Rust, and the
            // kernel starts the write only once the read has completed.
            let (into, out) = unsafe {
                let p = base.add(i * BS);
                (
                    std::slice::from_raw_parts_mut(p, n),
                    std::slice::from_raw_parts(p, n),
                )
            };
            let tag = (i as u64) << 2;
            let chain = Read::new(from, into)
                .offset(next as u64)
                .user_data(tag)
                .link(Write::new(to, out).offset(next as u64).user_data(tag | 1))
                .timeout_with(PATIENCE, tag | 2);
            // SAFETY: as above; both files are this ring's registrations,
            // which outlive every op (the handle lives to the end).
            unsafe { ring.push_unchecked(chain) }.expect("room for a chain of three");
            *slot = Some((next as u64, Vec::new()));
            next += n;
            chains += 1;
        }
        let in_flight = slots.iter().filter(|s| s.is_some()).count();
        busiest = busiest.max(in_flight);
        if in_flight == 0 {
            break;
        }
        ring.submit_and_wait_timeout(1, PATIENCE)
            .expect("a completion in time");
        for cqe in ring.completions() {
            let i = (cqe.user_data() >> 2) as usize;
            let (_, seen) = slots[i].as_mut().expect("a completion of a busy slot");
            seen.push((cqe.user_data() & 3, cqe.res(), cqe.has_more()));
            if seen.len() == 3 {
                let (off, seen) = slots[i].take().unwrap();
                assert!(
                    done_blocks.insert(off, seen).is_none(),
                    "block {off} copied twice"
                );
            }
        }
    }
    assert_eq!(busiest, QD, "the copy keeps QD chains in flight");
    assert_eq!(chains, len.div_ceil(BS));
    for (off, seen) in &done_blocks {
        let n = (len - *off as usize).min(BS) as i32;
        assert_eq!(
            seen.as_slice(),
            [(0, n, false), (1, n, false), (2, -libc::ECANCELED, false)],
            "the chain of block {off}: read, write, then its timeout cancelled"
        );
    }
    drop(ring);
    drop(region);
    let mut copied = Vec::new();
    use std::io::Seek as _;
    dst.seek(std::io::SeekFrom::Start(0)).unwrap();
    dst.read_to_end(&mut copied).unwrap();
    assert!(copied == data, "the copy differs from the source");
}

// ---------------------------------------------------------------------------
// 2. A TCP echo over one ring.
// ---------------------------------------------------------------------------

const ACCEPT: u64 = 1 << 40;
const RECV: u64 = 2 << 40;
const SEND: u64 = 3 << 40;
const KIND: u64 = 0xff << 40;

/// One ring serves three clients: a multishot accept into direct
/// descriptors the kernel picks, a multishot receive per connection into
/// a buffer ring, and, for each buffer received, a send of its bytes. The
/// bytes each connection received are those its client wrote, and come
/// back to it whole; when the scope ends (cancelling the accept and the
/// receives) every buffer of the ring is back with the kernel.
///
/// The claimed buffer cannot be sent as it is: a `Buf` is made inside the
/// scope and a push there must borrow longer, so its bytes are copied into
/// a vector given to `push_owned`.
#[test]
fn a_tcp_echo_over_one_ring_with_multishot_accept_and_receive() {
    let _watch = watchdog();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut ring = Ring::new(64).unwrap();
    let files = ring.register_files_sparse(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 1, 16, 64) else {
        return;
    };
    let messages: Vec<Vec<u8>> = (0..3).map(|i| pattern(150 + 40 * i, i as u8)).collect();
    let mut clients: Vec<TcpStream> = messages
        .iter()
        .map(|m| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(uring_tests::watchdog_bound()))
                .unwrap();
            c.write_all(m).unwrap();
            c
        })
        .collect();
    let total: usize = messages.iter().map(Vec::len).sum();

    // What each slot received (the kernel's bytes), and what was sent back.
    let (received, sent) = ring.scope(|s| {
        let mut received: HashMap<u32, Vec<u8>> = HashMap::new();
        let mut sent = 0usize;
        let mut accepted = 0;
        s.push(
            Accept::new(&listener)
                .iou_flags(AcceptFlags::MULTISHOT)
                .direct(DirectSlot::ALLOC)
                .user_data(ACCEPT),
        )
        .unwrap();
        while sent < total {
            s.submit_and_wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("{e} with {sent} of {total} bytes echoed"));
            let (mut sq, completions) = s.split();
            for mut cqe in completions {
                let slot = (cqe.user_data() & 0xffff) as u32;
                match cqe.user_data() & KIND {
                    ACCEPT => {
                        let slot = cqe.result().expect("an accepted connection");
                        assert!(cqe.has_more(), "the multishot accept goes on");
                        accepted += 1;
                        let conn = files.get(slot).unwrap();
                        sq.push(
                            Recv::new(conn, pool.select())
                                .recv_flags(RecvFlags::MULTISHOT)
                                .user_data(RECV | u64::from(slot)),
                        )
                        .unwrap();
                    }
                    RECV => {
                        let n = cqe.result().expect("a receive");
                        assert!(n > 0, "no client closed its side");
                        let buf = pool.claim(&mut cqe).expect("the buffer received into");
                        received.entry(slot).or_default().extend_from_slice(&buf);
                        let copy = buf.to_vec();
                        drop(buf);
                        let conn = files.get(slot).unwrap();
                        sq.push_owned(copy, |bytes, sq| {
                            sq.push(Send::new(conn, &*bytes).user_data(SEND | u64::from(slot)))
                        })
                        .unwrap();
                        assert!(
                            cqe.has_more(),
                            "16 buffers are enough for the multishot receive to go on"
                        );
                    }
                    SEND => {
                        let n = cqe.result().expect("a send") as usize;
                        let buf = cqe.take_buf().expect("the sent vector, back");
                        assert_eq!(n, buf.len(), "a loopback send sends it all");
                        sent += n;
                    }
                    _ => panic!("a completion of no op: {:?}", cqe.cqe()),
                }
            }
        }
        assert_eq!(accepted, 3);
        // Left in flight: the accept and three receives, which the scope
        // cancels as it ends.
        assert_eq!(s.in_flight(), 4);
        (received, sent)
    });
    assert_eq!(sent, total);
    assert_eq!(
        pool.available().unwrap(),
        pool.count(),
        "every buffer is back with the kernel"
    );
    let mut by_len: Vec<Vec<u8>> = received.into_values().collect();
    by_len.sort_by_key(Vec::len);
    for (got, want) in by_len.iter().zip(&messages) {
        assert_kernel_bytes(got, want, "the bytes a connection received");
    }
    for (client, want) in clients.iter_mut().zip(&messages) {
        let mut back = vec![0; want.len()];
        client.read_exact(&mut back).unwrap();
        assert_kernel_bytes(&back, want, "the echo");
    }
}

// ---------------------------------------------------------------------------
// 3. A timer wheel.
// ---------------------------------------------------------------------------

/// A timer wheel: five timers, one moved earlier (`TimeoutUpdate`), one
/// removed (`TimeoutRemove`), one cancelled (`Cancel`), a counting timer
/// and a periodic one. The moved timer fires first, the others in the
/// order of their deadlines; the removed and cancelled ones complete once
/// with `ECANCELED`; the periodic one fires three times, the last without
/// `F_MORE`. Removing or updating a timer that has fired finds nothing.
#[test]
fn a_timer_wheel_of_timeouts_with_updates_removals_and_cancels() {
    let _watch = watchdog();
    let mut ring = Ring::new(32).unwrap();
    let multishot =
        ring.probe().unwrap().supports::<Timeout>() && uring_tests::kernel_version() >= (6, 4);
    let ms = Duration::from_millis;
    let seen: Vec<Seen> = ring.scope(|s| {
        s.push(Timeout::new(ms(200)).user_data(1)).unwrap();
        s.push(Timeout::new(ms(400)).user_data(2)).unwrap();
        s.push(Timeout::new(ms(600)).user_data(3)).unwrap();
        s.push(Timeout::new(ms(800)).user_data(4)).unwrap();
        s.push(Timeout::new(Duration::from_secs(3600)).user_data(5))
            .unwrap();
        s.push(
            Timeout::new(Duration::from_secs(3600))
                .count(2)
                .user_data(6),
        )
        .unwrap();
        if multishot {
            s.push(
                Timeout::new(ms(50))
                    .count(3)
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(7),
            )
            .unwrap();
        }
        s.push(TimeoutUpdate::new(5, ms(1)).user_data(15)).unwrap();
        s.push(TimeoutRemove::new(3).user_data(13)).unwrap();
        s.push(Cancel::new(4).user_data(14)).unwrap();
        let want = 9 + if multishot { 3 } else { 0 };
        let mut seen = Vec::new();
        while seen.len() < want {
            s.submit_and_wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("{e} after {seen:?}"));
            seen.extend(
                s.completions()
                    .map(|c| (c.user_data(), c.res(), c.has_more())),
            );
        }
        // Timer 1 has fired: neither a removal nor an update finds it.
        s.push(TimeoutRemove::new(1).user_data(21)).unwrap();
        s.push(TimeoutUpdate::new(2, ms(5)).user_data(22)).unwrap();
        seen.extend(
            uring_tests::scope_reap(s, 2)
                .iter()
                .map(|c| (c.user_data(), c.res(), c.has_more())),
        );
        seen
    });
    let pos = |ud: u64| seen.iter().position(|&(u, ..)| u == ud).unwrap();
    let once = |ud: u64| {
        let all: Vec<_> = seen.iter().filter(|&&(u, ..)| u == ud).collect();
        assert_eq!(all.len(), 1, "timer {ud}: {seen:?}");
        (all[0].1, all[0].2)
    };
    assert_eq!(once(5), (-libc::ETIME, false), "{seen:?}");
    assert_eq!(once(1), (-libc::ETIME, false));
    assert_eq!(once(2), (-libc::ETIME, false));
    assert_eq!(once(3), (-libc::ECANCELED, false));
    assert_eq!(once(4), (-libc::ECANCELED, false));
    assert_eq!(once(6), (0, false), "the counting timer counted");
    assert_eq!(once(13), (0, false));
    assert_eq!(once(14), (0, false));
    assert_eq!(once(15), (0, false));
    assert!(
        pos(5) < pos(1) && pos(1) < pos(2),
        "deadline order: {seen:?}"
    );
    assert_eq!(once(21), (-libc::ENOENT, false));
    assert_eq!(once(22), (-libc::ENOENT, false));
    if multishot {
        let periodic: Vec<_> = seen.iter().filter(|&&(u, ..)| u == 7).collect();
        assert_eq!(
            periodic,
            [
                &(7, -libc::ETIME, true),
                &(7, -libc::ETIME, true),
                &(7, -libc::ETIME, false)
            ]
        );
    }
}

// ---------------------------------------------------------------------------
// 4. A message pipeline between rings on three threads.
// ---------------------------------------------------------------------------

/// Two producer rings (from `Ring::create_many`, sharing one worker pool)
/// on threads of their own send 300 messages each with `MsgRing` to a
/// consumer ring whose CQ holds 16, which reads them as they come. Every
/// message a producer's completion says was delivered (0) reaches the
/// consumer exactly once; one refused (`EOVERFLOW`, the consumer's CQ
/// full) is sent again. Each producer's delivered messages arrive in the
/// order it sent them.
#[test]
fn a_message_pipeline_from_two_producer_rings_loses_and_duplicates_nothing() {
    let _watch = watchdog();
    if under_valgrind() {
        skip(
            "valgrind runs one thread at a time: the producers do not run while the consumer waits in io_uring_enter",
        );
        return;
    }
    const PER: u64 = 300;
    let mut consumer = Ring::new(8).unwrap();
    assert_eq!(consumer.cq_entries(), 16);
    let target = consumer.msg_target().unwrap();
    let producers = Ring::create_many(2, 8, 1, &Ring::builder()).unwrap();
    assert_eq!(producers[0].attached_wq(), None);
    assert!(producers[1].attached_wq().is_some());
    let (refused_tx, refused_rx) = mpsc::channel::<(u64, i32)>();
    let got = thread::scope(|t| {
        for (p, mut ring) in producers.into_iter().enumerate() {
            let target = &target;
            let refused_tx = refused_tx.clone();
            t.spawn(move || {
                let mut next = 0u64;
                let mut retries = Vec::new();
                ring.scope(|s| {
                    while next < PER || !retries.is_empty() {
                        let mut pushed = 0;
                        while pushed < 8 {
                            let seq = match retries.pop() {
                                Some(seq) => seq,
                                None if next < PER => {
                                    next += 1;
                                    next - 1
                                }
                                None => break,
                            };
                            let data = (p as u64) << 32 | seq;
                            s.push(MsgRing::new(target, p as i32, data).user_data(seq))
                                .unwrap();
                            pushed += 1;
                        }
                        for c in uring_tests::scope_reap(s, pushed) {
                            match c.res() {
                                0 => {}
                                e => {
                                    refused_tx.send((c.user_data(), e)).unwrap();
                                    retries.push(c.user_data());
                                }
                            }
                        }
                    }
                });
            });
        }
        drop(refused_tx);
        let mut got: Vec<(i32, u64)> = Vec::new();
        let deadline = Instant::now() + 3 * PATIENCE;
        while got.len() < 2 * PER as usize && Instant::now() < deadline {
            match consumer.wait_timeout(1, Duration::from_millis(100)) {
                Ok(()) | Err(Error::TimedOut) => {}
                Err(e) => panic!("{e}"),
            }
            got.extend(consumer.completions().map(|c| (c.res(), c.user_data())));
        }
        got
    });
    let refused: Vec<(u64, i32)> = refused_rx.iter().collect();
    eprintln!("{} messages refused and sent again", refused.len());
    for &(_, e) in &refused {
        assert_eq!(e, -libc::EOVERFLOW, "why a message was refused");
    }
    assert_eq!(got.len(), 2 * PER as usize, "messages received");
    for p in 0..2 {
        let seqs: Vec<u64> = got
            .iter()
            .filter(|&&(res, _)| res == p)
            .map(|&(_, data)| {
                assert_eq!(data >> 32, p as u64);
                data & 0xffff_ffff
            })
            .collect();
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted,
            (0..PER).collect::<Vec<_>>(),
            "producer {p}: each once"
        );
        if refused.is_empty() {
            assert_eq!(seqs, sorted, "producer {p}: in order");
        }
    }
    assert_eq!(consumer.ready(), 0);
}

/// The consumer of a pipeline that also sends back (credits, replies)
/// needs a target of each ring on the other thread; then neither ring's
/// scope takes any op, the `MsgRing` included, and the ring's safe push
/// takes no `MsgRing` at all (its target is borrowed). What is left in
/// safe code is `RingTarget::post` (6.13), which sends from no ring: the
/// ping-pong runs on it, each side reading its ring.
#[test]
fn a_ping_pong_between_two_rings_that_each_lend_a_target() {
    let _watch = watchdog();
    if under_valgrind() {
        skip(
            "valgrind runs one thread at a time: the other ring's thread does not run while this one waits in io_uring_enter",
        );
        return;
    }
    const ROUNDS: u64 = 50;
    let mut a = Ring::new(8).unwrap();
    let mut b = Ring::new(8).unwrap();
    let to_a = a.msg_target().unwrap();
    let to_b = b.msg_target().unwrap();
    // The natural program: a scope that sends. Refused, for the ring has
    // a target alive.
    let refused = a.scope(|s| {
        s.push(MsgRing::new(&to_b, 0, 0).user_data(9))
            .map_err(|e| e.kind())
    });
    assert_eq!(refused, Err(PushErrorKind::Targeted));
    if !uring_tests::require_kernel(6, 13, "posting from no ring") {
        return;
    }

    fn play(ring: &mut Ring, peer: &uring::RingTarget, serve: bool) -> Vec<u64> {
        let mut got = Vec::new();
        if serve {
            peer.post(0, 1).unwrap();
        }
        let mut last_sent = u64::from(serve);
        while last_sent + 1 < ROUNDS {
            ring.wait_timeout(1, PATIENCE)
                .expect("the peer's message in time");
            let cqes: Vec<_> = ring.completions().collect();
            for c in cqes {
                got.push(c.user_data());
                last_sent = c.user_data() + 1;
                peer.post(0, last_sent).unwrap();
            }
        }
        got
    }
    let (from_b, from_a) = thread::scope(|t| {
        let server = t.spawn(|| play(&mut a, &to_b, true));
        let from_a = play(&mut b, &to_a, false);
        (server.join().unwrap(), from_a)
    });
    assert_eq!(from_a, (1..ROUNDS).step_by(2).collect::<Vec<_>>());
    assert_eq!(from_b, (2..ROUNDS).step_by(2).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------
// 5. A fixed-buffer random reader that grows its ring.
// ---------------------------------------------------------------------------

/// A random reader over a registered file into registered buffers, on a
/// `defer_taskrun` ring of 4 SQEs: when it has more reads to keep in
/// flight than the SQ takes (`QueueFull`), it ends its scope, grows the
/// ring (`resize`), and goes on. Completions left unread across the
/// resize come out after it, in order; the registrations survive it; each
/// read brought the file's bytes at its offset.
#[test]
fn a_fixed_buffer_random_reader_grows_its_ring_under_load() {
    let _watch = watchdog();
    const BS: usize = 512;
    const DEPTH: usize = 8;
    let len = 64 * BS;
    let data = pattern(len, 3);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    // Declared before the ring, so dropped after it.
    let mut bufs: Vec<Vec<u8>> = (0..DEPTH).map(|_| vec![0u8; BS]).collect();
    let Some(mut ring) = uring_tests::resizable_ring(4) else {
        return;
    };
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let slices: Vec<std::io::IoSliceMut<'_>> = bufs
        .iter_mut()
        .map(|b| std::io::IoSliceMut::new(&mut b[..]))
        .collect();
    // SAFETY: the buffers stay allocated until `unregister_buffers` below
    // (and the ring is dropped before them, should a panic unwind: it is
    // declared after them), and only ReadFixed ops of scopes use them
    // while registered; Rust reads them only between scopes, when no op
    // is in flight.
    let table = unsafe { ring.register_buffers(&slices) }.unwrap();
    drop(slices);
    let mut rng = Rng(0x1234_5678);
    let mut resized = 0;
    for round in 0..4 {
        let offsets: Vec<u64> = (0..DEPTH)
            .map(|_| rng.below((len / BS) as u64) * BS as u64)
            .collect();
        let pushed = ring.scope(|s| {
            let mut pushed = 0;
            for (i, (buf, &off)) in bufs.iter_mut().zip(&offsets).enumerate() {
                let op = ReadFixed::new(
                    files.get(0).unwrap(),
                    &mut buf[..],
                    table.get(i as u32).unwrap(),
                )
                .offset(off)
                .user_data(i as u64);
                match s.push(op) {
                    Ok(()) => pushed += 1,
                    Err(e) => {
                        assert_eq!(e.kind(), PushErrorKind::QueueFull);
                        break;
                    }
                }
            }
            let cqes = uring_tests::scope_reap(s, pushed);
            for c in &cqes {
                assert_eq!(c.res(), BS as i32, "read {}", c.user_data());
            }
            pushed
        });
        for (i, off) in offsets.iter().take(pushed).enumerate() {
            let off = *off as usize;
            assert_kernel_bytes(&bufs[i], &data[off..off + BS], "a fixed read");
        }
        if pushed < DEPTH {
            // Under load: grow, with completions left unread.
            ring.push(Nop::new().user_data(100 + round)).unwrap();
            ring.push(Nop::new().user_data(200 + round)).unwrap();
            ring.submit_and_wait(2).unwrap();
            let sq = ring.sq_entries() * 2;
            ring.resize(sq, sq * 2).unwrap();
            resized += 1;
            let after: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
            assert_eq!(
                after,
                [100 + round, 200 + round],
                "completions kept across the resize"
            );
        }
    }
    assert_eq!(resized, 1, "one resize made room for {DEPTH} reads");
    assert_eq!(ring.sq_entries(), 8);
    ring.unregister_buffers(table).unwrap();
}

// ---------------------------------------------------------------------------
// 6. Shutting a scope down with ops of every kind in flight.
// ---------------------------------------------------------------------------

/// A scope that returns with a read, a multishot receive, an owned-buffer
/// read, a poll, a multishot accept, a plain and a periodic timeout, a
/// chain under a link timeout and a run-time chain in flight: it cancels
/// them all and waits. After it, nothing writes the buffers it lent, no
/// completion is left in the ring, every provided buffer is back, a
/// timeout pushed before the scope still fires in its time, and the ring
/// serves the next scope.
#[test]
fn a_scope_shuts_down_with_ops_of_every_kind_in_flight() {
    let _watch = watchdog();
    let mut ring = Ring::new(32).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 3, 8, 32) else {
        return;
    };
    ring.push(Timeout::new(Duration::from_millis(300)).user_data(77))
        .unwrap();
    ring.submit().unwrap();
    let (r1, mut w1) = pipe();
    let (r2, mut w2) = pipe();
    let (r3, mut w3) = pipe();
    let (r4, mut w4) = pipe();
    let (mut peer, sock) = UnixStream::pair().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sink = tempfile::tempfile().unwrap();
    let mut a = [0xa5u8; 64];
    let mut b = [0xa5u8; 64];
    let mut c = [0xa5u8; 64];
    let (c_out, c_in) = c.split_at_mut(32);
    let in_flight = ring.scope(|s| {
        s.push(Read::new(&r1, &mut a[..]).user_data(1)).unwrap();
        s.push(
            Recv::new(&sock, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(2),
        )
        .unwrap();
        s.push_owned(vec![0xa5; 64], |buf, sq| {
            sq.push(Read::new(&r3, buf).user_data(3))
        })
        .unwrap();
        s.push(PollAdd::new(&r2, PollEvents::IN).user_data(4))
            .unwrap();
        s.push(
            Accept::new(&listener)
                .iou_flags(AcceptFlags::MULTISHOT)
                .user_data(5),
        )
        .unwrap();
        s.push(Timeout::new(Duration::from_secs(3600)).user_data(6))
            .unwrap();
        s.push(
            Timeout::new(Duration::from_secs(3600))
                .timeout_flags(TimeoutFlags::MULTISHOT)
                .user_data(7),
        )
        .unwrap();
        s.push(
            Read::new(&r4, &mut b[..])
                .user_data(8)
                .link(Write::new(&sink, &*c_out).user_data(9))
                .timeout_with(Duration::from_secs(3600), 10),
        )
        .unwrap();
        s.push_linked(Linked::new(vec![
            Either::Left(Read::new(&r4, c_in).user_data(11)),
            Either::Right(Fsync::new(&sink).user_data(12)),
        ]))
        .unwrap();
        s.submit().unwrap();
        s.in_flight()
    });
    assert_eq!(in_flight, 12, "every SQE of the scope counts");
    assert_eq!(ring.ready(), 0, "the scope left no completion of its own");
    // Nothing is left to write what the scope lent.
    for w in [&mut w1, &mut w2, &mut w3, &mut w4] {
        std::fs::File::from(w.try_clone().unwrap())
            .write_all(b"late bytes")
            .unwrap();
    }
    peer.write_all(b"late bytes").unwrap();
    let _late = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let fired = uring_tests::wait_cqes(&mut ring, 1);
    assert_eq!(
        uring_tests::pairs(&fired),
        [(77, -libc::ETIME)],
        "the timeout pushed before the scope fired, untouched by its cancels"
    );
    assert!(a.iter().chain(&b).chain(&c).all(|&x| x == 0xa5));
    assert_eq!(pool.available().unwrap(), pool.count());
    assert!(uring_tests::stray(&mut ring).is_empty());
    let cqe = uring_tests::complete(&mut ring, Nop::new().user_data(5));
    assert_eq!((cqe.user_data(), cqe.res()), (5, 0));
}

// ---------------------------------------------------------------------------
// 7. A reaper that manages the CQ head itself.
// ---------------------------------------------------------------------------

/// A runtime's reaper copies completions out in fixed-size batches
/// (`peek_batch`) and hands the slots back (`advance`) after handling
/// them, with more completions than the CQ holds waiting in the kernel's
/// overflow list: every NOP is seen exactly once, in order, and `ready`
/// counts what is left in the CQ.
#[test]
fn a_batch_reaper_sees_every_completion_once_across_an_overflow() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(ring.cq_entries(), 16);
    for i in 0..40u64 {
        if ring.push(Nop::new().user_data(i)).is_err() {
            ring.submit().unwrap();
            ring.push(Nop::new().user_data(i)).unwrap();
        }
    }
    ring.submit().unwrap();
    assert!(ring.cq_has_overflow(), "40 completions in a CQ of 16");
    assert_eq!(ring.ready(), 16);
    let mut seen = Vec::new();
    let mut batch = [uring::Cqe::default(); 6];
    while seen.len() < 40 {
        let n = ring.peek_batch(&mut batch);
        assert!(n > 0, "completions left: {}", 40 - seen.len());
        let before = ring.ready();
        seen.extend(batch[..n].iter().map(|c| c.user_data()));
        assert_eq!(ring.advance(n as u32), n as u32);
        assert_eq!(ring.ready(), before - n as u32);
    }
    assert_eq!(seen, (0..40).collect::<Vec<_>>());
    assert!(!ring.cq_has_overflow());
    assert_eq!(ring.peek_batch(&mut batch), 0);
    assert_eq!(ring.advance(5), 0, "advance never passes what is ready");
}

// ---------------------------------------------------------------------------
// 8. Parking: the waits of an event loop.
// ---------------------------------------------------------------------------

/// An event loop's park: a wait with a timeout that ends with nothing
/// ready; one with a deadline already past, which only checks; a batching
/// wait that returns after its minimum wait with fewer completions than it
/// asked for; and the same through a registered wait argument.
#[test]
fn an_event_loop_parks_with_timeouts_deadlines_and_minimum_waits() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let args = uring::WaitArgs::new().timeout(Duration::from_millis(20));
    assert!(matches!(
        ring.submit_and_wait_with(1, &args),
        Err(Error::TimedOut)
    ));
    let past = uring::WaitArgs::new().deadline(Instant::now() - Duration::from_secs(1));
    ring.push(Nop::new().user_data(1)).unwrap();
    // Submits the NOP; whether it has completed by the check is the
    // kernel's (it completes inline): either way nothing blocks.
    match ring.submit_and_wait_with(1, &past) {
        Ok(n) => assert_eq!(n, 1),
        Err(Error::TimedOut) => {}
        Err(e) => panic!("{e}"),
    }
    assert_eq!(
        uring_tests::pairs(&uring_tests::wait_cqes(&mut ring, 1)),
        [(1, 0)]
    );
    if uring_tests::require_kernel(6, 12, "a minimum wait") {
        ring.push(Nop::new().user_data(2)).unwrap();
        let batching = uring::WaitArgs::new()
            .min_wait(Duration::from_millis(5))
            .timeout(PATIENCE);
        ring.submit_and_wait_with(4, &batching).unwrap();
        assert_eq!(ring.ready(), 1, "back with one of the four");
        assert_eq!(ring.completions().count(), 1);
    }
    if under_valgrind() {
        skip("valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer");
        return;
    }
    if !uring_tests::require_kernel(6, 13, "registered waits") {
        return;
    }
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    ring.register_wait_region(2).unwrap();
    ring.set_registered_wait(0, Some(Duration::from_millis(10)), None)
        .unwrap();
    ring.set_registered_wait(1, Some(PATIENCE), Some(Duration::from_millis(5)))
        .unwrap();
    ring.enable().unwrap();
    assert!(matches!(ring.wait_registered(1, 0), Err(Error::TimedOut)));
    ring.push(Nop::new().user_data(3)).unwrap();
    ring.submit_and_wait_registered(2, 1).unwrap();
    assert_eq!(
        uring_tests::pairs(&ring.completions().collect::<Vec<_>>()),
        [(3, 0)]
    );
}

// ---------------------------------------------------------------------------
// 9. Cancels a runtime makes.
// ---------------------------------------------------------------------------

/// A runtime's cancels: every read of a connection by `user_data`
/// (`Scope::cancel`, which counts the requests), the ops on one descriptor
/// at once (`cancel_sync` by file), and one more that finds nothing. Each
/// cancelled op completes once with `ECANCELED`; a read on another
/// descriptor is left alone and completes with its data.
#[test]
fn a_runtime_cancels_by_user_data_and_by_descriptor() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let (r1, _w1) = pipe();
    let (r2, _w2) = pipe();
    let (r3, w3) = pipe();
    let mut bufs = [[0u8; 8]; 6];
    let got = ring.scope(|s| {
        let mut it = bufs.iter_mut();
        for ud in [1, 1, 1] {
            s.push(Read::new(&r1, &mut it.next().unwrap()[..]).user_data(ud))
                .unwrap();
        }
        for ud in [2, 3] {
            s.push(Read::new(&r2, &mut it.next().unwrap()[..]).user_data(ud))
                .unwrap();
        }
        s.push(Read::new(&r3, &mut it.next().unwrap()[..]).user_data(4))
            .unwrap();
        s.submit().unwrap();
        let requests = s.cancel(1).unwrap();
        assert!(requests >= 1, "{requests} cancel requests");
        s.cancel_sync(SyncCancel::fd(&r2).all(), Some(PATIENCE))
            .unwrap();
        let none = s.cancel_sync(SyncCancel::user_data(42), Some(PATIENCE));
        assert!(
            none.as_ref()
                .is_err_and(|e| e.raw_os_error() == Some(libc::ENOENT)),
            "{none:?}"
        );
        let mut got = uring_tests::scope_reap(s, 5);
        std::fs::File::from(w3.try_clone().unwrap())
            .write_all(b"kept")
            .unwrap();
        got.extend(uring_tests::scope_reap(s, 1));
        uring_tests::pairs(&got)
    });
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            (1, -libc::ECANCELED),
            (1, -libc::ECANCELED),
            (1, -libc::ECANCELED),
            (2, -libc::ECANCELED),
            (3, -libc::ECANCELED),
            (4, 4)
        ]
    );
    assert_eq!(got.last(), Some(&(4, 4)));
    assert_kernel_bytes(&bufs[5][..4], b"kept", "the read left alone");
}

// ---------------------------------------------------------------------------
// 10. A write-ahead log: a run-time chain of writes, then an fsync.
// ---------------------------------------------------------------------------

/// A log appends records as one run-time chain of writes ending in an
/// fsync (`Linked` of `Either`): all succeed and the file holds the
/// records in order. When one write fails (a descriptor opened read-only
/// in the middle), those after it, and the fsync, are cancelled, and none
/// reaches the file.
#[test]
fn a_log_appends_records_as_a_chain_and_a_failure_cancels_the_rest() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = std::fs::File::create(&path).unwrap();
    let read_only = std::fs::File::open(&path).unwrap();
    let records: Vec<Vec<u8>> = (0..5).map(|i| pattern(100 + i, i as u8)).collect();
    let run = |ring: &mut Ring, bad: Option<usize>, base: u64| {
        ring.scope(|s| {
            let mut off = base;
            let mut ops = Vec::new();
            for (i, r) in records.iter().enumerate() {
                let file = if bad == Some(i) { &read_only } else { &log };
                ops.push(Either::Left(
                    Write::new(file, &r[..]).offset(off).user_data(i as u64),
                ));
                off += r.len() as u64;
            }
            ops.push(Either::Right(Fsync::new(&log).user_data(9)));
            s.push_linked(Linked::new(ops)).unwrap();
            uring_tests::pairs(&uring_tests::scope_reap(s, 6))
        })
    };
    let ok = run(&mut ring, None, 0);
    let lens: Vec<i32> = records.iter().map(|r| r.len() as i32).collect();
    assert_eq!(
        ok,
        [
            (0, lens[0]),
            (1, lens[1]),
            (2, lens[2]),
            (3, lens[3]),
            (4, lens[4]),
            (9, 0)
        ]
    );
    let total: u64 = lens.iter().map(|&n| n as u64).sum();
    let failed = run(&mut ring, Some(2), total);
    assert_eq!(
        failed,
        [
            (0, lens[0]),
            (1, lens[1]),
            (2, -libc::EBADF),
            (3, -libc::ECANCELED),
            (4, -libc::ECANCELED),
            (9, -libc::ECANCELED)
        ]
    );
    let on_disk = std::fs::read(&path).unwrap();
    let mut want: Vec<u8> = records.concat();
    want.extend_from_slice(&records[0]);
    want.extend_from_slice(&records[1]);
    assert!(
        on_disk == want,
        "the log holds the records in order, and no more"
    );
}

// ---------------------------------------------------------------------------
// 11. What the kernel offers: probe and query agree.
// ---------------------------------------------------------------------------

/// A runtime asks what the kernel offers before it picks its ops: every
/// op the probe says is supported is one the query knows, and what the
/// probe says is missing is not supported.
#[test]
fn the_probe_and_the_query_agree_on_the_kernel_s_ops() {
    let ring = Ring::new(4).unwrap();
    let probe = ring.probe().unwrap();
    let query = match Query::kernel() {
        Ok(q) => q,
        Err(e) => {
            skip(format_args!("no IORING_REGISTER_QUERY: {e}"));
            return;
        }
    };
    assert!(query.knows::<Nop>() && probe.supports::<Nop>());
    assert!(u32::from(probe.last_op()) < query.opcodes());
    for op in uring::ops::ALL {
        if probe.is_supported(op.code) {
            assert!(u32::from(op.code) < query.opcodes(), "{}", op.name);
        }
    }
    // `missing` names ops whose opcode the kernel has but whose form is
    // newer than it (GetSockName is a URING_CMD of 6.19).
    let missing: Vec<&str> = probe.missing().map(|op| op.name).collect();
    for op in uring::ops::ALL {
        if !missing.contains(&op.name) {
            assert!(probe.is_supported(op.code), "{}", op.name);
        }
    }
    if uring_tests::kernel_version() < (6, 19) {
        assert!(missing.contains(&"GetSockName"), "{missing:?}");
        assert!(!probe.supports::<uring::ops::GetSockName<'_>>());
        assert!(probe.is_supported(uring::ops::GetSockName::CODE));
    }
}

// ---------------------------------------------------------------------------
// 12. Receiving into buffer rings: bundles and incremental consumption.
// ---------------------------------------------------------------------------

/// A receiver with small buffers takes a burst in bundle receives, each
/// filling several buffers: the buffers claimed, joined, are the bytes
/// sent, each no longer than a buffer. A receiver on an incrementally consumed ring takes three
/// messages into one buffer, each claim starting where the last ended.
/// Once every claim is dropped, every buffer of both rings is back with
/// the kernel.
#[test]
fn a_receiver_takes_bursts_in_bundles_and_small_messages_incrementally() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    if ring.params().has(uring::Features::RECVSEND_BUNDLE) {
        let Some(pool) = plain_buf_ring(&mut ring, 5, 8, 16) else {
            return;
        };
        let burst = pattern(100, 9);
        tx.write_all(&burst).unwrap();
        let (joined, lens, firsts) = ring.scope(|s| {
            let mut joined = Vec::new();
            let mut lens = Vec::new();
            let mut firsts = Vec::new();
            while joined.len() < burst.len() {
                s.push(
                    Recv::new(&rx, pool.select())
                        .recv_flags(RecvFlags::BUNDLE)
                        .user_data(1),
                )
                .unwrap();
                let mut cqe = uring_tests::next_scope_cqe(s);
                firsts.push(cqe.res());
                let bufs = pool.claim_bundle(&mut cqe).unwrap();
                assert!(
                    pool.claim_bundle(&mut cqe).is_err(),
                    "a completion is claimed once"
                );
                lens.extend(bufs.iter().map(|b| b.len()));
                joined.extend(bufs.iter().flat_map(|b| b.iter().copied()));
            }
            (joined, lens, firsts)
        });
        // The selection is one buffer's length, and yet one receive took
        // more than one buffer (Linux 6.18: 96 of the 100 bytes).
        assert!(firsts[0] > 16, "{firsts:?}");
        assert!(lens.iter().all(|&n| n <= 16), "{lens:?}");
        assert_eq!(lens.iter().sum::<usize>(), 100);
        assert_kernel_bytes(&joined, &burst, "the bundles' bytes");
        assert_eq!(pool.available().unwrap(), pool.count());
    } else {
        skip("no bundles (6.10)");
    }
    let Some(inc) = uring_tests::incremental_buf_ring(&mut ring, 6, 2, 64) else {
        return;
    };
    let messages: Vec<Vec<u8>> = (0..3).map(|i| pattern(20, 40 + i)).collect();
    let got = ring.scope(|s| {
        let mut got = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            tx.write_all(m).unwrap();
            s.push(Recv::new(&rx, inc.select()).user_data(i as u64))
                .unwrap();
            let mut cqe = uring_tests::next_scope_cqe(s);
            assert_eq!(cqe.res(), 20);
            let buf = inc.claim(&mut cqe).unwrap();
            got.push((buf.bid(), buf.offset(), buf.to_vec()));
        }
        got
    });
    let bid = got[0].0;
    for (i, (b, offset, bytes)) in got.iter().enumerate() {
        assert_eq!((*b, *offset), (bid, 20 * i), "message {i}");
        assert_kernel_bytes(bytes, &messages[i], "an incremental receive");
    }
    assert_eq!(inc.available().unwrap(), inc.count());
}
