// The buffer of a read linked to a write of it (`then_write`) stays lent to
// both ops until the scope returns: the kernel fills it, then sends it.
// Read it after `ring.scope(..)`.
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let src = std::fs::File::open("/dev/zero").unwrap();
    let dst = std::fs::File::options().write(true).open("/dev/null").unwrap();
    let mut buf = [0u8; 64];
    ring.scope(|s| {
        s.push(Read::new(&src, &mut buf[..]).then_write(&dst, 0)).unwrap();
        s.submit_and_wait(2).unwrap();
        assert_eq!(buf[0], 0);
    });
}
