// A message op borrows the target it names until the scope has seen it
// complete: the target cannot be dropped (closing its descriptor) while
// the op may still use it.
use uring::{Ring, ops::MsgRing};

fn main() {
    let target_ring = Ring::new(8).unwrap();
    let target = target_ring.msg_target().unwrap();
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push(MsgRing::new(&target, 1, 2)).unwrap();
        drop(target);
    });
}
