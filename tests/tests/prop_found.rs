//! Bugs the property tests (`prop_ops.rs`, `prop_ring.rs`) found, each
//! kept as the smallest case that shows it.

use std::time::{Duration, Instant};

use uring::ops::Read;
use uring::{Ring, SqeFlags};
use uring_tests::pipe;

/// A scope ends even when an op it must cancel is flagged `IO_DRAIN` and
/// waits for input that never comes: the cancel SQEs the scope queues
/// start only after the drained op completes, so the scope also cancels
/// without SQEs. Before, the scope waited forever.
#[test]
fn a_scope_ends_with_a_drained_op_waiting_for_input() {
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0xa5u8; 8];
    let started = Instant::now();
    let (done, watchdog) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watchdog.recv_timeout(Duration::from_secs(30)).is_err() {
            eprintln!("the scope never ended");
            std::process::exit(101);
        }
    });
    ring.scope(|s| {
        s.push(
            Read::new(&rx, &mut buf[..])
                .flags(SqeFlags::IO_DRAIN)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        assert_eq!(s.in_flight(), 1);
    });
    done.send(()).unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(buf, [0xa5; 8], "the cancelled read wrote nothing");
    // The ring goes on: the cancellation's completion was the scope's.
    ring.push(uring::ops::Nop::new().user_data(2)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(cqes, [(2, 0)]);
}

/// A zero-copy send that its link fails completes with no
/// `IORING_CQE_F_MORE`, and Linux 6.18 posts its notification all the
/// same: when an op before it fails (the send is cancelled), and when the
/// kernel refuses the send itself at submission, after allocating its
/// notification (too many buffers). In a scope that notification is the
/// scope's to absorb: the op's last completion was its only one, and
/// nothing comes out of the scope, or the ring after it, with a
/// `user_data` nobody pushed. Before, the notification came out carrying a
/// stale tag.
#[test]
fn a_failed_linked_zero_copy_send_leaves_no_stray_notification() {
    let _watch = uring_tests::watchdog();
    use std::io::IoSlice;
    use uring::MsgHdr;
    use uring::ops::{Nop, SendMsgZc, SendZc};
    if !uring_tests::require_kernel(6, 10, "a NOP that fails (IORING_NOP_INJECT_RESULT)") {
        return;
    }
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let data = [7u8; 64];
    let many = vec![IoSlice::new(&data); 1025];
    let msg = MsgHdr::new(&many);
    for hard in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        let seen = ring.scope(|s| {
            let head = || Nop::new().result(-libc::EIO).user_data(1);
            let send = SendZc::new(&a, &data).user_data(2);
            let refused = SendMsgZc::new(&a, &msg).user_data(3);
            if hard {
                s.push(head().hard_link(refused)).unwrap();
            } else {
                s.push(head().link(send)).unwrap();
            }
            s.submit_and_wait(2).unwrap();
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            while s.in_flight() > 0 {
                assert!(Instant::now() < deadline, "the ops never completed");
                s.wait_timeout(1, Duration::from_millis(10)).ok();
                for cqe in s.completions() {
                    seen.push((cqe.is_scope_op(), cqe.user_data(), cqe.res(), cqe.flags()));
                }
            }
            // What else comes, soon after.
            s.wait_timeout(1, Duration::from_millis(50)).ok();
            for cqe in s.completions() {
                seen.push((cqe.is_scope_op(), cqe.user_data(), cqe.res(), cqe.flags()));
            }
            seen
        });
        let expected = if hard {
            [
                (true, 1, -libc::ECANCELED, 0),
                (true, 3, -libc::EMSGSIZE, 0),
            ]
        } else {
            [(true, 1, -libc::EIO, 0), (true, 2, -libc::ECANCELED, 0)]
        };
        assert_eq!(
            seen, expected,
            "hard link {hard}: the two ops' last completions, and nothing else"
        );
        ring.push(Nop::new().user_data(4)).unwrap();
        ring.submit_and_wait(1).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let after: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(
            after,
            [(4, 0)],
            "hard link {hard}: nothing but the NOP after the scope"
        );
    }
}

/// The same stray notification must not stand in for another op's last
/// completion. In a scope that tags only some ops and counts the rest, a
/// notification counted as one of the scope's would let the scope end
/// while a read into a borrowed buffer is still in flight. Zero-copy sends
/// are always tagged, so the read stays counted until it completes.
#[test]
fn a_stray_notification_does_not_stand_in_for_a_pending_read() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{Nop, SendZc};
    if !uring_tests::require_kernel(6, 10, "a NOP that fails (IORING_NOP_INJECT_RESULT)") {
        return;
    }
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (rx, tx) = pipe();
    let data = [7u8; 64];
    let mut buf = [0u8; 4];
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(9)).unwrap();
        s.push(
            Nop::new()
                .result(-libc::EIO)
                .user_data(1)
                .link(SendZc::new(&a, &data).user_data(2)),
        )
        .unwrap();
        s.submit().unwrap();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.len() < 2 {
            assert!(Instant::now() < deadline, "the chain never completed");
            s.wait_timeout(1, Duration::from_millis(10)).ok();
            seen.extend(s.completions().map(|c| c.user_data()));
        }
        // Time for the kernel's notification of the cancelled send.
        std::thread::sleep(Duration::from_millis(50));
        s.wait_timeout(1, Duration::from_millis(10)).ok();
        seen.extend(s.completions().map(|c| c.user_data()));
        assert_eq!(seen, [1, 2], "the chain's two completions, nothing else");
        assert_eq!(
            s.in_flight(),
            1,
            "the read is still the scope's to wait for"
        );
        rustix_write(&tx, b"abcd");
        s.wait_timeout(1, Duration::from_secs(10)).unwrap();
        let read: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(read, [(9, 4)]);
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(&buf, b"abcd");
}

fn rustix_write(fd: &std::os::fd::OwnedFd, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::File::from(fd.try_clone().unwrap());
    file.write_all(bytes).unwrap();
}

/// A scope that ends right after a failed linked zero-copy send waits for
/// the notification the kernel posts after the send's last completion:
/// nothing with a stale tag reaches the ring after the scope.
#[test]
fn a_scope_ending_at_once_waits_for_the_stray_notification() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{Nop, SendZc};
    if !uring_tests::require_kernel(6, 10, "a NOP that fails (IORING_NOP_INJECT_RESULT)") {
        return;
    }
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let data = [7u8; 64];
    for round in 0..20 {
        let mut ring = Ring::new(8).unwrap();
        ring.scope(|s| {
            let head = Nop::new().result(-libc::EIO).user_data(1);
            s.push(head.link(SendZc::new(&a, &data).user_data(2)))
                .unwrap();
            s.submit().unwrap();
        });
        std::thread::sleep(Duration::from_millis(5));
        ring.push(Nop::new().user_data(4)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let after: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(after, [(4, 0)], "round {round}: nothing but the NOP");
    }
}
