//! Buffer rings outside scopes' own bookkeeping, checked against the
//! kernel code they rest on (Linux 6.18: `io_uring/kbuf.c`, `rw.c`,
//! `net.c`, `io_uring.c`), from safe code but for `RawBufRing::add`, whose
//! contract every test keeps.
//!
//! What each test attacks: a multishot read (`io_read_mshot`) stopped by a
//! full completion queue, at the end of its file, and run by an io-wq
//! worker on a file without `FMODE_NOWAIT` (where `io_wq_submit_work`
//! turns it into a one-shot read, and its empty read names no buffer it
//! took); the 16-bit tail and head of a raw ring going round past 65535
//! (`io_ring_buffer_select` compares and masks them as `__u16`), with
//! buffers added out of order under scattered ids; descriptors of an
//! incremental ring that `io_kbuf_inc_commit` rewrote, handed back by
//! `RawBufRing::add`; one group id on two rings (`io_buffer_get_list`,
//! `io_pbuf_get_region` and `io_unregister_pbuf_ring` are per ring); a send
//! bundle that fails after `io_buffers_select` committed every buffer it
//! mapped; a raw ring unregistered under an armed multishot read and its id
//! registered again; a reactor's ring buffer refilled by an op of its own
//! (`RingBuf` as `IoBufMut`); and a short read of a file that is regular
//! and can be polled, which `__io_read` ends with `-EAGAIN` after placing
//! bytes, whose selection `io_read` recycles, and whose retry `kiocb_done`
//! posts with the earlier count (`io_fixup_rw_res`) while it commits only
//! the retry's bytes: on a plain ring the count names a buffer it never
//! filled, on an incremental one the claim lends bytes the kernel goes on
//! to refill (a defect, its test ignored).

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::{Duration, Instant};

use uring::ops::{Read, ReadMultishot, Recv, Send};
use uring::sys::IORING_CQE_F_BUF_MORE;
use uring::{BufferGroup, Ring, ScopeCqe, SendFlags, SqeFlags};
use uring_tests::{
    PATIENCE, Rng, incremental_buf_ring, incremental_raw_buf_ring, next_scope_cqe, or_skip,
    pattern, plain_buf_ring, raw_buf_ring, require_op,
};

/// The byte every placed buffer starts with, and every byte around them
/// keeps.
const CANARY: u8 = 0xa5;

/// Whether the kernel keeps the rest of the completion's buffer.
fn buf_more(flags: u32) -> bool {
    flags & IORING_CQE_F_BUF_MORE != 0
}

/// Whether the kernel has multishot reads (6.7), with a skip message if
/// not.
fn has_multishot_reads(ring: &Ring) -> bool {
    require_op::<ReadMultishot>(ring)
}

/// How many mappings of descriptors the kernel allocated for `group` the
/// process has: io_uring memory at the group's offset, which no other test
/// of this file maps.
fn ring_mappings(group: u16) -> usize {
    let offset = format!(
        "{:08x}",
        uring::sys::IORING_OFF_PBUF_RING | (i64::from(group) << uring::sys::IORING_OFF_PBUF_SHIFT)
    );
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.contains("io_uring") && l.split_whitespace().nth(2) == Some(&offset[..]))
        .count()
}

/// Reads a scope's completions until one without `IORING_CQE_F_MORE`,
/// [`PATIENCE`] at most, handing each to `each`.
fn until_last<'s>(s: &mut uring::Scope<'s, '_>, mut each: impl FnMut(ScopeCqe<'s>)) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < deadline, "no last completion");
        s.wait_timeout(1, Duration::from_millis(100)).ok();
        let mut last = false;
        for cqe in s.completions() {
            last |= !cqe.has_more();
            each(cqe);
        }
        if last {
            return;
        }
    }
}

/// A multishot read's completion as the tests compare it: result, buffer
/// id, `F_MORE`, `F_BUF_MORE`.
fn shape(cqe: &ScopeCqe<'_>) -> (i32, Option<u16>, bool, bool) {
    (
        cqe.res(),
        cqe.buffer_id(),
        cqe.has_more(),
        buf_more(cqe.flags()),
    )
}

/// `io_read_mshot` posts each read with `io_req_post_cqe`, which fails on a
/// full CQ (`io_fill_cqe_aux` finds no room); the read then ends, and its
/// last completion (`io_req_set_res(req, ret, cflags)`, into the overflow
/// list) carries that read's bytes and buffer, without `F_MORE`, and, on
/// an incremental ring, with `F_BUF_MORE` if the buffer has room left.
/// Datagrams make each read one piece of 5 bytes. On a CQ of two entries,
/// every arming yields three pieces: each claim lends exactly its piece,
/// on an incremental ring at the offset after the previous one (across the
/// read's end and its second arming), no byte is lost or lent twice, the
/// datagrams after the third stay queued until the read is armed again,
/// and the kernel's head counts only the buffers used up.
#[test]
fn a_multishot_read_stopped_by_a_full_cq_hands_its_last_piece_once() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    for incremental in [false, true] {
        let what = if incremental { "incremental" } else { "plain" };
        let mut ring = Ring::new(1).unwrap();
        assert_eq!(ring.params().cq_entries(), 2);
        if !has_multishot_reads(&ring) {
            return;
        }
        let pool = if incremental {
            incremental_buf_ring(&mut ring, 11, 2, 20)
        } else {
            plain_buf_ring(&mut ring, 11, 8, 8)
        };
        let Some(pool) = pool else {
            return;
        };
        let (tx, rx) = UnixDatagram::pair().unwrap();
        let datagrams: Vec<Vec<u8>> = (0..6u8).map(|i| pattern(5, 11 + i)).collect();
        for d in &datagrams {
            tx.send(d).unwrap();
        }
        let mut got = Vec::new();
        ring.scope(|s| {
            for arming in 0..2u64 {
                s.push(ReadMultishot::new(&rx, pool.group()).user_data(arming))
                    .unwrap();
                s.submit().unwrap();
                // The reads run as task work of the submitting thread,
                // before it is back in user space; a little more time, and
                // the CQ is full and the third read's completion in the
                // overflow list.
                std::thread::sleep(Duration::from_millis(20));
                let mut shapes = Vec::new();
                let mut held = Vec::new();
                until_last(s, |mut cqe| {
                    shapes.push(shape(&cqe));
                    let buf = pool.claim(&mut cqe).unwrap();
                    got.push((buf.bid(), buf.offset(), buf.to_vec()));
                    held.push(buf);
                });
                let expected: Vec<(i32, Option<u16>, bool, bool)> = if incremental {
                    // Pieces at 0, 5, 10 of buffer 0 (20 bytes), then 15
                    // (using it up) and 0, 5 of buffer 1.
                    if arming == 0 {
                        vec![
                            (5, Some(0), true, true),
                            (5, Some(0), true, true),
                            (5, Some(0), false, true),
                        ]
                    } else {
                        vec![
                            (5, Some(0), true, false),
                            (5, Some(1), true, true),
                            (5, Some(1), false, true),
                        ]
                    }
                } else {
                    let first = 3 * arming as u16;
                    vec![
                        (5, Some(first), true, false),
                        (5, Some(first + 1), true, false),
                        (5, Some(first + 2), false, false),
                    ]
                };
                assert_eq!(shapes, expected, "{what}, arming {arming}");
                drop(held);
            }
        });
        // Every datagram once, in order, each where the model says.
        let bytes: Vec<Vec<u8>> = got.iter().map(|(_, _, b)| b.clone()).collect();
        assert_eq!(bytes, datagrams, "{what}");
        let places: Vec<(u16, usize)> = got.iter().map(|&(bid, off, _)| (bid, off)).collect();
        if incremental {
            assert_eq!(places, [(0, 0), (0, 5), (0, 10), (0, 15), (1, 0), (1, 5)]);
            // Buffer 0 used up and back; buffer 1 at the head, half used.
            assert_eq!((pool.head().unwrap(), pool.available().unwrap()), (1, 2));
        } else {
            assert_eq!(places, (0..6).map(|b| (b, 0)).collect::<Vec<_>>(), "{what}");
            assert_eq!(
                (pool.head().unwrap(), pool.available().unwrap()),
                (6, 8),
                "{what}"
            );
        }
        assert_eq!(pool.lent(), 0, "{what}");
        let mut rest = [0u8; 8];
        rx.set_nonblocking(true).unwrap();
        assert!(rx.recv(&mut rest).is_err(), "{what}: a datagram was left");
    }
}

/// A multishot read at the end of its file: `io_read_mshot` gets 0 from
/// `__io_read` and calls `io_kbuf_recycle`, which for a selection not yet
/// committed (the file can be polled, the read runs locked) clears
/// `REQ_F_BUFFER_RING` and leaves the head: the last completion is 0
/// bytes naming no buffer, and cannot be claimed. On an incremental ring
/// the half-used buffer stays at the head, and the next read, on another
/// pipe, goes on from where the last piece ended; on a plain ring nothing
/// is taken, and the buffer after the one claimed is the next one filled.
#[test]
fn a_multishot_read_at_the_end_of_its_file_names_no_buffer_and_moves_no_head() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    for incremental in [false, true] {
        let what = if incremental { "incremental" } else { "plain" };
        let mut ring = Ring::new(4).unwrap();
        if !has_multishot_reads(&ring) {
            return;
        }
        let pool = if incremental {
            incremental_buf_ring(&mut ring, 12, 2, 32)
        } else {
            plain_buf_ring(&mut ring, 12, 2, 32)
        };
        let Some(pool) = pool else {
            return;
        };
        let mut places = Vec::new();
        let (r1, w1) = uring_tests::pipe();
        let (r2, w2) = uring_tests::pipe();
        let readers = [r1, r2];
        let mut writers = [Some(w1), Some(w2)];
        ring.scope(|s| {
            for (round, (text, rd)) in [&b"first"[..], b"second"]
                .into_iter()
                .zip(&readers)
                .enumerate()
            {
                let mut wr = std::fs::File::from(writers[round].take().unwrap());
                wr.write_all(text).unwrap();
                s.push(ReadMultishot::new(rd, pool.group()).user_data(round as u64))
                    .unwrap();
                let mut cqe = next_scope_cqe(s);
                assert_eq!(
                    (cqe.res(), cqe.has_more(), buf_more(cqe.flags())),
                    (text.len() as i32, true, incremental),
                    "{what}, round {round}: {:?}",
                    cqe.cqe()
                );
                let buf = pool.claim(&mut cqe).unwrap();
                assert_eq!(&buf[..], text, "{what}, round {round}");
                places.push((buf.bid(), buf.offset()));
                let head = pool.head().unwrap();
                drop(wr);
                let mut end = next_scope_cqe(s);
                assert_eq!(
                    (end.res(), end.buffer_id(), end.has_more()),
                    (0, None, false),
                    "{what}, round {round}: the end of the file: {:?}",
                    end.cqe()
                );
                assert!(pool.claim(&mut end).is_err(), "{what}: nothing to claim");
                assert_eq!(pool.head().unwrap(), head, "{what}: the end took no buffer");
                drop(buf);
            }
        });
        if incremental {
            // The second read goes on in buffer 0, after "first".
            assert_eq!(places, [(0, 0), (0, 5)]);
            assert_eq!((pool.head().unwrap(), pool.available().unwrap()), (0, 2));
        } else {
            assert_eq!(places, [(0, 0), (1, 0)]);
            assert_eq!((pool.head().unwrap(), pool.available().unwrap()), (2, 2));
        }
        assert_eq!(pool.lent(), 0, "{what}");
    }
}

/// `/proc/self/mounts` can be polled and read, but its descriptor has
/// neither `FMODE_NOWAIT` nor `O_NONBLOCK`, and it is a regular file. A
/// multishot read of it forced into an io-wq worker (`IOSQE_ASYNC`):
/// `io_wq_submit_work` clears `REQ_F_APOLL_MULTISHOT` and runs it as a
/// one-shot read; the worker runs unlocked, so `io_ring_buffer_select`
/// commits the buffer at selection (`io_should_commit`), and
/// `io_read_mshot` takes its `!REQ_F_APOLL_MULTISHOT` branch
/// (`io_put_kbuf`). With buffers shorter than the file, the read fills one
/// and completes once, without `F_MORE` or `F_BUF_MORE`, naming it: the
/// claim lends the file's first bytes, and the buffer goes back, once.
#[test]
fn a_multishot_read_run_by_a_worker_on_a_file_without_nowait_completes_once() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let Ok(expected) = std::fs::read("/proc/self/mounts") else {
        return uring_tests::skip("no /proc/self/mounts");
    };
    if expected.len() <= 64 {
        return uring_tests::skip("a /proc/self/mounts of 64 bytes or less");
    }
    for incremental in [false, true] {
        let what = if incremental { "incremental" } else { "plain" };
        let mut ring = Ring::new(4).unwrap();
        if !has_multishot_reads(&ring) {
            return;
        }
        let pool = if incremental {
            incremental_buf_ring(&mut ring, 13, 2, 64)
        } else {
            plain_buf_ring(&mut ring, 13, 2, 64)
        };
        let Some(pool) = pool else {
            return;
        };
        let file = std::fs::File::open("/proc/self/mounts").unwrap();
        ring.scope(|s| {
            s.push(
                ReadMultishot::new(&file, pool.group())
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!(
                shape(&cqe),
                (64, Some(0), false, false),
                "{what}: one read, its buffer named, nothing kept: {:?}",
                cqe.cqe()
            );
            assert_eq!(pool.head().unwrap(), 1, "{what}: the buffer taken");
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!((buf.offset(), &buf[..]), (0, &expected[..64]), "{what}");
            drop(buf);
            assert_eq!(
                pool.available().unwrap(),
                2,
                "{what}: the buffer is back in the ring, once"
            );
            assert_eq!(s.in_flight(), 0, "{what}: nothing more comes");
        });
    }
}

/// Multishot reads of `/proc/self/mounts` that end empty, naming no buffer
/// (Linux 6.18), in three ways:
///
/// - forced into a worker at an offset past the end: the worker commits
///   the buffer at selection (the head moves past it), gets 0, and
///   `io_read_mshot` calls `io_kbuf_recycle` with no list (the commit
///   dropped it), which recycles nothing, then posts
///   `io_req_set_res(req, 0, cflags)` with `cflags` still 0;
/// - forced into a worker at offset 0 with a buffer longer than the file:
///   the buffer is committed, the file read into it short, and since the
///   file is regular (`need_complete_io`) but can be polled
///   (`io_rw_should_retry` declines), `__io_read` returns `-EAGAIN` with
///   the bytes in `io->bytes_done`; the buffer cannot be recycled, the
///   poll-driven retry goes on with the same iterator at the file's end,
///   gets 0, and `io_read_mshot` never adds `bytes_done`: 0, no buffer;
/// - the same inline: the selection is not committed (the read runs
///   locked, the file can be polled), the short first read returns
///   `-EAGAIN` the same way, `io_kbuf_recycle_ring` puts the buffer back,
///   and the retry from the poll reads 0 at the end.
///
/// In the first two the kernel took a buffer that no completion names, so
/// no claim can give it back: the group is a buffer short for as long as
/// it lives. What must hold all the same: nothing is claimable, the lost
/// buffer is never offered again nor twice, the buffers the ring still
/// has serve the next reads whole, and after them the ring is dry
/// (`ENOBUFS`); in the third, the buffer the read wrote into and gave back
/// is the next one a read takes.
#[test]
fn multishot_reads_of_a_proc_file_that_end_empty_name_no_buffer() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    const LEN: u32 = 1 << 20;
    match std::fs::read("/proc/self/mounts") {
        Ok(all) if all.len() < LEN as usize => {}
        _ => return uring_tests::skip("no /proc/self/mounts shorter than a MiB"),
    }
    let data = pattern(64, 14);
    let other = uring_tests::file_of(&data);
    // (offset, flags, whether the kernel keeps the buffer it took).
    let cases = [
        (1u64 << 40, SqeFlags::ASYNC, true),
        (0, SqeFlags::ASYNC, true),
        (0, SqeFlags::EMPTY, false),
    ];
    for incremental in [false, true] {
        for (case, &(offset, flags, lost)) in cases.iter().enumerate() {
            let what = format!("incremental {incremental}, case {case}");
            let mut ring = Ring::new(4).unwrap();
            if !has_multishot_reads(&ring) {
                return;
            }
            let pool = if incremental {
                incremental_buf_ring(&mut ring, 14, 2, LEN)
            } else {
                plain_buf_ring(&mut ring, 14, 2, LEN)
            };
            let Some(pool) = pool else {
                return;
            };
            let file = std::fs::File::open("/proc/self/mounts").unwrap();
            ring.scope(|s| {
                s.push(
                    ReadMultishot::new(&file, pool.group())
                        .offset(offset)
                        .flags(flags)
                        .user_data(1),
                )
                .unwrap();
                let mut cqe = next_scope_cqe(s);
                assert_eq!(
                    shape(&cqe),
                    (0, None, false, false),
                    "{what}: empty, naming no buffer: {:?}",
                    cqe.cqe()
                );
                assert!(pool.claim(&mut cqe).is_err(), "{what}");
                assert_eq!(s.in_flight(), 0, "{what}");
                let taken = u16::from(lost);
                assert_eq!(pool.head().unwrap(), taken, "{what}: the kernel's head");
                assert_eq!(pool.available().unwrap(), 2 - taken, "{what}");
                // The buffers left serve reads, whole, each once.
                let mut held = Vec::new();
                for bid in taken..2 {
                    s.push(Read::new(&other, pool.select()).user_data(2 + u64::from(bid)))
                        .unwrap();
                    let mut cqe = next_scope_cqe(s);
                    assert_eq!(
                        (cqe.res(), cqe.buffer_id(), buf_more(cqe.flags())),
                        (64, Some(bid), false),
                        "{what}: {:?}",
                        cqe.cqe()
                    );
                    let buf = pool.claim(&mut cqe).unwrap();
                    assert_eq!((buf.offset(), &buf[..]), (0, &data[..]), "{what}");
                    held.push(buf);
                }
                // Every buffer the ring still has is lent: it is dry.
                s.push(Read::new(&other, pool.select()).user_data(9))
                    .unwrap();
                let cqe = next_scope_cqe(s);
                assert_eq!(
                    (cqe.res(), cqe.buffer_id()),
                    (-libc::ENOBUFS, None),
                    "{what}: the lost buffer is not handed out"
                );
                for buf in &held {
                    assert_eq!(&buf[..], &data[..], "{what}: a held claim changed");
                }
                drop(held);
                assert_eq!(pool.available().unwrap(), 2 - taken, "{what}");
                assert_eq!(pool.lent(), 0, "{what}");
            });
        }
    }
}

/// `io_ring_buffer_select` reads the tail as a `__u16`, finds the ring
/// empty when it equals the head, and masks the head for the descriptor;
/// `RawBufRing` keeps its tail in 16 bits too (`wrapping_add`), and derives
/// `available` and `room` from the kernel's head
/// (`IORING_REGISTER_PBUF_STATUS`) with wrapping arithmetic. 66536 reads
/// of a regular file through a raw ring of 4096 one-byte buffers take the
/// positions past 65535 (the tail and head wrap in the middle of a
/// batch): each batch's buffers are added in a fresh random order, under
/// ids scattered over the 16 bits; each read's completion names the id of
/// the buffer at its position, its byte lands there and nowhere else, and
/// the counts agree with the kernel's head at every batch.
#[test]
fn raw_ring_positions_wrap_past_the_16_bit_tail_in_the_order_added() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    const ENTRIES: u16 = 4096;
    const FILE_LEN: u64 = 4093;
    let data = pattern(FILE_LEN as usize, 15);
    let file = uring_tests::file_of(&data);
    let arena = uring_tests::Arena::new(usize::from(ENTRIES) + 64);
    let mut ring = Ring::new(u32::from(ENTRIES)).unwrap();
    let Some(mut raw) = raw_buf_ring(&mut ring, 15, ENTRIES) else {
        return;
    };
    let bid_of = |k: usize| (k as u16).wrapping_mul(40503).wrapping_add(7);
    let index_of: HashMap<u16, usize> = (0..usize::from(ENTRIES)).map(|k| (bid_of(k), k)).collect();
    assert_eq!(index_of.len(), usize::from(ENTRIES), "ids are distinct");
    let mut rng = Rng(15);
    // A short first batch, so that the 16-bit wrap falls inside a batch.
    let batches = std::iter::once(1000usize).chain(std::iter::repeat_n(usize::from(ENTRIES), 16));
    let mut position = 0u64;
    ring.scope(|s| {
        for (batch, n) in batches.enumerate() {
            let mut order: Vec<usize> = (0..usize::from(ENTRIES)).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
            order.truncate(n);
            for &k in &order {
                // SAFETY: the arena outlives the ring and is read only once
                // every read of the batch has completed; the ring is empty
                // (the kernel's head is at the tail, checked below at the
                // end of every batch), and a batch adds at most `ENTRIES`.
                unsafe { raw.add(arena.at(k), 1, bid_of(k)) }.unwrap();
            }
            assert_eq!(raw.pending(), n as u16);
            raw.advance();
            let first = position;
            position += n as u64;
            assert_eq!(raw.tail(), position as u16, "batch {batch}");
            assert_eq!(
                (raw.available().unwrap(), raw.room().unwrap()),
                (n as u16, ENTRIES - n as u16),
                "batch {batch}"
            );
            for j in 0..n {
                s.push(
                    Read::new(&file, raw.select())
                        .offset((first + j as u64) % FILE_LEN)
                        .user_data(j as u64),
                )
                .unwrap();
            }
            s.submit().unwrap();
            let mut seen = vec![false; n];
            let mut left = n;
            let deadline = Instant::now() + PATIENCE;
            while left > 0 {
                assert!(
                    Instant::now() < deadline,
                    "batch {batch}: {left} reads missing"
                );
                s.wait_timeout(1, Duration::from_millis(100)).ok();
                for cqe in s.completions() {
                    let j = cqe.user_data() as usize;
                    assert!(!seen[j], "batch {batch}: read {j} completed twice");
                    seen[j] = true;
                    left -= 1;
                    assert_eq!(
                        (cqe.res(), cqe.buffer_id()),
                        (1, Some(bid_of(order[j]))),
                        "batch {batch}, read {j} (position {})",
                        first + j as u64
                    );
                }
            }
            for (j, &k) in order.iter().enumerate() {
                let at = ((first + j as u64) % FILE_LEN) as usize;
                assert_eq!(
                    arena.bytes(k, 1)[0],
                    data[at],
                    "batch {batch}: buffer {k} holds another read's byte"
                );
            }
            assert_eq!(raw.head().unwrap(), position as u16, "batch {batch}");
            assert_eq!(
                (raw.available().unwrap(), raw.room().unwrap()),
                (0, ENTRIES),
                "batch {batch}"
            );
        }
    });
    assert!(position > 65536, "the positions went past 16 bits");
    assert_eq!(
        arena.bytes(usize::from(ENTRIES), 64),
        &[CANARY; 64][..],
        "nothing written past the buffers"
    );
    drop(raw);
}

/// `io_kbuf_inc_commit` writes the descriptors of an incremental ring:
/// each piece moves the head descriptor's `addr` on and shortens its
/// `len`; the piece that uses the buffer up sets `len` to 0 and leaves
/// `addr` where the last piece began. That descriptor's slot comes round
/// again: `RawBufRing::add` must write all of it, or the kernel would take
/// the stale address (inside the old buffer, 30 bytes on) or a length of
/// 0. A 32-byte buffer is used up in pieces of 10, 10, 10 and 2 by file
/// reads of short selections (committed at selection); a second buffer and
/// the first memory again, as 20 bytes under a new id, are added after it,
/// the latter into the rewritten slot. Each read then lands at the start
/// of the buffer added, with its length and id, and nothing past the 20
/// bytes changes. With descriptors of the library's and of the kernel's.
#[test]
fn incremental_descriptors_the_kernel_rewrote_are_written_whole_by_add() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let data = pattern(256, 16);
    let file = uring_tests::file_of(&data);
    for mmap in [false, true] {
        let what = if mmap {
            "kernel's descriptors"
        } else {
            "library's descriptors"
        };
        let arena = uring_tests::Arena::new(512);
        let mut ring = Ring::new(8).unwrap();
        let Some(mut raw) = incremental_raw_buf_ring(&mut ring, 16 + u16::from(mmap), 2, mmap)
        else {
            return;
        };
        // SAFETY: the arena outlives the ring and is read only with no op
        // in flight; one buffer in two descriptors.
        unsafe { raw.add(arena.at(100), 32, 7) }.unwrap();
        raw.advance();
        ring.scope(|s| {
            let mut offset = 0u64;
            for (i, want) in [10, 10, 10, 2].into_iter().enumerate() {
                s.push(
                    Read::new(&file, raw.group().select(10))
                        .offset(offset)
                        .user_data(i as u64),
                )
                .unwrap();
                let cqe = next_scope_cqe(s);
                assert_eq!(
                    (cqe.res(), cqe.buffer_id(), buf_more(cqe.flags())),
                    (want, Some(7), i < 3),
                    "{what}: piece {i}: {:?}",
                    cqe.cqe()
                );
                offset += want as u64;
            }
            assert_eq!(raw.head().unwrap(), 1, "{what}: the buffer is used up");
            assert_eq!(arena.bytes(100, 32), &data[..32], "{what}");
            // SAFETY: the completion of its last piece, without
            // `BUF_MORE`, released the first memory; the arena outlives
            // the ring; two buffers in two descriptors, the ring empty.
            unsafe {
                raw.add(arena.at(300), 16, 8).unwrap();
                raw.add(arena.at(100), 20, 9).unwrap();
            }
            raw.advance();
            for (i, (at, bid, len)) in [(40u64, 8u16, 16usize), (60, 9, 20)]
                .into_iter()
                .enumerate()
            {
                s.push(
                    Read::new(&file, raw.select())
                        .offset(at)
                        .user_data(10 + i as u64),
                )
                .unwrap();
                let cqe = next_scope_cqe(s);
                assert_eq!(
                    (cqe.res(), cqe.buffer_id(), buf_more(cqe.flags())),
                    (len as i32, Some(bid), false),
                    "{what}: buffer {bid}: {:?}",
                    cqe.cqe()
                );
            }
            assert_eq!(raw.head().unwrap(), 3, "{what}");
        });
        assert_eq!(arena.bytes(300, 16), &data[40..56], "{what}");
        assert_eq!(
            arena.bytes(100, 20),
            &data[60..80],
            "{what}: at the buffer's start"
        );
        assert_eq!(
            arena.bytes(120, 12),
            &data[20..32],
            "{what}: past the new length"
        );
        arena.assert_untouched_but(&[(100, 32), (300, 16)]);
        drop(raw);
    }
}

/// Group ids are per ring: `io_buffer_get_list` looks a group up in its
/// ring's own table, `io_pbuf_get_region` maps the descriptors of the
/// ring's own group, and `io_unregister_pbuf_ring` removes only the ring's
/// own. One id on two rings, each ring's descriptors the kernel's (a
/// `BufRing` on one, a `RawBufRing` on the other): each ring's receives
/// fill its own buffers, each mapping is its own, dropping one unmaps one
/// mapping and leaves the other ring's group whole (the dropped ring's
/// group is then gone: `ENOBUFS`, its head `ENOENT`), and the id registered
/// again on the first ring (with the library's descriptors) moves nothing
/// of the second's.
#[test]
fn one_group_id_on_two_rings_is_two_groups() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    const GROUP: u16 = 1999;
    let arena = uring_tests::Arena::new(256);
    let mut a = Ring::new(8).unwrap();
    let mut b = Ring::new(8).unwrap();
    let Some(pool) = or_skip(
        a.register_buf_ring_mmap(BufferGroup::new(GROUP), 2, 16),
        "buffer rings the kernel allocates (6.4)",
    ) else {
        return;
    };
    let mut raw = b
        .register_buf_ring_raw_mmap(BufferGroup::new(GROUP), 4)
        .unwrap();
    assert_eq!(ring_mappings(GROUP), 2, "one mapping per ring");
    // SAFETY: the arena outlives both rings and is read only with no op in
    // flight; three buffers in four descriptors.
    unsafe {
        raw.add(arena.at(0), 16, 100).unwrap();
        raw.add(arena.at(64), 16, 101).unwrap();
        raw.add(arena.at(128), 16, 102).unwrap();
    }
    raw.advance();
    let (mut ta, ra) = UnixStream::pair().unwrap();
    let (mut tb, rb) = UnixStream::pair().unwrap();
    let select = BufferGroup::new(GROUP).select(0);
    ta.write_all(b"to ring a").unwrap();
    tb.write_all(b"to ring b").unwrap();
    a.scope(|s| {
        s.push(Recv::new(&ra, select).user_data(1)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (9, Some(0)));
        assert_eq!(&pool.claim(&mut cqe).unwrap()[..], b"to ring a");
    });
    b.scope(|s| {
        s.push(Recv::new(&rb, select).user_data(1)).unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (9, Some(100)));
    });
    assert_eq!(arena.bytes(0, 9), b"to ring b");
    assert_eq!((pool.head().unwrap(), raw.head().unwrap()), (1, 1));
    // The first ring's group goes: one mapping left, the second's whole.
    drop(pool);
    assert_eq!(ring_mappings(GROUP), 1);
    assert_eq!(
        a.buf_ring_head(BufferGroup::new(GROUP))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ENOENT)
    );
    ta.write_all(b"nowhere").unwrap();
    a.scope(|s| {
        s.push(Recv::new(&ra, select).user_data(2)).unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
    });
    tb.write_all(b"still b").unwrap();
    b.scope(|s| {
        s.push(Recv::new(&rb, select).user_data(2)).unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (7, Some(101)));
    });
    assert_eq!(arena.bytes(64, 7), b"still b");
    // The id again on the first ring, with the library's descriptors.
    let pool = plain_buf_ring(&mut a, GROUP, 2, 16).unwrap();
    assert_eq!(
        ring_mappings(GROUP),
        1,
        "the library's descriptors are not the kernel's"
    );
    a.scope(|s| {
        s.push(Recv::new(&ra, select).user_data(3)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (7, Some(0)));
        assert_eq!(&pool.claim(&mut cqe).unwrap()[..], b"nowhere");
    });
    assert_eq!(raw.head().unwrap(), 2, "the other ring's head did not move");
    // The second ring's group goes; the first's stays.
    raw.unregister().unwrap();
    assert_eq!(ring_mappings(GROUP), 0);
    tb.write_all(b"x").unwrap();
    b.scope(|s| {
        s.push(Recv::new(&rb, select).user_data(3)).unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
    });
    assert_eq!(pool.head().unwrap(), 1);
    arena.assert_untouched_but(&[(0, 9), (64, 7)]);
}

/// A send from provided buffers selects them with `io_buffers_select`,
/// which commits at once every buffer it mapped (`REQ_F_BL_NO_RECYCLE`).
/// One buffer, sent to a peer that is gone: `-EPIPE`, the completion names
/// the buffer (`io_put_kbuf`), the claim gives it back. A bundle of four:
/// the kernel's head moves past all four, and on `-EPIPE`
/// `io_send_finish` puts `io_bundle_nbufs(kmsg, ret)` of them, 0 for a
/// failure, while the completion names the first: its claim lends that
/// one (no byte sent), and the other three, which the kernel took with it
/// and no completion names, never come back (Linux 6.18). What must hold:
/// the ring never offers more buffers than it has, and none twice; every
/// buffer offered is one the kernel let go of.
#[test]
fn a_failed_send_bundle_names_one_of_the_buffers_it_took() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 18, 4, 16) else {
        return;
    };
    let bytes = pattern(64, 18);
    uring_tests::fill_send_buffers(&mut ring, &pool, &bytes);
    assert_eq!((pool.head().unwrap(), pool.available().unwrap()), (4, 4));
    let (one, gone) = UnixStream::pair().unwrap();
    drop(gone);
    let (mut feed, src) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        // One buffer: named, given back.
        s.push(Send::new(&one, pool.select()).user_data(1)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(
            (cqe.res(), cqe.buffer_id(), cqe.has_more()),
            (-libc::EPIPE, Some(0), false),
            "{:?}",
            cqe.cqe()
        );
        assert_eq!(pool.head().unwrap(), 5, "committed at selection");
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        assert_eq!(bufs.len(), 1);
        assert!(bufs[0].is_empty());
        drop(bufs);
        assert_eq!(pool.available().unwrap(), 4, "every buffer is back");
        // A bundle of the four in the ring: buffers 1, 2, 3 and 0.
        s.push(
            Send::new(&one, pool.group().select(0))
                .send_flags(SendFlags::BUNDLE)
                .user_data(2),
        )
        .unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(
            (cqe.res(), cqe.buffer_id(), cqe.has_more()),
            (-libc::EPIPE, Some(1), false),
            "{:?}",
            cqe.cqe()
        );
        assert_eq!(pool.head().unwrap(), 9, "all four committed at selection");
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        assert_eq!(
            bufs.iter().map(|b| (b.bid(), b.len())).collect::<Vec<_>>(),
            [(1, 0)],
            "the failure names the first buffer only"
        );
        drop(bufs);
        let available = pool.available().unwrap();
        assert!(available <= pool.count(), "a buffer is in the ring twice");
        assert_eq!(
            available, 1,
            "buffers 2, 3 and 0, taken and named by no completion, stay out of the ring"
        );
        // The one buffer back is buffer 1; then the ring is dry.
        feed.write_all(&[0x3c; 40]).unwrap();
        s.push(Recv::new(&src, pool.select()).user_data(3)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (16, Some(1)));
        let held = pool.claim(&mut cqe).unwrap();
        s.push(Recv::new(&src, pool.select()).user_data(4)).unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
        assert_eq!(&held[..], &[0x3c; 16]);
    });
}

/// A raw ring unregistered (`RawBufRing::unregister`, through
/// `io_unregister_pbuf_ring`) while a multishot read of a pipe is armed on
/// its group: the read holds no buffer while it waits (`io_read_mshot`
/// recycles its selection on `-EAGAIN` before the poll is armed), so when
/// data comes `io_buffer_select` finds no group and the read ends with
/// `ENOBUFS`, naming no buffer; the second buffer added is never written,
/// and the data stays in the pipe. The id registered again, as a
/// `BufRing`, serves the next multishot read from its own buffer 0.
#[test]
fn a_raw_ring_unregistered_under_an_armed_multishot_read_ends_it() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let arena = uring_tests::Arena::new(128);
    let mut ring = Ring::new(4).unwrap();
    if !has_multishot_reads(&ring) {
        return;
    }
    let Some(mut raw) = raw_buf_ring(&mut ring, 19, 4) else {
        return;
    };
    // SAFETY: the arena outlives the ring; it is read only after the read's
    // last completion, once the group is unregistered; two buffers in four
    // descriptors.
    unsafe {
        raw.add(arena.at(16), 16, 1).unwrap();
        raw.add(arena.at(64), 16, 2).unwrap();
    }
    raw.advance();
    let group = raw.group();
    let (rd, wr) = uring_tests::pipe();
    let mut wr = std::fs::File::from(wr);
    let mut raw = Some(raw);
    ring.scope(|s| {
        s.push(ReadMultishot::new(&rd, group).user_data(1)).unwrap();
        s.submit().unwrap();
        wr.write_all(b"first").unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!(shape(&cqe), (5, Some(1), true, false), "{:?}", cqe.cqe());
        let raw = raw.take().unwrap();
        assert_eq!(raw.head().unwrap(), 1, "the armed read holds no buffer");
        raw.unregister().unwrap();
        wr.write_all(b"second").unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!(
            shape(&cqe),
            (-libc::ENOBUFS, None, false, false),
            "{:?}",
            cqe.cqe()
        );
    });
    assert_eq!(arena.bytes(16, 5), b"first");
    arena.assert_untouched_but(&[(16, 5)]);
    let pool = plain_buf_ring(&mut ring, 19, 2, 32).unwrap();
    ring.scope(|s| {
        s.push(ReadMultishot::new(&rd, pool.group()).user_data(2))
            .unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(shape(&cqe), (6, Some(0), true, false), "{:?}", cqe.cqe());
        assert_eq!(&pool.claim(&mut cqe).unwrap()[..], b"second");
        drop(wr);
        let cqe = next_scope_cqe(s);
        assert_eq!(shape(&cqe), (0, None, false, false), "{:?}", cqe.cqe());
    });
    arena.assert_untouched_but(&[(16, 5)]);
}

/// A reactor's ring buffer given back to a reactor op as its memory: a
/// `RingBuf` is an `IoBufMut` of its whole buffer (`bytes_total` is the
/// buffer's length, whatever was received or truncated), and `io_recv`
/// imports exactly the address and length the SQE gives
/// (`import_ubuf(ITER_DEST, sr->buf, sr->len)`), so a receive into it
/// takes at most that buffer, never the next one (the ring's buffers lie
/// back to back); a slice of it sends only the bytes in range; dropped
/// after being truncated, the buffer goes back whole (its descriptor's
/// `len`, which `io_ring_buffer_select` caps a selection at, is the
/// buffer's), so the next receives into the group get whole buffers.
#[test]
fn a_ring_buffer_refilled_by_a_reactor_op_stays_within_its_buffer() {
    use uring::reactor::ops::{Recv as RecvInto, RecvRing, Send as SendFrom};
    use uring::reactor::{IoBuf, Reactor, SharedFd};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let Some(group) = uring_tests::net::group_or_skip(&reactor.handle(), 20, 2, 16) else {
        return;
    };
    let (sock, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(sock);
    let mut recv_ring = |bytes: &[u8]| {
        peer.write_all(bytes).unwrap();
        let (res, buf) = reactor
            .run_until(reactor.op(RecvRing::new(&fd, group)))
            .unwrap();
        (res.unwrap(), buf.unwrap())
    };
    let (n, mut first) = recv_ring(&[b'A'; 16]);
    let (m, second) = recv_ring(&[b'B'; 16]);
    assert_eq!((n, m), (16, 16));
    assert_eq!((first.bid(), second.bid()), (0, 1));
    first.truncate(3);
    assert_eq!(&first[..], b"AAA");
    assert_eq!(first.capacity(), 16);
    // A receive into the first buffer, with 40 bytes waiting: 16 taken.
    peer.write_all(&[b'C'; 40]).unwrap();
    let (res, first) = reactor
        .run_until(reactor.op(RecvInto::new(&fd, first)))
        .unwrap();
    assert_eq!(res.unwrap(), 16);
    assert_eq!(&first[..], &[b'C'; 16][..]);
    assert_eq!(&second[..], &[b'B'; 16][..], "the next buffer is untouched");
    // A slice of it sends the bytes in range only.
    let mut first = first;
    first[2..5].copy_from_slice(b"xyz");
    let (res, slice) = reactor
        .run_until(reactor.op(SendFrom::new(&fd, first.slice(2..5))))
        .unwrap();
    assert_eq!(res.unwrap(), 3);
    let mut sent = [0u8; 3];
    peer.read_exact(&mut sent).unwrap();
    assert_eq!(&sent, b"xyz");
    let mut first = slice.into_inner();
    first.truncate(1);
    drop(first);
    drop(second);
    // Both back, whole: the 24 bytes left come as 16, then 8.
    let (res, a) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, group)))
        .unwrap();
    let (res2, b) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, group)))
        .unwrap();
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((res.unwrap(), res2.unwrap()), (16, 8));
    assert_eq!((a.len(), b.len()), (16, 8));
    assert_eq!(&a[..], &[b'C'; 16][..]);
    assert_eq!(&b[..], &[b'C'; 8][..]);
    let mut ids = [a.bid(), b.bid()];
    ids.sort();
    assert_eq!(ids, [0, 1]);
}

/// A read that selects from an incremental ring, of a file that is
/// regular and can be polled (`/proc/self/mounts`, shorter than the
/// buffer). Issued inline, `io_ring_buffer_select` would not commit (the
/// file can be polled); the read is short, and since the file is regular
/// (`need_complete_io`) and `io_rw_should_retry` declines (it can be
/// polled), `__io_read` returns `-EAGAIN` with the bytes kept in
/// `io->bytes_done`; `io_read` recycles the selection (the head and the
/// descriptor's `addr` stay); the retry from the poll selects the same
/// buffer at the same offset, reads 0, and `kiocb_done` posts the earlier
/// bytes while committing none (`F_BUF_MORE`). A claim would lend bytes
/// the kernel still counts unused, and the group's next read would write
/// into the lent `Buf`. A scope sends such reads to an io-wq worker, which
/// commits the whole buffer at selection: the completion names buffer 0
/// with the file's bytes and no `BUF_MORE`, the head moves past it, and
/// the next read lands in buffer 1, the lent bytes untouched.
#[test]
fn a_short_read_of_a_pollable_regular_file_lends_incremental_bytes_the_kernel_refills() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    const LEN: u32 = 1 << 16;
    let expected = match std::fs::read("/proc/self/mounts") {
        Ok(all) if !all.is_empty() && all.len() < LEN as usize => all,
        _ => return uring_tests::skip("no /proc/self/mounts shorter than 64 KiB"),
    };
    let mut ring = Ring::new(4).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 23, 2, LEN) else {
        return;
    };
    let file = std::fs::File::open("/proc/self/mounts").unwrap();
    let data = pattern(64, 23);
    let other = uring_tests::file_of(&data);
    ring.scope(|s| {
        s.push(Read::new(&file, pool.select()).user_data(1))
            .unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(
            shape(&cqe),
            (expected.len() as i32, Some(0), false, false),
            "{:?}",
            cqe.cqe()
        );
        assert_eq!(pool.head().unwrap(), 1, "the buffer was taken whole");
        let held = pool.claim(&mut cqe).unwrap();
        assert_eq!((held.offset(), &held[..]), (0, &expected[..]));
        let seen = held.to_vec();
        // The next read of the group: a regular file that cannot be polled.
        s.push(Read::new(&other, pool.select()).user_data(2))
            .unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(
            (cqe.res(), cqe.buffer_id()),
            (64, Some(1)),
            "{:?}",
            cqe.cqe()
        );
        let changed = held.iter().zip(&seen).filter(|(a, b)| a != b).count();
        assert!(
            changed == 0,
            "the kernel wrote the next read into a lent Buf: {changed} of its bytes changed, \
             its first bytes now {:?}",
            &held[..held.len().min(16)]
        );
        let next = pool.claim(&mut cqe).unwrap();
        assert_eq!((next.offset(), &next[..]), (0, &data[..]));
        drop(held);
        drop(next);
        assert_eq!(pool.lent(), 0);
    });
}

/// The same short read of a pollable regular file, on a plain ring, with a
/// read of another file pushed right behind it: the first read's bytes go
/// into buffer 0 before `io_kbuf_recycle_ring` puts it back; the second
/// read takes buffer 0 and commits it (a regular file that cannot be
/// polled); the first read's retry from the poll then selects buffer 1,
/// reads 0, and `kiocb_done` posts the earlier count (`io_fixup_rw_res`)
/// naming buffer 1, which `io_put_kbuf` commits. Memory stays sound (every
/// buffer lent is one the kernel let go of, none twice, no live claim
/// changes), but the first read's claim holds what buffer 1 held before,
/// here bytes received earlier from a socket, not the file's (Linux 6.18).
#[test]
fn a_short_read_of_a_pollable_regular_file_is_counted_in_a_buffer_it_never_filled() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    const LEN: u32 = 16 * 1024;
    let expected = match std::fs::read("/proc/self/mounts") {
        Ok(all) if !all.is_empty() && all.len() < LEN as usize => all,
        _ => return uring_tests::skip("no /proc/self/mounts shorter than 16 KiB"),
    };
    let mut ring = Ring::new(4).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 24, 2, LEN) else {
        return;
    };
    let earlier = pattern(2 * LEN as usize, 24);
    uring_tests::fill_send_buffers(&mut ring, &pool, &earlier);
    let file = std::fs::File::open("/proc/self/mounts").unwrap();
    let data = pattern(64, 25);
    let other = uring_tests::file_of(&data);
    let n = expected.len();
    ring.scope(|s| {
        s.push(Read::new(&file, pool.select()).user_data(1))
            .unwrap();
        s.push(Read::new(&other, pool.select()).user_data(2))
            .unwrap();
        s.submit().unwrap();
        let mut held = HashMap::new();
        let deadline = Instant::now() + PATIENCE;
        while held.len() < 2 {
            assert!(Instant::now() < deadline, "missing completions");
            s.wait_timeout(1, Duration::from_millis(100)).ok();
            for mut cqe in s.completions() {
                let key = cqe.user_data();
                let got = (cqe.res(), cqe.buffer_id());
                let buf = pool.claim(&mut cqe).unwrap();
                held.insert(key, (got, buf));
            }
        }
        let (got2, second) = &held[&2];
        assert_eq!(*got2, (64, Some(0)));
        assert_eq!(&second[..], &data[..]);
        let (got1, first) = &held[&1];
        assert_eq!(
            *got1,
            (n as i32, Some(1)),
            "the count names the next buffer"
        );
        assert_eq!(
            &first[..],
            &earlier[LEN as usize..LEN as usize + n],
            "the claim holds what buffer 1 held before, not the file"
        );
        assert_ne!(&first[..], &expected[..]);
        assert!(pool.available().unwrap() <= pool.count());
        drop(held);
        assert_eq!(pool.available().unwrap(), 2);
    });
}
