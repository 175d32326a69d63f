//! Scopes on rings of big entries (128-byte SQEs, 32-byte CQEs): borrowed
//! and owned buffers, tags restored without touching a big CQE's extra
//! words, ops left in flight cancelled and waited for, completions that are
//! not the scope's kept in order with their extra words, through a full CQ
//! too, and buffers claimed from a provided-buffer ring.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::os::unix::net::UnixStream;

use uring::ops::{Nop, Read, Recv, Write};
use uring::{BigCqe, BufferGroup, Builder, Cqe16, Cqe32, Ring, Sqe64, Sqe128, SqeSize, UniformCqe};
use uring_tests::{assert_nothing_writes_after, pattern, require_kernel};

/// `(user_data, res)` of a completion of any size.
fn pair<C: AsRef<uring::Cqe>>(c: &C) -> (u64, i32) {
    (c.as_ref().user_data(), c.as_ref().res())
}

/// Reads and writes through borrowed buffers in scopes, round the queues
/// several times, on a ring of sizes `S` and `C`.
fn borrowed_io<S: SqeSize, C: UniformCqe>(mut ring: Ring<S, C>) {
    let data = pattern(4096, 5);
    let file = uring_tests::file_of(&data);
    for round in 0..10u64 {
        let mut back = vec![0u8; 512];
        let out = pattern(300, round as u8);
        let at = 8192 + round * 300;
        let mut got: Vec<(u64, i32)> = ring.scope(|s| {
            s.push(
                Read::new(&file, &mut back[..])
                    .offset(round * 100)
                    .user_data(round * 10 + 1),
            )
            .unwrap();
            s.push(
                Write::new(&file, &out[..])
                    .offset(at)
                    .user_data(round * 10 + 2),
            )
            .unwrap();
            s.push(Nop::new().user_data(round * 10 + 3)).unwrap();
            s.submit_and_wait(3).unwrap();
            s.completions().map(|c| pair(&*c)).collect()
        });
        got.sort();
        assert_eq!(
            got,
            [
                (round * 10 + 1, 512),
                (round * 10 + 2, 300),
                (round * 10 + 3, 0)
            ]
        );
        let start = (round * 100) as usize;
        assert_eq!(back, data[start..start + 512]);
        let mut check = vec![0u8; 300];
        file.read_exact_at(&mut check, at).unwrap();
        assert_eq!(check, out);
    }
}

#[test]
fn scopes_lend_buffers_on_every_ring_of_one_cqe_size() {
    let _watch = uring_tests::watchdog();
    borrowed_io(Builder::new().build_sized::<Sqe128, Cqe32>(8).unwrap());
    borrowed_io(Builder::new().build_sized::<Sqe128, Cqe16>(8).unwrap());
    borrowed_io(Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap());
    borrowed_io(Builder::new().build_sized::<Sqe64, Cqe16>(8).unwrap());
}

/// A big CQE read in a scope is a `BigCqe`: its tag is swapped back for the
/// `user_data` the op was pushed with, and its extra words stay as the
/// kernel wrote them, whether the scope tags every op or not.
#[test]
fn a_scope_restores_user_data_and_keeps_the_extra_words() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    let mut ring = Builder::new().build_sized::<Sqe128, Cqe32>(8).unwrap();
    for tag_every_op in [false, true] {
        if tag_every_op {
            // A push outside a scope makes later scopes tag every op.
            ring.push(Nop::new().user_data(999)).unwrap();
            ring.submit_and_wait(1).unwrap();
            assert_eq!(
                ring.completions().map(|c| pair(&c)).collect::<Vec<_>>(),
                [(999, 0)]
            );
        }
        for round in 0..6u64 {
            let got: Vec<BigCqe> = ring.scope(|s| {
                assert_eq!(s.tags_every_op(), tag_every_op);
                for i in 0..4 {
                    let words = [round << 8 | i, !(round << 8 | i)];
                    // User data with the top bit set cannot pass for an
                    // untagged op: the scope tags it even when fast.
                    let user_data = if i % 2 == 0 { i } else { 1 << 63 | i };
                    s.push(Nop::new().user_data(user_data).big_cqe(words))
                        .unwrap();
                }
                s.submit_and_wait(4).unwrap();
                s.completions().collect()
            });
            let want: Vec<_> = (0..4u64)
                .map(|i| {
                    let user_data = if i % 2 == 0 { i } else { 1 << 63 | i };
                    (user_data, 0, [round << 8 | i, !(round << 8 | i)], true)
                })
                .collect();
            let got: Vec<_> = got
                .iter()
                .map(|c| (c.user_data(), c.res(), c.big_cqe(), c.is_big()))
                .collect();
            assert_eq!(got, want, "round {round}, tagging every op: {tag_every_op}");
        }
    }
}

/// A read left in flight when the scope returns is cancelled and waited
/// for: nothing writes its buffer afterwards, on rings of big entries too.
#[test]
fn a_read_left_in_flight_is_cancelled_on_big_rings() {
    let _watch = uring_tests::watchdog();
    fn left_in_flight<S: SqeSize, C: UniformCqe>(mut ring: Ring<S, C>) {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let mut buf = vec![0xAAu8; 64];
        let in_flight = ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            s.submit().unwrap();
            s.in_flight()
        });
        assert_eq!(in_flight, 1);
        assert_nothing_writes_after(&mut [&mut tx], &[&buf], 0xAA);
        // The data is still in the socket: the read never took it.
        let mut rx = rx;
        let mut late = [0u8; 26];
        rx.read_exact(&mut late).unwrap();
        assert_eq!(&late, b"late data, after the scope");
        // The ring goes on, its CQ clean of the scope's completions.
        assert_eq!(ring.ready(), 0);
        ring.push(Nop::new().user_data(2)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(
            ring.completions().map(|c| pair(&c)).collect::<Vec<_>>(),
            [(2, 0)]
        );
    }
    left_in_flight(Builder::new().build_sized::<Sqe128, Cqe32>(8).unwrap());
    left_in_flight(Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap());
    left_in_flight(Builder::new().build_sized::<Sqe128, Cqe16>(8).unwrap());
}

/// Completions of NOPs pushed before the scope, with extra words, sit in
/// the CQ while the scope ends with a read in flight: the scope settles its
/// own around them and leaves them, in order and whole. With as many of
/// them as the CQ has entries, the scope has to move them out of the
/// kernel's CQ to make room for its cancel's completions, and they still
/// come back in order and whole.
#[test]
fn completions_before_the_scope_keep_their_order_and_extra_words() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    for foreign in [3u64, 16] {
        let mut ring = Builder::new()
            .cq_entries(16)
            .build_sized::<Sqe64, Cqe32>(16)
            .unwrap();
        for i in 0..foreign {
            ring.push(Nop::new().user_data(100 + i).big_cqe([i, 1000 + i]))
                .unwrap();
        }
        ring.submit_and_wait(foreign as u32).unwrap();
        assert_eq!(ring.ready(), foreign as u32);
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let mut buf = vec![0x55u8; 32];
        ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            s.push(Nop::new().user_data(2).big_cqe([7, 8])).unwrap();
            s.submit().unwrap();
        });
        assert_nothing_writes_after(&mut [&mut tx], &[&buf], 0x55);
        let got: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.res(), c.big_cqe()))
            .collect();
        let want: Vec<_> = (0..foreign).map(|i| (100 + i, 0, [i, 1000 + i])).collect();
        assert_eq!(got, want, "{foreign} completions before the scope");
        ring.push(Nop::new().user_data(3)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(
            ring.completions().map(|c| pair(&c)).collect::<Vec<_>>(),
            [(3, 0)]
        );
    }
}

/// A buffer given to the scope comes back with its op's last completion,
/// on a ring of 128-byte SQEs and 32-byte CQEs.
#[test]
fn owned_buffers_come_back_on_a_big_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = Builder::new().build_sized::<Sqe128, Cqe32>(4).unwrap();
    let data = pattern(1000, 3);
    let file = uring_tests::file_of(&data);
    for round in 0..6u64 {
        let buf = ring.scope(|s| {
            s.push_owned(vec![0; 100], |buf, sq| {
                sq.push(Read::new(&file, buf).offset(round * 100).user_data(round))
            })
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().expect("the read's completion");
            assert_eq!(pair(&*cqe), (round, 100));
            cqe.take_buf().expect("the buffer, back")
        });
        let start = (round * 100) as usize;
        assert_eq!(buf, data[start..start + 100]);
    }
}

/// A receive that selects from a provided-buffer ring, in a scope on a
/// ring of 32-byte CQEs: the buffer is claimed from the scope's completion
/// and holds what was sent.
#[test]
fn buffers_are_claimed_from_a_big_scope_completion() {
    let _watch = uring_tests::watchdog();
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap();
    let pool = match ring.register_buf_ring(BufferGroup::new(3), 4, 64) {
        Ok(pool) => pool,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            uring_tests::skip(format_args!("no provided-buffer rings (5.19): {e}"));
            return;
        }
        Err(e) => panic!("register_buf_ring: {e}"),
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    for i in 0..10u8 {
        let msg = [b'k' + i; 5];
        tx.write_all(&msg).unwrap();
        let got = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).user_data(u64::from(i)))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().expect("the receive's completion");
            assert_eq!(pair(&*cqe), (u64::from(i), 5));
            let buf = pool.claim(&mut cqe).unwrap();
            // A completion's buffer is claimed once.
            assert!(pool.claim(&mut cqe).is_err());
            buf.to_vec()
        });
        assert_eq!(got, msg);
    }
    assert_eq!(pool.lent(), 0);
}

/// A ring of 128-byte SQEs that refuses submissions (a single-issuer ring
/// used from another thread): the scope's end takes back the SQEs the
/// kernel never saw, reading each one's tag from its 128-byte slot, and
/// returns; the buffers were never lent to the kernel, and the ring goes
/// on with the SQ clean.
#[test]
fn a_big_ring_that_refuses_submissions_gets_its_sqes_taken_back() {
    let _watch = uring_tests::watchdog();
    fn refused<C: UniformCqe>(mut ring: Ring<Sqe128, C>) {
        ring.push(Nop::new().user_data(9)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.completions().count(), 1);
        let (_tx, rx) = UnixStream::pair().unwrap();
        std::thread::scope(|t| {
            t.spawn(|| {
                let mut bufs = [[0x11u8; 8]; 3];
                let err = ring.scope(|s| {
                    for (i, buf) in bufs.iter_mut().enumerate() {
                        s.push(Read::new(&rx, &mut buf[..]).user_data(i as u64))
                            .unwrap();
                    }
                    s.submit().unwrap_err()
                });
                assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
                assert_eq!(bufs, [[0x11; 8]; 3]);
            });
        });
        assert_eq!(ring.pending(), 0, "the three SQEs were taken back");
        ring.push(Nop::new().user_data(5)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32)> = ring.completions().map(|c| pair(&c)).collect();
        assert_eq!(got, [(5, 0)]);
    }
    let builder = Builder::new().single_issuer().defer_taskrun();
    refused(builder.build_sized::<Sqe128, Cqe32>(8).unwrap());
    refused(builder.build_sized::<Sqe128, Cqe16>(8).unwrap());
}
