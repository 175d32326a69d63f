// A chain of run-time length is pushed whole: it is no element of another
// one. Put all the ops in one `Linked` instead.
use uring::{Linked, Ring, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let first = Linked::new(vec![Nop::new(), Nop::new()]);
    let second = Linked::new(vec![Nop::new(), Nop::new()]);
    let _ = ring.push_linked(Linked::new(vec![first, second]));
}
