// `.link` takes an op or a chain of fixed length: a `Linked` cannot follow
// an op. Link the ops themselves (`a.link(b).link(c)`), or put the op in the
// `Linked`.
use uring::{Linked, Ring, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let rest = Linked::new(vec![Nop::new(), Nop::new()]);
    let _ = ring.push(Nop::new().link(rest));
}
