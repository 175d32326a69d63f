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
