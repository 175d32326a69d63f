// A `RawBufRing` hands the kernel memory it does not own: the program
// promises that the buffer stays valid, and unused, until the completion
// that releases it. So `add` needs `unsafe`; a `BufRing` owns its buffers
// and needs none.
use uring::{BufferGroup, Ring};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let mut raw = ring.register_buf_ring_raw(BufferGroup::new(3), 8).unwrap();
    let mut buf = vec![0u8; 64];
    raw.add(buf.as_mut_ptr(), 64, 0).unwrap();
    raw.advance();
}
