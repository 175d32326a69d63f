//! Scopes against the kernel: ops that borrow buffers from outside the
//! scope, completions that carry the pushed `user_data`, what a scope does
//! with ops still in flight when it ends (returning, failing or panicking),
//! and how it leaves completions that are not its own.

use std::io::{Read as _, Seek as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use uring::ops::{Nop, PollAdd, Read, ReadV, SendZc, Write, WriteV};
use uring::{Cqe, Error, PollEvents, PollFlags, Ring, SqeFlags};
use uring_tests::Rng;

/// A pipe as files, for std's `Read` and `Write`.
fn pipe() -> (std::fs::File, std::fs::File) {
    let (rx, tx) = uring_tests::pipe();
    (rx.into(), tx.into())
}

fn user_data_and_res(cqes: &[Cqe]) -> Vec<(u64, i32)> {
    cqes.iter().map(|c| (c.user_data(), c.res())).collect()
}

/// Pushes `n` NOPs with `user_data` from `first` on, outside any scope, and
/// waits until all have completed (their completions stay unread).
fn complete_nops(ring: &mut Ring, first: u64, n: u64) {
    for i in 0..n {
        if ring.push(Nop::new().user_data(first + i)).is_err() {
            ring.submit().unwrap();
            ring.push(Nop::new().user_data(first + i)).unwrap();
        }
    }
    ring.submit().unwrap();
    while ring.ready() < n as u32 {
        ring.wait(n as u32).unwrap();
    }
}

#[test]
fn ops_borrow_buffers_from_outside_the_scope() {
    let _watch = uring_tests::watchdog();
    let mut file = tempfile::tempfile().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let head = *b"scoped ";
    let tail = *b"buffers";
    let mut first = [0u8; 7];
    let mut second = [0u8; 7];
    let mut whole = [0u8; 14];
    // The iovec arrays, like the buffers, live outside the scope: whatever
    // an op borrows must outlive it.
    let iov = [std::io::IoSlice::new(&head), std::io::IoSlice::new(&tail)];
    let mut iov_mut = [
        std::io::IoSliceMut::new(&mut first),
        std::io::IoSliceMut::new(&mut second),
    ];

    let cqes: Vec<Cqe> = ring.scope(|s| {
        s.push(WriteV::new(&file, &iov[..]).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqes: Vec<Cqe> = s.completions().collect();
        s.push(
            ReadV::new(&file, &mut iov_mut[..])
                .user_data(2)
                .link(Read::new(&file, &mut whole[..]).user_data(3)),
        )
        .unwrap();
        s.submit_and_wait(2).unwrap();
        cqes.extend(s.completions());
        assert_eq!(s.in_flight(), 0);
        cqes
    });
    assert_eq!(user_data_and_res(&cqes), [(1, 14), (2, 14), (3, 14)]);
    assert_eq!((&first, &second), (b"scoped ", b"buffers"));
    assert_eq!(&whole, b"scoped buffers");
    let mut back = String::new();
    file.read_to_string(&mut back).unwrap();
    assert_eq!(back, "scoped buffers", "the file position is untouched");
}

#[test]
fn a_chain_with_a_link_timeout_keeps_each_user_data() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 4];
    let cqes: Vec<Cqe> = ring.scope(|s| {
        s.push(
            Read::new(&rx, &mut buf[..])
                .user_data(10)
                .timeout(Duration::from_millis(10))
                .link(Nop::new().user_data(12)),
        )
        .unwrap();
        s.submit_and_wait(3).unwrap();
        s.completions().collect()
    });
    let mut got = user_data_and_res(&cqes);
    got.sort_unstable();
    // The read of an empty pipe is cancelled by its timeout, which breaks
    // the chain: the NOP after it is cancelled too. The link timeout
    // carries user_data 0, as pushed.
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], (0, -libc::ETIME));
    assert!(
        got[1] == (10, -libc::ECANCELED) || got[1] == (10, -libc::EINTR),
        "{got:?}"
    );
    assert_eq!(got[2], (12, -libc::ECANCELED));
}

#[test]
fn leaving_with_an_op_in_flight_cancels_it() {
    let _watch = uring_tests::watchdog();
    let (mut rx, mut tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 8];
    let left = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        s.in_flight()
    });
    assert_eq!(left, 1, "the read was still waiting for data");
    // The scope waited for the cancelled read and took its completion:
    // nothing of the scope is left in the ring.
    assert_eq!(ring.ready(), 0);
    assert_eq!(ring.completions().count(), 0);
    assert_eq!(buf, [0; 8], "the cancelled read wrote nothing");
    // The read consumed nothing from the pipe.
    tx.write_all(b"after").unwrap();
    let mut got = [0u8; 5];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"after");
    // The ring goes on.
    ring.push(Nop::new().user_data(2)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqes: Vec<Cqe> = ring.completions().collect();
    assert_eq!(user_data_and_res(&cqes), [(2, 0)]);
}

#[test]
fn ops_pushed_but_not_submitted_are_run_or_cancelled_before_the_scope_ends() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = pipe();
    tx.write_all(b"ready").unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 5];
    let mut empty = [0u8; 5];
    let (other_rx, _other_tx) = pipe();
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.push(Read::new(&other_rx, &mut empty[..]).user_data(2))
            .unwrap();
        assert_eq!(s.in_flight(), 2);
    });
    // The first read had its data and ran; the second was cancelled.
    assert_eq!(&buf, b"ready");
    assert_eq!(empty, [0; 5]);
    assert_eq!(ring.ready(), 0);
    assert_eq!(ring.pending(), 0);
}

#[test]
fn a_panic_in_the_scope_still_waits_for_its_ops() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 8];
    let caught = catch_unwind(AssertUnwindSafe(|| {
        ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            s.submit().unwrap();
            panic!("in the scope");
        })
    }));
    assert!(caught.is_err());
    assert_eq!(buf, [0; 8]);
    assert_eq!(ring.completions().count(), 0);
    // The read was cancelled, not left to take this write.
    tx.write_all(b"x").unwrap();
    let mut rx = rx;
    let mut got = [0u8; 1];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"x");
}

#[test]
fn completions_of_ops_pushed_before_pass_through_in_order() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    complete_nops(&mut ring, 100, 3);
    let cqes: Vec<Cqe> = ring.scope(|s| {
        s.push(Nop::new().user_data(100)).unwrap();
        s.push(Nop::new().user_data(5)).unwrap();
        s.submit_and_wait(5).unwrap();
        s.completions().collect()
    });
    // The foreign NOPs come first, untouched; the scope's carry the
    // user_data they were pushed with, even one equal to a foreign one.
    assert_eq!(
        user_data_and_res(&cqes),
        [(100, 0), (101, 0), (102, 0), (100, 0), (5, 0)]
    );
}

#[test]
fn completions_left_unread_stay_in_the_ring_without_the_scope_s() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    complete_nops(&mut ring, 100, 4);
    let mut buf = [0u8; 4];
    ring.scope(|s| {
        s.push(Nop::new().user_data(1)).unwrap();
        s.push(Read::new(&rx, &mut buf[..]).user_data(2)).unwrap();
        s.submit_and_wait(5).unwrap();
        // Nothing read: the scope's completions sit among the others.
    });
    let cqes: Vec<Cqe> = ring.completions().collect();
    assert_eq!(
        user_data_and_res(&cqes),
        [(100, 0), (101, 0), (102, 0), (103, 0)]
    );
    assert_eq!(ring.ready(), 0);
}

#[test]
fn a_cq_full_of_other_completions_is_kept_in_order() {
    let _watch = uring_tests::watchdog();
    // SQ 4, CQ 8: eight foreign completions fill the CQ, so the scope's
    // own must come through the kernel's overflow list.
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.cq_entries(), 8);
    if !ring.params().has(uring::Features::NODROP) {
        eprintln!("skipped: the kernel lacks IORING_FEAT_NODROP");
        return;
    }
    complete_nops(&mut ring, 100, 8);
    assert_eq!(ring.ready(), 8);
    let (rx, mut tx) = pipe();
    tx.write_all(b"data").unwrap();
    let mut buf = [0u8; 4];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.push(Nop::new().user_data(2)).unwrap();
        s.submit().unwrap();
    });
    assert_eq!(&buf, b"data", "the read ran to completion");
    assert_eq!(ring.ready(), 8);
    // Reads across the kept completions and new ones keep their order.
    let mut first = [Cqe::default(); 3];
    assert_eq!(ring.peek_batch(&mut first), 3);
    assert_eq!(
        first.map(|c| c.user_data()),
        [100, 101, 102],
        "peek_batch reads the oldest first"
    );
    assert_eq!(ring.peek().map(|c| c.user_data()), Some(100));
    assert_eq!(ring.advance(2), 2);
    ring.push(Nop::new().user_data(200)).unwrap();
    ring.submit_and_wait(7).unwrap();
    let mut it = ring.completions();
    assert_eq!(it.len(), 7);
    let three: Vec<u64> = it.by_ref().take(3).map(|c| c.user_data()).collect();
    drop(it);
    assert_eq!(three, [102, 103, 104]);
    let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(rest, [105, 106, 107, 200]);
    assert_eq!(ring.ready(), 0);
    assert_eq!(ring.overflow(), 0);
}

#[test]
fn waits_count_completions_kept_aside() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !ring.params().has(uring::Features::NODROP) {
        eprintln!("skipped: the kernel lacks IORING_FEAT_NODROP");
        return;
    }
    complete_nops(&mut ring, 100, 8);
    let (rx, mut tx) = pipe();
    tx.write_all(b"z").unwrap();
    let mut buf = [0u8; 1];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..])).unwrap();
        s.submit().unwrap();
    });
    // Eight completions are ready, some of them outside the CQ: a wait for
    // eight returns at once.
    ring.wait(8).unwrap();
    ring.wait_timeout(8, Duration::from_secs(5)).unwrap();
    ring.submit_and_wait(8).unwrap();
    assert_eq!(ring.completions().count(), 8);
}

#[test]
fn cqe_skip_success_still_completes_in_a_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let cqes: Vec<Cqe> = ring.scope(|s| {
        s.push(Nop::new().user_data(1).flags(SqeFlags::CQE_SKIP_SUCCESS))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqes = s.completions().collect();
        assert_eq!(s.in_flight(), 0);
        cqes
    });
    assert_eq!(user_data_and_res(&cqes), [(1, 0)]);
}

#[test]
fn cancel_by_user_data_ends_a_multishot_poll() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let cqes: Vec<Cqe> = ring.scope(|s| {
        s.push(
            PollAdd::new(&rx, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(9),
        )
        .unwrap();
        s.submit().unwrap();
        tx.write_all(b"!").unwrap();
        s.wait(1).unwrap();
        let mut cqes: Vec<Cqe> = s.completions().collect();
        assert_eq!(s.in_flight(), 1, "a multishot poll stays armed");
        assert_eq!(s.cancel(9).unwrap(), 1);
        // No op carries 404, and a multishot poll is tagged in every scope:
        // with no untagged op in flight, nothing is queued.
        assert_eq!(s.cancel(404).unwrap(), 0);
        s.submit().unwrap();
        while s.in_flight() > 0 {
            s.wait(1).unwrap();
            cqes.extend(s.completions());
        }
        cqes
    });
    let last = cqes.last().unwrap();
    assert_eq!((last.user_data(), last.res()), (9, -libc::ECANCELED));
    assert!(!last.has_more());
    assert!(
        cqes[..cqes.len() - 1].iter().all(|c| c.user_data() == 9
            && c.has_more()
            && c.res() as u32 & libc::POLLIN as u32 != 0)
    );
    assert!(cqes.len() >= 2, "{cqes:?}");
}

#[test]
fn a_multishot_poll_is_cancelled_when_the_scope_ends() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push(
            PollAdd::new(&rx, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(9),
        )
        .unwrap();
        s.submit().unwrap();
    });
    assert_eq!(ring.completions().count(), 0);
}

#[test]
fn a_scope_takes_as_many_ops_as_the_cq_has_entries() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().cq_entries(4).build(4).unwrap();
    assert_eq!(ring.cq_entries(), 4);
    ring.scope(|s| {
        for i in 0..4 {
            s.push(Nop::new().user_data(i)).unwrap();
        }
        let back = s.push(Nop::new().user_data(4)).unwrap_err().into_inner();
        s.submit_and_wait(4).unwrap();
        // Completed but unread: still counted.
        let back = s.push(back).unwrap_err().into_inner();
        assert_eq!(s.completions().take(1).count(), 1);
        // The op handed back goes in once a slot is free.
        s.push(back).unwrap();
        s.submit_and_wait(4).unwrap();
        let rest: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
        assert_eq!(rest, [1, 2, 3, 4]);
        // A chain takes a slot per op: all of it or none.
        for i in 0..3 {
            s.push(Nop::new().user_data(10 + i)).unwrap();
        }
        assert!(
            s.push(Nop::new().link(Nop::new())).is_err(),
            "two ops with one free slot"
        );
        s.submit_and_wait(3).unwrap();
        assert_eq!(s.completions().count(), 3);
    });
}

#[test]
fn a_disabled_ring_takes_no_scope_pushes() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Ring::builder().r_disabled().cq_entries(4).build(4) {
        Ok(ring) => ring,
        Err(e) => {
            eprintln!("skipped: IORING_SETUP_R_DISABLED is not supported: {e}");
            return;
        }
    };
    let entries = ring.cq_entries();
    let (rx, _tx) = pipe();
    ring.scope(|s| {
        let refused = s.push(Nop::new().user_data(1)).unwrap_err();
        assert_eq!(refused.kind(), uring::PushErrorKind::Disabled);
        // A chain, and an owned buffer, which comes back as it went.
        let chain = s.push(Nop::new().link(Nop::new())).unwrap_err();
        assert_eq!(chain.kind(), uring::PushErrorKind::Disabled);
        let owned = s
            .push_owned(vec![7u8; 16], |buf, push| push.push(Read::new(&rx, buf)))
            .unwrap_err();
        assert_eq!(owned.kind(), uring::PushErrorKind::Disabled);
        assert_eq!(owned.into_inner(), [7u8; 16]);
    });
    ring.enable().unwrap();
    // Enabled, the next scope has room for as many ops as the CQ has
    // entries, and no more.
    let cqes: Vec<Cqe> = ring.scope(|s| {
        for i in 0..u64::from(entries) {
            s.push(Nop::new().user_data(i)).unwrap();
        }
        let over = s.push(Nop::new().user_data(99)).unwrap_err();
        assert_eq!(over.kind(), uring::PushErrorKind::ScopeFull);
        s.submit_and_wait(entries).unwrap();
        s.completions().collect()
    });
    let expected: Vec<(u64, i32)> = (0..u64::from(entries)).map(|i| (i, 0)).collect();
    assert_eq!(user_data_and_res(&cqes), expected);
}

#[test]
fn send_zc_stays_in_flight_until_its_notification() {
    let _watch = uring_tests::watchdog();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let mut ring = Ring::new(8).unwrap();
    if !ring.probe().unwrap().supports::<SendZc<'_>>() {
        eprintln!("skipped: the kernel lacks SEND_ZC");
        return;
    }
    let data = vec![7u8; 4096];
    let cqes: Vec<Cqe> = ring.scope(|s| {
        s.push(SendZc::new(&client, &data).user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqes: Vec<Cqe> = s.completions().take(1).collect();
        let first = cqes[0];
        if first.has_more() {
            assert_eq!(
                s.in_flight(),
                1,
                "the buffer is lent until the notification"
            );
            while s.in_flight() > 0 {
                s.wait(1).unwrap();
                cqes.extend(s.completions());
            }
        }
        cqes
    });
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (3, 4096));
    if cqes[0].has_more() {
        assert_eq!(cqes.len(), 2);
        assert!(cqes[1].is_notification());
        assert_eq!(cqes[1].user_data(), 3);
    }
    let mut got = vec![0u8; 4096];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, data);
}

#[test]
fn a_ring_that_refuses_submissions_gets_its_sqes_taken_back() {
    let _watch = uring_tests::watchdog();
    // A single-issuer ring answers only the thread that first submitted.
    let builder = Ring::builder().single_issuer().defer_taskrun();
    let mut ring = match builder.build(8) {
        Ok(ring) => ring,
        Err(e) => {
            eprintln!("skipped: IORING_SETUP_DEFER_TASKRUN is not supported: {e}");
            return;
        }
    };
    ring.push(Nop::new()).unwrap();
    ring.submit_and_wait(1).unwrap();
    ring.completions().for_each(drop);
    let (rx, _tx) = pipe();
    std::thread::scope(|t| {
        t.spawn(|| {
            let mut buf = [0u8; 4];
            let err = ring.scope(|s| {
                s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
                s.submit().unwrap_err()
            });
            assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
            assert_eq!(buf, [0; 4]);
        });
    });
    // The read never reached the kernel, and is gone from the SQ.
    assert_eq!(ring.pending(), 0);
    ring.push(Nop::new().user_data(5)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqes: Vec<Cqe> = ring.completions().collect();
    assert_eq!(user_data_and_res(&cqes), [(5, 0)]);
}

/// On a `defer_taskrun` ring a multishot timeout is out of the kernel's
/// list from each firing to the task work that re-arms it, which runs only
/// in a wait: with a period of a microsecond, every cancel misses it. The
/// scope's end lets the CQ fill up, which ends it.
#[test]
fn a_scope_ends_a_multishot_timeout_its_cancels_keep_missing() {
    use uring::TimeoutFlags;
    use uring::ops::Timeout;
    let _watch = uring_tests::watchdog();
    for (name, builder) in [
        (
            "defer_taskrun",
            Ring::builder().single_issuer().defer_taskrun(),
        ),
        ("default", Ring::builder()),
    ] {
        let mut ring = match builder.build(16) {
            Ok(ring) => ring,
            Err(e) => {
                eprintln!("skipped on a {name} ring: {e}");
                continue;
            }
        };
        // A completion that is not the scope's, unread when it starts.
        ring.push(Nop::new().user_data(9)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let (rx, _tx) = pipe();
        let mut buf = [0xa5u8; 4];
        let fired = ring.scope(|s| {
            s.push(
                Timeout::new(Duration::from_micros(1))
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.push(Read::new(&rx, &mut buf[..]).user_data(2)).unwrap();
            s.submit().unwrap();
            let (mut fired, mut others) = (0, Vec::new());
            while fired < 3 {
                s.wait(1).unwrap();
                for cqe in s.completions() {
                    match cqe.user_data() {
                        1 => fired += 1,
                        _ => others.push((cqe.user_data(), cqe.res())),
                    }
                }
            }
            (fired, others)
        });
        // The timeout fired (with more to come), the read did not complete,
        // and the completion from before came out once.
        assert_eq!(fired.1, [(9, 0)], "{name}");
        assert!(fired.0 >= 3, "{name}");
        // The read was cancelled, its buffer untouched, and nothing of the
        // scope is left in the CQ.
        assert_eq!(buf, [0xa5; 4], "{name}");
        ring.push(Nop::new().user_data(5)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let cqes: Vec<Cqe> = ring.completions().collect();
        assert_eq!(user_data_and_res(&cqes), [(5, 0)], "{name}");
    }
}

#[test]
fn a_write_in_a_scope_lands() {
    let _watch = uring_tests::watchdog();
    let mut file = tempfile::tempfile().unwrap();
    let mut ring = Ring::new(4).unwrap();
    let text = String::from("owned by the caller");
    let res = ring.scope(|s| -> Result<i32, Error> {
        s.push(Write::new(&file, text.as_bytes()).user_data(1))?;
        s.submit_and_wait(1)?;
        Ok(s.completions().next().map_or(i32::MIN, |c| c.res()))
    });
    assert_eq!(res.unwrap(), text.len() as i32);
    let mut back = String::new();
    file.read_to_string(&mut back).unwrap();
    assert_eq!(back, text);
}

/// A read that waits, one that runs, and an early exit, on a ring built
/// with `builder`.
fn scope_on(builder: uring::Builder<'_>, what: &str) {
    let mut ring = match builder.build(8) {
        Ok(ring) => ring,
        Err(e) => {
            eprintln!("skipped: {what}: {e}");
            return;
        }
    };
    let (rx, mut tx) = pipe();
    let (idle_rx, _idle_tx) = pipe();
    tx.write_all(b"sq").unwrap();
    let mut buf = [0u8; 2];
    let mut idle = [0u8; 2];
    let cqes: Vec<Cqe> = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.push(Read::new(&idle_rx, &mut idle[..]).user_data(2))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqes = s.completions().collect();
        assert_eq!(s.in_flight(), 1, "{what}");
        cqes
    });
    assert_eq!(user_data_and_res(&cqes), [(1, 2)], "{what}");
    assert_eq!(&buf, b"sq");
    assert_eq!(idle, [0; 2]);
    assert_eq!(ring.completions().count(), 0, "{what}");
}

#[test]
fn scopes_on_sqpoll_and_defer_taskrun_rings() {
    let _watch = uring_tests::watchdog();
    if uring_tests::require_sqpoll() {
        scope_on(Ring::builder().sqpoll(Duration::from_millis(10)), "SQPOLL");
    }
    scope_on(
        Ring::builder().single_issuer().defer_taskrun(),
        "DEFER_TASKRUN",
    );
    scope_on(
        Ring::builder().coop_taskrun().taskrun_flag(),
        "COOP_TASKRUN",
    );
}

/// Scopes over a small ring with foreign NOPs completing around them:
/// every foreign completion is seen exactly once and in order (in the scope
/// or after it), every scope op's completion is seen inside the scope or
/// not at all, and nothing is left over.
#[test]
fn random_scopes_among_foreign_completions() {
    let _watch = uring_tests::watchdog();
    for seed in 1..=40u64 {
        let mut rng = Rng(seed * 0x9e37_79b9);
        let mut ring = Ring::new(4).unwrap();
        let (rx, _tx) = pipe();
        let mut next_foreign = 1_000u64;
        let mut foreign_seen = Vec::new();
        let mut foreign_sent = Vec::new();
        for _round in 0..6 {
            // Foreign NOPs before the scope, some completed, some not yet
            // submitted.
            for _ in 0..rng.below(10) {
                if ring.push(Nop::new().user_data(next_foreign)).is_err() {
                    ring.submit().unwrap();
                    ring.push(Nop::new().user_data(next_foreign)).unwrap();
                }
                foreign_sent.push(next_foreign);
                next_foreign += 1;
            }
            ring.submit().unwrap();
            let mut bufs = [[0u8; 4]; 3];
            let mut scope_seen = Vec::new();
            let read_now = rng.below(3);
            ring.scope(|s| {
                let [a, b, c] = &mut bufs;
                let mut pushed = 0;
                for (i, buf) in [a, b, c].into_iter().enumerate() {
                    // Reads of an empty pipe: they wait until cancelled.
                    if s.push(Read::new(&rx, &mut buf[..]).user_data(i as u64))
                        .is_ok()
                    {
                        pushed += 1;
                    }
                }
                for i in 0..rng.below(6) {
                    if s.push(Nop::new().user_data(100 + i)).is_ok() {
                        pushed += 1;
                    }
                }
                s.submit().unwrap();
                for _ in 0..read_now {
                    for cqe in s.completions() {
                        if cqe.user_data() >= 1_000 {
                            foreign_seen.push(cqe.user_data());
                        } else {
                            assert!(cqe.user_data() < 106, "{cqe:?}");
                            scope_seen.push(cqe.user_data());
                        }
                    }
                }
                assert!(s.in_flight() <= pushed);
            });
            assert!(scope_seen.iter().all(|&u| u >= 100), "{scope_seen:?}");
            assert_eq!(bufs, [[0; 4]; 3]);
            // What the scope left unread stays in the ring: take some now.
            let take = rng.below(12) as usize;
            for cqe in ring.completions().take(take) {
                assert!(
                    cqe.user_data() >= 1_000,
                    "a scope's completion leaked: {cqe:?}"
                );
                foreign_seen.push(cqe.user_data());
            }
        }
        ring.submit().unwrap();
        while foreign_seen.len() < foreign_sent.len() {
            ring.wait(1).unwrap();
            for cqe in ring.completions() {
                assert!(cqe.user_data() >= 1_000, "{cqe:?}");
                foreign_seen.push(cqe.user_data());
            }
        }
        assert_eq!(foreign_seen, foreign_sent, "seed {seed}");
        assert_eq!(ring.ready(), 0);
        assert_eq!(ring.overflow(), 0);
    }
}

#[test]
fn forgotten_batches_and_iterators_lose_nothing() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 4];
    let seen: Vec<u64> = ring.scope(|s| {
        let mut sq = s.submission();
        sq.push(Nop::new().user_data(1)).unwrap();
        sq.push(Read::new(&rx, &mut buf[..]).user_data(2)).unwrap();
        // Forgotten rather than dropped: the ops are in the queue anyway.
        std::mem::forget(sq);
        assert_eq!(s.in_flight(), 2);
        s.submit_and_wait(1).unwrap();
        let mut it = s.completions();
        let first = it.next().map(|c| c.user_data());
        std::mem::forget(it);
        // The completion read is gone from the queue all the same.
        assert_eq!(s.completions().count(), 0);
        first.into_iter().collect()
    });
    assert_eq!(seen, [1]);
    assert_eq!(ring.completions().count(), 0);
}

#[test]
fn owned_buffers_come_back_with_their_completion() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = pipe();
    let mut file = tempfile::tempfile().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let (read, written) = ring.scope(|s| {
        tx.write_all(b"owned read").unwrap();
        s.push_owned(vec![0; 32], |buf, sq| {
            sq.push(Read::new(&rx, buf).user_data(1))
        })
        .unwrap();
        // Two writes over one buffer: it comes back with the second.
        s.push_owned(b"twice ".to_vec(), |buf, sq| {
            let bytes: &[u8] = buf;
            sq.push(
                Write::new(&file, bytes)
                    .offset(u64::MAX)
                    .user_data(2)
                    .link(Write::new(&file, bytes).offset(u64::MAX).user_data(3)),
            )
        })
        .unwrap();
        let mut read = None;
        let mut written = None;
        let mut order = Vec::new();
        while s.in_flight() > 0 {
            s.submit_and_wait(1).unwrap();
            for mut cqe in s.completions() {
                order.push(cqe.user_data());
                match cqe.user_data() {
                    1 => {
                        let mut buf = cqe.take_buf().expect("the read's buffer");
                        buf.truncate(cqe.res() as usize);
                        read = Some(buf);
                    }
                    2 => assert!(cqe.take_buf().is_none(), "the second write still uses it"),
                    3 => written = cqe.take_buf(),
                    other => panic!("unexpected {other}"),
                }
                assert!(cqe.take_buf().is_none(), "a buffer comes back once");
            }
        }
        assert_eq!(order.len(), 3);
        (read.unwrap(), written.unwrap())
    });
    assert_eq!(read, b"owned read");
    assert_eq!(written, b"twice ");
    // The writes went to the file position, which is now at the end.
    file.seek(std::io::SeekFrom::Start(0)).unwrap();
    let mut back = String::new();
    file.read_to_string(&mut back).unwrap();
    assert_eq!(back, "twice twice ");
}

#[test]
fn an_owned_buffer_that_was_not_pushed_comes_back_at_once() {
    let _watch = uring_tests::watchdog();
    let (_rx, tx) = uring_tests::pipe();
    let mut ring = Ring::builder().cq_entries(2).build(2).unwrap();
    ring.scope(|s| {
        // `build` pushes nothing.
        let back = s.push_owned(vec![1, 2, 3], |_, _| {}).unwrap_err();
        assert_eq!(back.into_inner(), [1, 2, 3]);
        // The scope's two slots are taken: the push does not fit.
        s.push(Nop::new()).unwrap();
        s.push(Nop::new()).unwrap();
        let back = s
            .push_owned(vec![4; 4], |buf, sq| sq.push(Write::new(&tx, buf)))
            .unwrap_err();
        assert_eq!(back.into_inner(), [4; 4]);
        s.submit_and_wait(2).unwrap();
        assert_eq!(s.completions().count(), 2);
    });
}

#[test]
fn an_event_loop_recycles_owned_buffers() {
    let _watch = uring_tests::watchdog();
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut ring = Ring::new(16).unwrap();
    let mut spare: Vec<Vec<u8>> = (0..4).map(|_| vec![0; 8]).collect();
    let got = ring.scope(|s| {
        let mut got = Vec::new();
        for i in 0..50u8 {
            a.write_all(&[i; 8]).unwrap();
            let buf = spare.pop().expect("a spare buffer");
            s.push_owned(buf, |buf, sq| {
                sq.push(Read::new(&b, buf).user_data(u64::from(i)))
            })
            .unwrap();
            s.submit_and_wait(1).unwrap();
            for mut cqe in s.completions() {
                assert_eq!(cqe.res(), 8);
                let buf = cqe.take_buf().unwrap();
                got.push(buf[0]);
                spare.push(buf);
            }
        }
        got
    });
    assert_eq!(got, (0..50).collect::<Vec<u8>>());
    assert_eq!(spare.len(), 4, "every buffer came back");
}

#[test]
fn leaving_drops_the_owned_buffers_of_cancelled_ops() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push_owned(vec![0; 8], |buf, sq| sq.push(Read::new(&rx, buf)))
            .unwrap();
        s.submit().unwrap();
    });
    assert_eq!(ring.completions().count(), 0);
    // The read was cancelled before the data came.
    tx.write_all(b"k").unwrap();
    let mut rx = rx;
    let mut got = [0u8; 1];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"k");
}

/// Seeded random walks inside scopes: borrowed and owned reads of a pipe
/// that data reaches now and then, NOPs, cancels by user_data, partial reads
/// of the completions, foreign NOPs around, and scopes that end with ops in
/// flight. Every scope op completes at most once, inside its scope; every
/// owned buffer comes back exactly once, whole, with its op's completion;
/// the bytes read are the bytes written; foreign completions are all seen,
/// in order; `in_flight` matches the ops not yet seen to complete.
#[test]
fn random_walks_inside_scopes() {
    let _watch = uring_tests::watchdog();
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut ring = Ring::new(8).unwrap();
        let (mut rx, mut tx) = pipe();
        let mut written = 0usize;
        let mut read = 0usize;
        let mut next_foreign = 10_000u64;
        let (mut foreign_sent, mut foreign_seen) = (Vec::new(), Vec::new());
        let mut borrowed = [[0u8; 8]; 4];
        for _round in 0..5 {
            for _ in 0..rng.below(4) {
                if ring.push(Nop::new().user_data(next_foreign)).is_ok() {
                    foreign_sent.push(next_foreign);
                    next_foreign += 1;
                }
            }
            ring.submit().unwrap();
            let [b0, b1, b2, b3] = &mut borrowed;
            let mut lendable = vec![b0, b1, b2, b3];
            let unseen = ring.scope(|s| {
                // user_data -> (owned buffer length, if owned).
                let mut pending: std::collections::HashMap<u64, Option<usize>> =
                    std::collections::HashMap::new();
                let mut done = std::collections::HashSet::new();
                let mut next = 1u64;
                let steps = 10 + rng.below(30);
                for _ in 0..steps {
                    match rng.below(8) {
                        0 | 1 => {
                            let len = 1 + rng.below(16) as usize;
                            let user_data = next;
                            let pushed = s.push_owned(vec![0xee; len], |buf, sq| {
                                sq.push(Read::new(&rx, buf).user_data(user_data))
                            });
                            if pushed.is_ok() {
                                pending.insert(user_data, Some(len));
                                next += 1;
                            }
                        }
                        2 => {
                            if let Some(buf) = lendable.pop() {
                                let user_data = next;
                                // Handed back, the buffer stays lent to the op
                                // that was not pushed, for the rest of the scope.
                                if s.push(Read::new(&rx, &mut buf[..]).user_data(user_data))
                                    .is_ok()
                                {
                                    pending.insert(user_data, None);
                                    next += 1;
                                }
                            }
                        }
                        3 => {
                            if s.push(Nop::new().user_data(next)).is_ok() {
                                pending.insert(next, None);
                                next += 1;
                            }
                        }
                        4 => {
                            let n = 1 + rng.below(12) as usize;
                            tx.write_all(&vec![b'd'; n]).unwrap();
                            written += n;
                        }
                        5 => {
                            let target = 1 + rng.below(next);
                            // A full SQ takes no cancel: nothing to check.
                            if let Ok(cancels) = s.cancel(target) {
                                let live = pending.contains_key(&target) && !done.contains(&target);
                                if s.tags_every_op() {
                                    assert!(cancels <= 1);
                                    assert_eq!(cancels == 1, live, "cancel({target})");
                                } else {
                                    // One request per tagged op carrying it (one
                                    // at most here), one for the untagged ones.
                                    assert!(cancels <= 2, "cancel({target})");
                                    assert!(cancels >= u32::from(live), "cancel({target})");
                                }
                            }
                        }
                        _ => {
                            s.submit().unwrap();
                            let take = rng.below(6) as usize;
                            for mut cqe in s.completions().take(take) {
                                let ud = cqe.user_data();
                                if ud >= 10_000 {
                                    assert!(!cqe.is_scope_op());
                                    foreign_seen.push(ud);
                                    continue;
                                }
                                assert!(cqe.is_scope_op(), "{cqe:?}");
                                assert!(!cqe.has_more());
                                assert!(done.insert(ud), "user_data {ud} completed twice");
                                let owned = *pending.get(&ud).expect("pushed");
                                let buf = cqe.take_buf();
                                assert_eq!(buf.as_ref().map(Vec::len), owned, "{cqe:?}");
                                if cqe.res() > 0 {
                                    read += cqe.res() as usize;
                                    if let Some(buf) = buf {
                                        let n = cqe.res() as usize;
                                        assert!(buf[..n].iter().all(|&b| b == b'd'));
                                        assert!(buf[n..].iter().all(|&b| b == 0xee));
                                    }
                                }
                            }
                        }
                    }
                    let open = pending.len() - done.len();
                    assert_eq!(s.in_flight() as usize, open);
                }
                // The most the reads not seen to complete may take.
                pending
                    .iter()
                    .filter(|(ud, _)| !done.contains(*ud))
                    .map(|(_, owned)| owned.unwrap_or(8))
                    .sum::<usize>()
            });
            // Whatever the scope left was cancelled or completed: nothing
            // of it shows here; the foreign completions do.
            for cqe in ring.completions() {
                assert!(
                    cqe.user_data() >= 10_000,
                    "a scope's completion leaked: {cqe:?}"
                );
                foreign_seen.push(cqe.user_data());
            }
            // Reads that ran to completion after their scope's last look
            // took data too, no more than their buffers hold.
            let mut left = 0i32;
            // SAFETY: FIONREAD writes one int.
            let rc = unsafe { libc::ioctl(rx.as_raw_fd(), libc::FIONREAD, &mut left) };
            assert_eq!(rc, 0);
            let left = left as usize;
            let mut rest = vec![0u8; left];
            rx.read_exact(&mut rest).unwrap();
            assert!(
                read + left <= written && written - read - left <= unseen,
                "seed {seed}: wrote {written}, read {read} seen, {left} left, \
                 {unseen} unseen"
            );
            read = 0;
            written = 0;
        }
        ring.submit_and_wait(0).unwrap();
        while foreign_seen.len() < foreign_sent.len() {
            ring.wait(1).unwrap();
            foreign_seen.extend(ring.completions().map(|c| c.user_data()));
        }
        assert_eq!(foreign_seen, foreign_sent, "seed {seed}");
    }
}

/// A split scope answers each completion at once: every read's buffer comes
/// back with its completion and goes out again with the next read, pushed
/// while the other completions are still being read. Reads from a file in
/// blocks land in the right buffers, and the scope's counts end at zero.
#[test]
fn a_split_scope_pushes_while_it_reads_completions() {
    let _watch = uring_tests::watchdog();
    const BLOCK: usize = 512;
    const BLOCKS: u64 = 64;
    let mut file = tempfile::tempfile().unwrap();
    let data: Vec<u8> = (0..BLOCK as u64 * BLOCKS).map(|i| (i / 7) as u8).collect();
    file.write_all(&data).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let (reads, pushed_in_loop) = ring.scope(|s| {
        let mut next = 0u64;
        for _ in 0..4 {
            s.push_owned(vec![0; BLOCK], |buf, sq| {
                sq.push(
                    Read::new(&file, buf)
                        .offset(next * BLOCK as u64)
                        .user_data(next),
                )
            })
            .unwrap();
            next += 1;
        }
        let (mut reads, mut pushed_in_loop) = (0u64, 0u64);
        while s.in_flight() > 0 {
            s.submit_and_wait(1).unwrap();
            let (mut sq, completions) = s.split();
            for mut cqe in completions {
                let block = cqe.user_data();
                assert_eq!(cqe.res(), BLOCK as i32, "block {block}");
                let buf = cqe.take_buf().expect("the read's buffer");
                let at = block as usize * BLOCK;
                assert_eq!(buf[..], data[at..at + BLOCK], "block {block}");
                reads += 1;
                if next < BLOCKS {
                    let offset = next * BLOCK as u64;
                    sq.push_owned(buf, |buf, sq| {
                        sq.push(Read::new(&file, buf).offset(offset).user_data(next))
                    })
                    .unwrap();
                    next += 1;
                    pushed_in_loop += 1;
                }
            }
        }
        (reads, pushed_in_loop)
    });
    assert_eq!((reads, pushed_in_loop), (BLOCKS, BLOCKS - 4));
}

/// The halves of a split scope forgotten instead of dropped leave nothing
/// behind: the ops pushed through the forgotten batch and the completions
/// read through the forgotten iterator are known to the scope, which still
/// waits for the read that borrows a buffer, and a later scope of the ring
/// starts clean.
#[test]
fn forgotten_halves_of_a_split_scope_hide_nothing() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = pipe();
    let mut buf = [0u8; 8];
    let mut ring = Ring::new(8).unwrap();
    let seen = ring.scope(|s| {
        s.push(Nop::new().user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let (mut sq, mut completions) = s.split();
        let first = completions.next().map(|c| c.user_data());
        sq.push(Read::new(&rx, &mut buf[..]).user_data(2)).unwrap();
        sq.push(Nop::new().user_data(3)).unwrap();
        std::mem::forget(sq);
        std::mem::forget(completions);
        assert_eq!(s.in_flight(), 2, "the read and the second NOP");
        s.submit_and_wait(1).unwrap();
        let next: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
        assert_eq!(s.in_flight(), 1, "the read");
        tx.write_all(b"late").unwrap();
        s.wait(1).unwrap();
        let late: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(s.in_flight(), 0);
        (first, next, late)
    });
    assert_eq!(seen, (Some(1), vec![3], vec![(2, 4)]));
    assert_eq!(&buf[..4], b"late");
    let again = ring.scope(|s| {
        s.push(Nop::new().user_data(4)).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().map(|c| c.user_data()).collect::<Vec<_>>()
    });
    assert_eq!(again, [4]);
}

/// Whether `file` has data to read now.
fn readable_now(file: &std::fs::File) -> bool {
    let mut pfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the call.
    unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
}

/// A scope's end settles a splice flagged `IO_DRAIN` that blocks in a
/// worker of an SQPOLL ring on an empty pipe: cancelled (as Linux 6.18
/// does at once), or, where the kernel cannot cancel it, waited for until
/// a thread writes the data. Either way nothing of the scope runs after
/// it: had the scope returned with the splice in flight, the splice would
/// move the data written later, which the test would see.
#[test]
fn a_drained_splice_in_a_worker_is_settled_before_the_scope_ends() {
    use uring::ops::Splice;
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let (rx, mut tx) = pipe();
    let (mut out_rx, out_tx) = pipe();
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(50))
        .build(8)
        .unwrap();
    let delay = Duration::from_millis(400);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(delay);
        tx.write_all(b"late").unwrap();
        tx
    });
    let started = std::time::Instant::now();
    ring.scope(|s| {
        s.push(
            Splice::new(&rx, &out_tx, 4)
                .flags(SqeFlags::IO_DRAIN)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        // Into the worker before the scope ends.
        std::thread::sleep(Duration::from_millis(50));
    });
    let waited = started.elapsed();
    let moved_during = readable_now(&out_rx);
    let _tx = writer.join().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let moved_after = readable_now(&out_rx) && !moved_during;
    assert!(
        !moved_after,
        "the splice ran after the scope ended at {waited:?}"
    );
    if moved_during {
        let mut got = [0u8; 4];
        out_rx.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"late");
        assert!(
            waited >= delay,
            "the data came at {delay:?}, the scope ended at {waited:?}"
        );
    }
    assert_eq!(ring.ready(), 0, "nothing of the scope's is left");
}

/// While one of the scope's cancel requests is out, a foreign completion
/// shaped like a tag (its top bit set, or every bit) is still foreign: it
/// passes through with its `user_data`, and the cancel request's own
/// completion is the one the scope takes in.
#[test]
fn foreign_completions_pass_through_while_a_cancel_request_is_out() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = pipe();
    let mut buf = [0u8; 4];
    let mut ring = Ring::new(8).unwrap();
    let foreign = [1 << 63 | 5, u64::MAX];
    for ud in foreign {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    ring.submit_and_wait(2).unwrap();
    let seen = ring.scope(|s| {
        assert!(s.tags_every_op(), "ops were pushed outside a scope");
        s.push(Read::new(&rx, &mut buf[..]).user_data(9)).unwrap();
        s.submit().unwrap();
        assert_eq!(s.cancel(9).unwrap(), 1);
        let mut seen: Vec<(u64, i32, bool)> = s
            .completions()
            .map(|c| (c.user_data(), c.res(), c.is_scope_op()))
            .collect();
        while s.in_flight() > 0 {
            s.submit_and_wait(1).unwrap();
            seen.extend(
                s.completions()
                    .map(|c| (c.user_data(), c.res(), c.is_scope_op())),
            );
        }
        seen
    });
    assert_eq!(
        seen,
        [
            (foreign[0], 0, false),
            (foreign[1], 0, false),
            (9, -libc::ECANCELED, true)
        ]
    );
    tx.write_all(b"gone").unwrap();
    assert_eq!(
        ring.ready(),
        0,
        "the cancel request's completion was the scope's"
    );
}

/// In a scope that tags every op, ops that name another op by `user_data`
/// (`Cancel`, `TimeoutRemove`) find the scope's op that carries it, among
/// several in flight: each reaches its own target and no other.
#[test]
fn a_scope_that_tags_every_op_translates_cancels_and_removals() {
    use uring::ops::{Cancel, Timeout, TimeoutRemove};
    let _watch = uring_tests::watchdog();
    let ((rx1, mut tx1), (rx2, _tx2)) = (pipe(), pipe());
    let (mut a, mut b) = ([0u8; 4], [0u8; 4]);
    let mut ring = Ring::new(16).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().count(), 1);
    let mut seen = ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Timeout::new(Duration::from_secs(60)).user_data(10))
            .unwrap();
        s.push(Read::new(&rx1, &mut a[..]).user_data(11)).unwrap();
        s.push(Read::new(&rx2, &mut b[..]).user_data(12)).unwrap();
        s.submit().unwrap();
        s.push(Cancel::new(12).user_data(20)).unwrap();
        s.push(TimeoutRemove::new(10).user_data(21)).unwrap();
        s.submit().unwrap();
        let mut seen: Vec<(u64, i32)> = Vec::new();
        loop {
            seen.extend(s.completions().map(|c| (c.user_data(), c.res())));
            if seen.len() >= 4 || s.wait_timeout(1, Duration::from_secs(2)).is_err() {
                break;
            }
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [
                (10, -libc::ECANCELED),
                (12, -libc::ECANCELED),
                (20, 0),
                (21, 0)
            ]
        );
        assert_eq!(s.in_flight(), 1, "the first read is left");
        tx1.write_all(b"kept").unwrap();
        s.wait(1).unwrap();
        seen.extend(s.completions().map(|c| (c.user_data(), c.res())));
        seen
    });
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            (10, -libc::ECANCELED),
            (11, 4),
            (12, -libc::ECANCELED),
            (20, 0),
            (21, 0)
        ]
    );
    assert_eq!(&a, b"kept");
}

/// A scope's waits take the ring's wait arguments: a submit with a timeout
/// counts the read it submitted though nothing completed, a wait with a
/// timeout ends with `TimedOut`, and one with room to wait sees the read
/// complete.
#[test]
fn a_scope_waits_with_wait_arguments() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !uring_tests::require_features(&ring, uring::Features::EXT_ARG, "waits with a timeout") {
        return;
    }
    let (rx, mut tx) = pipe();
    let mut buf = [0u8; 8];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        let short = Duration::from_millis(20);
        assert_eq!(s.submit_and_wait_timeout(1, short).unwrap(), 1);
        assert_eq!(s.ready(), 0);
        let waited = s.wait_with(1, &uring::WaitArgs::new().timeout(short));
        assert!(matches!(waited, Err(Error::TimedOut)), "{waited:?}");
        tx.write_all(b"scoped").unwrap();
        s.wait_with(1, &uring::WaitArgs::new().timeout(uring_tests::PATIENCE))
            .unwrap();
        let cqes: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(cqes, [(1, 6)]);
    });
    assert_eq!(&buf[..6], b"scoped");
}

/// A scope's `for_each` moves the CQ's head once, at its end; a closure
/// that unwinds out of it has read what it was given and nothing else,
/// tagged ops (owned buffers) and untagged ones alike, and the scope still
/// ends with every op accounted for.
#[test]
fn a_panic_in_a_scope_s_for_each_leaves_unread_exactly_what_it_was_not_given() {
    struct Stop;
    let _watch = uring_tests::watchdog();
    let file = tempfile::tempfile().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let cq = u64::from(ring.cq_entries());
    for stop in [0, 3, 6, cq - 1] {
        let (given, rest) = ring.scope(|s| {
            // Odd ones write an owned buffer (tagged), even ones are NOPs.
            for i in 0..cq {
                if i % 2 == 1 {
                    s.push_owned(vec![i as u8; 4], |buf, sq| {
                        let bytes: &[u8] = buf;
                        sq.push(Write::new(&file, bytes).offset(4 * i).user_data(i))
                    })
                    .unwrap();
                } else {
                    s.push(Nop::new().user_data(i)).unwrap();
                }
                if i % 8 == 7 {
                    s.submit().unwrap();
                }
            }
            s.submit_and_wait(cq as u32).unwrap();
            let mut given = Vec::new();
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                s.completions().for_each(|c| {
                    given.push(c.user_data());
                    if c.user_data() == stop {
                        std::panic::resume_unwind(Box::new(Stop));
                    }
                })
            }));
            assert!(unwound.is_err());
            let rest: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
            (given, rest)
        });
        let mut all = given.clone();
        all.extend(&rest);
        all.sort();
        assert_eq!(all, (0..cq).collect::<Vec<_>>(), "stopped at {stop}");
        assert_eq!(given.last(), Some(&stop));
        assert!(
            !rest.contains(&stop),
            "the completion the closure saw came again"
        );
        assert_eq!(ring.ready(), 0);
    }
}
