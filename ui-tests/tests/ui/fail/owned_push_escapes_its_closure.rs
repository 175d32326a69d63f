// The `OwnedPush` that `push_owned` hands its closure pushes over the owned
// buffer only while the closure runs: it cannot be kept for later. Push
// everything over the buffer inside the closure.
use uring::{Ring, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let mut kept = None;
    ring.scope(|s| {
        let _ = s.push_owned(vec![0; 8], |_buf, sq| kept = Some(sq));
    });
    let _ = kept.map(|sq| sq.push(Nop::new()));
}
