// A buffer moved into the scope's closure is dropped when the closure
// returns, before the scope has waited for the kernel: an op cannot borrow
// it. Keep the buffer outside and let the closure borrow it (no `move`).
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let file = &file;
    let mut buf = [0u8; 16];
    ring.scope(move |s| {
        s.push(Read::new(file, &mut buf[..])).unwrap();
    });
}
