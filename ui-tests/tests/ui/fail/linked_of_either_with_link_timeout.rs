// The elements of a `Linked` chain are ops that may follow another: an
// `Either` that may hold a link timeout is not one.
use std::time::Duration;
use uring::{Either, Linked, Ring, ops::{LinkTimeout, Nop}};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let ops: Vec<Either<Nop, LinkTimeout>> = vec![
        Either::Left(Nop::new()),
        Either::Right(LinkTimeout::new(Duration::from_secs(1))),
    ];
    let _ = ring.push_linked(Linked::new(ops));
}
