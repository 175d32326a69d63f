// A plain `Cqe` could have been made up (MSG_RING from another ring): a
// buffer is claimed safely only from a scope's completion.
use uring::{BufferGroup, Ring};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(1), 4, 64).unwrap();
    let mut cqe = ring.completions().next().unwrap();
    let _buf = pool.claim(&mut cqe);
}
