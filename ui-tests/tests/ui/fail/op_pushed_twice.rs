// An op is pushed once: it is moved into the ring.
use uring::{Ring, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let nop = Nop::new().user_data(1);
    ring.push(nop).unwrap();
    ring.push(nop).unwrap();
}
