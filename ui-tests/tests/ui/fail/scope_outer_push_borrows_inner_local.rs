// In nested scopes of two rings, an op pushed to the outer scope must outlive
// the outer scope: a buffer declared inside the inner scope's closure is
// freed before the outer scope waits for its op. Declare the buffer before
// the outer scope, or push the op to the inner one.
use uring::{Ring, ops::Read};

fn main() {
    let mut a = Ring::new(8).unwrap();
    let mut b = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    a.scope(|outer| {
        b.scope(|_inner| {
            let mut buf = [0u8; 64];
            outer.push(Read::new(&file, &mut buf[..])).unwrap();
        })
    });
}
