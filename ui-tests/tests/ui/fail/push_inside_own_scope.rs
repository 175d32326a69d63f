// Inside a scope the ring is the scope's: push through the scope (`s.push`),
// which waits for what it pushes; `ring.push` would bypass that.
use uring::{Ring, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|_s| {
        ring.push(Nop::new()).unwrap();
    });
}
