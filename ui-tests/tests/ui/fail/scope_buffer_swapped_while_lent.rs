// A buffer lent to an op in a scope cannot be swapped out (or replaced, or
// taken) before the scope returns: the kernel may still write into the
// memory it had. Swap it after `ring.scope(..)`.
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut lent = vec![0u8; 64];
    let mut other = vec![1u8; 64];
    ring.scope(|s| {
        s.push(Read::new(&file, &mut lent[..])).unwrap();
        std::mem::swap(&mut lent, &mut other);
    });
}
