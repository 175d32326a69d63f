// A buffer given to `push_claimed` is held by the scope until its ops
// complete, so its `BufRing` must outlive the scope: register the buffer
// ring before `ring.scope(..)`.
use std::os::unix::net::UnixStream;
use uring::{BufferGroup, Ring, ops::Send};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        let mut other = Ring::new(8).unwrap();
        let pool = other.register_buf_ring(BufferGroup::new(1), 4, 64).unwrap();
        let mut cqe = s.completions().next().unwrap();
        let buf = pool.claim(&mut cqe).unwrap();
        s.push_claimed(buf, |bytes, sq| sq.push(Send::new(&a, bytes)))
            .unwrap();
    });
}
