// MSG_RING posts a completion with any `user_data` into the ring it names:
// inside a scope the ring is borrowed by the scope, so it cannot be named,
// and no completion can be forged to end a borrow early.
use uring::{Ring, ops::MsgRing};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(8).unwrap();
    ring.scope(|s| {
        other.scope(|o| {
            o.push(MsgRing::new(&ring, 0, 12345)).unwrap();
        });
        s.submit().unwrap();
    });
}
