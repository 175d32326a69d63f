// Closing a registered slot borrows the registration (`get_mut`): the
// ring's safe push cannot take it, since the borrow would end while the
// close is in flight. Push it in a scope.
use std::os::fd::AsFd;
use uring::{Ring, ops::Close};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let mut files = ring.register_files(&[file.as_fd()]).unwrap();
    ring.push(Close::new(files.get_mut(0).unwrap())).unwrap();
}
