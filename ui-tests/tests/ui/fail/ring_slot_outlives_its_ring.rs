// A `RingSlot` names a slot of a ring by its descriptor and borrows the ring:
// it cannot outlive it, when the number may name another ring or file.
use uring::{Ring, RingSlot};

fn main() {
    let ring = Ring::new(8).unwrap();
    let slot = RingSlot::alloc(&ring);
    drop(ring);
    println!("{slot:?}");
}
