// The push batch has the same rule as `Ring::push`.
use std::time::Duration;
use uring::{Ring, ops::LinkTimeout};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let mut sq = ring.submission();
    let _ = sq.push(LinkTimeout::new(Duration::from_millis(5)));
}
