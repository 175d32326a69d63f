// The bytes `push_owned` lends are borrowed only for its closure: an op over
// them cannot leave the closure to be pushed through the scope, where the
// scope would not know the op uses the buffer and could hand it back while
// the kernel writes into it. Push it with the `OwnedPush` given.
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    ring.scope(|s| {
        let mut kept = None;
        let _ = s.push_owned(vec![0; 16], |buf, _sq| {
            kept = Some(Read::new(&file, buf));
        });
        if let Some(read) = kept {
            let _ = s.push(read);
        }
    });
}
