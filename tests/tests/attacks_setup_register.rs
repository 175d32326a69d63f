//! Attacks on the ring's setup and registration surface, written in safe
//! code: resizing a ring whose CQ head the kernel has not been told about,
//! registered wait regions, registered ring descriptors, synchronous
//! cancellation, file and buffer tables, eventfds, and what a spawned
//! process inherits of a ring.
//!
//! Each test asserts what the kernel really did, and the safe outcome. The
//! two resize tests failed before the kernel was told the CQ head before a
//! resize (and at each scope's end).

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::Ring;
use uring::ops::{Nop, Read};

/// Reads one completion of a scope through its iterator and forgets the
/// iterator: the scope counts the completion read (the iterator syncs the
/// ring's copy of the CQ head at once), but the kernel's head is stored
/// only at the next enter. The scope then ends with nothing in flight.
fn settle_a_nop_through_a_forgotten_iterator(ring: &mut Ring, user_data: u64) {
    ring.scope(|s| {
        s.push(Nop::new().user_data(user_data)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut it = s.completions();
        let cqe = it.next().expect("the nop's completion");
        assert_eq!(cqe.user_data(), user_data);
        std::mem::forget(it);
        assert_eq!(s.in_flight(), 0);
    });
}

/// A completion read (and settled) in a scope through an iterator that was
/// then forgotten is not posted again by a resize: the kernel copies the
/// CQEs from the head it sees into the new rings, so the ring must store
/// its head before it asks for the resize.
#[test]
fn a_resize_after_a_forgotten_scope_iterator_posts_no_completion_twice() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    settle_a_nop_through_a_forgotten_iterator(&mut ring, 7);
    assert_eq!(ring.ready(), 0, "the scope read the nop's completion");
    if let Err(e) = ring.resize(16, 32) {
        return uring_tests::skip(format_args!("the kernel does not resize rings: {e}"));
    }
    let again: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert!(
        again.is_empty(),
        "completions read before the resize came back after it: {again:?}"
    );
}

/// The same stale head, turned against the next scope of the clean ring:
/// its ops are untagged, and every untagged completion counts as one of
/// them, so the nop's completion copied back by the resize ends the count
/// of a read still in flight, and the scope returns while the kernel may
/// still write into the buffer it lent.
#[test]
fn a_completion_duplicated_by_a_resize_ends_no_read_of_a_later_scope() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    settle_a_nop_through_a_forgotten_iterator(&mut ring, 7);
    if let Err(e) = ring.resize(16, 32) {
        return uring_tests::skip(format_args!("the kernel does not resize rings: {e}"));
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut buf = [0xa5u8; 16];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(8)).unwrap();
        s.submit().unwrap();
        // The scope ends here: it must cancel the read and wait for it.
    });
    // The buffer is ours again. Data arrives; the deferred task work that
    // would copy it runs in the next enter.
    tx.write_all(b"late data").unwrap();
    let _ = ring.wait_timeout(1, Duration::from_millis(200));
    let late: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    // SAFETY: reading our own buffer; volatile, since the hole under test
    // lets the kernel write it behind the compiler's back.
    let seen: Vec<u8> = (0..buf.len())
        .map(|i| unsafe { std::ptr::read_volatile(buf.as_ptr().add(i)) })
        .collect();
    assert!(
        seen.iter().all(|&b| b == 0xa5),
        "the read wrote into the buffer after its scope returned: {seen:?} \
         (completions after the scope: {late:?})"
    );
}

/// A ring of mixed CQEs (6.18) resized to a smaller CQ: a 32-byte CQE at
/// slots 3 and 4 of the old array of 8 would land at the last slot of a new
/// array of 4 and at its first, across the end, where no reader takes it
/// whole (its payload would read as a completion of its own). The kernel
/// refuses to resize such a ring; either way each completion comes out
/// once, as posted.
#[test]
fn a_resized_mixed_cq_keeps_each_big_completion_whole() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 18, "mixed CQEs") {
        return;
    }
    let mut ring = match uring::Builder::new()
        .single_issuer()
        .defer_taskrun()
        .build_sized::<uring::Sqe64, uring::CqeMixed>(4)
    {
        Ok(ring) => ring,
        Err(e) => return uring_tests::skip(format_args!("no mixed CQEs: {e}")),
    };
    assert_eq!(ring.cq_entries(), 8);
    // Three small CQEs, read: the head is at 3.
    for i in 0..3 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(3).unwrap();
    assert_eq!(ring.completions().count(), 3);
    // A big CQE at slots 3 and 4, its payload shaped like a completion.
    let payload = [0xdead_0000_0000_0042u64, 0];
    ring.push(Nop::new().user_data(100).big_cqe(payload))
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    let resized = ring.resize(2, 4);
    let seen: Vec<(u64, bool, [u64; 2])> = ring
        .completions()
        .map(|c| (c.user_data(), c.is_big(), c.big_cqe()))
        .collect();
    assert_eq!(
        seen,
        [(100, true, payload)],
        "the big completion, once and whole (resize: {resized:?})"
    );
    ring.push(Nop::new().user_data(101)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let next: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(next, [101]);
}

/// What a process spawned with `std::process::Command` (no `pre_exec`:
/// that is `unsafe`) inherits of the rings: no descriptor. The ring's
/// descriptor, the duplicate a buffer ring holds, an SQPOLL ring's and a
/// ring registered by index are all close-on-exec; the mappings go with
/// the exec. The child lists its descriptors' targets.
#[test]
fn a_spawned_process_inherits_no_ring_descriptor() {
    let _watch = uring_tests::watchdog();
    let mut plain = Ring::new(4).unwrap();
    let bufs = uring_tests::plain_buf_ring(&mut plain, 1, 4, 64);
    let mut registered = Ring::new(4).unwrap();
    let _ = registered.register_ring_fd();
    let sqpoll = uring_tests::sqpoll_ring(4);
    let by_index = Ring::builder().registered_fd_only().build(4).ok();
    let memory = Ring::builder().no_mmap().build(4).ok();
    let out = match std::process::Command::new("sh")
        .arg("-c")
        .arg("for f in /proc/self/fd/*; do echo \"$f $(readlink $f)\"; done")
        .output()
    {
        Ok(out) => out,
        Err(e) => return uring_tests::skip(format_args!("no shell to spawn: {e}")),
    };
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{listing}");
    assert!(
        listing.lines().count() >= 3,
        "the child lists its own descriptors: {listing}"
    );
    assert!(
        !listing.contains("io_uring"),
        "a ring descriptor reached the child:\n{listing}"
    );
    // The rings still work in this process.
    for ring in [&mut plain, &mut registered] {
        ring.push(Nop::new().user_data(9)).unwrap();
        assert_eq!(uring_tests::reap_one(ring).user_data(), 9);
    }
    drop((bufs, sqpoll, by_index, memory));
}
