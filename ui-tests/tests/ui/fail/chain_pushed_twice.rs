// A pushed chain belongs to the ring: it cannot be pushed, or extended, again.
use uring::{Ring, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let chain = Nop::new().user_data(1).link(Nop::new().user_data(2));
    ring.push(chain).unwrap();
    let _longer = chain.link(Nop::new().user_data(3));
}
