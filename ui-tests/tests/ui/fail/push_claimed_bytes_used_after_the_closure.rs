// The bytes `push_claimed` lends are the ops' until they complete, and
// then the ring's: they cannot leave the closure. Copy what you need
// (`bytes.to_vec()`) before pushing.
use std::os::unix::net::UnixStream;
use uring::{BufferGroup, Ring, ops::Send};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(1), 4, 64).unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        let mut cqe = s.completions().next().unwrap();
        let buf = pool.claim(&mut cqe).unwrap();
        let mut kept: &[u8] = &[];
        s.push_claimed(buf, |bytes, sq| {
            kept = bytes;
            sq.push(Send::new(&a, &[][..]))
        })
        .unwrap();
        assert_eq!(kept.len(), 0);
    });
}
