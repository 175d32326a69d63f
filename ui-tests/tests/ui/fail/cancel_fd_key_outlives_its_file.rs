// A cancel by file (`CancelFd`) borrows the file it names, as an op's target
// does: pushed after the file is closed, it would cancel the ops of whatever
// file took the number. Push it while the file is open.
use uring::{Ring, ops::CancelFd};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let cancel = CancelFd::new(&file);
    drop(file);
    ring.scope(|s| {
        s.push(cancel).unwrap();
    });
}
