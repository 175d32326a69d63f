// An `Either` of two chains of one length is continued like a chain: linked
// to a next op, hard-linked, bounded by a link timeout, and pushed whole.
use std::time::Duration;
use uring::{Either, Ring, ops::Nop};

fn pick(left: bool) -> Either<uring::Link<Nop, Nop>, uring::Link<Nop, Nop>> {
    if left {
        Either::Left(Nop::new().user_data(1).link(Nop::new().user_data(2)))
    } else {
        Either::Right(Nop::new().user_data(3).hard_link(Nop::new().user_data(4)))
    }
}

fn main() {
    let mut ring = Ring::new(32).unwrap();
    ring.push(pick(true).link(Nop::new().user_data(5))).unwrap();
    ring.push(pick(false).hard_link(Nop::new().user_data(6))).unwrap();
    ring.push(pick(true).timeout(Duration::from_secs(5)).link(Nop::new().user_data(7))).unwrap();
    // 3 + 3 + 4 SQEs.
    assert_eq!(ring.pending(), 10);
    ring.submit_and_wait(10).unwrap();
    let mut done: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    done.sort();
    // The link timeout, cancelled by its op's success, completes with 0.
    assert_eq!(done, [0, 1, 1, 2, 2, 3, 4, 5, 6, 7]);
}
