// `FileUpdates` borrows the descriptors it will install: a `FilesUpdate`
// cannot be pushed after one of them is closed, when its number may name a
// file nobody lent.
use std::os::fd::AsFd;
use uring::{FileUpdates, FilesAt, Ring, ops::FilesUpdate};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let _files = ring.register_files_sparse(4).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let mut updates = FileUpdates::new(&[Some(file.as_fd())]);
    drop(file);
    ring.scope(|s| {
        s.push(FilesUpdate::new(&mut updates, FilesAt::ALLOC))
            .unwrap();
    });
}
