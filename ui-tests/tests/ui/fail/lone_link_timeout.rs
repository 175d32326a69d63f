// A link timeout bounds the op linked before it; pushed alone it bounds nothing.
use std::time::Duration;
use uring::{Ring, ops::LinkTimeout};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let _ = ring.push(LinkTimeout::new(Duration::from_millis(5)));
}
