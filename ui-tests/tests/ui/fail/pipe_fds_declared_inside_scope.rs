// A `Pipe` writes the two new descriptors where `fds` points when it runs:
// the array must outlive the scope. Declare it before `ring.scope(..)`, or
// give the scope an owned buffer (`push_owned`) and `take_pipe` the ends.
use uring::{Ring, ops::Pipe};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        let mut fds = [-1; 2];
        s.push(Pipe::new(&mut fds)).unwrap();
    });
}
