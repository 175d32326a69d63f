// A buffer lent to an op in a scope stays lent until the scope returns: the
// kernel may be writing it. Read it after `ring.scope(..)`.
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut buf = [0u8; 64];
    ring.scope(|s| {
        s.push(Read::new(&file, &mut buf[..])).unwrap();
        s.submit_and_wait(1).unwrap();
        assert_eq!(buf[0], 0);
    });
}
