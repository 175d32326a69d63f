// A slot held exclusively (`get_mut`, for an op that closes or replaces its
// file) borrows the whole table mutably: no `Fixed` of the table may be alive
// meanwhile, so no op over the slot can run while its file is closed. Push
// the ops over the slot first, in another scope.
use std::os::fd::AsFd;
use uring::{
    Ring,
    ops::{Close, Fsync},
};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let mut files = ring.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    let only = files.get_mut(0).unwrap();
    ring.scope(|s| {
        s.push(Fsync::new(slot)).unwrap();
        s.push(Close::new(only)).unwrap();
    });
}
