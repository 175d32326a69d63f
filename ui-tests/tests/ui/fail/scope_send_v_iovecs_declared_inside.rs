// A vectored send borrows its iovec array as well as the bytes it points
// to, for the whole scope: an array declared inside the closure is gone
// before the scope has waited for the send. Declare it before
// `ring.scope(..)`.
use std::io::IoSlice;
use std::os::unix::net::UnixStream;
use uring::{Ring, ops::SendV};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let (socket, _peer) = UnixStream::pair().unwrap();
    let bytes = *b"hello";
    ring.scope(|s| {
        let iovecs = [IoSlice::new(&bytes[..2]), IoSlice::new(&bytes[2..])];
        s.push(SendV::new(&socket, &iovecs[..])).unwrap();
    });
}
