// Both sides of an `Either` take as many SQEs: an op and a chain of two
// cannot share one.
use uring::{Either, Ring, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let pair = Nop::new().link(Nop::new());
    let op = if std::env::args().count() > 1 {
        Either::Left(Nop::new())
    } else {
        Either::Right(pair)
    };
    let _ = ring.push(op);
}
