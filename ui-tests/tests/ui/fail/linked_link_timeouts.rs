// A chain of run-time length links each element to the next; a link
// timeout bounds the op before it, so it can be no element of one.
use std::time::Duration;
use uring::{Linked, Ring, ops::LinkTimeout};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let timeouts: Vec<LinkTimeout> =
        (0..3).map(|_| LinkTimeout::new(Duration::from_millis(5))).collect();
    let _ = ring.push_linked(Linked::new(timeouts));
}
