// A link timeout cannot be pushed alone, and an `Either` that may hold one
// cannot either.
use std::time::Duration;
use uring::{Either, Ring, ops::{LinkTimeout, Nop}};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let op: Either<LinkTimeout, Nop> = Either::Left(LinkTimeout::new(Duration::from_secs(1)));
    let _ = ring.push(op);
}
