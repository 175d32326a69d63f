//! A registered ring fd belongs to the thread that registered it.

use uring::{Error, Ring, ops::Nop};

fn nop_round_trip(ring: &mut Ring, user_data: u64) {
    ring.push(Nop::new().user_data(user_data)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.res()), (user_data, 0));
}

#[test]
fn a_ring_registered_on_one_thread_still_submits_from_another() {
    let mut ring = Ring::new(4).unwrap();
    let index = ring.register_ring_fd().unwrap();
    assert_eq!(ring.registered_ring_fd(), Some(index));
    nop_round_trip(&mut ring, 1);
    let mut ring = std::thread::spawn(move || {
        // The index is not valid here: enters fall back to the descriptor,
        // and the registration cannot be changed from this thread.
        nop_round_trip(&mut ring, 2);
        assert!(matches!(
            ring.unregister_ring_fd(),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            ring.register_ring_fd(),
            Err(Error::InvalidArgument(_))
        ));
        ring
    })
    .join()
    .unwrap();
    nop_round_trip(&mut ring, 3);
    ring.unregister_ring_fd().unwrap();
    assert_eq!(ring.registered_ring_fd(), None);
    nop_round_trip(&mut ring, 4);
}

#[test]
fn registering_twice_returns_the_same_index() {
    let mut ring = Ring::new(4).unwrap();
    let first = ring.register_ring_fd().unwrap();
    assert_eq!(ring.register_ring_fd().unwrap(), first);
    nop_round_trip(&mut ring, 5);
}

#[test]
fn closing_a_ring_releases_its_registered_fd_slot() {
    // The kernel's per-thread table of registered rings has 16 slots: if
    // close() left the registration behind, the 17th ring would not fit.
    for round in 0..20 {
        let mut ring = Ring::new(2).unwrap();
        ring.register_ring_fd()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        nop_round_trip(&mut ring, round);
        ring.close().unwrap();
    }
}
