// A chain of run-time length goes through `push_linked`, not `push`.
use uring::{Linked, Ring, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let _ = ring.push(Linked::new(vec![Nop::new(), Nop::new()]));
}
