// A claimed buffer goes back to its buffer ring when dropped, and only one
// thread may use the ring: the `Buf` stays on that thread, neither shared
// with another nor sent to one. Copy its bytes out (`buf.to_vec()`) to hand
// them over.
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
        std::thread::scope(|t| {
            t.spawn(|| buf.len());
        });
        std::thread::spawn(move || drop(buf));
    });
}
