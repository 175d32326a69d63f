// A claimed buffer borrows its buffer ring: the ring cannot be dropped (which
// unregisters the group and gives up the memory) while a `Buf` is alive. Drop
// the `Buf` first, or copy its bytes out (`buf.to_vec()`).
use std::os::unix::net::UnixStream;
use uring::{BufferGroup, Ring, ops::Recv};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let (_tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(1), 4, 64).unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select())).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        let buf = pool.claim(&mut cqe).unwrap();
        drop(pool);
        assert!(!buf.is_empty());
    });
}
