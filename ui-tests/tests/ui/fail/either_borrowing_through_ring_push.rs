// An `Either` borrows what either side may borrow: `Ring::push` takes it
// only when neither side borrows anything.
use uring::{Either, Ring, ops::{Nop, Write}};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let data = [0u8; 4];
    let op: Either<Nop, _> = Either::Right(Write::new(&file, &data[..]));
    let _ = ring.push(op);
}
