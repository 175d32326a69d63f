// CLOSE destroys its descriptor: closing one that a `File` still owns would
// close it under the `File`, so the op takes ownership.
use std::os::fd::AsFd;
use uring::{Ring, ops::Close};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let _ = ring.push(Close::new(file.as_fd()));
}
