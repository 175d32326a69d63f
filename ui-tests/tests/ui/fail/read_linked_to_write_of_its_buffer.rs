// A read and a write of the same buffer cannot be two ops over one borrow:
// the read holds it exclusively. Build the pair from the read instead:
// `Read::new(&src, &mut buf[..]).then_write(&dst, offset)`.
use uring::{Ring, ops::{Read, Write}};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let src = std::fs::File::open("/dev/zero").unwrap();
    let dst = std::fs::File::options().write(true).open("/dev/null").unwrap();
    let mut buf = [0u8; 64];
    ring.scope(|s| {
        s.push(Read::new(&src, &mut buf[..]).link(Write::new(&dst, &buf[..])))
            .unwrap();
        s.submit_and_wait(2).unwrap();
    });
}
