//! What the library takes the kernel to do, checked against the running
//! kernel: each test states one behaviour a soundness argument of the
//! library rests on, and that another kernel version (or another
//! architecture) could change. A test that fails here names an assumption
//! that no longer holds on this machine.
//!
//! - A resize on kernels that do not report where the new SQ index array
//!   is (6.13 to 6.18) has the library place it where its own formula says
//!   (`ring/memory.rs`, `sq_array_offset`: after the CQEs, at a 64-byte
//!   boundary). The kernel aligns to its cache line; were they to differ,
//!   the kernel would read SQ indices the library never wrote and run a
//!   stale SQE again.
//! - A ring-owned timespec (timeouts) is read when the kernel consumes the
//!   SQE, even for a request it defers (`IO_DRAIN`): the library reuses the
//!   timespec's storage as soon as the SQ slot is free.
//! - `IORING_CQE_F_BUF_MORE` appears only on incrementally consumed rings:
//!   `BufRing` hands out a buffer of a plain ring at its completion without
//!   reading the flag.

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Recv, Timeout};
use uring::{Builder, Cqe32, Features, RecvFlags, Ring, Sqe64, SqeFlags, SyncCancel, sys};
use uring_tests::{plain_buf_ring, require_features, resizable_ring, skip};

/// Where the library puts the SQ index array of rings whose CQ starts at
/// `cqes` and holds `cq_entries` (of 32 bytes if `cqe32`): after the
/// CQEs, the whole doubled for 32-byte CQEs, at the next 64 bytes.
fn assumed_sq_array(cqes: u32, cq_entries: u32, cqe32: bool) -> u32 {
    let end = (cqes + cq_entries * 16) << u32::from(cqe32);
    end.div_ceil(64) * 64
}

/// The kernel's own report of where the SQ array is, on every ring it sets
/// up, matches the layout the library assumes when a resize does not
/// report it: for tiny rings too, whose CQEs end off a cache line.
#[test]
fn the_kernel_puts_the_sq_array_where_a_resize_assumes_it() {
    let mut checked = 0;
    for sq in [1u32, 2, 4, 8, 64] {
        for cq in [sq.max(1) * 2, sq.next_power_of_two().max(2), 64, 256] {
            if cq < sq {
                continue;
            }
            let ring = Builder::new().cq_entries(cq).build(sq).unwrap();
            let p = ring.params().as_raw();
            assert_eq!(
                p.sq_off.array,
                assumed_sq_array(p.cq_off.cqes, p.cq_entries, false),
                "sq {sq}, cq {cq} ({} entries)",
                p.cq_entries
            );
            let big = Builder::new()
                .cq_entries(cq)
                .build_sized::<Sqe64, Cqe32>(sq)
                .unwrap();
            let p = big.params().as_raw();
            assert_eq!(
                p.sq_off.array,
                assumed_sq_array(p.cq_off.cqes, p.cq_entries, true),
                "32-byte CQEs: sq {sq}, cq {cq}"
            );
            checked += 2;
        }
    }
    assert!(checked > 20);
}

/// After a resize to each small size, every SQ position runs the SQE the
/// library wrote there: were the index array the library fills elsewhere
/// than where the kernel reads it, the kernel would find zeros and run the
/// SQE of slot 0 again and again (each `user_data` would not come back
/// once).
#[test]
fn after_a_resize_each_sq_position_runs_its_own_sqe() {
    let Some(mut ring) = resizable_ring(8) else {
        return;
    };
    let mut next = 0u64;
    for (sq, cq) in [(1, 2), (1, 4), (2, 4), (4, 8), (2, 2), (8, 16), (4, 64)] {
        if let Err(e) = ring.resize(sq, cq) {
            skip(format_args!("the kernel does not resize rings: {e}"));
            return;
        }
        let sq = ring.sq_entries();
        // Three laps of the SQ, in batches that fill it.
        let first = next;
        while next < first + 3 * u64::from(sq) {
            let mut pushed = 0;
            while ring.push(Nop::new().user_data(next)).is_ok() {
                next += 1;
                pushed += 1;
            }
            assert!(pushed > 0, "resized to {sq}/{cq}: the SQ takes nothing");
            ring.submit_and_wait(pushed).unwrap();
            let mut seen: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
            seen.sort_unstable();
            let want: Vec<u64> = (next - u64::from(pushed)..next).collect();
            assert_eq!(seen, want, "resized to {sq}/{cq}");
        }
    }
}

/// A timeout deferred behind an op flagged `IO_DRAIN` keeps the time it
/// was pushed with, though its SQ slot, and with it the ring-owned
/// timespec the SQE points to, is rewritten before the kernel issues it:
/// the kernel copied the timespec when it consumed the SQE
/// (`IORING_FEAT_SUBMIT_STABLE`). A kernel that read it at issue would wait
/// the ten seconds written over it.
#[test]
fn a_drained_timeout_keeps_the_time_it_was_pushed_with() {
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::SUBMIT_STABLE, "stable submissions") {
        return;
    }
    let long = Duration::from_secs(10);
    let short = Duration::from_millis(20);
    // The op the drain waits for, then the drained timeout.
    ring.push(Timeout::new(long).user_data(1)).unwrap();
    ring.push(Timeout::new(short).user_data(2).flags(SqeFlags::IO_DRAIN))
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    // Four more pushes go round the 4-entry SQ: every slot, the drained
    // timeout's too, now holds a timespec of ten seconds. (They are
    // drained as well, behind the timeout.)
    for i in 0..4 {
        ring.push(Timeout::new(long).user_data(10 + i)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 4);
    // The drain holds the short timeout back: nothing has fired.
    let _ = ring.wait_timeout(1, Duration::from_millis(60));
    let early: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert!(
        early.is_empty(),
        "completed before the drain let go: {early:?}"
    );
    // End the first timeout without the SQ (a cancel SQE would be drained
    // too): the drained timeout starts now.
    ring.cancel_sync(SyncCancel::user_data(1), Some(Duration::from_secs(1)))
        .unwrap();
    let started = Instant::now();
    let mut fired = None;
    while started.elapsed() < Duration::from_secs(3) && fired.is_none() {
        let _ = ring.wait_timeout(1, Duration::from_millis(50));
        for cqe in ring.completions() {
            if cqe.user_data() == 2 {
                fired = Some((cqe.res(), started.elapsed()));
            }
        }
    }
    let (res, after) = fired.expect("the drained timeout never fired");
    assert_eq!(res, -libc::ETIME);
    assert!(after < Duration::from_secs(2), "fired after {after:?}");
    ring.cancel_sync(SyncCancel::any().all(), Some(Duration::from_secs(1)))
        .unwrap();
}

/// No completion of a plain (not incrementally consumed) buffer ring
/// says that the kernel keeps its buffer (`IORING_CQE_F_BUF_MORE`), even
/// when the op filled only part of it: single receives, bundles and
/// multishot receives. `BufRing` takes a plain ring's buffer back from the
/// kernel at its completion without reading that flag.
#[test]
fn a_plain_ring_never_keeps_a_buffer_past_its_completion() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 90, 8, 64) else {
        return;
    };
    let bundles = ring.params().has(Features::RECVSEND_BUNDLE);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut flags_seen = Vec::new();
    let mut kinds = vec![RecvFlags::empty(), RecvFlags::MULTISHOT];
    if bundles {
        kinds.push(RecvFlags::BUNDLE);
    } else {
        skip("bundles (6.10): only single and multishot receives checked");
    }
    for kind in kinds {
        ring.scope(|s| {
            // Less than a buffer, so that the kernel could keep the rest.
            tx.write_all(&[7; 10]).unwrap();
            s.push(Recv::new(&rx, pool.select()).recv_flags(kind).user_data(1))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            for mut cqe in s.completions() {
                flags_seen.push((kind, cqe.res(), cqe.flags()));
                if cqe.buffer_id().is_some() {
                    let bufs = pool.claim_bundle(&mut cqe).unwrap();
                    assert_eq!(bufs.iter().map(|b| b.len()).sum::<usize>(), 10);
                }
            }
            s.cancel(1).unwrap();
        });
    }
    assert!(
        flags_seen.iter().any(|&(_, res, _)| res == 10),
        "{flags_seen:?}"
    );
    for &(kind, res, flags) in &flags_seen {
        assert_eq!(
            flags & sys::IORING_CQE_F_BUF_MORE,
            0,
            "{kind:?}: a completion ({res}) kept its buffer"
        );
    }
}
