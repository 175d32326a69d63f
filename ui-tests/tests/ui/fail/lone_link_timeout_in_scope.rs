// A link timeout bounds the op before it: a scope, like the ring, does not
// take one alone. Append it to the op: `s.push(op.timeout(duration))`.
use std::time::Duration;
use uring::{Ring, ops::LinkTimeout};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        let _ = s.push(LinkTimeout::new(Duration::from_millis(5)));
    });
}
