// An op pushed over an owned buffer may borrow other things only if they
// outlive the scope: a local of the scope's closure does not.
use uring::{Ring, ops::WriteV};
use std::io::IoSlice;

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::create("/dev/null").unwrap();
    ring.scope(|s| {
        let local = [1u8; 8];
        let iov = [IoSlice::new(&local)];
        s.push_owned(vec![0; 8], |_buf, sq| sq.push(WriteV::new(&file, &iov[..])))
            .unwrap();
    });
}
